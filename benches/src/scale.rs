//! On-demand scaling: a no-op Python function allowed 64 sandboxes (`maxInstancesCount`),
//! driven at concurrency 1, 8 and 64 (one keep-alive connection per worker), against the bare
//! hyper echo server at the same concurrency. Before each measured run the bench makes the
//! daemon start one sandbox per worker (all workers at once with a handler that sleeps), so
//! the measured run sees warm sandboxes only; it reports how many existed and how many ran.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::daemon::Daemon;
use crate::echo::EchoServer;
use crate::load::{self, Load, us};
use crate::machine::HostBusy;
use crate::proc::{self, CpuSnapshot};
use crate::report::{Report, Row, Target, Unit};
use crate::warm::cpu_note;
use crate::zips;

const SECTION: &str = "on-demand scaling, no-op python3.11, maxInstancesCount 64 (baseline: bare hyper echo server, same concurrency)";
const FUNCTION: &str = "bench-scale";
const LEVELS: [usize; 3] = [1, 8, 64];
const MAX_INSTANCES: usize = 64;

/// One measured load run and what the server did meanwhile.
pub(crate) struct Measured {
    pub load: Load,
    /// Errors of the warm-up run before it.
    pub warmup_errors: u64,
    /// `[client, server, server's children]` CPU seconds during the measured run.
    pub cpu: [f64; 3],
    /// How busy all CPUs of the host were during the measured run, %.
    pub host_busy: Option<f64>,
    /// The server's child processes before and after the measured run.
    pub before: BTreeSet<u32>,
    pub after: BTreeSet<u32>,
    /// Children that used CPU during the run.
    pub active: usize,
    /// The function's instance counts halfway through the run.
    pub midway: Option<api::Instances>,
}

impl Measured {
    /// Children that appeared during the run (sandboxes started while measuring).
    pub fn started(&self) -> usize {
        self.after.difference(&self.before).count()
    }

    pub fn cpu_note(&self) -> String {
        cpu_note(self.cpu, self.load.lat_us.len())
    }

    pub fn busy_note(&self) -> String {
        self.host_busy.map_or_else(
            || "host CPU use unknown".to_owned(),
            |b| format!("the host's CPUs were {b:.0}% busy"),
        )
    }
}

fn child_pids(pid: u32) -> BTreeSet<u32> {
    proc::children_of(pid).into_iter().map(|(p, _)| p).collect()
}

/// A warm-up run, then a measured run of `dur` of `{}` requests at `concurrency` to `path`
/// on `addr`, served by process `server`. With `function`, the daemon's instance counts of
/// that function are read halfway through.
pub(crate) async fn measured(
    addr: SocketAddr,
    path: &str,
    server: u32,
    function: Option<&str>,
    concurrency: usize,
    warmup: Duration,
    dur: Duration,
) -> anyhow::Result<Measured> {
    let warm = load::load(addr, path, concurrency, warmup).await?;
    let before = child_pids(server);
    let host0 = HostBusy::now();
    let cpu0 = CpuSnapshot::take(server);
    let midway = function.map(|f| {
        let f = f.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(dur / 2).await;
            api::instances(addr, &f).await.ok()
        })
    });
    let run = load::load(addr, path, concurrency, dur).await?;
    let cpu1 = CpuSnapshot::take(server);
    let host_busy = host0
        .zip(HostBusy::now())
        .and_then(|(a, b)| b.percent_since(&a));
    let midway = match midway {
        Some(t) => t.await.ok().flatten(),
        None => None,
    };
    Ok(Measured {
        warmup_errors: warm.errors,
        cpu: cpu1.since(&cpu0),
        active: cpu1.children_active_since(&cpu0),
        host_busy,
        before,
        after: child_pids(server),
        midway,
        load: run,
    })
}

/// The p50, p99 and throughput rows of one concurrency level.
pub(crate) fn rows(
    report: &mut Report,
    section: &'static str,
    c: usize,
    base: &mut Load,
    ours: &mut Load,
) {
    for p in [50.0, 99.0] {
        report.row(Row {
            section,
            metric: format!("p{p:.0} latency, c={c}"),
            unit: Unit::Micros,
            baseline: base.p(p),
            ours: ours.p(p),
            target: Target::None,
        });
    }
    report.row(Row {
        section,
        metric: format!("throughput, c={c}"),
        unit: Unit::PerSec,
        baseline: Some(base.rate()),
        ours: Some(ours.rate()),
        target: Target::None,
    });
}

