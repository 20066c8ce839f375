//! The embedded S3 endpoint.
//!
//! - **Upload → function start**: a small PUT to a bucket whose notification names a Python
//!   function that prints `time.time_ns()` when its handler starts; the latency is from just
//!   before the PUT to that instant (one machine, one clock). Baseline: the same function
//!   invoked with `X-Amz-Invocation-Type: Event` directly, measured the same way. Sequential,
//!   one at a time, after a warm-up (the function warm).
//! - **Event rate**: 8 clients PUT objects as fast as the endpoint takes them; the rate is
//!   objects per second from the first PUT to the last handler start. Baseline: the same
//!   number of direct Event invokes from 8 clients.
//! - **Throughput**: PUT and GET of a 64 MB object (unsigned, on loopback) against writing the
//!   same bytes to a file on the same disk with fsync, and reading it back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use hyper::Method;

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::report::{Report, Row, Target, Unit};
use crate::stats::percentile;
use crate::zips;

const SECTION: &str = "S3 endpoint (baselines: a direct Event invoke; a file on the same disk)";
const FUNCTION: &str = "bench-s3";
const BUCKET: &str = "bench-uploads";
/// The function: notes when its handler starts, under the object key or the event's tag.
fn stamp_py(file: &std::path::Path) -> String {
    format!(
        "import os, time\n\nFILE = {file:?}\n\n\ndef handler(event, context):\n    t = time.time_ns()\n    if 'Records' in event:\n        tag = event['Records'][0]['s3']['object']['key']\n    else:\n        tag = event.get('tag', '')\n    fd = os.open(FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)\n    os.write(fd, ('%s %d\\n' % (tag, t)).encode())\n    os.close(fd)\n    return {{}}\n",
        file = file.display().to_string()
    )
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Where the function appends `TAG START_NS` lines (it runs as a process sandbox, on the
/// host's file system; the invocation log would drop records under a burst).
fn stamp_file(daemon: &Daemon) -> std::path::PathBuf {
    daemon.data_dir().join("bench-s3-starts.txt")
}

/// The handler start time of every tag so far.
async fn starts(daemon: &Daemon) -> anyhow::Result<std::collections::HashMap<String, u128>> {
    let text = tokio::fs::read_to_string(stamp_file(daemon))
        .await
        .unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let (tag, t) = l.rsplit_once(' ')?;
            Some((tag.to_owned(), t.parse().ok()?))
        })
        .collect())
}

