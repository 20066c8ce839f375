//! The daemon's HTTP APIs the bench uses: deploy, delete, invoke and invocation logs.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use crate::client::{Conn, Reply};

const FUNCTIONS: &str = "/2015-03-31/functions";

pub fn invoke_path(name: &str) -> String {
    format!("{FUNCTIONS}/{name}/invocations")
}

async fn call(addr: SocketAddr, method: Method, path: &str, body: Value) -> anyhow::Result<Reply> {
    let mut conn = Conn::connect(addr).await?;
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    conn.request(method, path, body).await
}

/// CreateFunction with a zip.
pub async fn create_function(
    addr: SocketAddr,
    name: &str,
    runtime: &str,
    handler: &str,
    zip: &[u8],
) -> anyhow::Result<()> {
    let body = json!({
        "FunctionName": name,
        "Runtime": runtime,
        "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/lambdalet-bench",
        "Timeout": 30,
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) },
    });
    let r = call(addr, Method::POST, FUNCTIONS, body).await?;
    if r.status.as_u16() != 201 {
        bail!("CreateFunction {name} answered {}", r.describe());
    }
    Ok(())
}

pub async fn delete_function(addr: SocketAddr, name: &str) -> anyhow::Result<()> {
    let r = call(
        addr,
        Method::DELETE,
        &format!("{FUNCTIONS}/{name}"),
        Value::Null,
    )
    .await?;
    if !r.status.is_success() {
        bail!("DeleteFunction {name} answered {}", r.describe());
    }
    Ok(())
}

/// One synchronous invocation on an open connection.
pub async fn invoke(conn: &mut Conn, name: &str, payload: &Value) -> anyhow::Result<Reply> {
    conn.request(
        Method::POST,
        &invoke_path(name),
        Bytes::from(payload.to_string()),
    )
    .await
    .with_context(|| format!("invoking {name}"))
}

/// One invocation record from `/lambdalet/v1/functions/{name}/logs`.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub id: i64,
    pub log: String,
}

/// The newest `limit` (1-1000) invocation records of `name` with an id above `after`.
pub async fn logs(
    addr: SocketAddr,
    name: &str,
    limit: usize,
    after: i64,
) -> anyhow::Result<Vec<LogRecord>> {
    let path = format!("/lambdalet/v1/functions/{name}/logs?limit={limit}&after={after}");
    let r = call(addr, Method::GET, &path, Value::Null).await?;
    if !r.status.is_success() {
        bail!("logs of {name} answered {}", r.describe());
    }
    let v: Value = serde_json::from_slice(&r.body).context("logs answer is not JSON")?;
    let records = v["records"].as_array().cloned().unwrap_or_default();
    Ok(records
        .iter()
        .map(|r| LogRecord {
            id: r["id"].as_i64().unwrap_or(0),
            log: r["log"].as_str().unwrap_or("").to_owned(),
        })
        .collect())
}

/// `droppedLogRecords` from the health endpoint.
pub async fn dropped_log_records(addr: SocketAddr) -> anyhow::Result<u64> {
    let r = call(addr, Method::GET, "/lambdalet/v1/health", Value::Null).await?;
    let v: Value = serde_json::from_slice(&r.body).context("health answer is not JSON")?;
    Ok(v["droppedLogRecords"].as_u64().unwrap_or(0))
}

/// `Init Duration: 45.71 ms` from a REPORT line in `log`, in ms.
pub fn init_duration_ms(log: &str) -> Option<f64> {
    let report = log.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let rest = &report[report.find("Init Duration: ")? + "Init Duration: ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_init_duration_from_report() {
        let log = "START RequestId: a Version: $LATEST\nhi\nEND RequestId: a\nREPORT RequestId: a\tDuration: 0.78 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB\tInit Duration: 45.71 ms\t\n";
        assert_eq!(init_duration_ms(log), Some(45.71));
        assert_eq!(
            init_duration_ms("REPORT RequestId: a\tDuration: 0.78 ms\t"),
            None
        );
    }
}
