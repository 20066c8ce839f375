//! Cold starts: the first invocation of a freshly deployed function, measured by the client
//! end to end, against the bare program started the same number of times. Baseline and
//! lambdalet samples alternate so drift in the machine affects both alike; one extra round
//! first warms the page cache and is not counted.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::proc;
use crate::report::{Report, Row, Target, Unit};
use crate::stats::{median, percentile, range};
use crate::stub::Stub;
use crate::zips;

/// One function kind to cold-start.
pub(crate) struct Subject<'a> {
    pub label: &'static str,
    pub section: &'static str,
    pub runtime: &'static str,
    pub handler: &'static str,
    pub zip: &'a [u8],
    pub target: f64,
    /// `LambdaletConfig` of the function (its sandbox), or null for the daemon's default.
    pub lifecycle: serde_json::Value,
}

/// The figures of one sample.
pub(crate) struct Sample {
    pub e2e_ms: f64,
    pub init_ms: Option<f64>,
}

pub async fn python(
    daemon: &Daemon,
    root: &Path,
    python: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    python_in(
        daemon,
        root,
        python,
        "cold start, Python hello (baseline: python3.11 -c 'import app', spawn to exit)",
        serde_json::Value::Null,
        args,
        report,
    )
    .await?;
    site_cost(python, args.samples.min(10), report).await
}

