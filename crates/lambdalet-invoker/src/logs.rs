//! Collecting a sandbox's output and writing Lambda's START / END / REPORT lines around it.

use std::sync::Arc;
use std::time::Duration;

use lambdalet_sandbox::OutputReader;
use parking_lot::Mutex;

/// Output kept per sandbox between two `take`s; beyond it the oldest bytes are dropped, so a
/// chatty function cannot grow the daemon's memory.
const MAX_BUFFERED: usize = 1024 * 1024;

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Buffer {
    fn append(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() > MAX_BUFFERED {
            let excess = self.bytes.len() - MAX_BUFFERED;
            self.bytes.drain(..excess);
            self.dropped += excess;
        }
    }
}

/// Reads one sandbox's output pipe in the background and hands it out per invocation.
///
/// The background task and [`Self::sync`] both read the pipe without blocking while holding
/// the buffer's lock, so what the pipe held is in the buffer, in order, as soon as `sync`
/// returns: an invocation's log needs no hand-off to another task.
pub(crate) struct LogCollector {
    buf: Mutex<Buffer>,
    output: OutputReader,
}

impl LogCollector {
    /// Starts collecting; the task ends at the pipe's end of file (every process of the
    /// sandbox has exited).
    pub(crate) fn start(output: OutputReader) -> Arc<Self> {
        let this = Arc::new(Self {
            buf: Mutex::new(Buffer::default()),
            output,
        });
        let collector = this.clone();
        tokio::spawn(async move {
            loop {
                if collector.output.readable().await.is_err() || collector.drain() {
                    break;
                }
            }
        });
        this
    }

    /// Moves what the pipe holds into the buffer; true at end of file (or a read error).
    fn drain(&self) -> bool {
        let mut b = self.buf.lock();
        let mut now = Vec::new();
        let eof = self.output.drain_now(&mut now).unwrap_or(true);
        b.append(&now);
        eof
    }

    /// Makes sure everything already written to the pipe is in the buffer. A runtime that
    /// flushed its output before posting its response has all of it collected after this.
    pub(crate) async fn sync(&self) {
        self.drain();
    }

    /// Takes the collected output as text.
    pub(crate) fn take(&self) -> String {
        let mut b = self.buf.lock();
        let mut text = String::new();
        if b.dropped > 0 {
            text.push_str(&format!(
                "[lambdalet: {} bytes of function output dropped: more than {} bytes per invocation]\n",
                b.dropped, MAX_BUFFERED
            ));
            b.dropped = 0;
        }
        text.push_str(&String::from_utf8_lossy(&b.bytes));
        b.bytes.clear();
        text
    }
}

/// The figures of a REPORT line.
pub(crate) struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_mb: u32,
    pub max_memory_used_mb: u64,
    pub init_duration: Option<Duration>,
    /// `timeout`, `error` (with an error type) for invocations that did not end normally.
    pub status: Option<(&'a str, Option<&'a str>)>,
}

pub(crate) fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}\n")
}

pub(crate) fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}\n")
}

/// `REPORT RequestId: …\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax
/// Memory Used: 20 MB\tInit Duration: 45.67 ms\t`, in the real service's order (Init last).
pub(crate) fn report_line(r: &Report<'_>) -> String {
    let ms = r.duration.as_secs_f64() * 1000.0;
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        r.request_id,
        ms,
        ms.ceil().max(1.0) as u64,
        r.memory_mb,
        r.max_memory_used_mb
    );
    if let Some(init) = r.init_duration {
        line.push_str(&format!(
            "Init Duration: {:.2} ms\t",
            init.as_secs_f64() * 1000.0
        ));
    }
    if let Some((status, error_type)) = r.status {
        line.push_str(&format!("Status: {status}\t"));
        if let Some(t) = error_type {
            line.push_str(&format!("Error Type: {t}\t"));
        }
    }
    line.push('\n');
    line
}

/// START, END and REPORT in the function's log format: Lambda's text lines, or with
/// `LogFormat` JSON the records `platform.start`, `platform.runtimeDone` and `platform.report`
/// (none with `SystemLogLevel` WARN).
pub(crate) struct PlatformLines<'a>(pub &'a lambdalet_core::LoggingConfig);

impl PlatformLines<'_> {
    fn record(&self, kind: &str, record: serde_json::Value) -> String {
        if !self.0.platform_records() {
            return String::new();
        }
        let time = lambdalet_core::timefmt::rfc3339_millis(std::time::SystemTime::now());
        format!(
            "{}\n",
            serde_json::json!({ "time": time, "type": kind, "record": record })
        )
    }

    pub(crate) fn start(&self, request_id: &str, version: &str) -> String {
        if !self.0.json() {
            return start_line(request_id, version);
        }
        self.record(
            "platform.start",
            serde_json::json!({ "requestId": request_id, "version": version }),
        )
    }

    pub(crate) fn end(&self, request_id: &str, status: &str) -> String {
        if !self.0.json() {
            return end_line(request_id);
        }
        self.record(
            "platform.runtimeDone",
            serde_json::json!({ "requestId": request_id, "status": status }),
        )
    }

    pub(crate) fn report(&self, r: &Report<'_>) -> String {
        if !self.0.json() {
            return report_line(r);
        }
        let ms = (r.duration.as_secs_f64() * 100_000.0).round() / 100.0;
        let mut metrics = serde_json::json!({
            "durationMs": ms,
            "billedDurationMs": ms.ceil().max(1.0) as u64,
            "memorySizeMB": r.memory_mb,
            "maxMemoryUsedMB": r.max_memory_used_mb,
        });
        if let Some(init) = r.init_duration {
            metrics["initDurationMs"] =
                serde_json::json!((init.as_secs_f64() * 100_000.0).round() / 100.0);
        }
        let (status, error_type) = r.status.unwrap_or(("success", None));
        let mut record =
            serde_json::json!({ "requestId": r.request_id, "metrics": metrics, "status": status });
        if let Some(t) = error_type {
            record["errorType"] = serde_json::Value::String(t.to_owned());
        }
        self.record("platform.report", record)
    }
}

/// The last `max` bytes of `log`, cut at a character boundary.
pub(crate) fn tail(log: &str, max: usize) -> &str {
    if log.len() <= max {
        return log;
    }
    let mut start = log.len() - max;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_matches_the_service() {
        let r = Report {
            request_id: "abc",
            duration: Duration::from_micros(4_157_160),
            memory_mb: 256,
            max_memory_used_mb: 99,
            init_duration: Some(Duration::from_micros(841_600)),
            status: None,
        };
        assert_eq!(
            report_line(&r),
            "REPORT RequestId: abc\tDuration: 4157.16 ms\tBilled Duration: 4158 ms\tMemory Size: 256 MB\tMax Memory Used: 99 MB\tInit Duration: 841.60 ms\t\n"
        );
    }

    #[test]
    fn tail_respects_char_boundaries() {
        let s = "ééé";
        assert_eq!(tail(s, 3), "é");
        assert_eq!(tail("abc", 10), "abc");
    }
}
