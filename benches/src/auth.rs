//! What authentication costs on the invoke path: a warm no-op Python function invoked one
//! request at a time, signed with SigV4 (the client signs each request, the daemon verifies
//! it against its key table) and on a new connection per request (TCP set-up plus the
//! daemon's once-per-connection origin lookup: sock_diag and the live process sandboxes),
//! each against the same invoke unsigned on a kept-alive connection (`--auth none`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use hyper::Method;

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::load::us;
use crate::report::{Report, Row, Target, Unit};
use crate::stats::percentile;
use crate::zips;

const SECTION: &str =
    "API authentication, c=1 (baseline: the same invoke unsigned on a kept-alive connection)";
const FUNCTION: &str = "bench-auth";

#[derive(Clone, Copy)]
enum How {
    Unsigned,
    Signed,
    FreshConnection,
    /// `GET /lambdalet/v1/health`, which skips authentication: what a connection costs
    /// without the origin lookup.
    Health,
    FreshHealth,
}

struct Key {
    id: String,
    secret: String,
}

async fn admin_key(addr: SocketAddr) -> anyhow::Result<Key> {
    let mut conn = Conn::connect(addr).await?;
    let r = conn
        .request(
            Method::POST,
            "/lambdalet/v1/keys",
            Bytes::from_static(b"{\"Description\": \"lambdalet-bench\"}"),
        )
        .await?;
    if r.status.as_u16() != 201 {
        bail!("CreateKey answered {}", r.describe());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).context("CreateKey's answer")?;
    Ok(Key {
        id: v["AccessKeyId"].as_str().unwrap_or_default().to_owned(),
        secret: v["SecretAccessKey"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Latencies in µs of sequential invokes for `dur`.
async fn run_one(addr: SocketAddr, how: How, key: &Key, dur: Duration) -> anyhow::Result<Vec<f64>> {
    let path = api::invoke_path(FUNCTION);
    let host = addr.to_string();
    let body = Bytes::from_static(b"{}");
    let mut conn = Conn::connect(addr).await?;
    let mut lat = Vec::new();
    let end = Instant::now() + dur;
    while Instant::now() < end {
        let t = Instant::now();
        let reply = match how {
            How::Health => {
                conn.request(Method::GET, "/lambdalet/v1/health", Bytes::new())
                    .await?
            }
            How::FreshHealth => {
                conn = Conn::connect(addr).await?;
                conn.request(Method::GET, "/lambdalet/v1/health", Bytes::new())
                    .await?
            }
            How::Unsigned => conn.request(Method::POST, &path, body.clone()).await?,
            How::FreshConnection => {
                conn = Conn::connect(addr).await?;
                conn.request(Method::POST, &path, body.clone()).await?
            }
            How::Signed => {
                let out = lambdalet_auth::Outgoing {
                    method: "POST",
                    host: &host,
                    path: &path,
                    query: "",
                    body: &body,
                };
                let signed = lambdalet_auth::sign(
                    &out,
                    &key.id,
                    &key.secret,
                    "us-east-1",
                    "lambda",
                    time::OffsetDateTime::now_utc(),
                );
                let headers: Vec<(&str, &str)> =
                    signed.iter().map(|(k, v)| (*k, v.as_str())).collect();
                conn.request_with(Method::POST, &path, &headers, body.clone())
                    .await?
            }
        };
        if !reply.is_success() {
            bail!("invoke answered {}", reply.describe());
        }
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(lat)
}

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("auth: deploying {FUNCTION} (python3.11, returns {{}}) and making a key");
    let zip = zips::build(&[("noop.py", zips::NOOP_PY.as_bytes(), 0o644)])?;
    api::create_function(daemon.addr, FUNCTION, "python3.11", "noop.handler", &zip).await?;
    let key = admin_key(daemon.addr).await?;
    run_one(daemon.addr, How::Unsigned, &key, args.warmup()).await?;
    // Alternate the three so drift on the host touches each alike.
    let (mut base, mut signed, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
    let (mut health, mut fresh_health) = (Vec::new(), Vec::new());
    let slice = args.short_duration / 3;
    for _ in 0..3 {
        base.extend(run_one(daemon.addr, How::Unsigned, &key, slice).await?);
        signed.extend(run_one(daemon.addr, How::Signed, &key, slice).await?);
        fresh.extend(run_one(daemon.addr, How::FreshConnection, &key, slice).await?);
        health.extend(run_one(daemon.addr, How::Health, &key, slice / 2).await?);
        fresh_health.extend(run_one(daemon.addr, How::FreshHealth, &key, slice / 2).await?);
    }
    for (name, l) in [
        ("unsigned", &mut base),
        ("signed", &mut signed),
        ("fresh", &mut fresh),
        ("health", &mut health),
        ("fresh hl", &mut fresh_health),
    ] {
        eprintln!(
            "auth: {name:<9} n={:<6} p50 {}  p99 {}",
            l.len(),
            us(percentile(l, 50.0)),
            us(percentile(l, 99.0))
        );
    }
    for (metric, ours) in [
        ("p50 latency, SigV4-signed", &mut signed),
        ("p50 latency, a new connection per invoke", &mut fresh),
    ] {
        report.row(Row {
            section: SECTION,
            metric: metric.to_owned(),
            unit: Unit::Micros,
            baseline: percentile(&mut base, 50.0),
            ours: percentile(ours, 50.0),
            target: Target::None,
        });
    }
    let p50 = |l: &mut Vec<f64>| percentile(l, 50.0).unwrap_or(0.0);
    let connection = p50(&mut fresh_health) - p50(&mut health);
    let origin = p50(&mut fresh) - p50(&mut base) - connection;
    report.note(format!(
        "auth: a new connection costs {connection:.0} µs at p50 on /lambdalet/v1/health (no authentication); on the invoke path {origin:.0} µs more: the origin lookup, once per connection"
    ));
    report.note(
        "auth: the signed figure includes the client's own signing (an HMAC chain and a SHA-256 of the body, as every SDK does)",
    );
    api::delete_function(daemon.addr, FUNCTION).await?;
    Ok(())
}
