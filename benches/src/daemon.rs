//! The lambdalet daemon under test: `lambdalet serve --listen 127.0.0.1:0` with a temporary
//! data directory, its address read from its log, its log drained so it never blocks.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::proc::ChildGuard;

const TAIL_LINES: usize = 40;

#[derive(Default)]
struct LogState {
    /// The last lines, for error messages.
    tail: VecDeque<String>,
    /// Lines worth showing in the report: warnings, errors, the interpreters chosen.
    interesting: Vec<String>,
}

pub struct Daemon {
    // Field order is drop order: stop the daemon, then remove its data directory.
    guard: ChildGuard,
    data_dir: tempfile::TempDir,
    pub addr: SocketAddr,
    log: Arc<Mutex<LogState>>,
}

impl Daemon {
    pub fn start(bin: &Path) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix("lambdalet-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let mut child = Command::new(bin)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stderr = child.stderr.take().context("daemon stderr is piped")?;
        let mut guard = ChildGuard::new(child);

        let log = Arc::new(Mutex::new(LogState::default()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut addr_tx = Some(addr_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if let Some(addr) = listening_addr(&line)
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(addr);
                }
                let mut st = log2.lock().unwrap_or_else(|p| p.into_inner());
                if is_interesting(&line) && st.interesting.len() < 200 {
                    st.interesting.push(line.clone());
                }
                if st.tail.len() == TAIL_LINES {
                    st.tail.pop_front();
                }
                st.tail.push_back(line);
            }
        });

        let addr = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let status = guard.exited();
                let tail = tail_text(&log);
                match status {
                    Some(s) => bail!("lambdalet exited ({s}) before listening; its log:\n{tail}"),
                    None => {
                        bail!("lambdalet did not log its address within 30 s; its log:\n{tail}")
                    }
                }
            }
        };
        Ok(Self {
            guard,
            data_dir,
            addr,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The Python bootstrap the daemon wrote into its data directory (the one its sandboxes
    /// run), `<data-dir>/runtimes/<hash>/python/bootstrap.py`.
    pub fn python_bootstrap(&self) -> Option<std::path::PathBuf> {
        std::fs::read_dir(self.data_dir.path().join("runtimes"))
            .ok()?
            .flatten()
            .map(|e| e.path().join("python/bootstrap.py"))
            .find(|p| p.is_file())
    }

    /// The daemon's last log lines, for error messages.
    pub fn log_tail(&self) -> String {
        tail_text(&self.log)
    }

    pub fn interesting_log_lines(&self) -> Vec<String> {
        let st = self.log.lock().unwrap_or_else(|p| p.into_inner());
        st.interesting.clone()
    }
}

fn tail_text(log: &Mutex<LogState>) -> String {
    let st = log.lock().unwrap_or_else(|p| p.into_inner());
    st.tail.iter().cloned().collect::<Vec<_>>().join("\n")
}

fn is_interesting(line: &str) -> bool {
    line.contains(" WARN ") || line.contains(" ERROR ") || line.contains("runtime.interpreter")
}

/// `... listening on http://127.0.0.1:PORT` → the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    rest.split(|c: char| c.is_whitespace() || c == '/')
        .next()?
        .parse()
        .ok()
}

/// Removes ANSI colour sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_a_coloured_line() {
        let line = "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening on http://127.0.0.1:40123";
        let clean = strip_ansi(line);
        assert_eq!(
            listening_addr(&clean),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(listening_addr("lambdalet started"), None);
    }
}
