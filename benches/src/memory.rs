//! The daemon's memory with many warm sandboxes: in a daemon of its own, started for this (the
//! one the other benchmarks used has grown from their load), a no-op Python function allowed
//! 100 sandboxes is invoked 100 times at once with a handler that sleeps 1 s, so the daemon
//! starts 100 sandboxes; once all are idle, the daemon's own `VmRSS` (not its children's) is
//! read, and the sandboxes' resident memory is summed separately. Baselines: the bare hyper echo
//! server process (as for the idle row) for the daemon, a bare `python3.11` at rest for one
//! sandbox.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::api;
use crate::daemon::Daemon;
use crate::echo::EchoServer;
use crate::proc::{self, ChildGuard};
use crate::report::{Report, Row, Target, Unit};
use crate::scale::start_sandboxes;
use crate::zips;

const SECTION: &str = "daemon memory with 100 warm idle sandboxes (baseline: bare hyper echo server process; per sandbox: a bare python3.11 at rest)";
const SECTION_PROCESS: &str = "the same with 100 process sandboxes (containerMode NoContainer)";
const SECTION_NODE: &str =
    "50 warm idle Node.js sandboxes, nodejs20.x no-op, 128 MB (per sandbox: a bare node at rest)";
const NODE_SANDBOXES: usize = 50;

/// Which function the sandboxes run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Python,
    Node,
}
const FUNCTION: &str = "bench-memory";
const SANDBOXES: usize = 100;

