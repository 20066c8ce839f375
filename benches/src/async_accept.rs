//! Async accept rate: `Event` invocations answered 202 (so durably committed, with an fsync)
//! per second, by 1 and 16 concurrent clients on their own keep-alive connections, against
//! SQLite storing rows of the same shape one transaction per row from 1 and 16 threads
//! (`sqlite_base`). The function is a pinned no-op whose only sandbox is held busy by a
//! sleeping synchronous invocation during the accept runs, so the dispatcher (which runs
//! concurrently) holds the events without running them: what is measured is the accept path.
//! The events run afterwards, before the next run starts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::load::{self, Spec, Stop, us};
use crate::machine::HostBusy;
use crate::proc::CpuSnapshot;
use crate::report::{Report, Row, Target, Unit};
use crate::sqlite_base::{self, Sharing};
use crate::stats::percentile;
use crate::zips;

const SECTION: &str = "async accept, Event invocations answered 202 after an fsync, function held busy (baseline: SQLite WAL synchronous=FULL, one INSERT transaction per row)";
const FUNCTION: &str = "bench-async-accept";
/// The event every client sends (and the payload of the baseline's rows): 100 bytes of JSON.
const PAYLOAD: &[u8] =
    br#"{"source":"lambdalet-bench","detail-type":"reading","detail":{"sensor":"t-0042","celsius":21.5}}"#;
const CLIENTS: [usize; 2] = [1, 16];

