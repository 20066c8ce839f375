//! Child processes the bench starts (the daemon, the echo server) and a look at the daemon's
//! own children (its sandboxes) through `/proc`.

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
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().unwrap_or("");
        let ppid = rest.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && state != "Z" && state != "X" {
            out.push((pid, comm));
        }
    }
    out
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
