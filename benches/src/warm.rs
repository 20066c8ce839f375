//! Warm invoke overhead: a no-op Python function invoked over keep-alive connections, against
//! a bare hyper echo server driven by the same client with the same payload and concurrency.

use std::path::Path;
use std::time::Duration;

use crate::api;
use crate::args::Args;
use crate::daemon::Daemon;
use crate::echo::EchoServer;
use crate::load::{load, us};
use crate::proc::{self, CpuSnapshot};
use crate::report::{Report, Row, Target, Unit};
use crate::runtime_loop;
use crate::zips;

const SECTION: &str = "warm invoke, no-op python3.11 (baseline: bare hyper HTTP/1.1 echo server)";
const FUNCTION: &str = "bench-noop";

/// CPU per invocation in µs from `[client, server, server's children]` seconds.
pub(crate) fn cpu_note(cpu: [f64; 3], n: usize) -> String {
    let per = |s: f64| (s * 1e6 / n.max(1) as f64).max(0.0);
    let mut text = format!("client {:.0} µs, server {:.0} µs", per(cpu[0]), per(cpu[1]));
    if cpu[2] > 0.0 {
        text.push_str(&format!(", its children {:.0} µs", per(cpu[2])));
    }
    text
}

pub async fn run(
    daemon: &Daemon,
    python: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("warm: deploying {FUNCTION} (python3.11, returns {{}}) and starting the echo server");
    let zip = zips::build(&[("noop.py", zips::NOOP_PY.as_bytes(), 0o644)])?;
    api::create_function(daemon.addr, FUNCTION, "python3.11", "noop.handler", &zip).await?;
    let echo = EchoServer::start()?;
    let path = api::invoke_path(FUNCTION);

    for c in [1usize, 8] {
        load(echo.addr, "/echo", c, args.warmup()).await?;
        let cpu0 = CpuSnapshot::take(echo.pid());
        let mut base = load(echo.addr, "/echo", c, args.duration).await?;
        let base_cpu = CpuSnapshot::take(echo.pid()).since(&cpu0);
        eprintln!(
            "warm c={c}: echo      {:>7.0}/s  p50 {}  p99 {}",
            base.rate(),
            us(base.p(50.0)),
            us(base.p(99.0))
        );

        load(daemon.addr, &path, c, args.warmup()).await?;
        let before = api::logs(daemon.addr, FUNCTION, 1, 0)
            .await?
            .last()
            .map_or(0, |r| r.id);
        let cpu0 = CpuSnapshot::take(daemon.pid());
        let mut ours = load(daemon.addr, &path, c, args.duration).await?;
        let our_cpu = CpuSnapshot::take(daemon.pid()).since(&cpu0);
        eprintln!(
            "warm c={c}: lambdalet {:>7.0}/s  p50 {}  p99 {}",
            ours.rate(),
            us(ours.p(50.0)),
            us(ours.p(99.0))
        );
        let sandboxes = proc::children_of(daemon.pid()).len();
        let records = api::logs(daemon.addr, FUNCTION, 1000, before).await?;
        let cold = records
            .iter()
            .filter(|r| api::init_duration_ms(&r.log).is_some())
            .count();
        report.note(format!(
            "warm c={c}: {} invocations measured ({} errors); {cold} cold starts among the last {} invocation records; {sandboxes} sandbox processes alive after the run",
            ours.lat_us.len(),
            ours.errors,
            records.len(),
        ));
        report.note(format!(
            "warm c={c}: CPU per request: echo run: {}; lambdalet run: {} (server = daemon, children = Python runtimes)",
            cpu_note(base_cpu, base.lat_us.len()),
            cpu_note(our_cpu, ours.lat_us.len()),
        ));
        if c == 1 {
            runtime_alone(daemon, python, args, report, base.p(50.0)).await;
        }
        for (who, l) in [("echo", &base), ("lambdalet", &ours)] {
            if let Some(e) = &l.first_error {
                report.note(format!(
                    "warm c={c}: {who}: {} errors, first: {e}",
                    l.errors
                ));
            }
        }

        report.row(Row {
            section: SECTION,
            metric: format!("p50 latency, c={c}"),
            unit: Unit::Micros,
            baseline: base.p(50.0),
            ours: ours.p(50.0),
            target: if c == 1 {
                Target::RatioAtMost(2.0)
            } else {
                Target::None
            },
        });
        report.row(Row {
            section: SECTION,
            metric: format!("p99 latency, c={c}"),
            unit: Unit::Micros,
            baseline: base.p(99.0),
            ours: ours.p(99.0),
            target: Target::None,
        });
        report.row(Row {
            section: SECTION,
            metric: format!("throughput, c={c}"),
            unit: Unit::PerSec,
            baseline: Some(base.rate()),
            ours: Some(ours.rate()),
            target: if c == 8 {
                Target::AtLeast(5000.0)
            } else {
                Target::None
            },
        });
    }
    drop(echo);
    let dropped = api::dropped_log_records(daemon.addr).await?;
    if dropped > 0 {
        report.note(format!(
            "the daemon dropped {dropped} invocation log records under load (health droppedLogRecords)"
        ));
    }
    api::delete_function(daemon.addr, FUNCTION).await?;
    proc::wait_children_gone(daemon.pid(), Duration::from_secs(3)).await;
    Ok(())
}

/// Notes how fast the daemon's own Python runtime loops with no daemon in between, on HTTP
/// and on the framed channel; the framed figure plus the echo's round trip is a floor for the
/// warm p50 (the client's exchange with some server, then the runtime's turn), reported as a
/// row against the echo.
async fn runtime_alone(
    daemon: &Daemon,
    python: &Path,
    args: &Args,
    report: &mut Report,
    echo_p50: Option<f64>,
) {
    let Some(bootstrap) = daemon.python_bootstrap() else {
        report.note("no Python bootstrap found in the daemon's data directory");
        return;
    };
    let events = if args.quick { 2_000 } else { 10_000 };
    match runtime_loop::python(python, &bootstrap, 500, events).await {
        Ok(f) => {
            eprintln!(
                "warm c=1: python runtime alone {:>7.0}/s  loop p50 {:.0} µs",
                f.rate, f.cycle_p50_us
            );
            report.note(format!(
                "the daemon's Python runtime alone (its bootstrap.py against the bench's minimal Runtime API stub, no daemon, {} events): {:.0} events/s, loop turn p50 {:.0} µs, event out → response in p50 {:.0} µs",
                f.events, f.rate, f.cycle_p50_us, f.inside_p50_us
            ));
        }
        Err(e) => report.note(format!("Python runtime alone: not measured: {e:#}")),
    }
    let (py, bs) = (python.to_owned(), bootstrap.clone());
    let framed =
        tokio::task::spawn_blocking(move || runtime_loop::python_framed(&py, &bs, 500, events))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
    match framed {
        Ok(f) => {
            eprintln!(
                "warm c=1: python runtime alone, framed {:>7.0}/s  event → response p50 {:.0} µs",
                f.rate, f.inside_p50_us
            );
            report.note(format!(
                "the daemon's Python runtime alone on the framed channel (a socket pair, no daemon, {} events): {:.0} events/s, event out → response in p50 {:.0} µs",
                f.events, f.rate, f.inside_p50_us
            ));
            report.row(Row {
                section: SECTION,
                metric: "floor: echo p50 + the runtime alone (framed) p50".to_owned(),
                unit: Unit::Micros,
                baseline: echo_p50,
                ours: echo_p50.map(|e| e + f.inside_p50_us),
                target: Target::None,
            });
        }
        Err(e) => report.note(format!("Python runtime alone, framed: not measured: {e:#}")),
    }
}
