//! `lambdalet-bench`: measures the real lambdalet daemon against baselines measured in the same
//! run (DESIGN.md "Performance targets") and prints one table, then one JSON line.
//!
//! It reports; it never fails because a target is missed. The daemon and every helper process
//! it starts are stopped when it ends, panics or gets Ctrl-C (see `proc::ChildGuard`).

mod api;
mod args;
mod async_accept;
mod async_drain;
mod auth;
mod client;
mod cold;
mod daemon;
mod density;
mod echo;
mod idle;
mod load;
mod machine;
mod memory;
mod mqtt;
mod mqtt_client;
mod offline;
mod pinned;
mod proc;
mod report;
mod runc;
mod runtime_loop;
mod s3;
mod sandbox;
mod scale;
mod sqlite_base;
mod stats;
mod stub;
mod topics;
mod unpack;
mod warm;
mod warm_rust;
mod zips;
mod zygote;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::args::{Args, Mode};
use crate::daemon::Daemon;
use crate::report::Report;

/// The workspace root, where `target/` and `examples/` are.
fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(echo::CHILD_ARG) {
        return echo::child_main();
    }
    let args = match Args::parse(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lambdalet-bench: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lambdalet-bench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Dropping `run` (on Ctrl-C) drops the guards it owns, which stop the daemon and helpers.
    let result = rt.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; helper processes stopped")),
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambdalet-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let bin = args
        .lambdalet
        .clone()
        .unwrap_or_else(|| root.join("target/release/lambdalet"));
    let bin = std::fs::canonicalize(&bin).with_context(|| {
        format!(
            "no lambdalet binary at {}: build it first with `cargo build --release -p lambdalet` or pass --lambdalet PATH",
            bin.display()
        )
    })?;
    let python = machine::real_python("python3.11");
    let bootstrap = if args.mode.includes(Mode::Cold)
        || args.mode.includes(Mode::Warm)
        || args.mode.includes(Mode::Sandbox)
    {
        Some(machine::rust_bootstrap(&root))
    } else {
        None
    };
    let info = machine::Machine::collect(&bin, python.as_ref(), bootstrap.as_ref());
    eprintln!("{}", info.describe());

    let busy_before = machine::busy_percent(std::time::Duration::from_secs(1)).await;
    let host_before = machine::HostCpu::now();
    let daemon = Daemon::start(&bin)?;
    eprintln!("lambdalet listening on http://{}", daemon.addr);
    let mut report = Report::new(info);
    if let Err(e) = measure(
        &daemon,
        &bin,
        &root,
        &python,
        bootstrap.as_ref(),
        &args,
        &mut report,
    )
    .await
    {
        let kept = daemon.keep_log().map_or_else(String::new, |p| {
            format!("\n(its whole log is kept in {})", p.display())
        });
        return Err(e.context(format!(
            "the daemon's last log lines:\n{}{kept}",
            daemon.log_tail()
        )));
    }
    for line in daemon.interesting_log_lines() {
        report.daemon_log(line);
    }
    drop(daemon);
    match busy_before {
        Some(b) if b > 10.0 => report.note(format!(
            "the host's CPUs were {b:.0}% busy in the second before the bench started: other work skews these figures; rerun on an idle machine"
        )),
        Some(b) => report.note(format!(
            "the host's CPUs were {b:.0}% busy in the second before the bench started"
        )),
        None => {}
    }
    let others = host_before.zip(machine::HostCpu::now());
    if let Some(p) = others.and_then(|(a, b)| b.others_since(&a)) {
        report.note(format!(
            "other processes used {p:.1}% of the host's CPU while the bench ran{}",
            if p > 5.0 {
                ": the figures are skewed; rerun on an idle machine"
            } else {
                ""
            }
        ));
    }
    println!("{}", report.table());
    let json = report.json_line();
    println!("{json}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Runs the benchmarks `args.mode` selects against the running daemon.
async fn measure(
    daemon: &Daemon,
    bin: &std::path::Path,
    root: &std::path::Path,
    python: &anyhow::Result<PathBuf>,
    bootstrap: Option<&anyhow::Result<PathBuf>>,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    idle::run(daemon, report).await?;
    if args.mode.includes(Mode::Warm) {
        match python {
            Ok(py) => warm::run(daemon, py, args, report).await?,
            Err(e) => report.note(format!("warm invoke skipped: {e}")),
        }
        match bootstrap.map(|b| b.as_ref()) {
            Some(Ok(b)) => warm_rust::run(daemon, b, args, report).await?,
            Some(Err(e)) => report.note(format!("Rust warm invoke skipped: {e}")),
            None => {}
        }
    }
    if args.mode.includes(Mode::Cold) {
        match python {
            Ok(py) => cold::python(daemon, root, py, args, report).await?,
            Err(e) => report.note(format!("Python cold start skipped: {e}")),
        }
        match bootstrap.map(|b| b.as_ref()) {
            Some(Ok(b)) => cold::rust(daemon, b, args, report).await?,
            Some(Err(e)) => report.note(format!("Rust cold start skipped: {e}")),
            None => {}
        }
    }
    if args.mode.includes(Mode::Zygote) {
        match python {
            Ok(py) => zygote::run(daemon, py, args, report).await?,
            Err(e) => report.note(format!("zygote benchmarks skipped: {e}")),
        }
    }
    if args.mode.includes(Mode::Sandbox) {
        sandbox::run(daemon, root, python, bootstrap, args, report).await?;
    }
    // The groups below all use a Python no-op function, except `topics`.
    let py = match python {
        Ok(py) => Some(py),
        Err(e) => {
            for (mode, what) in [
                (Mode::Scale, "scaling"),
                (Mode::Pinned, "pinned"),
                (Mode::Async, "async"),
                (Mode::Memory, "100-sandbox memory"),
                (Mode::Mqtt, "MQTT"),
                (Mode::Auth, "authentication"),
                (Mode::Unpack, "package unpacking"),
            ] {
                if args.mode.includes(mode) {
                    report.note(format!("{what} benchmarks skipped: {e}"));
                }
            }
            None
        }
    };
    if let Some(py) = py {
        if args.mode.includes(Mode::Scale) {
            scale::run(daemon, args, report).await?;
            rss_note(daemon, "scale", report);
        }
        if args.mode.includes(Mode::Pinned) {
            pinned::run(daemon, args, report).await?;
            rss_note(daemon, "pinned", report);
        }
        if args.mode.includes(Mode::Async) {
            async_accept::run(daemon, args, report).await?;
            rss_note(daemon, "async accept", report);
            async_drain::run(daemon, args, report).await?;
            rss_note(daemon, "async drain", report);
        }
        if args.mode.includes(Mode::Memory) {
            memory::run(bin, py, report).await?;
        }
        if args.mode.includes(Mode::Auth) {
            auth::run(daemon, args, report).await?;
        }
        if args.mode.includes(Mode::Unpack) {
            // Blocking, but nothing else runs meanwhile: the daemon is another process.
            unpack::run(py, report)?;
        }
    }
    if args.mode.includes(Mode::Topics) {
        topics::run(args, report).await?;
    }
    if let (Some(py), true) = (py, args.mode.includes(Mode::Mqtt)) {
        mqtt::run(bin, root, py, args, report).await?;
    }
    if py.is_some() && args.mode.includes(Mode::S3) {
        s3::run(daemon, args, report).await?;
    }
    if args.mode.includes(Mode::Offline) {
        offline::run(daemon, root, args, report).await?;
    }
    Ok(())
}

/// Notes the daemon's resident memory after a group of benchmarks (its functions deleted).
fn rss_note(daemon: &Daemon, after: &str, report: &mut Report) {
    if let Some(mb) = proc::rss_mb(daemon.pid()) {
        report.note(format!(
            "daemon VmRSS after the {after} benchmark (its function deleted): {mb:.1} MB, {} threads",
            proc::threads(daemon.pid()).map_or_else(|| "?".to_owned(), |n| n.to_string())
        ));
    }
}
