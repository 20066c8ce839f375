//! The durable queue of asynchronous (`Event`) invocations.
//!
//! Accepted events are committed with `synchronous=FULL` (fsync) before the caller gets its
//! 202, by one writer thread that commits everything queued at that moment in one
//! transaction (group commit), so durability does not cost one fsync per event. Completions,
//! retries and failures go through the same thread; a completion and the destination event it
//! produces commit together.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Store, open_connection};
use crate::error::StoreError;
use crate::schedules::AlongWith;

/// An event to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAsyncEvent {
    pub request_id: String,
    pub function: String,
    /// The qualifier as invoked (`None`: unqualified).
    pub qualifier: Option<String>,
    /// Shared with whoever keeps it in memory meanwhile (the dispatcher): no copy.
    pub payload: Bytes,
    pub client_context: Option<String>,
    pub received_ms: u64,
    pub next_attempt_ms: u64,
    /// Its own delivery policy (JSON; a schedule's retry policy and dead-letter target), for
    /// the dispatcher to read; `None`: the function's event-invoke configuration alone.
    pub delivery: Option<String>,
}

/// A queued event without its payload (what the dispatcher keeps in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncEventMeta {
    pub id: i64,
    pub request_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub client_context: Option<String>,
    pub received_ms: u64,
    /// Attempts that ended in a function error so far.
    pub attempts: u32,
    /// Throttles and system errors so far (drives the backoff).
    pub throttles: u32,
    pub next_attempt_ms: u64,
    /// See [`NewAsyncEvent::delivery`].
    pub delivery: Option<String>,
}

/// A failed event, for `lambdalet queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAsyncEvent {
    pub id: i64,
    pub request_id: String,
    pub function: String,
    pub received_ms: u64,
    pub attempts: u32,
    pub last_error: String,
}

enum Op {
    Enqueue(Vec<NewAsyncEvent>, Option<AlongWith>, Ack),
    /// Delete a finished event, and enqueue its follow-up (destination) event if any.
    Complete(i64, Option<(NewAsyncEvent, Ack)>),
    Reschedule {
        id: i64,
        attempts: u32,
        throttles: u32,
        next_attempt_ms: u64,
        error: String,
    },
    /// Mark failed (kept for inspection) and enqueue its follow-up event if any.
    Fail {
        id: i64,
        attempts: u32,
        error: String,
        follow_up: Option<(NewAsyncEvent, Ack)>,
    },
    Flush(Sender<()>),
}

/// Failed events kept per function for inspection; older ones are deleted.
const KEEP_FAILED: i64 = 1000;

/// The writer of the async queue. Cheap to clone.
#[derive(Clone)]
pub struct AsyncQueueStore {
    tx: Sender<Op>,
    store: Store,
}

impl AsyncQueueStore {
    /// Starts the writer thread on its own fsync-ing connection.
    pub fn start(store: &Store) -> Result<Self, StoreError> {
        let conn = open_connection(store.path())?;
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("lambdalet-async-queue".to_owned())
            .spawn(move || run(conn, rx))
            .map_err(|e| {
                StoreError::Corrupt(format!("cannot start the async queue writer: {e}"))
            })?;
        Ok(Self {
            tx,
            store: store.clone(),
        })
    }

    /// Durably stores `events` and returns their ids; blocks until they are on disk.
    #[cfg(test)]
    fn enqueue(&self, events: Vec<NewAsyncEvent>) -> Result<Vec<i64>, StoreError> {
        let (ack, rx) = channel_ack();
        self.enqueue_then(events, ack)?;
        wait_ack(&rx)
    }

