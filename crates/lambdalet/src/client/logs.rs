//! `lambdalet logs NAME [--limit N] [--follow]`.
//!
//! `--follow` reads the daemon's live stream of the function's records
//! (`/lambdalet/v1/functions/NAME/logs/stream`, server-sent events): the last N first, then
//! each invocation the moment its record is written, with no polling delay. Records that come
//! live have no `id` yet (the store gives it when it writes them).
//!
//! By default the invocations' log text (START, output, END, REPORT). With `--output json`, one
//! JSON object per invocation record per line (JSON Lines: `id`, `requestId`, `version`,
//! `startedAt`, `durationMs`, `outcome`, `log`); `table` and `text` show one row per invocation
//! with the fields of [`COLUMNS`], the log itself left out.

use std::process::ExitCode;

use reqwest::Method;

use crate::cli::LogsArgs;
use crate::client::doc::Doc;
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
    if args.follow {
        return follow(&client, out, &args).await;
    }
    let path = format!("/lambdalet/v1/functions/{}/logs", segment(&args.name));
    let limit = args.limit.clamp(1, 1000).to_string();
    let d = client
        .doc(
            client
                .request(Method::GET, &path)
                .query(&[("limit", limit.as_str())]),
        )
        .await?;
    let records = d["records"].items();
    if records.is_empty() {
        eprintln!("no invocations of {} recorded yet", args.name);
    }
    let text = match out.format {
        Some(Format::Table) => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| COLUMNS.iter().map(|c| output::cell(&r[*c])).collect())
                .collect();
            output::table(COLUMNS, &rows)
        }
        Some(f) => records
            .iter()
            .enumerate()
            .map(|(i, r)| output::stream_item(f, r, COLUMNS, i == 0))
            .collect(),
        None => records.iter().map(log_text).collect(),
    };
    output::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runtimes keep a multi-line record (a traceback) on one line with `\r`, as in Lambda; a
/// terminal shows it as separate lines.
fn log_text(r: &Doc) -> String {
    r["log"].as_str().unwrap_or("").replace('\r', "\n")
}

/// Prints the last records, then each new one as the daemon writes it, until the stream ends
/// (the daemon stopped: an error) or the user stops it.
async fn follow(client: &Client, out: Output, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let path = format!(
        "/lambdalet/v1/functions/{}/logs/stream",
        segment(&args.name)
    );
    let recent = args.limit.min(100).to_string();
    let mut resp = client
        .send(
            client
                .request(Method::GET, &path)
                .query(&[("recent", recent.as_str())]),
        )
        .await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(crate::client::api_error(status, &body));
    }
    let mut events = SseBuffer::default();
    let mut first = true;
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| anyhow::anyhow!("the log stream broke: {e}"))?;
        let Some(chunk) = chunk else {
            anyhow::bail!("the daemon ended the log stream (did it stop?)");
        };
        for (event, data) in events.push(&chunk) {
            let text = match event.as_str() {
                "record" => {
                    let r = Doc::parse(data.as_bytes())
                        .map_err(|e| anyhow::anyhow!("a log record that is not JSON: {e}"))?;
                    let t = match out.format {
                        Some(f) => output::stream_item(f, &r, COLUMNS, first),
                        None => log_text(&r),
                    };
                    first = false;
                    t
                }
                "lagged" => {
                    eprintln!("(some records were skipped: this terminal fell behind: {data})");
                    continue;
                }
                _ => continue,
            };
            output::emit(&text)?;
        }
    }
}

/// Splits a server-sent event stream into (event, data) pairs; comments are dropped.
#[derive(Default)]
struct SseBuffer {
    pending: String,
}

impl SseBuffer {
    fn push(&mut self, bytes: &[u8]) -> Vec<(String, String)> {
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        let mut out = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let block: String = self.pending.drain(..end + 2).collect();
            let (mut event, mut data) = ("message".to_owned(), Vec::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            if !data.is_empty() {
                out.push((event, data.join("\n")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_across_chunks_and_comments_dropped() {
        let mut b = SseBuffer::default();
        assert!(b.push(b": live\n\nevent: record\ndata: {\"a\"").is_empty());
        let got = b.push(b": 1}\n\nevent: lagged\ndata: {\"missed\": 2}\n\n");
        assert_eq!(
            got,
            vec![
                ("record".to_owned(), "{\"a\": 1}".to_owned()),
                ("lagged".to_owned(), "{\"missed\": 2}".to_owned()),
            ]
        );
    }
}
