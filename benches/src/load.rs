//! Load generation: `concurrency` workers, each on its own keep-alive connection, sending the
//! same request back to back, for a time or until a number of requests has been sent. Every
//! measurement of the daemon and of the echo server goes through this code.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use tokio::task::JoinSet;

use crate::client::{Conn, Reply};
use crate::stats::percentile;

/// When the workers stop.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// Send until this much time has passed since the start.
    After(Duration),
    /// Send this many requests in all (over all workers).
    Count(usize),
}

/// What is sent.
#[derive(Debug, Clone)]
pub struct Spec {
    pub addr: SocketAddr,
    pub path: Arc<str>,
    pub body: Bytes,
    /// Sends `X-Amz-Invocation-Type: Event` and counts a 202 as success (else a 2xx without
    /// `X-Amz-Function-Error`).
    pub event: bool,
    pub concurrency: usize,
    pub stop: Stop,
}

impl Spec {
    /// Synchronous `{}` requests to `path` for `dur`.
    pub fn sync(addr: SocketAddr, path: &str, concurrency: usize, dur: Duration) -> Self {
        Self {
            addr,
            path: path.into(),
            body: Bytes::from_static(b"{}"),
            event: false,
            concurrency,
            stop: Stop::After(dur),
        }
    }
}

/// What one load run saw.
pub struct Load {
    /// Latency of each successful request, µs.
    pub lat_us: Vec<f64>,
    pub errors: u64,
    /// Errors that were 429 TooManyRequests (a subset of `errors`).
    pub throttled: u64,
    pub first_error: Option<String>,
    /// When the first and the last successful response arrived.
    pub first_ok: Option<Instant>,
    pub last_ok: Option<Instant>,
    pub elapsed: Duration,
}

impl Load {
    /// Successful requests per second over the whole run.
    pub fn rate(&self) -> f64 {
        self.lat_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p(&mut self, p: f64) -> Option<f64> {
        percentile(&mut self.lat_us, p)
    }

    /// "N errors (M of them 429), first: ..." or "no errors".
    pub fn describe_errors(&self) -> String {
        match &self.first_error {
            None => "no errors".to_owned(),
            Some(e) => format!(
                "{} errors ({} of them 429), first: {e}",
                self.errors, self.throttled
            ),
        }
    }
}

const EVENT_HEADERS: &[(&str, &str)] = &[("x-amz-invocation-type", "Event")];

/// Runs `spec`: opens every connection first, then starts the clock and all workers.
pub async fn run(spec: &Spec) -> anyhow::Result<Load> {
    let mut conns = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency {
        conns.push(Conn::connect(spec.addr).await?);
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for mut conn in conns {
        let spec = spec.clone();
        let sent = sent.clone();
        tasks.spawn(async move {
            let mut w = Worker::default();
            let headers: &[(&'static str, &'static str)] =
                if spec.event { EVENT_HEADERS } else { &[] };
            loop {
                let more = match spec.stop {
                    Stop::After(d) => start.elapsed() < d,
                    Stop::Count(n) => sent.fetch_add(1, Ordering::Relaxed) < n,
                };
                if !more {
                    break;
                }
                let t0 = Instant::now();
                match conn
                    .request_with(Method::POST, &spec.path, headers, spec.body.clone())
                    .await
                {
                    Ok(r) if ok(&r, spec.event) => {
                        let now = Instant::now();
                        w.lat.push((now - t0).as_secs_f64() * 1e6);
                        w.first_ok.get_or_insert(now);
                        w.last_ok = Some(now);
                    }
                    Ok(r) => {
                        w.errors += 1;
                        if r.status.as_u16() == 429 {
                            w.throttled += 1;
                        }
                        w.first_error.get_or_insert_with(|| r.describe());
                    }
                    Err(e) => {
                        w.errors += 1;
                        w.first_error.get_or_insert_with(|| format!("{e:#}"));
                        match Conn::connect(spec.addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            w
        });
    }
    let mut out = Load {
        lat_us: Vec::new(),
        errors: 0,
        throttled: 0,
        first_error: None,
        first_ok: None,
        last_ok: None,
        elapsed: Duration::ZERO,
    };
    while let Some(w) = tasks.join_next().await {
        let w = w?;
        out.lat_us.extend(w.lat);
        out.errors += w.errors;
        out.throttled += w.throttled;
        if out.first_error.is_none() {
            out.first_error = w.first_error;
        }
        out.first_ok = match (out.first_ok, w.first_ok) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.last_ok = out.last_ok.max(w.last_ok);
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

#[derive(Default)]
struct Worker {
    lat: Vec<f64>,
    errors: u64,
    throttled: u64,
    first_error: Option<String>,
    first_ok: Option<Instant>,
    last_ok: Option<Instant>,
}

fn ok(r: &Reply, event: bool) -> bool {
    if event {
        r.status.as_u16() == 202
    } else {
        r.is_success()
    }
}

/// `{}` to `path`, `concurrency` connections, for `dur` (the warm benchmarks' load).
pub async fn load(
    addr: SocketAddr,
    path: &str,
    concurrency: usize,
    dur: Duration,
) -> anyhow::Result<Load> {
    run(&Spec::sync(addr, path, concurrency, dur)).await
}

/// Sends `body` once on each of `n` new connections, all at the same time, and waits for every
/// answer: with a handler that sleeps, this makes the daemon run `n` sandboxes at once.
/// Returns the failures as messages.
pub async fn all_at_once(addr: SocketAddr, path: &str, body: &str, n: usize) -> Vec<String> {
    let mut tasks = JoinSet::new();
    let (path, body): (Arc<str>, Bytes) = (path.into(), Bytes::from(body.to_owned()));
    for _ in 0..n {
        let (path, body) = (path.clone(), body.clone());
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await.map_err(|e| format!("{e:#}"))?;
            let r = conn
                .request(Method::POST, &path, body)
                .await
                .map_err(|e| format!("{e:#}"))?;
            if r.is_success() {
                Ok(())
            } else {
                Err(r.describe())
            }
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    failures
}

/// Latency in µs for a message, `n/a` if none.
pub fn us(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0} µs"))
}
