//! `lambdalet logs NAME [--limit N] [--follow]`.
//!
//! By default the invocations' log text (START, output, END, REPORT). With `--output json`, one
//! JSON object per invocation record per line (JSON Lines: `id`, `requestId`, `version`,
//! `startedAt`, `durationMs`, `outcome`, `log`); `table` and `text` show one row per invocation
//! with the fields of [`COLUMNS`], the log itself left out.

use std::process::ExitCode;
use std::time::Duration;

use reqwest::Method;

use crate::cli::LogsArgs;
use crate::client::output::{self, Format, Output};
use crate::client::{Client, segment};

/// The fields of a record in `--output table` and `text`, in this order.
const COLUMNS: &[&str] = &[
    "id",
    "startedAt",
    "requestId",
    "version",
    "durationMs",
    "outcome",
];

pub async fn run(endpoint: &str, out: Output, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let path = format!("/lambdalet/v1/functions/{}/logs", segment(&args.name));
    let limit = args.limit.clamp(1, 1000).to_string();
    let mut after = 0i64;
    let mut first = true;
    loop {
        let d = client
            .doc(
                client
                    .request(Method::GET, &path)
                    .query(&[("limit", limit.as_str()), ("after", &after.to_string())]),
            )
            .await?;
        let records = d["records"].items();
        if first && records.is_empty() && !args.follow {
            eprintln!("no invocations of {} recorded yet", args.name);
        }
        let text = match out.format {
            // A list of records is a table only when it is not a stream.
            Some(Format::Table) if !args.follow => {
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| COLUMNS.iter().map(|c| output::cell(&r[*c])).collect())
                    .collect();
                output::table(COLUMNS, &rows)
            }
            Some(f) => records
                .iter()
                .enumerate()
                .map(|(i, r)| output::stream_item(f, r, COLUMNS, first && i == 0))
                .collect(),
            // Runtimes keep a multi-line record (a traceback) on one line with `\r`, as in
            // Lambda; a terminal shows it as separate lines.
            None => records
                .iter()
                .map(|r| r["log"].as_str().unwrap_or("").replace('\r', "\n"))
                .collect(),
        };
        output::emit(&text)?;
        for r in records {
            after = after.max(r["id"].as_i64().unwrap_or(after));
        }
        first = false;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