/// Makes the daemon run `n` sandboxes of `function` at once: `n` simultaneous invocations
/// whose handler sleeps `secs`. On a slow host an early sandbox may finish its sleep before
/// the last request arrives and serve it, leaving fewer than `n`: then another wave is sent
/// (up to 3 in all). Notes failures and extra waves.
pub(crate) async fn start_sandboxes(
    daemon: &Daemon,
    function: &str,
    n: usize,
    secs: f64,
    label: &str,
    report: &mut Report,
) -> anyhow::Result<api::Instances> {
    let path = api::invoke_path(function);
    let body = json!({ "sleep": secs }).to_string();
    let t0 = std::time::Instant::now();
    let mut waves = 0;
    let inst = loop {
        waves += 1;
        let failures = load::all_at_once(daemon.addr, &path, &body, n).await;
        if let Some(first) = failures.first() {
            report.note(format!(
                "{label}: {} of {n} simultaneous invocations (handler sleeping {secs} s) failed; first: {first}",
                failures.len()
            ));
        }
        let inst = api::instances(daemon.addr, function).await?;
        if inst.total() as usize >= n || waves == 3 {
            break inst;
        }
    };
    eprintln!(
        "{label}: {waves} wave(s) of {n} simultaneous sleeping invocations took {:.2} s; the daemon now has {} sandboxes ({} idle)",
        t0.elapsed().as_secs_f64(),
        inst.total(),
        inst.idle
    );
    if waves > 1 {
        report.note(format!(
            "{label}: {waves} waves of {n} simultaneous invocations sleeping {secs} s were needed for the daemon to have {} sandboxes",
            inst.total()
        ));
    }
    Ok(inst)
}

pub async fn run(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    eprintln!(
        "scale: deploying {FUNCTION} (python3.11 no-op, maxInstancesCount {MAX_INSTANCES}) and starting the echo server"
    );
    let zip = zips::build(&[("sleepy.py", zips::SLEEPY_PY.as_bytes(), 0o644)])?;
    api::create_function_with(
        daemon.addr,
        FUNCTION,
        "python3.11",
        "sleepy.handler",
        &zip,
        json!({ "maxInstancesCount": MAX_INSTANCES }),
    )
    .await?;
    let path = api::invoke_path(FUNCTION);
    let echo = EchoServer::start()?;
    let dur = args.short_duration;

    for c in LEVELS {
        let mut base =
            measured(echo.addr, "/echo", echo.pid(), None, c, args.warmup(), dur).await?;
        eprintln!(
            "scale c={c}: echo      {:>7.0}/s  p50 {}  p99 {}",
            base.load.rate(),
            us(base.load.p(50.0)),
            us(base.load.p(99.0))
        );
        let ready = if c > 1 {
            Some(start_sandboxes(daemon, FUNCTION, c, 0.5, &format!("scale c={c}"), report).await?)
        } else {
            None
        };
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
            "scale c={c}: lambdalet {:>7.0}/s  p50 {}  p99 {}",
            ours.load.rate(),
            us(ours.load.p(50.0)),
            us(ours.load.p(99.0))
        );
        report.note(format!(
            "scale c={c}: {} invocations measured, {}; warm-up errors: {}; sandboxes: {}{} sandbox processes before the measured run and {} after ({} started during it), {} of them used CPU during it; daemon's instance counts midway: {}",
            ours.load.lat_us.len(),
            ours.load.describe_errors(),
            ours.warmup_errors,
            ready.map_or_else(String::new, |i| format!(
                "{} after {c} simultaneous sleeping invocations, ",
                i.total()
            )),
            ours.before.len(),
            ours.after.len(),
            ours.started(),
            ours.active,
            ours.midway.map_or_else(
                || "n/a".to_owned(),
                |i| format!("{} idle, {} busy, {} starting, {} queued", i.idle, i.busy, i.starting, i.queued)
            ),
        ));
        report.note(format!(
            "scale c={c}: CPU per request: echo run: {} ({}); lambdalet run: {} (server = daemon, children = Python runtimes; {})",
            base.cpu_note(),
            base.busy_note(),
            ours.cpu_note(),
            ours.busy_note(),
        ));
        rows(report, SECTION, c, &mut base.load, &mut ours.load);
    }
    drop(echo);
    api::delete_function(daemon.addr, FUNCTION).await?;
    let left = proc::wait_children_gone(daemon.pid(), Duration::from_secs(10)).await;
    if left > 0 {
        report.note(format!(
            "scale: {left} sandbox processes still alive 10 s after DeleteFunction"
        ));
    }
    Ok(())
}
