//! `lambdalet logs NAME [--limit N] [--follow]`.

use std::process::ExitCode;
use std::time::Duration;

use reqwest::Method;

use crate::cli::LogsArgs;
use crate::client::{Client, segment};

pub async fn run(endpoint: &str, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let path = format!("/lambdalet/v1/functions/{}/logs", segment(&args.name));
    let limit = args.limit.clamp(1, 1000).to_string();
    let mut after = 0i64;
    let mut first = true;
    loop {
        let v = client
            .json(
                client
                    .request(Method::GET, &path)
                    .query(&[("limit", limit.as_str()), ("after", &after.to_string())]),
            )
            .await?;
        let records = v["records"].as_array().cloned().unwrap_or_default();
        if first && records.is_empty() && !args.follow {
            eprintln!("no invocations of {} recorded yet", args.name);
        }
        for r in &records {
            // Runtimes keep a multi-line record (a traceback) on one line with `\r`, as in
            // Lambda; a terminal shows it as separate lines.
            print!("{}", r["log"].as_str().unwrap_or("").replace('\r', "\n"));
            after = after.max(r["id"].as_i64().unwrap_or(after));
        }
        first = false;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
