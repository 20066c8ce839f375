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
    create_function_with(addr, name, runtime, handler, zip, Value::Null).await
}

/// CreateFunction with a zip and lambdalet's lifecycle settings (`LambdaletConfig`: `pinned`,
/// `maxInstancesCount`, ...), unless `lifecycle` is null.
pub async fn create_function_with(
    addr: SocketAddr,
    name: &str,
    runtime: &str,
    handler: &str,
    zip: &[u8],
    lifecycle: Value,
) -> anyhow::Result<()> {
    create_function_env(addr, name, runtime, handler, zip, lifecycle, Value::Null).await
}

/// [`create_function_with`] and the function's environment variables (`{"K": "V"}`), unless
/// `env` is null.
pub async fn create_function_env(
    addr: SocketAddr,
    name: &str,
    runtime: &str,
    handler: &str,
    zip: &[u8],
    lifecycle: Value,
    env: Value,
) -> anyhow::Result<()> {
    let mut body = json!({
        "FunctionName": name,
        "Runtime": runtime,
        "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/lambdalet-bench",
        "Timeout": 30,
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) },
    });
    if !lifecycle.is_null() {
        body["LambdaletConfig"] = lifecycle;
    }
    if !env.is_null() {
        body["Environment"] = json!({ "Variables": env });
    }
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

/// The live sandbox counts of a function's `$LATEST`, from
/// `GET /lambdalet/v1/functions/{name}/configuration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Instances {
    pub idle: u64,
    pub busy: u64,
    pub starting: u64,
    pub queued: u64,
}

impl Instances {
    /// Sandboxes that exist or are being started.
    pub fn total(&self) -> u64 {
        self.idle + self.busy + self.starting
    }
}

pub async fn instances(addr: SocketAddr, name: &str) -> anyhow::Result<Instances> {
    let path = format!("/lambdalet/v1/functions/{name}/configuration");
    let r = call(addr, Method::GET, &path, Value::Null).await?;
    if !r.status.is_success() {
        bail!("configuration of {name} answered {}", r.describe());
    }
    let v: Value = serde_json::from_slice(&r.body).context("configuration is not JSON")?;
    let i = &v["instances"];
    let n = |k: &str| i[k].as_u64().unwrap_or(0);
    Ok(Instances {
        idle: n("idle"),
        busy: n("busy"),
        starting: n("starting"),
        queued: n("queued"),
    })
}

/// A function's asynchronous events, from `GET /lambdalet/v1/queue`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: u64,
    pub in_flight: u64,
    pub failed: u64,
}

/// Asks on an open connection (the drain benchmark polls it).
pub async fn queue_depth(conn: &mut Conn, name: &str) -> anyhow::Result<QueueDepth> {
    let r = conn
        .request(Method::GET, "/lambdalet/v1/queue", Bytes::new())
        .await?;
    if !r.status.is_success() {
        bail!("the queue summary answered {}", r.describe());
    }
    let v: Value = serde_json::from_slice(&r.body).context("queue summary is not JSON")?;
    let row = v["functions"]
        .as_array()
        .and_then(|rows| rows.iter().find(|f| f["function"] == name));
    Ok(row.map_or_else(QueueDepth::default, |f| QueueDepth {
        pending: f["pending"].as_u64().unwrap_or(0),
        in_flight: f["inFlight"].as_u64().unwrap_or(0),
        failed: f["failed"].as_u64().unwrap_or(0),
    }))
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

/// `PUT path` with a JSON body; fails unless the answer is 2xx.
pub async fn put_json(addr: SocketAddr, path: &str, body: Value) -> anyhow::Result<()> {
    let r = call(addr, Method::PUT, path, body).await?;
    if !r.status.is_success() {
        bail!("PUT {path} answered {}", r.describe());
    }
    Ok(())
}

/// The counters of `GET /metrics` (Prometheus text) whose names start with `prefix`.
pub async fn metrics(addr: SocketAddr, prefix: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let r = call(addr, Method::GET, "/metrics", Value::Null).await?;
    if !r.status.is_success() {
        bail!("/metrics answered {}", r.describe());
    }
    Ok(String::from_utf8_lossy(&r.body)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
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
