//! Opening the database, its schema and migrations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::Connection;

use crate::error::StoreError;

/// Schema version this build writes; older databases are migrated forward at open.
const SCHEMA_VERSION: i64 = 11;

const SCHEMA_V1: &str = "
CREATE TABLE functions (
    name          TEXT PRIMARY KEY,
    created_ms    INTEGER NOT NULL,
    tags          TEXT NOT NULL DEFAULT '{}',
    next_version  INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE versions (
    function      TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    config        TEXT NOT NULL,
    code_sha256   TEXT NOT NULL,
    code_size     INTEGER NOT NULL,
    revision_id   TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (function, version)
);
CREATE TABLE aliases (
    function         TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    function_version TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    routing          TEXT NOT NULL DEFAULT '{}',
    revision_id      TEXT NOT NULL,
    PRIMARY KEY (function, name)
);
CREATE TABLE invocations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL,
    function    TEXT NOT NULL,
    version     TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    outcome     TEXT NOT NULL,
    log         TEXT NOT NULL
);
CREATE INDEX invocations_by_function ON invocations(function, id);
";

/// Version 2: the execution model. Concurrency settings, event-invoke configurations and the
/// durable queue of asynchronous events.
const SCHEMA_V2: &str = "
ALTER TABLE functions ADD COLUMN reserved_concurrency INTEGER;
CREATE TABLE provisioned_concurrency (
    function   TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier  TEXT NOT NULL,
    requested  INTEGER NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (function, qualifier)
);
CREATE TABLE event_invoke_configs (
    function   TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier  TEXT NOT NULL,
    config     TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (function, qualifier)
);
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

/// A handle to the state database. Cheap to clone; operations are serialized on one
/// connection (they are short), so callers on async threads should use `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    pub(crate) conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens `<dir>/state.db`, creating the directory and the schema as needed.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("state.db");
        private_file(&path)?;
        let conn = open_connection(&path)?;
        migrate(&conn)?;
        // SQLite gives the WAL and shared-memory files the database's mode; older data
        // directories may still have looser ones.
        for extra in ["state.db-wal", "state.db-shm"] {
            let p = dir.join(extra);
            if p.exists() {
                private_file(&p)?;
            }
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second connection to the same database, for a writer thread.
    pub(crate) fn open_sibling(&self) -> Result<Connection, StoreError> {
        open_connection(&self.path)
    }

    /// Runs a trivial query: the database answers (for the service watchdog).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn.lock().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Flushes the WAL into the main file; called at shutdown so the file is self-contained.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .lock()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// Creates `path` if missing and makes it readable by its owner only (it holds every
/// function's environment variables, pending events and secrets), whatever the umask.
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)
}

pub(crate) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL + synchronous=NORMAL: durable across process crashes (kill -9), and a committed
    // transaction survives power loss once the WAL is checkpointed. FULL for the async queue
    // is chosen per transaction where it matters. For flash storage: the WAL is checkpointed
    // every 1000 pages (4 MB, SQLite's default, written once more into the database) and its
    // file is cut back to 4 MB after a checkpoint if a long read let it grow, so it is reused
    // in place rather than grown and truncated.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
         PRAGMA wal_autocheckpoint=1000; PRAGMA journal_size_limit=4194304;",
    )?;
    Ok(conn)
}

/// Version 3: daemon-wide settings as JSON documents (the legacy subscriptions, ...).
const SCHEMA_V3: &str = "
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Version 4: each function's sandbox identity (`uid_index`: its sandboxes run as the uid
/// `--sandbox-uid-base` + this), given at creation and never reused after a deletion, so files a
/// function leaves in a volume are never readable as another function's. Existing functions are
/// numbered in creation order.
const SCHEMA_V4: &str = "
ALTER TABLE functions ADD COLUMN uid_index INTEGER;
UPDATE functions SET uid_index = (
    SELECT COUNT(*) FROM functions AS f2
    WHERE (f2.created_ms, f2.name) < (functions.created_ms, functions.name)
);
INSERT OR REPLACE INTO settings (key, value)
    SELECT 'nextUidIndex', CAST(COUNT(*) AS TEXT) FROM functions;
";

/// Version 5: access keys (administrators' and each function's own), secrets sealed.
const SCHEMA_V5: &str = "
CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    sealed_secret TEXT NOT NULL,
    function      TEXT REFERENCES functions(name) ON DELETE CASCADE,
    description   TEXT NOT NULL DEFAULT '',
    created_ms    INTEGER NOT NULL
);
CREATE INDEX access_keys_by_function ON access_keys(function);
";