/// Polls the queue on `conn` until `function` has nothing pending or in flight, for up to
/// `limit`; returns how long that took (`None`: not drained) and the last depth seen.
pub(crate) async fn wait_drained(
    conn: &mut Conn,
    function: &str,
    limit: Duration,
    every: Duration,
) -> anyhow::Result<(Option<Instant>, api::QueueDepth)> {
    let deadline = Instant::now() + limit;
    loop {
        let d = api::queue_depth(conn, function).await?;
        if d.pending + d.in_flight == 0 {
            return Ok((Some(Instant::now()), d));
        }
        if Instant::now() > deadline {
            return Ok((None, d));
        }
        tokio::time::sleep(every).await;
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    eprintln!(
        "async accept: deploying {FUNCTION} (python3.11 no-op, pinned: one sandbox, kept busy while events are accepted)"
    );
    let zip = zips::build(&[("sleepy.py", zips::SLEEPY_PY.as_bytes(), 0o644)])?;
    api::create_function_with(
        daemon.addr,
        FUNCTION,
        "python3.11",
        "sleepy.handler",
        &zip,
        json!({ "pinned": true }),
    )
    .await?;
    let path = api::invoke_path(FUNCTION);
    let dur = args.short_duration;
    let mut poll = Conn::connect(daemon.addr).await?;

    for c in CLIENTS {
        let mut base = tokio::task::spawn_blocking(move || {
            sqlite_base::inserts(c, Sharing::OwnConnections, FUNCTION, PAYLOAD, dur)
        })
        .await??;
        eprintln!(
            "async accept c={c}: SQLite   {:>7.0}/s  p50 {}",
            base.rate(),
            us(percentile(&mut base.lat_us, 50.0))
        );
        if let Some(e) = &base.first_error {
            report.note(format!(
                "async accept c={c}: SQLite baseline: {} inserts failed, first: {e}",
                base.errors
            ));
        }

        // Hold the function's sandbox for the warm-up and the measured run (the function
        // timeout is 30 s).
        let hold = (args.warmup() + dur + Duration::from_secs(1)).min(Duration::from_secs(28));
        let holder = {
            let (addr, path) = (daemon.addr, path.clone());
            let body = json!({ "sleep": hold.as_secs_f64() }).to_string();
            tokio::spawn(async move {
                let mut conn = Conn::connect(addr).await?;
                conn.request(hyper::Method::POST, &path, Bytes::from(body))
                    .await
            })
        };
        let t0 = Instant::now();
        while api::instances(daemon.addr, FUNCTION).await?.busy == 0 {
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(15),
                "the pinned function {FUNCTION} did not become busy"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let spec = |stop| Spec {
            addr: daemon.addr,
            path: path.as_str().into(),
            body: Bytes::from_static(PAYLOAD),
            event: true,
            concurrency: c,
            stop,
        };
        let warm = load::run(&spec(Stop::After(args.warmup()))).await?;
        let host0 = HostBusy::now();
        let cpu0 = CpuSnapshot::take(daemon.pid());
        let mut ours = load::run(&spec(Stop::After(dur))).await?;
        let cpu = CpuSnapshot::take(daemon.pid()).since(&cpu0);
        let busy = host0
            .zip(HostBusy::now())
            .and_then(|(a, b)| b.percent_since(&a));
        let held = t0.elapsed() < hold;
        let at_end = api::queue_depth(&mut poll, FUNCTION).await?;
        let hold_reply = holder.await??;
        if !hold_reply.is_success() {
            report.note(format!(
                "async accept c={c}: the invocation that held the sandbox failed: {}",
                hold_reply.describe()
            ));
        }
        let ended = Instant::now();
        // Polled rarely: the daemon counts the stored events with a table scan per poll.
        let (drained, depth) = wait_drained(
            &mut poll,
            FUNCTION,
            Duration::from_secs(120),
            Duration::from_millis(250),
        )
        .await?;
        eprintln!(
            "async accept c={c}: lambdalet {:>7.0}/s  p50 {}  p99 {}",
            ours.rate(),
            us(ours.p(50.0)),
            us(ours.p(99.0))
        );
        let n = ours.lat_us.len();
        let per = |s: f64| s * 1e6 / n.max(1) as f64;
        report.note(format!(
            "async accept c={c}: {n} events accepted, {}; warm-up errors: {}; CPU per accepted event: client {:.0} µs, daemon {:.0} µs; the host's CPUs were {} busy; {} pending and {} in flight at the end of the run{}; {}",
            ours.describe_errors(),
            warm.errors,
            per(cpu[0]),
            per(cpu[1]),
            busy.map_or_else(|| "?".to_owned(), |b| format!("{b:.0}%")),
            at_end.pending,
            at_end.in_flight,
            if held { "" } else { " (THE SANDBOX WAS NOT HELD FOR THE WHOLE RUN: events ran meanwhile)" },
            match drained {
                Some(t) => format!(
                    "then the {} waiting events ran (pinned, one at a time) in {:.1} s, {:.0}/s ({} failed)",
                    at_end.pending + at_end.in_flight,
                    (t - ended).as_secs_f64(),
                    (at_end.pending + at_end.in_flight) as f64 / (t - ended).as_secs_f64(),
                    depth.failed
                ),
                None => format!(
                    "QUEUE NOT DRAINED 120 s after the sandbox was released: {} pending, {} in flight, {} failed",
                    depth.pending, depth.in_flight, depth.failed
                ),
            }
        ));
        report.note(format!(
            "async accept c={c}: SQLite baseline: {} rows in {:.1} s from {c} thread{}, each with its own connection (p99 {}, mean {}, max {})",
            base.lat_us.len(),
            base.elapsed.as_secs_f64(),
            if c == 1 { "" } else { "s" },
            us(percentile(&mut base.lat_us, 99.0)),
            us(mean(&base.lat_us)),
            us(percentile(&mut base.lat_us, 100.0)),
        ));
        if c > 1 {
            // The same threads taking turns on one connection: no busy-handler sleeps.
            let mut one = tokio::task::spawn_blocking(move || {
                sqlite_base::inserts(c, Sharing::OneConnection, FUNCTION, PAYLOAD, dur)
            })
            .await??;
            report.note(format!(
                "async accept c={c}: SQLite with the {c} threads taking turns on one connection (a mutex) instead: {:.0} rows/s, p50 {}, p99 {}{}",
                one.rate(),
                us(percentile(&mut one.lat_us, 50.0)),
                us(percentile(&mut one.lat_us, 99.0)),
                one.first_error
                    .as_ref()
                    .map_or_else(String::new, |e| format!("; {} errors, first: {e}", one.errors)),
            ));
        }
        report.row(Row {
            section: SECTION,
            metric: format!(
                "events accepted /s, {c} client{}",
                if c == 1 { "" } else { "s" }
            ),
            unit: Unit::PerSec,
            baseline: Some(base.rate()),
            ours: Some(ours.rate()),
            target: Target::None,
        });
        for p in [50.0, 99.0] {
            report.row(Row {
                section: SECTION,
                metric: format!(
                    "p{p:.0} latency to 202 (baseline: to commit), {c} client{}",
                    if c == 1 { "" } else { "s" }
                ),
                unit: Unit::Micros,
                baseline: percentile(&mut base.lat_us, p),
                ours: ours.p(p),
                target: Target::None,
            });
        }
    }
    api::delete_function(daemon.addr, FUNCTION).await?;
    Ok(())
}
