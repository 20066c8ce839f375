//! Sandboxes: what a container costs, against the process backend and against runc (Debian's
//! OCI runtime) running the same program from an OCI bundle, all in one run:
//! - creation to the runtime's first `next`, with the Rust hello (a program that starts in a
//!   millisecond, so what is measured is the sandbox): the binary run directly and by runc
//!   against a stub Runtime API, and lambdalet's `Init Duration` in each backend;
//! - warm invoke latency and throughput of a Python no-op in each backend;
//! - the Python hello's cold start in each backend.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::cold::{self, Subject};
use crate::daemon::Daemon;
use crate::load::{load, us};
use crate::report::{Report, Row, Target, Unit};
use crate::runc::Bundle;
use crate::stats::{median, range};
use crate::stub::Stub;
use crate::zips;

const CREATION: &str =
    "sandbox creation to first `next`, Rust hello (baseline: the binary run directly)";
const VS_RUNC: &str =
    "sandbox creation to first `next`, Rust hello (baseline: runc run, same binary, OCI bundle)";
const WARM: &str = "warm invoke, no-op python3.11 in a container (baseline: the process sandbox)";

fn mode(container: bool) -> Value {
    json!({ "containerMode": if container { "GreengrassContainer" } else { "NoContainer" } })
}

pub async fn run(
    daemon: &Daemon,
    root: &Path,
    python: &anyhow::Result<std::path::PathBuf>,
    bootstrap: Option<&anyhow::Result<std::path::PathBuf>>,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    match bootstrap.map(|b| b.as_ref()) {
        Some(Ok(b)) => creation(daemon, b, args, report).await?,
        Some(Err(e)) => report.note(format!("sandbox creation skipped: {e}")),
        None => {}
    }
    match python {
        Ok(py) => {
            warm(daemon, args, report).await?;
            for container in [false, true] {
                let section = if container {
                    "cold start, Python hello in a container (baseline: python3.11 -c 'import app')"
                } else {
                    "cold start, Python hello in a process sandbox (baseline: python3.11 -c 'import app')"
                };
                cold::python_in(daemon, root, py, section, mode(container), args, report).await?;
            }
        }
        Err(e) => report.note(format!("sandbox warm and Python cold start skipped: {e}")),
    }
    Ok(())
}

/// Milliseconds from spawning `cmd` to the stub's first `next`.
async fn to_first_next(mut cmd: tokio::process::Command, stub: Stub) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the program")?;
    let timeline = stub.finished(Duration::from_secs(10)).await;
    let _ = child.kill().await;
    let at = *timeline?.sent.first().context("a first next")?;
    Ok((at - t0).as_secs_f64() * 1e3)
}