/// Version 6: Greengrass components. The component store (recipes as written, with the hashes
/// of their artifacts), the deployed set and the deployments.
const SCHEMA_V6: &str = "
CREATE TABLE component_recipes (
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    text       TEXT NOT NULL,
    artifacts  TEXT NOT NULL DEFAULT '{}',
    stored_ms  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE components (
    name          TEXT PRIMARY KEY,
    version       TEXT NOT NULL,
    configuration TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    requested     INTEGER NOT NULL
);
CREATE TABLE deployments (
    id         TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    status     TEXT NOT NULL,
    document   TEXT NOT NULL,
    error      TEXT,
    detail     TEXT NOT NULL DEFAULT '[]'
);
";

/// Version 7: Lambda layer versions. A deleted version keeps its row (flagged) while functions
/// may use it, and so that its number is never given again.
const SCHEMA_V7: &str = "
CREATE TABLE layer_versions (
    name          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    code_sha256   TEXT NOT NULL,
    code_size     INTEGER NOT NULL,
    unzipped_size INTEGER NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    runtimes      TEXT NOT NULL DEFAULT '[]',
    architectures TEXT NOT NULL DEFAULT '[]',
    license       TEXT,
    created_ms    INTEGER NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
";

/// Version 8: functions' resource-based policies (AddPermission), one row per function and
/// qualifier (`''` for the function itself), its statements as JSON.
const SCHEMA_V8: &str = "
CREATE TABLE function_policies (
    function    TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier   TEXT NOT NULL,
    statements  TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    PRIMARY KEY (function, qualifier)
);
";

/// Version 9: EventBridge Scheduler's schedule groups and schedules (`definition`: the validated
/// schedule in the API's JSON shape; `from_ms`: no fire before it (the last create or update);
/// `anchor_ms`: where a rate counts from; `last_fire_ms`: the scheduled time of the last fire,
/// written in the transaction that queues its event), the `default` group, and a per-event
/// delivery policy (a schedule's `RetryPolicy` and dead-letter target) on queued events.
const SCHEMA_V9: &str = "
CREATE TABLE schedule_groups (
    name         TEXT PRIMARY KEY,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    client_token TEXT
);
INSERT INTO schedule_groups (name, created_ms, modified_ms)
    VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
            CAST(strftime('%s', 'now') AS INTEGER) * 1000);
CREATE TABLE schedules (
    group_name   TEXT NOT NULL REFERENCES schedule_groups(name) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    from_ms      INTEGER NOT NULL,
    anchor_ms    INTEGER NOT NULL,
    last_fire_ms INTEGER,
    PRIMARY KEY (group_name, name)
);
ALTER TABLE async_events ADD COLUMN delivery TEXT;
";

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version} is newer than this lambdalet understands ({SCHEMA_VERSION}); upgrade lambdalet"
        )));
    }
    if version < 1 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    if version < 2 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V2} PRAGMA user_version = 2; COMMIT;"
        ))?;
    }
    if version < 3 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V3} PRAGMA user_version = 3; COMMIT;"
        ))?;
    }
    if version < 4 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V4} PRAGMA user_version = 4; COMMIT;"
        ))?;
    }
    if version < 5 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V5} PRAGMA user_version = 5; COMMIT;"
        ))?;
    }
    if version < 6 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V6} PRAGMA user_version = 6; COMMIT;"
        ))?;
    }
    if version < 7 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V7} PRAGMA user_version = 7; COMMIT;"
        ))?;
    }
    if version < 8 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V8} PRAGMA user_version = 8; COMMIT;"
        ))?;
    }
    if version < 9 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V9} PRAGMA user_version = 9; COMMIT;"
        ))?;
    }
    // Function URLs (see `urls.rs`); self-contained, so it may follow any earlier step.
    if version < 11 {
        let v11 = crate::urls::SCHEMA_V11;
        conn.execute_batch(&format!("BEGIN; {v11} PRAGMA user_version = 11; COMMIT;"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("state.db"), b"").expect("create");
        let loose = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(dir.path().join("state.db"), loose).expect("chmod");
        let s = Store::open(dir.path()).expect("open");
        s.put_setting("k", "v").expect("write");
        for f in ["state.db", "state.db-wal"] {
            let mode = std::fs::metadata(dir.path().join(f))
                .expect(f)
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    #[test]
    fn opens_twice_and_keeps_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        drop(s);
        let s = Store::open(dir.path()).expect("reopen");
        let v: i64 = s
            .conn
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("read");
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn version_3_databases_number_their_functions_in_creation_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let conn = open_connection(&path).expect("open");
            conn.execute_batch(&format!(
                "{SCHEMA_V1} {SCHEMA_V2} {SCHEMA_V3} PRAGMA user_version = 3;
                 INSERT INTO functions (name, created_ms) VALUES ('late', 20), ('early', 10), ('b', 15), ('a', 15);"
            ))
            .expect("v3 schema");
        }
        let s = Store::open(dir.path()).expect("migrates");
        let conn = s.conn.lock();
        let order: Vec<(String, u32)> = conn
            .prepare("SELECT name, uid_index FROM functions ORDER BY uid_index")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["early", "a", "b", "late"]);
        assert_eq!(
            order.iter().map(|(_, i)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let next: String = conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'nextUidIndex'",
                [],
                |r| r.get(0),
            )
            .expect("counter");
        assert_eq!(next, "4");
    }
}