/// `VmRSS` and `Pss` (MB) of a bare `python3.11` waiting in `time.sleep` (or a bare `node`
/// waiting on a timer).
fn bare(python: &Path, lang: Lang) -> anyhow::Result<(Option<f64>, Option<f64>)> {
    let mut cmd = match lang {
        Lang::Python => Command::new(python),
        Lang::Node => Command::new("node"),
    };
    match lang {
        Lang::Python => cmd.args(["-c", "import time; time.sleep(60)"]),
        Lang::Node => cmd.args(["-e", "setTimeout(() => {}, 60000)"]),
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run the bare interpreter")?;
    let guard = ChildGuard::new(child);
    // Its start (site, .pth files) takes about 50 ms here; wait until it sleeps.
    std::thread::sleep(Duration::from_millis(700));
    Ok((proc::rss_mb(guard.pid()), proc::pss_mb(guard.pid())))
}

pub async fn run(bin: &Path, python: &Path, report: &mut Report) -> anyhow::Result<()> {
    let daemon = Daemon::start(bin)?;
    eprintln!(
        "memory: a new daemon on http://{}; deploying {FUNCTION} (python3.11 no-op, maxInstancesCount {SANDBOXES}); {SANDBOXES} simultaneous invocations sleeping 1 s",
        daemon.addr
    );
    // As for the idle row: let it finish starting up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut result = measure(&daemon, python, true, Lang::Python, report).await;
    if result.is_ok() {
        result = measure(&daemon, python, false, Lang::Python, report).await;
    }
    if result.is_ok() {
        result = measure(&daemon, python, true, Lang::Node, report).await;
    }
    if let Err(e) = result {
        return Err(e.context(format!(
            "the memory benchmark's daemon's last log lines:\n{}",
            daemon.log_tail()
        )));
    }
    for line in daemon.interesting_log_lines() {
        if !line.contains("runtime.interpreter") {
            report.daemon_log(format!("(memory benchmark's daemon) {line}"));
        }
    }
    Ok(())
}

async fn measure(
    daemon: &Daemon,
    python: &Path,
    container: bool,
    lang: Lang,
    report: &mut Report,
) -> anyhow::Result<()> {
    let section = match (lang, container) {
        (Lang::Node, _) => SECTION_NODE,
        (Lang::Python, true) => SECTION,
        (Lang::Python, false) => SECTION_PROCESS,
    };
    let (runtime, file, code, count) = match lang {
        Lang::Python => ("python3.11", "sleepy.py", zips::SLEEPY_PY, SANDBOXES),
        Lang::Node => ("nodejs20.x", "sleepy.js", zips::SLEEPY_JS, NODE_SANDBOXES),
    };
    let mode = if container {
        "GreengrassContainer"
    } else {
        "NoContainer"
    };
    let rss_before = proc::rss_mb(daemon.pid());
    let threads_before = proc::threads(daemon.pid());
    let zip = zips::build(&[(file, code.as_bytes(), 0o644)])?;
    api::create_function_with(
        daemon.addr,
        FUNCTION,
        runtime,
        "sleepy.handler",
        &zip,
        json!({ "maxInstancesCount": count, "containerMode": mode }),
    )
    .await?;
    let t0 = Instant::now();
    start_sandboxes(daemon, FUNCTION, count, 1.0, "memory", report).await?;
    let took = t0.elapsed();
    // Wait until every sandbox is idle (back in `next`), then let the daemon settle.
    let deadline = Instant::now() + Duration::from_secs(15);
    let inst = loop {
        let i = api::instances(daemon.addr, FUNCTION).await?;
        if (i.busy == 0 && i.starting == 0) || Instant::now() > deadline {
            break i;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_ours = proc::rss_mb(daemon.pid());
    let threads = proc::threads(daemon.pid());
    let sandboxes = proc::descendants_of(daemon.pid());
    let direct = proc::children_of(daemon.pid()).len();
    let rss: Vec<f64> = sandboxes
        .iter()
        .filter_map(|(p, _)| proc::rss_mb(*p))
        .collect();
    let pss: Vec<f64> = sandboxes
        .iter()
        .filter_map(|(p, _)| proc::pss_mb(*p))
        .collect();
    let (rss_sum, pss_sum) = (rss.iter().sum::<f64>(), pss.iter().sum::<f64>());
    // A container sandbox is two processes, its init (the daemon's direct child) and the
    // runtime; a process sandbox one. Per sandbox means per direct child.
    let inits: Vec<u32> = proc::children_of(daemon.pid())
        .into_iter()
        .filter(|(_, comm)| comm != "python3.11" && comm != "node")
        .map(|(p, _)| p)
        .collect();
    let init_pss: f64 = inits.iter().filter_map(|p| proc::pss_mb(*p)).sum();
    let mean = |sum: f64, n: usize| (n > 0).then(|| sum / n as f64);
    let mut names: Vec<&str> = sandboxes.iter().map(|(_, c)| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();

    let echo = EchoServer::start()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_echo = proc::rss_mb(echo.pid());
    drop(echo);
    let py = python.to_owned();
    let (py_rss, py_pss) = tokio::task::spawn_blocking(move || bare(&py, lang)).await??;

    let per_sandbox_kb = match (rss_ours, rss_before) {
        (Some(a), Some(b)) => Some((a - b) * 1024.0 / count as f64),
        _ => None,
    };
    eprintln!(
        "memory: daemon {} MB before, {} MB with {} sandboxes; sandboxes RSS {rss_sum:.0} MB, PSS {pss_sum:.0} MB",
        rss_before.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        rss_ours.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        sandboxes.len()
    );
    report.note(format!(
        "memory ({runtime}, {mode}): {count} simultaneous invocations took {:.1} s; then the daemon counted {} idle, {} busy, {} starting; {} sandbox processes ({} direct children of the daemon; {}); daemon VmRSS {} MB at rest before deploying ({} threads), {} MB with them ({} threads); sandboxes: VmRSS {rss_sum:.0} MB in all, PSS {pss_sum:.0} MB in all (PSS splits shared pages such as the interpreter's among the processes that map them)",
        took.as_secs_f64(),
        inst.idle,
        inst.busy,
        inst.starting,
        sandboxes.len(),
        direct,
        names.join(", "),
        rss_before.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        threads_before.map_or_else(|| "?".to_owned(), |v| v.to_string()),
        rss_ours.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        threads.map_or_else(|| "?".to_owned(), |v| v.to_string()),
    ));
    report.row(Row {
        section,
        metric: format!("daemon VmRSS, {count} idle sandboxes"),
        unit: Unit::Megabytes,
        baseline: rss_echo,
        ours: rss_ours,
        target: Target::None,
    });
    report.row(Row {
        section,
        metric: "daemon VmRSS added per sandbox".into(),
        unit: Unit::Kilobytes,
        baseline: None,
        ours: per_sandbox_kb,
        target: Target::None,
    });
    if !inits.is_empty() {
        report.note(format!(
            "memory: {} container inits, PSS {:.1} MB in all ({:.0} KB each): their share of each sandbox's PSS below",
            inits.len(),
            init_pss,
            init_pss * 1024.0 / inits.len() as f64
        ));
    }
    report.row(Row {
        section,
        metric: "sandbox VmRSS (all its processes), mean".into(),
        unit: Unit::Megabytes,
        baseline: py_rss,
        ours: mean(rss_sum, direct),
        target: Target::None,
    });
    report.row(Row {
        section,
        metric: "sandbox PSS (all its processes), mean".into(),
        unit: Unit::Megabytes,
        baseline: py_pss,
        ours: mean(pss_sum, direct),
        target: Target::None,
    });

    api::delete_function(daemon.addr, FUNCTION).await?;
    let t0 = Instant::now();
    let left = proc::wait_children_gone(daemon.pid(), Duration::from_secs(10)).await;
    if left > 0 {
        report.note(format!(
            "memory: {left} sandbox processes still alive 10 s after DeleteFunction"
        ));
    } else {
        tokio::time::sleep(Duration::from_millis(300)).await;
        report.note(format!(
            "memory ({mode}): all sandboxes gone {:.0} ms after DeleteFunction; daemon VmRSS then {} MB",
            t0.elapsed().as_secs_f64() * 1e3,
            proc::rss_mb(daemon.pid()).map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"))
        ));
    }
    Ok(())
}