/// The Python cold start in the sandbox `lifecycle` asks for (null: the daemon's default).
pub(crate) async fn python_in(
    daemon: &Daemon,
    root: &Path,
    python: &Path,
    section: &'static str,
    lifecycle: serde_json::Value,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let app_path = root.join("examples/hello-python/app.py");
    let app =
        std::fs::read(&app_path).with_context(|| format!("cannot read {}", app_path.display()))?;
    let zip = zips::build(&[("app.py", &app, 0o644)])?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("app.py"), &app)?;
    let label = match lifecycle["containerMode"].as_str() {
        Some("NoContainer") => "python-process",
        Some(_) => "python-container",
        None => "python",
    };
    let subject = Subject {
        label,
        section,
        runtime: "python3.11",
        handler: "app.handler",
        zip: &zip,
        target: 1.2,
        lifecycle,
    };
    let baseline = || async {
        let t0 = Instant::now();
        let status = tokio::process::Command::new(python)
            .args(["-c", "import app"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(status.success(), "python -c 'import app' failed: {status}");
        Ok(ms)
    };
    measure(daemon, &subject, baseline, args, report).await
}

/// Notes what Python's `site` (site-packages and its `.pth` files) costs at every interpreter
/// start on this host: it is in both the baseline and every lambdalet cold start.
async fn site_cost(python: &Path, runs: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut medians = Vec::new();
    for args in [&["-c", "pass"][..], &["-S", "-c", "pass"][..]] {
        let mut v = Vec::new();
        for _ in 0..=runs {
            let t0 = Instant::now();
            tokio::process::Command::new(python)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await?;
            v.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        v.remove(0);
        medians.push(median(&mut v).unwrap_or(0.0));
    }
    report.note(format!(
        "python start on this host: `python3.11 -c pass` {:.2} ms, with -S (no site-packages) {:.2} ms: `site` costs {:.2} ms of every Python cold start, baseline and lambdalet alike",
        medians[0],
        medians[1],
        medians[0] - medians[1]
    ));
    Ok(())
}

pub async fn rust(
    daemon: &Daemon,
    bootstrap: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bin =
        std::fs::read(bootstrap).with_context(|| format!("cannot read {}", bootstrap.display()))?;
    let zip = zips::build(&[("bootstrap", &bin, 0o755)])?;
    let subject = Subject {
        label: "rust",
        section: "cold start, Rust provided.al2023 hello (baseline: the binary run directly, spawn to response)",
        runtime: "provided.al2023",
        handler: "bootstrap",
        zip: &zip,
        target: 1.5,
        lifecycle: serde_json::Value::Null,
    };
    let baseline = || async {
        let stub = Stub::start(1).await?;
        let t0 = Instant::now();
        let mut child = tokio::process::Command::new(bootstrap)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
            .env("AWS_LAMBDA_RUNTIME_API", stub.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench")
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {}", bootstrap.display()))?;
        let timeline = stub.finished(Duration::from_secs(10)).await;
        let _ = child.kill().await;
        let at = *timeline?.responded.first().context("one response")?;
        Ok((at - t0).as_secs_f64() * 1e3)
    };
    measure(daemon, &subject, baseline, args, report).await
}

async fn measure<F, Fut>(
    daemon: &Daemon,
    s: &Subject<'_>,
    baseline: F,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<f64>>,
{
    eprintln!(
        "cold {}: {} samples (+1 warm-up), baseline and lambdalet alternating",
        s.label, args.samples
    );
    let mut conn = Conn::connect(daemon.addr).await?;
    let (mut base, mut e2e, mut init) = (Vec::new(), Vec::new(), Vec::new());
    let (mut failures, mut not_cold) = (Vec::new(), 0usize);
    for i in 0..=args.samples {
        let b = baseline().await?;
        let name = format!("bench-cold-{}-{i}", s.label);
        let sample = sample(daemon, &mut conn, s, &name).await?;
        if i == 0 {
            continue;
        }
        base.push(b);
        match sample {
            Ok(x) => {
                eprintln!(
                    "  #{i:<2} baseline {b:7.2} ms   lambdalet {:7.2} ms   Init Duration {}",
                    x.e2e_ms,
                    x.init_ms
                        .map_or_else(|| "none".to_owned(), |v| format!("{v:.2} ms"))
                );
                e2e.push(x.e2e_ms);
                match x.init_ms {
                    Some(v) => init.push(v),
                    None => not_cold += 1,
                }
            }
            Err(why) => failures.push(why),
        }
    }
    if let Some(first) = failures.first() {
        report.note(format!(
            "cold {}: {} of {} invocations failed; first: {first}",
            s.label,
            failures.len(),
            args.samples
        ));
    }
    if not_cold > 0 {
        report.note(format!(
            "cold {}: {not_cold} first invocations had no Init Duration in REPORT (not cold?)",
            s.label
        ));
    }
    for (what, v) in [
        ("baseline", &base),
        ("lambdalet", &e2e),
        ("Init Duration", &init),
    ] {
        if let Some((lo, hi)) = range(v) {
            report.note(format!(
                "cold {}: {what} range {lo:.2}-{hi:.2} ms over {} samples",
                s.label,
                v.len()
            ));
        }
    }
    let base_median = median(&mut base);
    report.row(Row {
        section: s.section,
        metric: "first invoke after deploy, median".into(),
        unit: Unit::Millis,
        baseline: base_median,
        ours: median(&mut e2e),
        target: Target::RatioAtMost(s.target),
    });
    report.row(Row {
        section: s.section,
        metric: "first invoke after deploy, p90".into(),
        unit: Unit::Millis,
        baseline: percentile(&mut base, 90.0),
        ours: percentile(&mut e2e, 90.0),
        target: Target::None,
    });
    report.row(Row {
        section: s.section,
        metric: "REPORT Init Duration, median".into(),
        unit: Unit::Millis,
        baseline: base_median,
        ours: median(&mut init),
        target: Target::None,
    });
    Ok(())
}

/// Deploys `name`, times its first invocation from the client, reads its Init Duration,
/// deletes it and waits for its sandbox to stop. A failed invocation is `Ok(Err(why))`.
pub(crate) async fn sample(
    daemon: &Daemon,
    conn: &mut Conn,
    s: &Subject<'_>,
    name: &str,
) -> anyhow::Result<Result<Sample, String>> {
    api::create_function_with(
        daemon.addr,
        name,
        s.runtime,
        s.handler,
        s.zip,
        s.lifecycle.clone(),
    )
    .await?;
    let t0 = Instant::now();
    let reply = api::invoke(conn, name, &json!({ "name": "bench" })).await?;
    let e2e_ms = t0.elapsed().as_secs_f64() * 1e3;
    let records = api::logs(daemon.addr, name, 1, 0).await?;
    let init_ms = records.last().and_then(|r| api::init_duration_ms(&r.log));
    api::delete_function(daemon.addr, name).await?;
    let left = proc::wait_children_gone(daemon.pid(), Duration::from_secs(3)).await;
    if left > 0 {
        eprintln!("  warning: {left} sandbox processes still alive 3 s after DeleteFunction");
    }
    if !reply.is_success() {
        let log = records.last().map(|r| r.log.as_str()).unwrap_or("");
        return Ok(Err(format!(
            "{}; log: {}",
            reply.describe(),
            log.chars().take(500).collect::<String>()
        )));
    }
    Ok(Ok(Sample { e2e_ms, init_ms }))
}
