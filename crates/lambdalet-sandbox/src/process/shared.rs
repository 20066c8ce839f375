//! What the processes of one process sandbox (or a zygote) share: its cgroup and what was
//! measured of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::cgroup::{CgroupLimits, Cgroups, SandboxCgroup};
use crate::error::SandboxError;
use crate::spec::Limits;
use crate::sys;

/// A cgroup named `id` with `limits` where the host gives sandboxes cgroups.
pub(crate) fn create_cgroup(
    cgroups: Option<&Arc<Cgroups>>,
    id: &str,
    limits: &Limits,
) -> Result<Option<Arc<SandboxCgroup>>, SandboxError> {
    let Some(c) = cgroups else { return Ok(None) };
    let limits = CgroupLimits {
        memory_bytes: limits.memory_bytes,
        pids: limits.pids,
        cpu_weight: limits.cpu_weight,
        devices: None,
    };
    let created = c
        .create(id, &limits)
        .map_err(|e| SandboxError::Setup(e.to_string()))?;
    Ok(Some(Arc::new(created)))
}

pub(crate) struct Shared {
    pub(crate) cgroup: Option<Arc<SandboxCgroup>>,
    /// Processes (the runtime, started or not, and the extensions) that have not exited; the
    /// last one out kills what is left in the cgroup and removes it.
    pub(crate) live: AtomicUsize,
    /// The last peak read, kept so a report after the process died still has a figure.
    peak: AtomicU64,
    oom: AtomicBool,
}

impl Shared {
    /// What `processes` processes share, with `cgroup` if they have one.
    pub(crate) fn new(cgroup: Option<Arc<SandboxCgroup>>, processes: usize) -> Self {
        Self {
            cgroup,
            live: AtomicUsize::new(processes),
            peak: AtomicU64::new(0),
            oom: AtomicBool::new(false),
        }
    }

    /// Keeps the cgroup's peak and OOM count, for reports after its processes are gone.
    pub(crate) fn record(&self) {
        if let Some(c) = &self.cgroup {
            if let Some(p) = c.peak_memory_bytes() {
                self.peak.fetch_max(p, Ordering::Relaxed);
            }
            self.oom.store(c.oom_kills() > 0, Ordering::Release);
        }
    }

    /// One process of the sandbox is gone. Records the cgroup's figures; after the last one,
    /// removes the cgroup (off the async threads).
    pub(crate) async fn gone(&self) {
        self.record();
        if self.live.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if let Some(c) = self.cgroup.clone() {
            let _ = tokio::task::spawn_blocking(move || {
                c.kill_all();
                if let Err(e) = c.remove() {
                    tracing::warn!(error = %e, "cannot remove a sandbox's cgroup");
                }
            })
            .await;
        }
    }

    /// Peak memory so far: the cgroup's while the runtime runs, else the last one read; without
    /// a cgroup, `status`'s `VmHWM`.
    pub(crate) fn peak_bytes(&self, running: bool, status: Option<&std::fs::File>) -> Option<u64> {
        let now = match &self.cgroup {
            Some(c) if running => c.peak_memory_bytes(),
            Some(_) => None,
            None => status.and_then(sys::peak_rss_bytes),
        };
        if let Some(b) = now {
            self.peak.fetch_max(b, Ordering::Relaxed);
        }
        Some(self.peak.load(Ordering::Relaxed)).filter(|b| *b > 0)
    }

    /// Whether the kernel killed one of its processes for memory.
    pub(crate) fn out_of_memory(&self, running: bool) -> bool {
        match &self.cgroup {
            Some(c) if running => c.oom_kills() > 0,
            _ => self.oom.load(Ordering::Acquire),
        }
    }
}