    /// Hands `events` to the writer without waiting: `on_commit` runs on the writer thread
    /// once they are on disk (with their ids) or could not be stored. Events get their ids,
    /// and callbacks run, in the order of the calls, so the caller can keep a FIFO order
    /// without holding a thread per event until the commit.
    pub fn enqueue_then(
        &self,
        events: Vec<NewAsyncEvent>,
        on_commit: impl FnOnce(Result<Vec<i64>, String>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.enqueue_along(events, None, on_commit)
    }

    /// [`Self::enqueue_then`], with a change of another table committed in the same
    /// transaction (a schedule's fire).
    pub fn enqueue_along(
        &self,
        events: Vec<NewAsyncEvent>,
        along: Option<AlongWith>,
        on_commit: impl FnOnce(Result<Vec<i64>, String>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.tx
            .send(Op::Enqueue(events, along, Box::new(on_commit)))
            .map_err(|_| StoreError::Corrupt("the async queue writer has stopped".to_owned()))
    }

    /// Deletes a finished event. With a follow-up event (a destination's), both commit
    /// together and this blocks until then, returning the follow-up's id.
    pub fn complete(
        &self,
        id: i64,
        follow_up: Option<NewAsyncEvent>,
    ) -> Result<Option<i64>, StoreError> {
        let (follow, rx) = with_ack(follow_up);
        let _ = self.tx.send(Op::Complete(id, follow));
        wait_follow_up(rx)
    }

    pub fn reschedule(
        &self,
        id: i64,
        attempts: u32,
        throttles: u32,
        next_attempt_ms: u64,
        error: String,
    ) {
        let _ = self.tx.send(Op::Reschedule {
            id,
            attempts,
            throttles,
            next_attempt_ms,
            error,
        });
    }

    /// Marks an event failed (kept for `lambdalet queue`). With a follow-up event, both
    /// commit together and this blocks until then, returning the follow-up's id.
    pub fn fail(
        &self,
        id: i64,
        attempts: u32,
        error: String,
        follow_up: Option<NewAsyncEvent>,
    ) -> Result<Option<i64>, StoreError> {
        let (follow, rx) = with_ack(follow_up);
        let _ = self.tx.send(Op::Fail {
            id,
            attempts,
            error,
            follow_up: follow,
        });
        wait_follow_up(rx)
    }

    /// Waits until every operation sent before this call is committed.
    pub fn flush(&self) {
        let (ack, rx) = mpsc::channel();
        if self.tx.send(Op::Flush(ack)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Every pending event, oldest first (at start, to rebuild the dispatcher's state).
    pub fn load_pending(&self) -> Result<Vec<AsyncEventMeta>, StoreError> {
        let conn = self.store.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT id, request_id, function, qualifier, client_context, received_ms, attempts, throttles, next_attempt_ms, delivery
             FROM async_events WHERE status = 'pending' ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AsyncEventMeta {
                    id: r.get(0)?,
                    request_id: r.get(1)?,
                    function: r.get(2)?,
                    qualifier: r.get(3)?,
                    client_context: r.get(4)?,
                    received_ms: r.get::<_, i64>(5)? as u64,
                    attempts: r.get(6)?,
                    throttles: r.get(7)?,
                    next_attempt_ms: r.get::<_, i64>(8)? as u64,
                    delivery: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The payload of a stored event (`None` if it is gone).
    pub fn payload(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.store.conn.lock();
        Ok(conn
            .query_row(
                "SELECT payload FROM async_events WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Failed events kept per function. Reads only failed rows (through the status index),
    /// however long the backlog of pending ones: pending counts come from the dispatcher's
    /// memory.
    pub fn failed_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.store.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT function, COUNT(*) FROM async_events WHERE status = 'failed'
             GROUP BY function ORDER BY function",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest failed events of a function.
    pub fn failed(
        &self,
        function: &str,
        limit: usize,
    ) -> Result<Vec<FailedAsyncEvent>, StoreError> {
        let conn = self.store.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT id, request_id, function, received_ms, attempts, COALESCE(last_error, '')
             FROM async_events WHERE status = 'failed' AND function = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![function, limit as i64], |r| {
                Ok(FailedAsyncEvent {
                    id: r.get(0)?,
                    request_id: r.get(1)?,
                    function: r.get(2)?,
                    received_ms: r.get::<_, i64>(3)? as u64,
                    attempts: r.get(4)?,
                    last_error: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

type FollowUp = (
    Option<(NewAsyncEvent, Ack)>,
    Option<Receiver<Result<Vec<i64>, String>>>,
);

fn with_ack(follow_up: Option<NewAsyncEvent>) -> FollowUp {
    match follow_up {
        None => (None, None),
        Some(e) => {
            let (ack, rx) = channel_ack();
            (Some((e, ack)), Some(rx))
        }
    }
}

/// An acknowledgement that a caller can block on.
fn channel_ack() -> (Ack, Receiver<Result<Vec<i64>, String>>) {
    let (tx, rx) = mpsc::channel();
    let ack: Ack = Box::new(move |r| {
        let _ = tx.send(r);
    });
    (ack, rx)
}

fn wait_ack(rx: &Receiver<Result<Vec<i64>, String>>) -> Result<Vec<i64>, StoreError> {
    rx.recv()
        .map_err(|_| StoreError::Corrupt("the async queue writer has stopped".to_owned()))?
        .map_err(StoreError::Corrupt)
}

fn wait_follow_up(
    rx: Option<Receiver<Result<Vec<i64>, String>>>,
) -> Result<Option<i64>, StoreError> {
    let Some(rx) = rx else { return Ok(None) };
    Ok(wait_ack(&rx)?.first().copied())
}

fn run(mut conn: Connection, rx: Receiver<Op>) {
    let mut synced = true;
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < 1024 {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        // An event is acknowledged only once it is on the disk: a batch that accepts one
        // (or asks for a flush) is synced. One that only ends or reschedules events is not
        // (one fsync per event instead of two, on an SD card's slow flushes): power lost
        // before the next sync runs such an event again, which asynchronous invocation
        // allows (at least once), and loses nothing.
        let durable = ops.iter().any(needs_sync);
        if durable != synced {
            let pragma = if durable {
                "PRAGMA synchronous=FULL;"
            } else {
                "PRAGMA synchronous=NORMAL;"
            };
            if conn.execute_batch(pragma).is_ok() {
                synced = durable;
            }
        }
        let mut acks = Vec::new();
        let mut flushes = Vec::new();
        let result = apply(&mut conn, ops, &mut acks, &mut flushes);
        match result {
            Ok(ids) => {
                for (ack, ids) in acks.into_iter().zip(ids) {
                    ack(Ok(ids));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the async queue could not commit");
                for ack in acks {
                    ack(Err(format!("the async queue could not commit: {e}")));
                }
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

/// Whether `op` must be on the disk before the writer acknowledges it: new events and
/// flushes.
fn needs_sync(op: &Op) -> bool {
    matches!(
        op,
        Op::Enqueue(..)
            | Op::Flush(_)
            | Op::Complete(_, Some(_))
            | Op::Fail {
                follow_up: Some(_),
                ..
            }
    )
}

/// Called on the writer thread, in commit order, with the ids of the stored events.
type Ack = Box<dyn FnOnce(Result<Vec<i64>, String>) + Send>;

/// Applies a batch in one transaction; returns the ids of each `Enqueue`, in order.
fn apply(
    conn: &mut Connection,
    ops: Vec<Op>,
    acks: &mut Vec<Ack>,
    flushes: &mut Vec<Sender<()>>,
) -> Result<Vec<Vec<i64>>, rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut all_ids = Vec::new();
    let mut failed_functions = Vec::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO async_events (request_id, function, qualifier, payload, client_context, received_ms, next_attempt_ms, delivery)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut put = |e: &NewAsyncEvent| -> Result<i64, rusqlite::Error> {
            insert.execute(params![
                e.request_id,
                e.function,
                e.qualifier,
                &e.payload[..],
                e.client_context,
                e.received_ms as i64,
                e.next_attempt_ms as i64,
                e.delivery
            ])?;
            Ok(tx.last_insert_rowid())
        };
        for op in ops {
            match op {
                Op::Enqueue(events, along, ack) => {
                    let mut ids = Vec::with_capacity(events.len());
                    for e in &events {
                        ids.push(put(e)?);
                    }
                    if let Some(along) = along {
                        along.apply(&tx)?;
                    }
                    all_ids.push(ids);
                    acks.push(ack);
                }
                Op::Complete(id, follow_up) => {
                    tx.execute("DELETE FROM async_events WHERE id = ?1", [id])?;
                    if let Some((e, ack)) = follow_up {
                        all_ids.push(vec![put(&e)?]);
                        acks.push(ack);
                    }
                }
                Op::Reschedule {
                    id,
                    attempts,
                    throttles,
                    next_attempt_ms,
                    error,
                } => {
                    tx.execute(
                        "UPDATE async_events SET attempts = ?2, throttles = ?3, next_attempt_ms = ?4, last_error = ?5 WHERE id = ?1",
                        params![id, attempts, throttles, next_attempt_ms as i64, error],
                    )?;
                }
                Op::Fail {
                    id,
                    attempts,
                    error,
                    follow_up,
                } => {
                    let function: Option<String> = tx
                        .query_row(
                            "UPDATE async_events SET status = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1 RETURNING function",
                            params![id, attempts, error],
                            |r| r.get(0),
                        )
                        .optional()?;
                    failed_functions.extend(function);
                    if let Some((e, ack)) = follow_up {
                        all_ids.push(vec![put(&e)?]);
                        acks.push(ack);
                    }
                }
                Op::Flush(f) => flushes.push(f),
            }
        }
    }
    for f in failed_functions {
        tx.execute(
            "DELETE FROM async_events WHERE status = 'failed' AND function = ?1 AND id <= (
                SELECT id FROM async_events WHERE status = 'failed' AND function = ?1
                ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![f, KEEP_FAILED],
        )?;
    }
    tx.commit()?;
    Ok(all_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(function: &str, n: u8) -> NewAsyncEvent {
        NewAsyncEvent {
            request_id: format!("r{n}"),
            function: function.to_owned(),
            qualifier: None,
            payload: Bytes::from(vec![n]),
            client_context: None,
            received_ms: 1,
            next_attempt_ms: 1,
            delivery: None,
        }
    }

    #[test]
    fn enqueue_complete_retry_fail_and_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let q = AsyncQueueStore::start(&store).expect("start");
        let ids = q
            .enqueue(vec![event("f", 1), event("f", 2), event("g", 3)])
            .expect("enqueue");
        assert_eq!(ids.len(), 3);
        assert_eq!(q.payload(ids[1]).expect("read"), Some(vec![2]));
        let dest = q
            .complete(ids[0], Some(event("dest", 9)))
            .expect("complete");
        assert!(dest.is_some_and(|d| d > ids[2]));
        q.reschedule(ids[1], 1, 0, 99, "boom".to_owned());
        assert_eq!(
            q.fail(ids[2], 3, "gave up".to_owned(), None).expect("fail"),
            None
        );
        q.flush();
        drop(q);
        let q = AsyncQueueStore::start(&Store::open(dir.path()).expect("reopen")).expect("start");
        let pending = q.load_pending().expect("load");
        let fns: Vec<(&str, u32, u64)> = pending
            .iter()
            .map(|e| (e.function.as_str(), e.attempts, e.next_attempt_ms))
            .collect();
        assert_eq!(fns, [("f", 1, 99), ("dest", 0, 1)]);
        let counts = q.failed_counts().expect("counts");
        assert_eq!(counts, [("g".to_owned(), 1)]);
        let failed = q.failed("g", 10).expect("failed");
        assert_eq!(failed[0].last_error, "gave up");
    }
}
