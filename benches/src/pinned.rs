//! Pinned queue throughput: the scaling benchmark's no-op Python function deployed `pinned`
//! (one long-lived sandbox, started at deploy; invocations wait in its FIFO queue and run one
//! at a time), at concurrency 1 and 8, against the echo server at the same concurrency. At 8,
//! one invocation runs while seven wait.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::daemon::Daemon;
use crate::echo::EchoServer;
use crate::load::us;
use crate::proc;
use crate::report::Report;
use crate::scale::{measured, rows};
use crate::zips;

const SECTION: &str = "pinned function, no-op python3.11, one sandbox + FIFO queue (baseline: bare hyper echo server, same concurrency)";
const FUNCTION: &str = "bench-pinned";

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("pinned: deploying {FUNCTION} (python3.11 no-op, pinned: true)");
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
    // The pinned sandbox starts at deploy, before any invocation.
    let t0 = Instant::now();
    let started = loop {
        let i = api::instances(daemon.addr, FUNCTION).await?;
        if i.idle >= 1 {
            break Some(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(15) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    match started {
        Some(d) => report.note(format!(
            "pinned: the sandbox was idle {:.0} ms after CreateFunction returned, before any invocation",
            d.as_secs_f64() * 1e3
        )),
        None => report.note("pinned: no idle sandbox 15 s after CreateFunction"),
    }
    let path = api::invoke_path(FUNCTION);
    let echo = EchoServer::start()?;
    let dur = args.short_duration;
    for c in [1usize, 8] {
        let mut base =
            measured(echo.addr, "/echo", echo.pid(), None, c, args.warmup(), dur).await?;
        let mut ours = measured(
            daemon.addr,
            &path,
            daemon.pid(),
            Some(FUNCTION),
            c,
            args.warmup(),
            dur,
        )
        .await?;
        eprintln!(
            "pinned c={c}: echo {:>7.0}/s p50 {}; lambdalet {:>7.0}/s  p50 {}  p99 {}",
            base.load.rate(),
            us(base.load.p(50.0)),
            ours.load.rate(),
            us(ours.load.p(50.0)),
            us(ours.load.p(99.0))
        );
        report.note(format!(
            "pinned c={c}: {} invocations measured, {}; warm-up errors: {}; {} sandbox processes before the measured run, {} after ({} started during it); daemon's instance counts midway: {}",
            ours.load.lat_us.len(),
            ours.load.describe_errors(),
            ours.warmup_errors,
            ours.before.len(),
            ours.after.len(),
            ours.started(),
            ours.midway.map_or_else(
                || "n/a".to_owned(),
                |i| format!("{} idle, {} busy, {} starting, {} queued", i.idle, i.busy, i.starting, i.queued)
            ),
        ));
        report.note(format!(
            "pinned c={c}: CPU per request: echo run: {} ({}); lambdalet run: {} ({})",
            base.cpu_note(),
            base.busy_note(),
            ours.cpu_note(),
            ours.busy_note(),
        ));
        rows(report, SECTION, c, &mut base.load, &mut ours.load);
    }
    drop(echo);
    api::delete_function(daemon.addr, FUNCTION).await?;
    let left = proc::wait_children_gone(daemon.pid(), Duration::from_secs(5)).await;
    if left > 0 {
        report.note(format!(
            "pinned: {left} sandbox processes still alive 5 s after DeleteFunction"
        ));
    }
    Ok(())
}
