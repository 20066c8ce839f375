//! `lambdalet queue [NAME]`: asynchronous events per function, or one function's failures.

use std::process::ExitCode;

use reqwest::Method;

use crate::cli::QueueArgs;
use crate::client::output::{self, Output};
use crate::client::{Client, segment};

/// The fields of a function's line in `--output table` and `text`, in this order.
const COLUMNS: &[&str] = &["function", "pending", "inFlight", "failed"];

/// The fields of a failed event's line (`queue NAME`).
const FAILED_COLUMNS: &[&str] = &["receivedAt", "requestId", "attempts", "error"];

pub async fn run(endpoint: &str, out: Output, args: QueueArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    if let Some(name) = &args.name {
        let d = client
            .doc(client.request(
                Method::GET,
                &format!("/lambdalet/v1/queue/{}", segment(name)),
            ))
            .await?;
        if let Some(f) = out.format {
            output::list(f, &d, d["failed"].items(), FAILED_COLUMNS)?;
            return Ok(ExitCode::SUCCESS);
        }
        let v = d.value();
        let failed = v["failed"].as_array().cloned().unwrap_or_default();
        if failed.is_empty() {
            eprintln!("no failed asynchronous events for {name}");
        }
        for f in failed {
            println!(
                "{}  {}  attempts {}  {}",
                f["receivedAt"].as_str().unwrap_or(""),
                f["requestId"].as_str().unwrap_or(""),
                f["attempts"],
                f["error"].as_str().unwrap_or("").replace('\n', " ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let d = client
        .doc(client.request(Method::GET, "/lambdalet/v1/queue"))
        .await?;
    if let Some(f) = out.format {
        output::list(f, &d, d["functions"].items(), COLUMNS)?;
        return Ok(ExitCode::SUCCESS);
    }
    let v = d.value();
    let rows = v["functions"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        eprintln!("no asynchronous events pending, in flight or failed");
        return Ok(ExitCode::SUCCESS);
    }
    let width = rows
        .iter()
        .filter_map(|r| r["function"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:<width$}  {:>8}  {:>9}  {:>7}",
        "FUNCTION", "PENDING", "IN FLIGHT", "FAILED"
    );
    for r in rows {
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        println!(
            "{:<width$}  {:>8}  {:>9}  {:>7}",
            r["function"].as_str().unwrap_or(""),
            n("pending"),
            n("inFlight"),
            n("failed")
        );
    }
    Ok(ExitCode::SUCCESS)
}
