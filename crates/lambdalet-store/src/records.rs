//! Invocation log records: what `lambdalet logs` and `--log-type Tail` read.

use rusqlite::params;

use crate::db::Store;
use crate::error::StoreError;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The function reported an error (`/runtime/invocation/{id}/error`).
    FunctionError,
    Timeout,
    /// The runtime exited during the invocation.
    Crash,
    /// The runtime failed before it could take the event (init error, init timeout, launch failure).
    InitError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::FunctionError => "error",
            Self::Timeout => "timeout",
            Self::Crash => "crash",
            Self::InitError => "init-error",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "success" => Self::Success,
            "timeout" => Self::Timeout,
            "crash" => Self::Crash,
            "init-error" => Self::InitError,
            _ => Self::FunctionError,
        }
    }
}

/// One invocation's log: the START line, the function's output, END and REPORT.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    /// Assigned by the store; 0 for a record not yet written.
    pub id: i64,
    pub request_id: String,
    pub function: String,
    pub version: String,
    pub started_ms: u64,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub log: String,
}

impl Store {
    pub(crate) fn insert_records(
        conn: &mut rusqlite::Connection,
        records: &[InvocationRecord],
    ) -> Result<(), StoreError> {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO invocations (request_id, function, version, started_ms, duration_ms, outcome, log)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in records {
                stmt.execute(params![
                    r.request_id,
                    r.function,
                    r.version,
                    r.started_ms as i64,
                    r.duration_ms,
                    r.outcome.as_str(),
                    r.log
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps the newest `keep` records of every function and deletes the rest.
    pub(crate) fn prune_records(
        conn: &rusqlite::Connection,
        keep: usize,
    ) -> Result<usize, StoreError> {
        let n = conn.execute(
            "DELETE FROM invocations WHERE id IN (
                SELECT id FROM (
                    SELECT id, ROW_NUMBER() OVER (PARTITION BY function ORDER BY id DESC) AS rn
                    FROM invocations
                ) WHERE rn > ?1
            )",
            [keep as i64],
        )?;
        Ok(n)
    }

    /// The newest `limit` records of `function` with an id above `after_id`, oldest first.
    pub fn recent_invocations(
        &self,
        function: &str,
        limit: usize,
        after_id: i64,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, request_id, function, version, started_ms, duration_ms, outcome, log
             FROM invocations WHERE function = ?1 AND id > ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let mut records = stmt
            .query_map(params![function, after_id, limit as i64], |r| {
                Ok(InvocationRecord {
                    id: r.get(0)?,
                    request_id: r.get(1)?,
                    function: r.get(2)?,
                    version: r.get(3)?,
                    started_ms: r.get::<_, i64>(4)? as u64,
                    duration_ms: r.get(5)?,
                    outcome: Outcome::parse(&r.get::<_, String>(6)?),
                    log: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }
}
