//! A component's log file: its steps' output and the lifecycle's own lines.
//!
//! Format, one line each:
//! `2024-05-01T12:00:00.123Z [install] stdout: <line>` for output and
//! `2024-05-01T12:00:00.123Z [lifecycle] state RUNNING` for the lifecycle. Output is
//! tenant-controlled: it goes only to this file, never to the daemon's own log, and a line
//! longer than [`MAX_LINE`] bytes is cut into several.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use time::macros::format_description;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The longest output line written as one log line, in bytes.
pub const MAX_LINE: usize = 16 * 1024;

/// Appends lines to one log file, opened at the first line.
#[derive(Clone, Debug)]
pub(crate) struct LogSink {
    path: PathBuf,
    file: Arc<Mutex<Option<File>>>,
}

impl LogSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        LogSink {
            path,
            file: Arc::new(Mutex::new(None)),
        }
    }

    /// Writes `<timestamp> [<tag>] <text>`.
    pub(crate) fn line(&self, tag: &str, text: &str) {
        let line = format!("{} [{tag}] {text}\n", timestamp());
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if file.is_none() {
            match self.open() {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "component log file cannot be opened");
                    return;
                }
            }
        }
        if let Some(f) = file.as_mut()
            && let Err(e) = f.write_all(line.as_bytes())
        {
            tracing::warn!(path = %self.path.display(), error = %e, "component log write failed");
            *file = None;
        }
    }

    /// A lifecycle line: `[lifecycle] <text>`.
    pub(crate) fn lifecycle(&self, text: &str) {
        self.line("lifecycle", text);
    }

    fn open(&self) -> std::io::Result<File> {
        if let Some(parent) = self.path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
    }

    /// Copies `stream` into the log line by line as `[<step>] <name>: <line>`, until it ends.
    pub(crate) async fn pump(
        self,
        stream: impl AsyncRead + Unpin,
        step: &'static str,
        name: &'static str,
    ) {
        let mut reader = BufReader::with_capacity(8 * 1024, stream);
        let mut line: Vec<u8> = Vec::new();
        // The last line was cut at MAX_LINE: a newline right after it ends nothing more.
        let mut cut = false;
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(chunk) => chunk,
            };
            let room = MAX_LINE - line.len();
            let (used, complete) = match chunk.iter().take(room).position(|b| *b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&chunk[..i]);
                    (i + 1, true)
                }
                None => {
                    let n = chunk.len().min(room);
                    line.extend_from_slice(&chunk[..n]);
                    (n, line.len() >= MAX_LINE)
                }
            };
            reader.consume(used);
            if complete {
                let newline_after_cut = cut && line.is_empty();
                cut = line.len() >= MAX_LINE;
                if !newline_after_cut {
                    self.output(step, name, &line);
                }
                line.clear();
            }
        }
        if !line.is_empty() {
            self.output(step, name, &line);
        }
    }

    fn output(&self, step: &str, name: &str, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.line(step, &format!("{name}: {text}"));
    }
}

/// Now, as RFC 3339 in UTC with milliseconds.
fn timestamp() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "0000-00-00T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(sink: &LogSink) -> Vec<String> {
        std::fs::read_to_string(&sink.path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn lines_are_timestamped_tagged_and_cut_when_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::new(dir.path().join("logs/c.log"));
        let long = "x".repeat(MAX_LINE + 10);
        let exact = "y".repeat(MAX_LINE);
        let input = format!("hello\r\nwörld\n{long}\n{exact}\n\nlast without newline");
        sink.clone().pump(input.as_bytes(), "run", "stdout").await;
        sink.lifecycle("state RUNNING");

        let lines = read(&sink);
        let bodies: Vec<&str> = lines.iter().map(|l| l.split_once(' ').unwrap().1).collect();
        assert_eq!(bodies[0], "[run] stdout: hello");
        assert_eq!(bodies[1], "[run] stdout: wörld");
        assert_eq!(bodies[2].len(), "[run] stdout: ".len() + MAX_LINE);
        assert_eq!(bodies[3], "[run] stdout: xxxxxxxxxx");
        assert_eq!(bodies[4], format!("[run] stdout: {exact}"));
        assert_eq!(bodies[5], "[run] stdout: ");
        assert_eq!(bodies[6], "[run] stdout: last without newline");
        assert_eq!(bodies[7], "[lifecycle] state RUNNING");
        assert_eq!(lines.len(), 8);
        let ts = lines[0].split_once(' ').unwrap().0;
        let parsed =
            OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(parsed.offset(), time::UtcOffset::UTC);
        assert!(ts.ends_with('Z') && ts.len() == "2024-05-01T12:00:00.123Z".len());
    }
}
