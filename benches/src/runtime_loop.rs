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
    let stub = Stub::start(warmup + events).await?;
    let mut child = tokio::process::Command::new(python)
        .arg("-u")
        .arg(bootstrap)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        .env("AWS_LAMBDA_RUNTIME_API", stub.addr.to_string())
        .env("_HANDLER", "noop.handler")
        .env("LAMBDA_TASK_ROOT", dir.path())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {} {}", python.display(), bootstrap.display()))?;
    let timeline = stub.finished(Duration::from_secs(300)).await;
    let _ = child.kill().await;
    let t = timeline?;

    let mut cycles: Vec<f64> = t.sent[warmup..]
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e6)
        .collect();
    let mut inside: Vec<f64> = t.sent[warmup..]
        .iter()
        .zip(&t.responded[warmup..])
        .map(|(s, r)| (*r - *s).as_secs_f64() * 1e6)
        .collect();
    let span = match (t.sent.get(warmup), t.responded.last()) {
        (Some(a), Some(b)) => (*b - *a).as_secs_f64(),
        _ => 0.0,
    };
    Ok(LoopFigures {
        cycle_p50_us: percentile(&mut cycles, 50.0).unwrap_or(0.0),
        inside_p50_us: percentile(&mut inside, 50.0).unwrap_or(0.0),
        rate: if span > 0.0 {
            events as f64 / span
        } else {
            0.0
        },
        events,
    })
}
