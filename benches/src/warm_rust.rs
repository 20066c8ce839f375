//! Warm invoke overhead with a compiled runtime: the Rust `provided.al2023` hello function at
//! concurrency 1, against the echo server measured again right before it. The Python runtime's
//! own event loop costs more than the DESIGN.md budget for the whole round trip, so this row
//! shows the daemon's overhead with a runtime that is cheap to drive (informational, no
//! target of its own).

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
use crate::warm::cpu_note;
use crate::zips;

const SECTION: &str =
    "warm invoke, Rust provided.al2023 hello (baseline: bare hyper HTTP/1.1 echo server)";
const FUNCTION: &str = "bench-rust-hello";

pub async fn run(
    daemon: &Daemon,
    bootstrap: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("warm rust: deploying {FUNCTION} (provided.al2023, hello-rust)");
    let bin = std::fs::read(bootstrap)?;
    let zip = zips::build(&[("bootstrap", &bin, 0o755)])?;
    api::create_function(daemon.addr, FUNCTION, "provided.al2023", "bootstrap", &zip).await?;
    let path = api::invoke_path(FUNCTION);
    let echo = EchoServer::start()?;

    load(echo.addr, "/echo", 1, args.warmup()).await?;
    let mut base = load(echo.addr, "/echo", 1, args.duration).await?;
    drop(echo);
    load(daemon.addr, &path, 1, args.warmup()).await?;
    let cpu0 = CpuSnapshot::take(daemon.pid());
    let mut ours = load(daemon.addr, &path, 1, args.duration).await?;
    let cpu = CpuSnapshot::take(daemon.pid()).since(&cpu0);
    eprintln!(
        "warm rust c=1: echo {:>7.0}/s p50 {}; lambdalet {:>7.0}/s p50 {}  p99 {}",
        base.rate(),
        us(base.p(50.0)),
        ours.rate(),
        us(ours.p(50.0)),
        us(ours.p(99.0))
    );
    report.note(format!(
        "warm rust c=1: {} invocations measured ({} errors); CPU per request: {} (children = the Rust runtime)",
        ours.lat_us.len(),
        ours.errors,
        cpu_note(cpu, ours.lat_us.len())
    ));
    if let Some(e) = &ours.first_error {
        report.note(format!("warm rust c=1: first error: {e}"));
    }
    for (metric, b, o) in [
        ("p50 latency, c=1", base.p(50.0), ours.p(50.0)),
        ("p99 latency, c=1", base.p(99.0), ours.p(99.0)),
    ] {
        report.row(Row {
            section: SECTION,
            metric: metric.into(),
            unit: Unit::Micros,
            baseline: b,
            ours: o,
            target: Target::None,
        });
    }
    report.row(Row {
        section: SECTION,
        metric: "throughput, c=1".into(),
        unit: Unit::PerSec,
        baseline: Some(base.rate()),
        ours: Some(ours.rate()),
        target: Target::None,
    });
    runtime_alone(bootstrap, args, report, base.p(50.0)).await;
    api::delete_function(daemon.addr, FUNCTION).await?;
    proc::wait_children_gone(daemon.pid(), Duration::from_secs(3)).await;
    Ok(())
}

/// The Rust runtime alone against the bench's minimal HTTP Runtime API (no daemon): the echo's
/// round trip plus its event → response time is the floor of any daemon serving it over HTTP.
async fn runtime_alone(bootstrap: &Path, args: &Args, report: &mut Report, echo_p50: Option<f64>) {
    let events = if args.quick { 2_000 } else { 10_000 };
    match runtime_loop::binary(bootstrap, 500, events).await {
        Ok(f) => {
            eprintln!(
                "warm rust c=1: runtime alone (HTTP) {:>7.0}/s  event → response p50 {:.0} µs",
                f.rate, f.inside_p50_us
            );
            report.note(format!(
                "the Rust runtime alone against the bench's minimal HTTP Runtime API (no daemon, {} events): {:.0} events/s, loop turn p50 {:.0} µs, event out → response in p50 {:.0} µs",
                f.events, f.rate, f.cycle_p50_us, f.inside_p50_us
            ));
            report.row(Row {
                section: SECTION,
                metric: "floor: echo p50 + the runtime alone (HTTP) p50".to_owned(),
                unit: Unit::Micros,
                baseline: echo_p50,
                ours: echo_p50.map(|e| e + f.inside_p50_us),
                target: Target::None,
            });
        }
        Err(e) => report.note(format!("Rust runtime alone: not measured: {e:#}")),
    }
}
