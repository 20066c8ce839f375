//! Async end to end: K `Event` invocations accepted from 16 clients and run by a no-op Python
//! function allowed 8 sandboxes, timed from the first 202 until the daemon's queue shows
//! nothing pending or in flight; against the same K invocations sent synchronously at
//! concurrency 8 to the same function (its 8 sandboxes warm for both).

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::async_accept::wait_drained;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::load::{self, Spec, Stop};
use crate::machine::HostBusy;
use crate::proc::{self, CpuSnapshot};
use crate::report::{Report, Row, Target, Unit};
use crate::scale::start_sandboxes;
use crate::warm::cpu_note;
use crate::zips;

const SECTION: &str = "async end to end, K events to a no-op python3.11 with maxInstancesCount 8, first 202 to queue empty (baseline: the same K invoked synchronously, c=8)";
const FUNCTION: &str = "bench-async-drain";
const INSTANCES: usize = 8;
const CLIENTS: usize = 16;

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let k = args.drain_events;
    eprintln!(
        "async drain: deploying {FUNCTION} (python3.11 no-op, maxInstancesCount {INSTANCES}); {k} events"
    );
    let zip = zips::build(&[("sleepy.py", zips::SLEEPY_PY.as_bytes(), 0o644)])?;
    api::create_function_with(
        daemon.addr,
        FUNCTION,
        "python3.11",
        "sleepy.handler",
        &zip,
        json!({ "maxInstancesCount": INSTANCES }),
    )
    .await?;
    let path = api::invoke_path(FUNCTION);
    start_sandboxes(daemon, FUNCTION, INSTANCES, 0.3, "async drain", report).await?;
    load::load(daemon.addr, &path, INSTANCES, args.warmup()).await?;

    // Baseline: K synchronous invocations at concurrency 8.
    let cpu0 = CpuSnapshot::take(daemon.pid());
    let base = load::run(&Spec {
        stop: Stop::Count(k),
        ..Spec::sync(daemon.addr, &path, INSTANCES, Duration::ZERO)
    })
    .await?;
    let base_cpu = CpuSnapshot::take(daemon.pid()).since(&cpu0);
    let base_rate = base.rate();

    // K events from 16 clients; the dispatcher starts running them as they arrive.
    let mut poll = Conn::connect(daemon.addr).await?;
    let before = proc::children_of(daemon.pid()).len();
    let host0 = HostBusy::now();
    let cpu0 = CpuSnapshot::take(daemon.pid());
    let accepted = load::run(&Spec {
        addr: daemon.addr,
        path: path.as_str().into(),
        body: Bytes::from_static(b"{}"),
        event: true,
        concurrency: CLIENTS,
        stop: Stop::Count(k),
    })
    .await?;
    let all_accepted = Instant::now();
    let at_accept_end = api::queue_depth(&mut poll, FUNCTION).await?;
    let (drained, depth) = wait_drained(
        &mut poll,
        FUNCTION,
        Duration::from_secs(120),
        Duration::from_millis(10),
    )
    .await?;
    let cpu = CpuSnapshot::take(daemon.pid()).since(&cpu0);
    let busy = host0
        .zip(HostBusy::now())
        .and_then(|(a, b)| b.percent_since(&a));
    let after = proc::children_of(daemon.pid()).len();
    let n = accepted.lat_us.len();
    let ours = match (accepted.first_ok, drained) {
        (Some(first), Some(end)) => Some(n as f64 / (end - first).as_secs_f64()),
        _ => None,
    };
    eprintln!(
        "async drain: sync c=8 {base_rate:>7.0}/s; async {} accepted, drained at {}",
        n,
        ours.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.0}/s"))
    );
    let accept_secs = accepted
        .first_ok
        .map_or(0.0, |f| (all_accepted - f).as_secs_f64());
    report.note(format!(
        "async drain: {n} of {k} events accepted ({}) in {:.0} ms ({:.0}/s while the dispatcher ran them); {} pending and {} in flight when the last was accepted; {}",
        accepted.describe_errors(),
        accept_secs * 1e3,
        n as f64 / accept_secs.max(1e-9),
        at_accept_end.pending,
        at_accept_end.in_flight,
        match drained {
            Some(t) => format!(
                "queue empty {:.0} ms after the last accept; {} failed events",
                (t - all_accepted).as_secs_f64() * 1e3,
                depth.failed
            ),
            None => format!(
                "QUEUE NOT DRAINED 120 s after the last accept: {} pending, {} in flight, {} failed",
                depth.pending, depth.in_flight, depth.failed
            ),
        }
    ));
    report.note(format!(
        "async drain: {before} sandbox processes before, {after} after; CPU per event: {} (the host's CPUs were {} busy); synchronous baseline: {} invocations, {}, CPU per invocation: {}",
        cpu_note(cpu, n),
        busy.map_or_else(|| "?".to_owned(), |b| format!("{b:.0}%")),
        base.lat_us.len(),
        base.describe_errors(),
        cpu_note(base_cpu, base.lat_us.len()),
    ));
    report.row(Row {
        section: SECTION,
        metric: format!("events run /s, K={k}"),
        unit: Unit::PerSec,
        baseline: Some(base_rate),
        ours,
        target: Target::None,
    });
    api::delete_function(daemon.addr, FUNCTION).await?;
    let left = proc::wait_children_gone(daemon.pid(), Duration::from_secs(5)).await;
    if left > 0 {
        report.note(format!(
            "async drain: {left} sandbox processes still alive 5 s after DeleteFunction"
        ));
    }
    Ok(())
}
