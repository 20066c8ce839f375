//! How much the daemon allows itself, from the memory it may use.
//!
//! A Raspberry Pi Zero 2 has 512 MB, a gateway may give lambdalet a 256 MB cgroup: the
//! defaults made for a server (1000 sandboxes, 16 MB of queued payloads, a broker sized for
//! 1024 clients) would let a burst of events take the device down. The memory lambdalet plans
//! for is the smaller of the machine's (`MemTotal`) and its cgroup's limit (v2 `memory.max` or
//! v1 `memory.limit_in_bytes`), or `--memory`; every default below follows from it, and each
//! can still be set on its own.

use std::path::Path;

/// What the daemon allows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The memory planned for, in bytes.
    pub memory: u64,
    /// Most sandboxes alive at once (`--max-concurrency`'s default).
    pub max_concurrency: usize,
    /// Bytes of accepted asynchronous payloads kept in memory (the rest is read back from the
    /// store when its turn comes).
    pub queue_cache_bytes: usize,
    /// Clients the embedded MQTT broker serves at once.
    pub broker_connections: usize,
    /// Bytes of messages the embedded broker keeps per subscribed filter, in each of its two
    /// segments.
    pub broker_segment_bytes: usize,
}

const MB: u64 = 1 << 20;

impl Budget {
    /// The budget for `memory` bytes. What a sandbox costs is the runtime's own memory (a
    /// Python or Node.js runtime: 15-40 MB), so one per 24 MB beyond the daemon's 96 MB
    /// (itself, SQLite's cache, the broker), at least 2, at most 1000; the queue keeps 1/64
    /// of the memory in payloads (1-16 MB); the broker a client per 4 MB (64-1024), and
    /// 64 KB segments below 1 GB (256 KB above).
    pub fn for_memory(memory: u64) -> Self {
        let mb = memory / MB;
        Self {
            memory,
            max_concurrency: (mb.saturating_sub(96) / 24).clamp(2, 1000) as usize,
            queue_cache_bytes: (memory / 64).clamp(MB, 16 * MB) as usize,
            broker_connections: (mb / 4).clamp(64, 1024) as usize,
            broker_segment_bytes: if mb < 1024 { 64 * 1024 } else { 256 * 1024 },
        }
    }
}

/// The memory this process may use: the machine's, or its cgroup's limit when lower. None:
/// neither can be read (then the caller plans for a server).
pub fn detect_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_total(&m));
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|c| cgroup_limit(&c, Path::new("/sys/fs/cgroup")));
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The memory limit of this process's cgroup (`/proc/self/cgroup` lines), under `root`: v2's
/// `memory.max` or v1's `memory.limit_in_bytes`. "max", or v1's page-rounded `i64::MAX`, is no
/// limit.
fn cgroup_limit(self_cgroup: &str, root: &Path) -> Option<u64> {
    for line in self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        let file = if controllers.is_empty() {
            root.join(rel).join("memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            root.join("memory").join(rel).join("memory.limit_in_bytes")
        } else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(file) {
            let text = text.trim();
            if let Ok(limit) = text.parse::<u64>()
                && limit < (1 << 62)
            {
                return Some(limit);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_devices_get_small_defaults() {
        let pi_zero = Budget::for_memory(512 * MB);
        assert_eq!(pi_zero.max_concurrency, 17);
        assert_eq!(pi_zero.queue_cache_bytes, 8 * MB as usize);
        assert_eq!(pi_zero.broker_connections, 128);
        assert_eq!(pi_zero.broker_segment_bytes, 64 * 1024);
        let tiny = Budget::for_memory(64 * MB);
        assert_eq!(tiny.max_concurrency, 2);
        assert_eq!(tiny.queue_cache_bytes, MB as usize);
        assert_eq!(tiny.broker_connections, 64);
        let server = Budget::for_memory(32 << 30);
        assert_eq!(server.max_concurrency, 1000);
        assert_eq!(server.queue_cache_bytes, 16 * MB as usize);
        assert_eq!(server.broker_connections, 1024);
        assert_eq!(server.broker_segment_bytes, 256 * 1024);
    }

    #[test]
    fn meminfo_and_cgroup_limits_are_read() {
        assert_eq!(
            mem_total("MemTotal:        8039276 kB\nMemFree: 1 kB\n"),
            Some(8_039_276 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        let root = tempfile::tempdir().unwrap();
        let v1 = root.path().join("memory/system.slice/x.service");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("memory.limit_in_bytes"), "268435456\n").unwrap();
        let lines = "5:pids:/system.slice/x.service\n4:memory:/system.slice/x.service\n";
        assert_eq!(cgroup_limit(lines, root.path()), Some(256 * MB));
        std::fs::write(v1.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(cgroup_limit(lines, root.path()), None, "v1's no-limit");
        let v2 = root.path().join("user.slice");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_limit("0::/user.slice\n", root.path()), None);
        std::fs::write(v2.join("memory.max"), "536870912\n").unwrap();
        assert_eq!(
            cgroup_limit("0::/user.slice\n", root.path()),
            Some(512 * MB)
        );
    }
}
