//! The lambdalet daemon under test: `lambdalet serve --listen 127.0.0.1:0 --mqtt-listen
//! 127.0.0.1:0` with a temporary data directory (its embedded MQTT broker on a free port, so
//! that it never collides with a broker on 1883). Its log goes to a file (not a pipe the bench
//! would have to drain, which would put log reading on the bench's own CPU bill); its addresses
//! are read from that file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::proc::ChildGuard;

const TAIL_LINES: usize = 40;

pub struct Daemon {
    // Field order is drop order: stop the daemon, then remove its directories.
    guard: ChildGuard,
    data_dir: tempfile::TempDir,
    log_dir: tempfile::TempDir,
    pub addr: SocketAddr,
    /// The embedded MQTT broker's address, if the daemon logged one.
    pub mqtt: Option<SocketAddr>,
}

impl Daemon {
    pub fn start(bin: &Path) -> anyhow::Result<Self> {
        let temp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .context("cannot create a temporary directory")
        };
        let (data_dir, log_dir) = (
            temp("lambdalet-bench-data-")?,
            temp("lambdalet-bench-log-")?,
        );
        let log_path = log_dir.path().join("daemon.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(bin)
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--mqtt-listen",
                "127.0.0.1:0",
                "--s3-listen",
                "127.0.0.1:0",
                "--url-listen",
                "off",
                "--data-dir",
            ])
            .arg(data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut guard = ChildGuard::new(child);

        let deadline = Instant::now() + Duration::from_secs(30);
        let (addr, mqtt) = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            // The broker is started (and logged) before the API's "listening on" line.
            let lines: Vec<String> = text.lines().map(strip_ansi).collect();
            if let Some(addr) = lines.iter().find_map(|l| listening_addr(l, "http://")) {
                break (
                    addr,
                    lines.iter().find_map(|l| listening_addr(l, "mqtt://")),
                );
            }
            if let Some(status) = guard.exited() {
                bail!("lambdalet exited ({status}) before listening; its log:\n{text}");
            }
            if Instant::now() > deadline {
                bail!("lambdalet did not log its address within 30 s; its log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ok(Self {
            guard,
            data_dir,
            log_dir,
            addr,
            mqtt,
        })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The Python bootstrap the daemon wrote into its data directory (the one its sandboxes
    /// run), `<data-dir>/runtimes/<hash>/python/bootstrap.py`.
    pub fn python_bootstrap(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.data_dir.path().join("runtimes"))
            .ok()?
            .flatten()
            .map(|e| e.path().join("python/bootstrap.py"))
            .find(|p| p.is_file())
    }

    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_dir.path().join("daemon.log"))
            .unwrap_or_default()
            .lines()
            .map(strip_ansi)
            .collect()
    }

    /// The S3 endpoint's address (logged after the API's).
    pub fn s3_addr(&self) -> anyhow::Result<SocketAddr> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(a) = self.log_lines().iter().find_map(|l| {
                l.find("s3 listening on ")
                    .and_then(|i| listening_addr(&l[i..], "http://"))
            }) {
                return Ok(a);
            }
            if Instant::now() > deadline {
                bail!("the daemon did not log its S3 endpoint's address");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Where the daemon keeps its state.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The daemon's last log lines, for error messages.
    pub fn log_tail(&self) -> String {
        let lines = self.log_lines();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    /// Copies the daemon's whole log out of its temporary directory (which goes with the
    /// bench), for a failure to be looked into; where it is, if it could be copied.
    pub fn keep_log(&self) -> Option<PathBuf> {
        let to =
            std::env::temp_dir().join(format!("lambdalet-bench-failed-{}.log", std::process::id()));
        std::fs::copy(self.log_dir.path().join("daemon.log"), &to).ok()?;
        // What was still running then, to tell a process that did not exit from an exit
        // the daemon did not hear of.
        if let Ok(ps) = std::process::Command::new("ps")
            .args(["-e", "--forest", "-o", "pid,ppid,stat,wchan:24,etime,args"])
            .output()
        {
            use std::io::Write as _;
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&to) {
                let _ = f.write_all(b"\n--- ps at the failure ---\n");
                let _ = f.write_all(&ps.stdout);
            }
        }
        Some(to)
    }

    /// Warnings, errors and the interpreters chosen (at most 200 lines); of lines that differ
    /// only in their `key=value` fields, the first 3 and a count of the rest.
    pub fn interesting_log_lines(&self) -> Vec<String> {
        collapse(
            self.log_lines().into_iter().filter(|l| is_interesting(l)),
            3,
            200,
        )
    }
}

/// Keeps the first `keep` lines of each kind (`kind`), replaces the rest by one count line at
/// the end, and returns at most `max` lines.
fn collapse(lines: impl Iterator<Item = String>, keep: usize, max: usize) -> Vec<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for line in lines {
        let k = kind(&line);
        let n = match seen.iter_mut().find(|(s, _)| *s == k) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((k, 1));
                1
            }
        };
        if n <= keep && out.len() < max {
            out.push(line);
        }
    }
    for (k, n) in seen {
        if n > keep {
            out.push(format!("... and {} more lines like: {k}", n - keep));
        }
    }
    out
}

/// A log line without its timestamp and `key=value` fields.
fn kind(line: &str) -> String {
    line.split_whitespace()
        .skip(1)
        .filter(|w| !w.contains('='))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_interesting(line: &str) -> bool {
    line.contains(" WARN ") || line.contains(" ERROR ") || line.contains("runtime.interpreter")
}

/// `... listening on http://127.0.0.1:PORT` → the address (`scheme` `http://` or `mqtt://`).
fn listening_addr(line: &str, scheme: &str) -> Option<SocketAddr> {
    let marker = format!("listening on {scheme}");
    let rest = &line[line.find(&marker)? + marker.len()..];
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
    fn collapses_repeated_lines() {
        let lines = (0..10)
            .map(|i| {
                format!("2026-01-01T00:00:0{i}Z  WARN async.failed: x function=f request_id={i}")
            })
            .chain(std::iter::once(
                "2026-01-01T00:00:10Z ERROR other".to_owned(),
            ));
        let out = collapse(lines, 3, 200);
        assert_eq!(out.len(), 5, "{out:?}");
        assert!(out[3].ends_with("ERROR other"));
        assert_eq!(out[4], "... and 7 more lines like: WARN async.failed: x");
    }

    #[test]
    fn finds_the_address_in_a_coloured_line() {
        let line = "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening on http://127.0.0.1:40123";
        let clean = strip_ansi(line);
        assert_eq!(
            listening_addr(&clean, "http://"),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(listening_addr(&clean, "mqtt://"), None);
        assert_eq!(listening_addr("lambdalet started", "http://"), None);
        assert_eq!(
            listening_addr(
                "2026-01-01T00:00:00Z  INFO MQTT broker listening on mqtt://127.0.0.1:41883 (anonymous clients allowed)",
                "mqtt://"
            ),
            Some("127.0.0.1:41883".parse().unwrap())
        );
    }
}
