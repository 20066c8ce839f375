//! The daemon at rest: resident memory right after start, with no function deployed, against
//! the bare hyper echo server process (the least a tokio + hyper HTTP server takes).

use std::time::Duration;

use crate::daemon::Daemon;
use crate::echo::EchoServer;
use crate::proc;
use crate::report::{Report, Row, Target, Unit};

pub async fn run(daemon: &Daemon, report: &mut Report) -> anyhow::Result<()> {
    let echo = EchoServer::start()?;
    // Let both finish starting up (runtime threads, the daemon's database and log writer).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (base, ours) = (proc::rss_mb(echo.pid()), proc::rss_mb(daemon.pid()));
    drop(echo);
    report.row(Row {
        section: "daemon at rest, no functions (baseline: the bare hyper echo server process)",
        metric: "resident memory (VmRSS)".into(),
        unit: Unit::Megabytes,
        baseline: base,
        ours,
        target: Target::AtMostMb(15.0),
    });
    Ok(())
}