async fn creation(
    daemon: &Daemon,
    bootstrap: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bin = std::fs::read(bootstrap)?;
    let zip = zips::build(&[("bootstrap", &bin, 0o755)])?;
    let bundle = match Bundle::new(bootstrap) {
        Ok(b) => Some(b),
        Err(e) => {
            report.note(format!("runc baseline skipped: {e:#}"));
            None
        }
    };
    eprintln!(
        "sandbox creation: {} samples (+1 warm-up) of: the binary, runc{}, lambdalet process, lambdalet container",
        args.samples,
        if bundle.is_some() {
            ""
        } else {
            " (unavailable)"
        }
    );
    let mut conn = Conn::connect(daemon.addr).await?;
    let (mut direct, mut runc, mut process, mut container) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..=args.samples {
        let stub = Stub::start(1).await?;
        let mut cmd = tokio::process::Command::new(bootstrap);
        cmd.env_clear().envs(crate::runc::lambda_env(stub.addr));
        let d = to_first_next(cmd, stub).await?;
        let r = match &bundle {
            Some(b) => {
                let stub = Stub::start(1).await?;
                let id = format!("lambdalet-bench-{}-{i}", std::process::id());
                let cmd = b.run_command(&id, stub.addr)?;
                let ms = to_first_next(cmd, stub).await;
                b.delete(&id).await;
                Some(ms?)
            }
            None => None,
        };
        let mut init = [None, None];
        for (slot, c) in init.iter_mut().zip([false, true]) {
            let s = Subject {
                label: if c { "rust-container" } else { "rust-process" },
                section: CREATION,
                runtime: "provided.al2023",
                handler: "bootstrap",
                zip: &zip,
                target: 1.5,
                lifecycle: mode(c),
            };
            let name = format!("bench-create-{}-{i}", s.label);
            *slot = match cold::sample(daemon, &mut conn, &s, &name).await? {
                Ok(x) => x.init_ms,
                Err(why) => anyhow::bail!("{name}: {why}"),
            };
        }
        if i == 0 {
            continue;
        }
        eprintln!(
            "  #{i:<2} binary {d:6.2} ms   runc {}   process {}   container {}",
            r.map_or("-".to_owned(), |v| format!("{v:6.2} ms")),
            init[0].map_or("-".to_owned(), |v| format!("{v:6.2} ms")),
            init[1].map_or("-".to_owned(), |v| format!("{v:6.2} ms")),
        );
        direct.push(d);
        runc.extend(r);
        process.extend(init[0]);
        container.extend(init[1]);
    }
    for (what, v) in [
        ("binary", &direct),
        ("runc", &runc),
        ("process", &process),
        ("container", &container),
    ] {
        if let Some((lo, hi)) = range(v) {
            report.note(format!(
                "sandbox creation: {what} range {lo:.2}-{hi:.2} ms over {} samples",
                v.len()
            ));
        }
    }
    let base = median(&mut direct);
    for (metric, ours, target) in [
        (
            "process sandbox (Init Duration), median",
            median(&mut process),
            Target::None,
        ),
        (
            "container sandbox (Init Duration), median",
            median(&mut container),
            Target::AddedMsAtMost(10.0),
        ),
    ] {
        report.row(Row {
            section: CREATION,
            metric: metric.into(),
            unit: Unit::Millis,
            baseline: base,
            ours,
            target,
        });
    }
    if !runc.is_empty() {
        report.row(Row {
            section: VS_RUNC,
            metric: "container sandbox vs runc run, median".into(),
            unit: Unit::Millis,
            baseline: median(&mut runc),
            ours: median(&mut container),
            target: Target::None,
        });
    }
    Ok(())
}

async fn warm(daemon: &Daemon, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let zip = zips::build(&[("noop.py", zips::NOOP_PY.as_bytes(), 0o644)])?;
    let names = ["bench-noop-process", "bench-noop-container"];
    for (name, c) in names.iter().zip([false, true]) {
        let lifecycle =
            json!({ "containerMode": mode(c)["containerMode"], "maxInstancesCount": 16 });
        api::create_function_with(
            daemon.addr,
            name,
            "python3.11",
            "noop.handler",
            &zip,
            lifecycle,
        )
        .await?;
    }
    // The two sandboxes take turns in short rounds, so drift in the machine (other load,
    // frequency) weighs on both alike.
    const ROUNDS: u32 = 4;
    for c in [1usize, 8] {
        let mut runs: Vec<Option<crate::load::Load>> = vec![None, None];
        for name in names {
            load(daemon.addr, &api::invoke_path(name), c, args.warmup()).await?;
        }
        for _ in 0..ROUNDS {
            for (slot, name) in runs.iter_mut().zip(names) {
                let path = api::invoke_path(name);
                let r = load(daemon.addr, &path, c, args.duration / ROUNDS).await?;
                match slot {
                    None => *slot = Some(r),
                    Some(all) => {
                        all.lat_us.extend(r.lat_us);
                        all.elapsed += r.elapsed;
                    }
                }
            }
        }
        let mut runs: Vec<crate::load::Load> = runs.into_iter().flatten().collect();
        anyhow::ensure!(runs.len() == 2, "a load run is missing");
        let (mut p, mut k) = (runs.remove(0), runs.remove(0));
        eprintln!(
            "warm c={c}: process {:>7.0}/s p50 {}   container {:>7.0}/s p50 {}",
            p.rate(),
            us(p.p(50.0)),
            k.rate(),
            us(k.p(50.0))
        );
        report.row(Row {
            section: WARM,
            metric: format!("p50 latency, {c} client{}", if c > 1 { "s" } else { "" }),
            unit: Unit::Micros,
            baseline: p.p(50.0),
            ours: k.p(50.0),
            target: Target::RatioAtMost(1.05),
        });
        report.row(Row {
            section: WARM,
            metric: format!(
                "invocations per second, {c} client{}",
                if c > 1 { "s" } else { "" }
            ),
            unit: Unit::PerSec,
            baseline: Some(p.rate()),
            ours: Some(k.rate()),
            target: Target::None,
        });
    }
    for name in names {
        api::delete_function(daemon.addr, name).await?;
    }
    Ok(())
}
