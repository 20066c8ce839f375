//! What the figures were measured on: CPU, kernel, interpreters, binaries. Also finds the real
//! Python interpreter (as the daemon does) and the Rust example's `bootstrap` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

pub struct Machine {
    nproc: usize,
    cpu: String,
    kernel: String,
    mem_total: String,
    lambdalet: String,
    lambdalet_version: String,
    commit: String,
    python: String,
    python_version: String,
    bootstrap: String,
    rustc: String,
}

impl Machine {
    pub fn collect(
        lambdalet: &Path,
        python: Result<&PathBuf, &anyhow::Error>,
        bootstrap: Option<&anyhow::Result<PathBuf>>,
    ) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let (python, python_version) = match python {
            Ok(p) => (
                p.display().to_string(),
                output(p, &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
            ),
            Err(e) => (format!("not found ({e})"), "n/a".to_owned()),
        };
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            mem_total: field(&meminfo, "MemTotal").unwrap_or_else(|| "unknown".to_owned()),
            lambdalet: lambdalet.display().to_string(),
            lambdalet_version: output(lambdalet, &["--version"])
                .unwrap_or_else(|| "unknown".to_owned()),
            commit: format!("{}, binary built {}", git_commit(lambdalet), age(lambdalet)),
            python,
            python_version,
            bootstrap: match bootstrap {
                Some(Ok(p)) => p.display().to_string(),
                Some(Err(e)) => format!("not available ({e:#})"),
                None => "not used".to_owned(),
            },
            rustc: output(Path::new("rustc"), &["--version"])
                .unwrap_or_else(|| "unknown".to_owned()),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "machine:     {} CPUs, {} ({}), Linux {}\n\
             lambdalet:   {} ({}; checkout {})\n\
             python:      {} ({}; the daemon's python3.11 and the baseline's)\n\
             rust hello:  {} (built by {})",
            self.nproc,
            self.cpu,
            self.mem_total,
            self.kernel,
            self.lambdalet,
            self.lambdalet_version,
            self.commit,
            self.python,
            self.python_version,
            self.bootstrap,
            self.rustc,
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "nproc": self.nproc,
            "cpu": self.cpu,
            "mem_total": self.mem_total,
            "kernel": self.kernel,
            "lambdalet": self.lambdalet,
            "lambdalet_version": self.lambdalet_version,
            "commit": self.commit,
            "python": self.python,
            "python_version": self.python_version,
            "rust_bootstrap": self.bootstrap,
            "rustc": self.rustc,
        })
    }
}

/// `key : value` from /proc/cpuinfo or /proc/meminfo.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.split(':').next().map(str::trim) == Some(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

fn output(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Some(String::from_utf8_lossy(&text).trim().to_owned())
}

/// `(busy, total)` jiffies of all CPUs from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// A point in time of the host's CPU use, to tell how busy all CPUs were over a measurement
/// (whoever used them): a load run at 100 % is limited by CPU.
pub struct HostBusy {
    busy: u64,
    total: u64,
}

impl HostBusy {
    pub fn now() -> Option<Self> {
        let (busy, total) = cpu_jiffies()?;
        Some(Self { busy, total })
    }

    /// Share (0-100 %) of all CPUs that was busy since `earlier`.
    pub fn percent_since(&self, earlier: &Self) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        (total > 0).then(|| 100.0 * busy as f64 / total as f64)
    }
}

/// A point in time of the host's CPU use, to tell afterwards how much CPU processes other
/// than the bench and its children took while it ran.
pub struct HostCpu {
    busy: u64,
    ours: u64,
    total: u64,
}

impl HostCpu {
    pub fn now() -> Option<Self> {
        let (busy, total) = cpu_jiffies()?;
        Some(Self {
            busy,
            total,
            ours: crate::proc::own_and_reaped_ticks()?,
        })
    }

    /// Share (0-100 %) of all CPUs used by other processes since `earlier`. Exact only once
    /// every child has exited and been waited for.
    pub fn others_since(&self, earlier: &Self) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        let ours = self.ours.checked_sub(earlier.ours)?;
        (total > 0).then(|| 100.0 * busy.saturating_sub(ours) as f64 / total as f64)
    }
}

/// How busy all CPUs were over the next `over` (0-100 %): anything else running skews the
/// figures, so the bench says how busy the host was just before it started.
pub async fn busy_percent(over: std::time::Duration) -> Option<f64> {
    let (b0, t0) = cpu_jiffies()?;
    tokio::time::sleep(over).await;
    let (b1, t1) = cpu_jiffies()?;
    (t1 > t0).then(|| 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
}

/// `git describe --always --dirty` of the checkout the binary sits in (its working tree may
/// have changed since the build).
fn git_commit(lambdalet: &Path) -> String {
    let dir = lambdalet.parent().unwrap_or(Path::new("."));
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// How long ago `file` was written, e.g. `12 min ago`.
fn age(file: &Path) -> String {
    std::fs::metadata(file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or_else(
            || "at an unknown time".to_owned(),
            |d| match d.as_secs() {
                s if s < 120 => format!("{s} s ago"),
                s if s < 7200 => format!("{} min ago", s / 60),
                s => format!("{} h ago", s / 3600),
            },
        )
}

/// The real executable behind `name` on PATH (a pyenv shim resolves to the interpreter it
/// runs), as the daemon resolves it.
pub fn real_python(name: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new(name)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .with_context(|| format!("{name} is not on PATH"))?;
    if !out.status.success() {
        bail!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_absolute() {
        bail!("{name} reports no executable path");
    }
    Ok(path)
}

/// `target/release/bootstrap` of `cargo build --release -p hello-rust`, built now if missing;
/// `target/debug/bootstrap` if the release build fails.
pub fn rust_bootstrap(root: &Path) -> anyhow::Result<PathBuf> {
    let release = root.join("target/release/bootstrap");
    if release.is_file() {
        return Ok(std::fs::canonicalize(release)?);
    }
    eprintln!("building the Rust example: cargo build --release -p hello-rust");
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "hello-rust"])
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success());
    if built && release.is_file() {
        return Ok(std::fs::canonicalize(release)?);
    }
    let debug = root.join("target/debug/bootstrap");
    if debug.is_file() {
        eprintln!("release build failed; using {}", debug.display());
        return Ok(std::fs::canonicalize(debug)?);
    }
    bail!("no target/release/bootstrap and `cargo build --release -p hello-rust` failed")
}
