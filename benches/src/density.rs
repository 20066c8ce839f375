//! Density: PSS per warm Python sandbox with and without a zygote (the zygote's own PSS shared
//! out over the sandboxes forked from it), and how many would fit in a host's memory.

use serde_json::json;

use crate::api;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::proc;
use crate::report::{Report, Row, Target, Unit};
use crate::zygote::{Handler, Start, Variant, deploy, invoke_with};

/// Warm sandboxes measured.
const DENSITY_SANDBOXES: usize = 12;
const HOST_GB: f64 = 24.0;

/// PSS per warm sandbox of `h`, with and without a zygote (the zygote's own PSS shared out
/// over the sandboxes forked from it), and how many would fit in [`HOST_GB`].
pub(crate) async fn run(daemon: &Daemon, h: &Handler, report: &mut Report) -> anyhow::Result<()> {
    let mut per_sandbox = Vec::new();
    for zygote in [false, true] {
        let name = format!("bench-density-{}-{zygote}", h.label);
        let start = if zygote { Start::Zygote } else { Start::Plain };
        let v = Variant {
            start,
            container: false,
        };
        deploy(daemon, &name, h, v).await?;
        // As many invocations in flight at once as sandboxes wanted, each holding its
        // sandbox for a second; then they stay idle and warm.
        let mut tasks = Vec::new();
        for _ in 0..DENSITY_SANDBOXES {
            let (addr, name) = (daemon.addr, name.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::connect(addr).await?;
                invoke_with(&mut c, &name, &json!({ "sleep": 1.0 })).await
            }));
        }
        let mut pids = Vec::new();
        for t in tasks {
            pids.push(t.await??.1);
        }
        pids.sort_unstable();
        pids.dedup();
        let zygotes: Vec<u32> = if zygote {
            let mut parents: Vec<u32> = pids.iter().filter_map(|p| parent_of(*p)).collect();
            parents.sort_unstable();
            parents.dedup();
            parents.retain(|p| *p != daemon.pid());
            // The zygote's other children (the one forked ahead) count too.
            let mut extra: Vec<u32> = parents
                .iter()
                .flat_map(|z| proc::children_of(*z))
                .map(|(p, _)| p)
                .filter(|p| !pids.contains(p))
                .collect();
            parents.append(&mut extra);
            parents
        } else {
            Vec::new()
        };
        let pss: f64 = pids
            .iter()
            .chain(&zygotes)
            .filter_map(|p| proc::pss_mb(*p))
            .sum();
        let n = pids.len().max(1) as f64;
        report.note(format!(
            "zygote density {} ({}): {} warm sandboxes, PSS {pss:.1} MB in all{}",
            h.label,
            if zygote { "zygote" } else { "plain" },
            pids.len(),
            if zygote {
                format!(
                    " with the zygote and its child forked ahead ({} processes)",
                    zygotes.len()
                )
            } else {
                String::new()
            }
        ));
        per_sandbox.push(pss / n);
        api::delete_function(daemon.addr, &name).await?;
    }
    let (plain, forked) = (per_sandbox[0], per_sandbox[1]);
    report.row(Row {
        section: h.section_memory.unwrap_or("memory per warm sandbox"),
        metric: "PSS per warm sandbox".into(),
        unit: Unit::Megabytes,
        baseline: Some(plain),
        ours: Some(forked),
        target: Target::None,
    });
    let fit = |mb: f64| (HOST_GB * 1024.0 / mb).floor();
    report.note(format!(
        "zygote density {}: {:.0} warm sandboxes would fit in {HOST_GB} GB without a zygote, {:.0} with",
        h.label,
        fit(plain),
        fit(forked)
    ));
    Ok(())
}

/// The parent of `pid`, from `/proc/<pid>/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}
