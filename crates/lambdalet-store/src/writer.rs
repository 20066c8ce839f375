//! A background thread that writes invocation records in batches, off the invoke path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

use crate::db::Store;
use crate::error::StoreError;
use crate::records::InvocationRecord;

/// Records waiting beyond this are dropped (and counted) rather than slowing invocations down.
const QUEUE_CAPACITY: usize = 16 * 1024;
/// At most this many records per transaction.
const BATCH: usize = 512;
/// Records kept per function; older ones are pruned.
const KEEP_PER_FUNCTION: usize = 1000;
/// Prune after this many batches.
const PRUNE_EVERY: u64 = 64;
/// How long the writer lets records gather after the first of a batch arrives, so a steady
/// stream of invocations costs one transaction per interval, not one per invocation.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(25);

enum Msg {
    Record(Box<InvocationRecord>),
    Flush(mpsc::Sender<()>),
}

/// Sends invocation records to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct RecordWriter {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl RecordWriter {
    /// Starts the writer thread on its own connection to `store`'s database.
    pub fn start(store: &Store) -> Result<Self, StoreError> {
        let mut conn = store.open_sibling()?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        thread::Builder::new()
            .name("lambdalet-records".to_owned())
            .spawn(move || run(&mut conn, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the record writer: {e}")))?;
        Ok(Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues a record; never blocks. If the writer is far behind, the record is dropped and counted.
    pub fn write(&self, record: InvocationRecord) {
        match self.tx.try_send(Msg::Record(Box::new(record))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        dropped = n,
                        "invocation log writer is behind; records dropped"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("invocation log writer has stopped; record lost");
            }
        }
    }

    /// Waits until every record queued before this call is committed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// How many records were dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn run(conn: &mut rusqlite::Connection, rx: Receiver<Msg>) {
    let mut batches = 0u64;
    while let Ok(first) = rx.recv() {
        // Let a batch gather: senders only push onto the channel while this thread sleeps,
        // so a steady stream of invocations costs no wake-up per record. A flush is answered
        // at once.
        if matches!(first, Msg::Record(_)) {
            std::thread::sleep(BATCH_WINDOW);
        }
        let mut records = Vec::new();
        let mut waiters = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Record(r) => records.push(*r),
                Msg::Flush(w) => waiters.push(w),
            }
            next = if records.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !records.is_empty() {
            if let Err(e) = Store::insert_records(conn, &records) {
                tracing::error!(error = %e, count = records.len(), "cannot write invocation log records");
            }
            batches += 1;
            if batches.is_multiple_of(PRUNE_EVERY)
                && let Err(e) = Store::prune_records(conn, KEEP_PER_FUNCTION)
            {
                tracing::warn!(error = %e, "cannot prune old invocation log records");
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Outcome;

    fn record(function: &str, i: usize) -> InvocationRecord {
        InvocationRecord {
            id: 0,
            request_id: format!("req-{i}"),
            function: function.to_owned(),
            version: "$LATEST".to_owned(),
            started_ms: i as u64,
            duration_ms: 1.5,
            outcome: Outcome::Success,
            log: format!("START RequestId: req-{i}\n"),
        }
    }

    #[test]
    fn batches_are_written_and_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let w = RecordWriter::start(&store).expect("writer");
        for i in 0..1000 {
            w.write(record(if i % 2 == 0 { "a" } else { "b" }, i));
        }
        w.flush();
        let recent = store.recent_invocations("a", 3, 0).expect("query");
        let ids: Vec<_> = recent.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["req-994", "req-996", "req-998"]);
        let after = store
            .recent_invocations("a", 100, recent[1].id)
            .expect("query");
        assert_eq!(after.len(), 1);
        assert_eq!(w.dropped(), 0);
        let conn = store.conn.lock();
        assert_eq!(Store::prune_records(&conn, 10).expect("prune"), 980);
    }
}
