//! A piece of the warm overhead on its own: lambdalet's Python runtime (the very
//! `bootstrap.py` the daemon runs) serving the no-op function against the bench's minimal
//! Runtime API stub, with no daemon in between. Its event loop (GET next → handler → POST
//! response) is a floor that any daemon using this runtime cannot go below.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

use crate::stats::percentile;
use crate::stub::Stub;
use crate::zips;

/// What the runtime alone achieved.
pub struct LoopFigures {
    /// Event handed out → next event handed out (one full turn of the loop), p50, µs.
    pub cycle_p50_us: f64,
    /// Event handed out → its response read by the stub, p50, µs.
    pub inside_p50_us: f64,
    /// Events per second over the measured events.
    pub rate: f64,
    pub events: usize,
}

/// `python -u bootstrap` serving the no-op function in `dir`, with the environment a runtime
/// gets but for how it reaches its Runtime API, and no standard streams.
fn runtime_command(python: &Path, bootstrap: &Path, dir: &Path) -> std::process::Command {
    let mut cmd = lambda_command(python, dir, "noop.handler");
    cmd.arg("-u")
        .arg(bootstrap)
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
    cmd
}

/// `program` in `dir` with only the environment a runtime gets (but its Runtime API) and no
/// standard streams.
fn lambda_command(program: &Path, dir: &Path, handler: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.current_dir(dir)
        .env_clear()
        .env("_HANDLER", handler)
        .env("LAMBDA_TASK_ROOT", dir)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Runs `python -u bootstrap` on the no-op function for `warmup + events` events; the first
/// `warmup` are not counted.
pub async fn python(
    python: &Path,
    bootstrap: &Path,
    warmup: usize,
    events: usize,
) -> anyhow::Result<LoopFigures> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("noop.py"), zips::NOOP_PY)?;
    let mut cmd = runtime_command(python, bootstrap, dir.path());
    cmd.env("PYTHONUNBUFFERED", "1");
    let what = format!("{} {}", python.display(), bootstrap.display());
    over_http(cmd, &what, warmup, events).await
}

/// Runs a compiled `provided` runtime (e.g. the Rust hello's `bootstrap`) against the stub:
/// the floor of any daemon that serves it the HTTP Runtime API.
pub async fn binary(bootstrap: &Path, warmup: usize, events: usize) -> anyhow::Result<LoopFigures> {
    let dir = tempfile::tempdir()?;
    let cmd = lambda_command(bootstrap, dir.path(), "bootstrap");
    over_http(cmd, &bootstrap.display().to_string(), warmup, events).await
}

/// Runs `cmd` against the stub (its `AWS_LAMBDA_RUNTIME_API`) for `warmup + events` events.
async fn over_http(
    mut cmd: std::process::Command,
    what: &str,
    warmup: usize,
    events: usize,
) -> anyhow::Result<LoopFigures> {
    let stub = Stub::start(warmup + events).await?;
    cmd.env("AWS_LAMBDA_RUNTIME_API", stub.addr.to_string());
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let timeline = stub.finished(Duration::from_secs(300)).await;
    let _ = child.kill().await;
    let t = timeline?;
    anyhow::ensure!(
        t.responded.len() > warmup,
        "{what}: no response after the warm-up"
    );
    Ok(figures(&t.sent, &t.responded, warmup, events))
}

/// Loop turn, inside time and rate of the events after the first `warmup`.
fn figures(
    sent: &[std::time::Instant],
    responded: &[std::time::Instant],
    warmup: usize,
    events: usize,
) -> LoopFigures {
    let mut cycles: Vec<f64> = sent[warmup..]
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e6)
        .collect();
    let mut inside: Vec<f64> = sent[warmup..]
        .iter()
        .zip(&responded[warmup..])
        .map(|(s, r)| (*r - *s).as_secs_f64() * 1e6)
        .collect();
    let span = match (sent.get(warmup), responded.last()) {
        (Some(a), Some(b)) => (*b - *a).as_secs_f64(),
        _ => 0.0,
    };
    LoopFigures {
        cycle_p50_us: percentile(&mut cycles, 50.0).unwrap_or(0.0),
        inside_p50_us: percentile(&mut inside, 50.0).unwrap_or(0.0),
        rate: if span > 0.0 {
            events as f64 / span
        } else {
            0.0
        },
        events,
    }
}

/// The same runtime on lambdalet's framed Runtime API (what the daemon gives its own
/// bootstraps): a socket pair, the runtime's end as its descriptor 3, and this process writing
/// event frames and reading the response frames, one event at a time. Blocking; run it off the
/// async runtime.
pub fn python_framed(
    python: &Path,
    bootstrap: &Path,
    warmup: usize,
    events: usize,
) -> anyhow::Result<LoopFigures> {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::time::Instant;

    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("noop.py"), zips::NOOP_PY)?;
    let (mut ours, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    let mut cmd = runtime_command(python, bootstrap, dir.path());
    cmd.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("LAMBDALET_RUNTIME_FD", "3");
    // SAFETY: only dup2, which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {} {}", python.display(), bootstrap.display()))?;
    drop(theirs);
    ours.set_read_timeout(Some(Duration::from_secs(30)))?;
    let frame = |fields: &[&str], body: &[u8]| {
        let header = fields.join("\0");
        let mut f = Vec::with_capacity(8 + header.len() + body.len());
        f.extend_from_slice(&(header.len() as u32).to_le_bytes());
        f.extend_from_slice(&(body.len() as u32).to_le_bytes());
        f.extend_from_slice(header.as_bytes());
        f.extend_from_slice(body);
        f
    };
    let mut buf = Vec::new();
    let mut read_frame = |s: &mut UnixStream| -> anyhow::Result<String> {
        let mut chunk = [0u8; 4096];
        loop {
            if buf.len() >= 8 {
                let h = u32::from_le_bytes(buf[0..4].try_into()?) as usize;
                let b = u32::from_le_bytes(buf[4..8].try_into()?) as usize;
                if buf.len() >= 8 + h + b {
                    let kind = String::from_utf8_lossy(&buf[8..8 + h])
                        .split('\0')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    buf.drain(..8 + h + b);
                    return Ok(kind);
                }
            }
            let n = s.read(&mut chunk)?;
            anyhow::ensure!(n > 0, "the runtime closed its channel");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let result = (|| {
        anyhow::ensure!(
            read_frame(&mut ours)? == "next",
            "the runtime did not ask for an event"
        );
        let deadline = (std::time::SystemTime::now() + Duration::from_secs(600))
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            .to_string();
        let mut sent = Vec::with_capacity(warmup + events);
        let mut responded = Vec::with_capacity(warmup + events);
        for i in 0..warmup + events {
            let id = format!("00000000-0000-4000-8000-{i:012}");
            let event = frame(
                &[
                    "event",
                    &id,
                    &deadline,
                    "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                    "",
                    "",
                    "application/json",
                ],
                b"{}",
            );
            sent.push(Instant::now());
            ours.write_all(&event)?;
            anyhow::ensure!(read_frame(&mut ours)? == "response", "no response frame");
            responded.push(Instant::now());
            anyhow::ensure!(read_frame(&mut ours)? == "next", "no next frame");
        }
        Ok((sent, responded))
    })();
    let _ = child.kill();
    let _ = child.wait();
    let (sent, responded) = result?;
    Ok(figures(&sent, &responded, warmup, events))
}