/// Waits until every tag in `tags` has started; returns the start times.
async fn wait_for(
    daemon: &Daemon,
    tags: &[String],
) -> anyhow::Result<std::collections::HashMap<String, u128>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = starts(daemon).await?;
        if tags.iter().all(|t| got.contains_key(t)) {
            return Ok(got);
        }
        if Instant::now() > deadline {
            let missing = tags.iter().filter(|t| !got.contains_key(*t)).count();
            bail!(
                "{missing} of {} events never reached the function",
                tags.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn put(conn: &mut Conn, key: &str, body: Bytes) -> anyhow::Result<()> {
    let r = conn
        .request(Method::PUT, &format!("/{BUCKET}/{key}"), body)
        .await?;
    if !r.is_success() {
        bail!("PUT {key} answered {}", r.describe());
    }
    Ok(())
}

async fn event(conn: &mut Conn, tag: &str) -> anyhow::Result<()> {
    let body = Bytes::from(format!("{{\"tag\": \"{tag}\"}}"));
    let r = conn
        .request_with(
            Method::POST,
            &api::invoke_path(FUNCTION),
            &[("X-Amz-Invocation-Type", "Event")],
            body,
        )
        .await?;
    if r.status.as_u16() != 202 {
        bail!("Event invoke answered {}", r.describe());
    }
    Ok(())
}

/// Latencies (ms) of `n` sequential triggers, each waited for before the next.
async fn latencies(
    daemon: &Daemon,
    s3: SocketAddr,
    n: usize,
    prefix: &str,
    via_s3: bool,
) -> anyhow::Result<Vec<f64>> {
    let mut s3c = Conn::connect(s3).await?;
    let mut api = Conn::connect(daemon.addr).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let tag = format!("{prefix}{i}");
        let t0 = now_ns();
        if via_s3 {
            put(&mut s3c, &tag, Bytes::from_static(b"x")).await?;
        } else {
            event(&mut api, &tag).await?;
        }
        let got = wait_for(daemon, std::slice::from_ref(&tag)).await?;
        out.push((got[&tag].saturating_sub(t0)) as f64 / 1e6);
    }
    Ok(out)
}

/// Objects (or events) per second for `n` triggers from 8 clients.
async fn rate(
    daemon: &Daemon,
    s3: SocketAddr,
    n: usize,
    prefix: &str,
    via_s3: bool,
) -> anyhow::Result<f64> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = now_ns();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (next, prefix, api_addr) = (next.clone(), prefix.to_owned(), daemon.addr);
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(if via_s3 { s3 } else { api_addr }).await?;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let tag = format!("{prefix}{i}");
                if via_s3 {
                    put(&mut c, &tag, Bytes::from_static(b"x")).await?;
                } else {
                    event(&mut c, &tag).await?;
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let tags: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let got = wait_for(daemon, &tags).await?;
    let last = got.values().copied().max().unwrap_or(t0);
    Ok(n as f64 / ((last.saturating_sub(t0)) as f64 / 1e9))
}

/// MB/s of PUT and GET of `bytes` through the endpoint, and of a synced file write and a read.
async fn throughput(
    daemon: &Daemon,
    s3: SocketAddr,
    bytes: Bytes,
) -> anyhow::Result<[(f64, f64); 2]> {
    let mb = bytes.len() as f64 / 1e6;
    let file = daemon.data_dir().join("bench-baseline.bin");
    let (mut put_ours, mut put_base, mut get_ours, mut get_base) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let b = bytes.clone();
        let f = file.clone();
        let t = Instant::now();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut w = std::fs::File::create(&f)?;
            w.write_all(&b)?;
            w.sync_all()
        })
        .await??;
        put_base.push(mb / t.elapsed().as_secs_f64());
        let mut c = Conn::connect(s3).await?;
        let key = format!("big-{round}");
        let t = Instant::now();
        let r = c
            .request(Method::PUT, &format!("/throughput/{key}"), bytes.clone())
            .await?;
        if !r.is_success() {
            bail!("PUT {key} answered {}", r.describe());
        }
        put_ours.push(mb / t.elapsed().as_secs_f64());
        let f = file.clone();
        let t = Instant::now();
        let n = tokio::task::spawn_blocking(move || std::fs::read(&f).map(|v| v.len())).await??;
        get_base.push(n as f64 / 1e6 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = c
            .request(Method::GET, &format!("/throughput/{key}"), Bytes::new())
            .await?;
        if r.body.len() != bytes.len() {
            bail!("GET {key} returned {} bytes", r.body.len());
        }
        get_ours.push(mb / t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(&file);
    let med = |v: &mut Vec<f64>| percentile(v, 50.0).unwrap_or(0.0);
    Ok([
        (med(&mut put_base), med(&mut put_ours)),
        (med(&mut get_base), med(&mut get_ours)),
    ])
}

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let s3 = daemon.s3_addr()?;
    eprintln!("s3: endpoint at {s3}; deploying {FUNCTION} and a bucket notification");
    let code = stamp_py(&stamp_file(daemon));
    let zip = zips::build(&[("stamp.py", code.as_bytes(), 0o644)])?;
    api::create_function_with(
        daemon.addr,
        FUNCTION,
        "python3.11",
        "stamp.handler",
        &zip,
        serde_json::json!({"containerMode": "NoContainer"}),
    )
    .await?;
    let mut c = Conn::connect(s3).await?;
    for b in [BUCKET, "throughput"] {
        let r = c
            .request(Method::PUT, &format!("/{b}"), Bytes::new())
            .await?;
        if !r.is_success() {
            bail!("CreateBucket {b} answered {}", r.describe());
        }
    }
    let config = format!(
        "<NotificationConfiguration><CloudFunctionConfiguration><Id>bench</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration></NotificationConfiguration>"
    );
    let r = c
        .request(
            Method::PUT,
            &format!("/{BUCKET}?notification"),
            Bytes::from(config),
        )
        .await
        .context("PutBucketNotificationConfiguration")?;
    if !r.is_success() {
        bail!(
            "PutBucketNotificationConfiguration answered {}",
            r.describe()
        );
    }
    let n = if args.quick { 30 } else { 200 };
    latencies(daemon, s3, 5, "warm-", true).await?;
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for round in 0..2 {
        base.extend(latencies(daemon, s3, n / 2, &format!("ev{round}-"), false).await?);
        ours.extend(latencies(daemon, s3, n / 2, &format!("put{round}-"), true).await?);
    }
    for (metric, p) in [
        ("upload -> function start, p50", 50.0),
        ("upload -> function start, p99", 99.0),
    ] {
        report.row(Row {
            section: SECTION,
            metric: metric.to_owned(),
            unit: Unit::Millis,
            baseline: percentile(&mut base, p),
            ours: percentile(&mut ours, p),
            target: Target::None,
        });
    }
    let burst = if args.quick { 300 } else { 2000 };
    // A first burst of each starts the function's sandboxes (up to 8 busy at once), so that
    // the measured ones find them warm; then the two alternate.
    rate(daemon, s3, burst / 4, "rate-warm-ev-", false).await?;
    rate(daemon, s3, burst / 4, "rate-warm-put-", true).await?;
    let (mut base_rates, mut ours_rates) = (Vec::new(), Vec::new());
    for round in 0..2 {
        base_rates.push(rate(daemon, s3, burst, &format!("rate{round}-ev-"), false).await?);
        ours_rates.push(rate(daemon, s3, burst, &format!("rate{round}-put-"), true).await?);
    }
    let base_rate = base_rates.iter().copied().fold(0.0, f64::max);
    let ours_rate = ours_rates.iter().copied().fold(0.0, f64::max);
    report.row(Row {
        section: SECTION,
        metric: format!("event rate, {burst} uploads from 8 clients (best of 2)"),
        unit: Unit::PerSec,
        baseline: Some(base_rate),
        ours: Some(ours_rate),
        target: Target::None,
    });
    let data: Vec<u8> = (0..64 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let [(put_base, put_ours), (get_base, get_ours)] =
        throughput(daemon, s3, Bytes::from(data)).await?;
    for (metric, b, o) in [
        (
            "PUT 64 MB, MB/s (baseline: write + fsync)",
            put_base,
            put_ours,
        ),
        ("GET 64 MB, MB/s (baseline: read)", get_base, get_ours),
    ] {
        report.row(Row {
            section: SECTION,
            metric: metric.to_owned(),
            unit: Unit::PerSec,
            baseline: Some(b),
            ours: Some(o),
            target: Target::None,
        });
    }
    api::delete_function(daemon.addr, FUNCTION).await?;
    Ok(())
}
