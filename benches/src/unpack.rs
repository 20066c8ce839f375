//! Storing a package of 60,000 tiny files (what `CreateFunction` / `UpdateFunctionCode` do
//! before a function can run): `CodeStore::put_zip` (validate, unpack, one `syncfs`, rename
//! into place) against Python's `zipfile.extractall` of the same zip followed by `os.sync()`,
//! the same durability with the standard tool. In a directory under the data directory's
//! usual file system (`$TMPDIR`, else `/var/tmp`), three rounds alternating.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::report::{Report, Row, Target, Unit};
use crate::zips;

const SECTION: &str =
    "storing a 60,000-file package (baseline: python3 zipfile.extractall + os.sync)";
const FILES: usize = 60_000;

fn baseline(python: &Path, zip: &Path, into: &Path) -> anyhow::Result<f64> {
    let start = Instant::now();
    let status = Command::new(python)
        .args([
            "-c",
            "import os, sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2]); os.sync()",
        ])
        .arg(zip)
        .arg(into)
        .status()
        .context("run python3")?;
    if !status.success() {
        bail!("python3 zipfile.extractall failed: {status}");
    }
    Ok(start.elapsed().as_secs_f64())
}

pub fn run(python: &Path, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("unpack: building a zip of {FILES} one-byte files");
    let names: Vec<String> = (0..FILES)
        .map(|i| format!("d{:02}/f{:05}.txt", i / 1000, i))
        .collect();
    let entries: Vec<(&str, &[u8], u32)> = names
        .iter()
        .map(|n| (n.as_str(), &b"x"[..], 0o644))
        .collect();
    let zip = zips::build(&entries)?;
    let base_dir = std::env::var_os("TMPDIR").map_or_else(|| "/var/tmp".into(), Into::into);
    let work = tempfile::Builder::new()
        .prefix("lambdalet-bench-unpack")
        .tempdir_in::<std::path::PathBuf>(base_dir)?;
    let zip_path = work.path().join("package.zip");
    std::fs::write(&zip_path, &zip)?;
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let into = work.path().join(format!("extract-{round}"));
        base.push(baseline(python, &zip_path, &into)?);
        let store =
            lambdalet_package::CodeStore::open(&work.path().join(format!("store-{round}")))?;
        let start = Instant::now();
        let stored = store.put_zip(&zip)?;
        ours.push(start.elapsed().as_secs_f64());
        if stored.summary.entries != FILES {
            bail!(
                "put_zip stored {} entries of {FILES}",
                stored.summary.entries
            );
        }
        eprintln!(
            "unpack round {round}: python {:.2} s, lambdalet {:.2} s",
            base[round], ours[round]
        );
    }
    let median = |v: &mut Vec<f64>| crate::stats::median(v).map(|s| s * 1000.0);
    report.row(Row {
        section: SECTION,
        metric: "median of 3 rounds".to_owned(),
        unit: Unit::Millis,
        baseline: median(&mut base),
        ours: median(&mut ours),
        target: Target::None,
    });
    Ok(())
}
