//! The async-accept baseline: how fast SQLite stores events durably on this machine when
//! every event is its own transaction. A separate database file in the temporary directory
//! (the daemon's data directory is there too), WAL mode with `synchronous=FULL` (an fsync per
//! commit), the daemon's `async_events` table and index, rows with the same payload bytes and
//! columns the daemon writes; each thread has its own connection and inserts one row per
//! transaction back to back.

use std::path::Path;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rusqlite::{Connection, params};

/// The daemon's table for asynchronous events (`lambdalet-store`, schema version 2).
const SCHEMA: &str = "
CREATE TABLE async_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      TEXT NOT NULL,
    function        TEXT NOT NULL,
    qualifier       TEXT,
    payload         BLOB NOT NULL,
    client_context  TEXT,
    received_ms     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    throttles       INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    last_error      TEXT
);
CREATE INDEX async_events_by_status ON async_events(status, function, id);
";

/// What the insert threads achieved.
pub struct Inserts {
    /// Latency of each committed insert, µs.
    pub lat_us: Vec<f64>,
    /// Inserts that failed (e.g. SQLITE_BUSY after the busy timeout).
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Inserts {
    pub fn rate(&self) -> f64 {
        self.lat_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // As the daemon's store: a 10 s busy timeout, WAL; synchronous=FULL as its queue writer.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
    Ok(conn)
}

/// How the insert threads reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Each thread has its own connection; concurrent writers wait in SQLite's busy handler
    /// (which sleeps and retries) for the WAL write lock.
    OwnConnections,
    /// All threads take turns on one connection behind a mutex.
    OneConnection,
}

/// `threads` threads insert rows for `dur`, each row its own transaction. Blocking.
pub fn inserts(
    threads: usize,
    sharing: Sharing,
    function: &str,
    payload: &[u8],
    dur: Duration,
) -> anyhow::Result<Inserts> {
    let dir = tempfile::Builder::new()
        .prefix("lambdalet-bench-sqlite-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let path = dir.path().join("baseline.db");
    open(&path)
        .and_then(|c| c.execute_batch(SCHEMA))
        .with_context(|| format!("cannot create {}", path.display()))?;
    let shared = match sharing {
        Sharing::OneConnection => {
            Some(Mutex::new(open(&path).with_context(|| {
                format!("cannot open {}", path.display())
            })?))
        }
        Sharing::OwnConnections => None,
    };
    let barrier = Barrier::new(threads + 1);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (path, barrier, shared) = (&path, &barrier, shared.as_ref());
                s.spawn(move || match shared {
                    Some(conn) => shared_loop(conn, t, function, payload, dur, barrier),
                    None => insert_loop(path, t, function, payload, dur, barrier),
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a thread panicked".to_owned()))
            })
            .collect();
        (results, start.elapsed())
    });
    let (results, elapsed) = results;
    let mut out = Inserts {
        lat_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed,
    };
    for r in results {
        let (lat, errors, first) = r.map_err(|e| anyhow::anyhow!("SQLite baseline: {e}"))?;
        out.lat_us.extend(lat);
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first;
        }
    }
    Ok(out)
}

type ThreadResult = Result<(Vec<f64>, u64, Option<String>), String>;

const INSERT: &str = "INSERT INTO async_events (request_id, function, qualifier, payload, client_context, received_ms, next_attempt_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// One row as the daemon writes it: `(request id, now in ms)`.
fn row(thread: usize, n: u64) -> (String, i64) {
    // A request id shaped like the daemon's (a UUID, 36 characters).
    let request_id = format!("{thread:08x}-0000-4000-8000-{n:012x}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (request_id, now_ms)
}

fn insert(
    conn: &Connection,
    thread: usize,
    n: u64,
    function: &str,
    payload: &[u8],
) -> rusqlite::Result<usize> {
    let (request_id, now_ms) = row(thread, n);
    conn.prepare_cached(INSERT)?.execute(params![
        request_id,
        function,
        None::<String>,
        payload,
        None::<String>,
        now_ms,
        now_ms
    ])
}

/// Inserts on the shared connection, taking the lock per row (latency includes the wait).
fn shared_loop(
    conn: &Mutex<Connection>,
    thread: usize,
    function: &str,
    payload: &[u8],
    dur: Duration,
    barrier: &Barrier,
) -> ThreadResult {
    barrier.wait();
    let deadline = Instant::now() + dur;
    let (mut lat, mut errors, mut first) = (Vec::with_capacity(50_000), 0u64, None);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let t0 = Instant::now();
        let r = {
            let conn = conn.lock().map_err(|_| "the connection lock is poisoned")?;
            insert(&conn, thread, n, function, payload)
        };
        match r {
            Ok(_) => lat.push(t0.elapsed().as_secs_f64() * 1e6),
            Err(e) => {
                errors += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Ok((lat, errors, first))
}

fn insert_loop(
    path: &Path,
    thread: usize,
    function: &str,
    payload: &[u8],
    dur: Duration,
    barrier: &Barrier,
) -> ThreadResult {
    let conn = open(path);
    barrier.wait();
    let conn = conn.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + dur;
    let (mut lat, mut errors, mut first) = (Vec::with_capacity(50_000), 0u64, None);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let t0 = Instant::now();
        match insert(&conn, thread, n, function, payload) {
            Ok(_) => lat.push(t0.elapsed().as_secs_f64() * 1e6),
            Err(e) => {
                errors += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Ok((lat, errors, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_rows_from_several_threads() {
        for sharing in [Sharing::OwnConnections, Sharing::OneConnection] {
            let r = inserts(2, sharing, "f", b"{}", Duration::from_millis(50)).unwrap();
            assert!(!r.lat_us.is_empty());
            assert_eq!(r.errors, 0, "{:?}", r.first_error);
        }
    }
}
