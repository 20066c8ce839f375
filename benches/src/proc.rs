//! Child processes the bench starts (the daemon, the echo server) and a look at the daemon's
//! own children (its sandboxes) through `/proc`.

use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Owns a child process and stops it when dropped: SIGTERM, up to 5 s to exit, then SIGKILL.
/// Dropping happens on normal return, on `?`, on panic unwinding and when Ctrl-C drops the
/// future that owns it.
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit status if the process already ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(comm, fields after comm)` of `/proc/<pid>/stat`; comm may hold spaces and parentheses.
fn stat(pid: u32) -> Option<(String, Vec<String>)> {
    stat_file(&format!("/proc/{pid}/stat"))
}

fn stat_file(path: &str) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let rest = stat[close + 1..]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some((stat[open + 1..close].to_owned(), rest))
}

/// Live (not zombie) child processes of `parent`: `(pid, command name)`.
pub fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((comm, f)) = stat(pid) else { continue };
        // f[0] is the state, f[1] the parent.
        let state = f.first().map_or("", String::as_str);
        if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
            && state != "Z"
            && state != "X"
        {
            out.push((pid, comm));
        }
    }
    out
}

/// Live processes below `root` (children, their children, ...): `(pid, command name)`.
pub fn descendants_of(root: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, comm) in children_of(p) {
            frontier.push(pid);
            out.push((pid, comm));
        }
    }
    out
}

/// The unit of the times in `/proc/<pid>/stat` (USER_HZ, 100 on every Linux ABI in use).
const USER_HZ: f64 = 100.0;

/// CPU time (user + system, all threads) a process has used so far, in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let (_, f) = stat(pid)?;
    // After comm: state is field 3 of the file, utime 14 and stime 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU seconds (user + system) each thread of `pid` has used so far, summed by thread name
/// (`/proc/<pid>/task/*/stat`), e.g. `tokio-runtime-w`, `lambdalet-mqtt-b`.
pub fn thread_cpu(pid: u32) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let path = entry.path().join("stat");
        let Some((comm, f)) = path.to_str().and_then(stat_file) else {
            continue;
        };
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
            *out.entry(comm).or_insert(0.0) += (u + s) / USER_HZ;
        }
    }
    out
}

/// Resident memory of a process (`VmRSS`), in MB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Number of threads of a process (`Threads` of `/proc/<pid>/status`).
pub fn threads(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Proportional set size of a process (`Pss` of `/proc/<pid>/smaps_rollup`: each shared page
/// divided among the processes that map it), in MB. Summed over processes it does not count
/// shared pages twice, as summing RSS does.
pub fn pss_mb(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU ticks (USER_HZ) used by this process plus all the children it has waited for, which
/// ends up covering the daemon, its sandboxes and every helper once they have exited.
pub fn own_and_reaped_ticks() -> Option<u64> {
    let (_, f) = stat(std::process::id())?;
    // utime, stime, cutime, cstime: fields 14-17 of the file.
    let mut sum = 0u64;
    for i in 11..=14 {
        sum += f.get(i)?.parse::<i64>().ok()?.max(0) as u64;
    }
    Some(sum)
}

/// CPU used by this process (the client), a server and the server's children.
pub struct CpuSnapshot {
    client: f64,
    server: f64,
    children: HashMap<u32, f64>,
}

impl CpuSnapshot {
    pub fn take(server: u32) -> Self {
        Self {
            client: cpu_secs(std::process::id()).unwrap_or(0.0),
            server: cpu_secs(server).unwrap_or(0.0),
            children: children_of(server)
                .into_iter()
                .filter_map(|(pid, _)| Some((pid, cpu_secs(pid)?)))
                .collect(),
        }
    }

    /// How many of the server's children used CPU since `earlier` (at the 10 ms resolution of
    /// `/proc/<pid>/stat`): the sandboxes that ran invocations.
    pub fn children_active_since(&self, earlier: &Self) -> usize {
        self.children
            .iter()
            .filter(|(pid, t)| **t > earlier.children.get(pid).copied().unwrap_or(0.0))
            .count()
    }

    /// Seconds of CPU since `earlier`: `[client, server, server's children]`. Children that
    /// exited in between are not counted.
    pub fn since(&self, earlier: &Self) -> [f64; 3] {
        let children = self
            .children
            .iter()
            .map(|(pid, t)| t - earlier.children.get(pid).copied().unwrap_or(0.0))
            .sum();
        [
            self.client - earlier.client,
            self.server - earlier.server,
            children,
        ]
    }
}

/// Waits until `parent` has no live children (its sandboxes stopped), for up to `limit`.
/// Returns how many were still alive at the end.
pub async fn wait_children_gone(parent: u32, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let n = children_of(parent).len();
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_its_own_child_and_the_guard_stops_it() {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let guard = ChildGuard::new(child);
        let pid = guard.pid();
        let kids = children_of(std::process::id());
        assert!(
            kids.iter().any(|(p, c)| *p == pid && c == "sleep"),
            "{kids:?}"
        );
        drop(guard);
        assert!(
            !children_of(std::process::id())
                .iter()
                .any(|(p, _)| *p == pid)
        );
    }
}
