//! Side by side with what Lambda developers run locally today: serverless-offline 13 on
//! serverless 3 (from npm, installed here on first use), serving the same Python and Node
//! no-ops on its Lambda invoke endpoint, driven by the same client over the same path. Warm
//! runs alternate between the two in rounds; cold starts compare serverless-offline with
//! `--reloadHandler` (a fresh handler process, or worker for Node, per request) against a
//! freshly deployed lambdalet function's first invocation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::cold::{self, Subject};
use crate::daemon::Daemon;
use crate::load::{Load, load};
use crate::report::{Report, Row, Target, Unit};
use crate::stats::median;
use crate::zips;

const SERVERLESS: &str = "serverless@3";
const OFFLINE: &str = "serverless-offline@13";
const NOOP_JS: &str = "exports.handler = async () => ({});\n";

/// One runtime compared.
struct Side {
    label: &'static str,
    runtime: &'static str,
    /// The function's name in serverless.yml (serverless-offline exposes `bench-dev-<name>`).
    offline_name: &'static str,
    zip: Vec<u8>,
    handler: &'static str,
}

/// Where serverless and serverless-offline are installed (kept between runs).
fn install_dir(root: &Path) -> PathBuf {
    root.join("target/bench-cache/serverless-offline")
}

/// Installs the two packages with npm unless they are there; writes the service.
fn install(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bin = dir.join("node_modules/serverless/bin/serverless.js");
    let plugin = dir.join("node_modules/serverless-offline/package.json");
    if !bin.exists() || !plugin.exists() {
        eprintln!(
            "offline: installing {SERVERLESS} and {OFFLINE} with npm into {} (once, about a minute)",
            dir.display()
        );
        let status = std::process::Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                SERVERLESS,
                OFFLINE,
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .status()
            .context("cannot run npm (Node.js's package manager): install Node.js 18 or later")?;
        anyhow::ensure!(
            status.success(),
            "npm install {SERVERLESS} {OFFLINE} failed: {status}"
        );
    }
    std::fs::write(
        dir.join("serverless.yml"),
        "service: bench\nframeworkVersion: '3'\nprovider:\n  name: aws\n  runtime: python3.11\n  region: us-east-1\nplugins:\n  - serverless-offline\nfunctions:\n  noop:\n    handler: noop.handler\n  noopnode:\n    handler: noopnode.handler\n    runtime: nodejs20.x\n",
    )?;
    std::fs::write(dir.join("noop.py"), zips::NOOP_PY)?;
    std::fs::write(dir.join("noopnode.js"), NOOP_JS)?;
    Ok(())
}

/// A version line for the report: `serverless 3.x.y, serverless-offline 13.x.y`.
fn versions(dir: &Path) -> String {
    let version = |pkg: &str| {
        std::fs::read(dir.join("node_modules").join(pkg).join("package.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "serverless {}, serverless-offline {}",
        version("serverless"),
        version("serverless-offline")
    )
}

/// A running `serverless offline start`.
struct Offline {
    child: tokio::process::Child,
    addr: std::net::SocketAddr,
}

impl Offline {
    async fn start(dir: &Path, reload: bool) -> anyhow::Result<Self> {
        let port = free_port()?;
        let http_port = free_port()?;
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg("node_modules/serverless/bin/serverless.js")
            .args(["offline", "start", "--noPrependStageInUrl"])
            .args([
                "--lambdaPort",
                &port.to_string(),
                "--httpPort",
                &http_port.to_string(),
            ])
            .current_dir(dir)
            .env("SLS_TELEMETRY_DISABLED", "1")
            .env("SLS_NOTIFICATIONS_MODE", "off")
            .env("SLS_DEPRECATION_DISABLE", "*")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if reload {
            cmd.arg("--reloadHandler");
        }
        let mut child = cmd.spawn().context("cannot start serverless offline")?;
        // It reports on stderr.
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("[http for lambda] listening on") {
                    return Ok(());
                }
            }
            anyhow::bail!("serverless offline exited before it listened")
        })
        .await
        .context("serverless offline did not listen within 60 s")?;
        ready?;
        // Keep reading its output, or it blocks once the pipe is full.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
        })
    }
}

impl Drop for Offline {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn invoke_path(name: &str) -> String {
    format!("/2015-03-31/functions/{name}/invocations")
}

pub async fn run(
    daemon: &Daemon,
    root: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dir = install_dir(root);
    if let Err(e) = install(&dir) {
        report.note(format!("serverless-offline comparison skipped: {e:#}"));
        return Ok(());
    }
    let sides = [
        Side {
            label: "python",
            runtime: "python3.11",
            offline_name: "bench-dev-noop",
            zip: zips::build(&[("noop.py", zips::NOOP_PY.as_bytes(), 0o644)])?,
            handler: "noop.handler",
        },
        Side {
            label: "node",
            runtime: "nodejs20.x",
            offline_name: "bench-dev-noopnode",
            zip: zips::build(&[("noop.js", NOOP_JS.as_bytes(), 0o644)])?,
            handler: "noop.handler",
        },
    ];
    report.note(format!(
        "offline: {} on Node.js {}",
        versions(&dir),
        node_version()
    ));
    let offline = Offline::start(&dir, false).await?;
    for side in &sides {
        warm(daemon, &offline, side, args, report).await?;
    }
    drop(offline);
    let offline = Offline::start(&dir, true).await?;
    for side in &sides {
        cold_starts(daemon, &offline, side, args, report).await?;
    }
    Ok(())
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Warm no-op invocations at 1 and 8 clients, three alternating rounds each.
async fn warm(
    daemon: &Daemon,
    offline: &Offline,
    side: &Side,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let name = format!("bench-offline-{}", side.label);
    api::create_function(daemon.addr, &name, side.runtime, side.handler, &side.zip).await?;
    let ours_path = api::invoke_path(&name);
    let theirs_path = invoke_path(side.offline_name);
    let section = match side.label {
        "python" => {
            "warm invoke vs serverless-offline 13, no-op python3.11 (baseline: serverless-offline)"
        }
        _ => {
            "warm invoke vs serverless-offline 13, no-op nodejs20.x (baseline: serverless-offline)"
        }
    };
    let round = args.duration / 3;
    for c in [1usize, 8] {
        load(offline.addr, &theirs_path, c, args.warmup()).await?;
        load(daemon.addr, &ours_path, c, args.warmup()).await?;
        let (mut theirs, mut ours) = (Merged::default(), Merged::default());
        for _ in 0..3 {
            theirs.add(load(offline.addr, &theirs_path, c, round).await?);
            ours.add(load(daemon.addr, &ours_path, c, round).await?);
        }
        eprintln!(
            "offline {} c={c}: serverless-offline {:>6.0}/s p50 {:>6.0} µs; lambdalet {:>6.0}/s p50 {:>6.0} µs",
            side.label,
            theirs.rate(),
            theirs.p50(),
            ours.rate(),
            ours.p50()
        );
        for (who, m) in [("serverless-offline", &theirs), ("lambdalet", &ours)] {
            if m.errors > 0 {
                report.note(format!(
                    "offline {} c={c}: {who}: {} errors, first: {}",
                    side.label,
                    m.errors,
                    m.first_error.as_deref().unwrap_or("?")
                ));
            }
        }
        report.row(Row {
            section,
            metric: format!("p50 latency, c={c}"),
            unit: Unit::Micros,
            baseline: Some(theirs.p50()),
            ours: Some(ours.p50()),
            target: Target::RatioAtMost(1.0 / 3.0),
        });
        report.row(Row {
            section,
            metric: format!("throughput, c={c}"),
            unit: Unit::PerSec,
            baseline: Some(theirs.rate()),
            ours: Some(ours.rate()),
            target: if c == 8 {
                Target::RatioAtLeast(3.0)
            } else {
                Target::None
            },
        });
    }
    api::delete_function(daemon.addr, &name).await?;
    Ok(())
}

/// Latencies and counts of several load rounds together.
#[derive(Default)]
struct Merged {
    lat_us: Vec<f64>,
    elapsed: Duration,
    errors: u64,
    first_error: Option<String>,
}

impl Merged {
    fn add(&mut self, r: Load) {
        self.lat_us.extend(r.lat_us);
        self.elapsed += r.elapsed;
        self.errors += r.errors;
        if self.first_error.is_none() {
            self.first_error = r.first_error;
        }
    }

    fn rate(&self) -> f64 {
        self.lat_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn p50(&self) -> f64 {
        let mut v = self.lat_us.clone();
        crate::stats::percentile(&mut v, 50.0).unwrap_or(0.0)
    }
}

/// Cold starts: serverless-offline with `--reloadHandler` against lambdalet's first
/// invocation after a deploy, alternating, client to response.
async fn cold_starts(
    daemon: &Daemon,
    offline: &Offline,
    side: &Side,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let section = match side.label {
        "python" => {
            "cold start vs serverless-offline 13 --reloadHandler, no-op python3.11 (baseline: serverless-offline)"
        }
        _ => {
            "cold start vs serverless-offline 13 --reloadHandler, no-op nodejs20.x (baseline: serverless-offline)"
        }
    };
    let subject = Subject {
        label: if side.label == "python" {
            "offline-python"
        } else {
            "offline-node"
        },
        section,
        runtime: side.runtime,
        handler: side.handler,
        zip: &side.zip,
        target: 0.1,
        lifecycle: serde_json::Value::Null,
    };
    let mut conn = Conn::connect(offline.addr).await?;
    let mut ours_conn = Conn::connect(daemon.addr).await?;
    let (mut theirs, mut ours, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=args.samples {
        let t0 = Instant::now();
        let reply = api::invoke(&mut conn, side.offline_name, &serde_json::json!({})).await?;
        let t = t0.elapsed().as_secs_f64() * 1e3;
        let name = format!("bench-offline-cold-{}-{i}", side.label);
        let sample = cold::sample(daemon, &mut ours_conn, &subject, &name).await?;
        if i == 0 {
            continue;
        }
        if !reply.is_success() {
            failures.push(format!("serverless-offline: {}", reply.describe()));
            continue;
        }
        match sample {
            Ok(s) => {
                theirs.push(t);
                ours.push(s.e2e_ms);
            }
            Err(why) => failures.push(why),
        }
    }
    if let Some(first) = failures.first() {
        report.note(format!(
            "offline cold {}: {} samples failed; first: {first}",
            side.label,
            failures.len()
        ));
    }
    eprintln!(
        "offline cold {}: serverless-offline median {:.1} ms, lambdalet {:.1} ms",
        side.label,
        median(&mut theirs.clone()).unwrap_or(0.0),
        median(&mut ours.clone()).unwrap_or(0.0)
    );
    report.row(Row {
        section,
        metric: "cold invoke (a fresh deploy), median".into(),
        unit: Unit::Millis,
        baseline: median(&mut theirs.clone()),
        ours: median(&mut ours),
        target: Target::RatioAtMost(0.1),
    });
    // A new sandbox of a deployed version, taken pre-started: what a burst or the return after
    // idle costs with --prestart, against the same serverless-offline samples.
    let runtime = if side.label == "python" {
        "python3.11"
    } else {
        "nodejs20.x"
    };
    let spare = crate::zygote::new_sandboxes(daemon, runtime, args.samples).await?;
    report.row(Row {
        section,
        metric: "new sandbox, pre-started (a deployed version), median".into(),
        unit: Unit::Millis,
        baseline: median(&mut theirs),
        ours: median(&mut spare.clone()),
        target: Target::RatioAtMost(0.1),
    });
    Ok(())
}
