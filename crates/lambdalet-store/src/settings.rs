//! Per-function settings beside the versions: reserved concurrency, provisioned concurrency
//! and event-invoke configurations. The store keeps them as given; their meaning and
//! validation belong to `lambdalet-control`.

use rusqlite::params;

use crate::db::Store;
use crate::error::StoreError;

/// A stored event-invoke configuration (the JSON is `lambdalet-control`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConfigRecord {
    pub function: String,
    pub qualifier: String,
    pub config_json: String,
    pub last_modified_ms: u64,
}

impl Store {
    /// A daemon-wide setting (a JSON document), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .lock()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Stores a daemon-wide setting.
    pub fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            [key, value],
        )?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) a function's reserved concurrency.
    pub fn set_reserved_concurrency(
        &self,
        function: &str,
        value: Option<u32>,
    ) -> Result<(), StoreError> {
        let n = self.conn.lock().execute(
            "UPDATE functions SET reserved_concurrency = ?2 WHERE name = ?1",
            params![function, value],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "function {function} not found"
            )));
        }
        Ok(())
    }

    /// Sets the provisioned concurrency of a function version or alias.
    pub fn put_provisioned(
        &self,
        function: &str,
        qualifier: &str,
        requested: u32,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO provisioned_concurrency (function, qualifier, requested, last_modified) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (function, qualifier) DO UPDATE SET requested = ?3, last_modified = ?4",
            params![function, qualifier, requested, now_ms as i64],
        )?;
        Ok(())
    }

    /// Removes a provisioned concurrency setting; false if there was none.
    pub fn delete_provisioned(&self, function: &str, qualifier: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM provisioned_concurrency WHERE function = ?1 AND qualifier = ?2",
            [function, qualifier],
        )?;
        Ok(n > 0)
    }

    /// Stores (replacing) an event-invoke configuration.
    pub fn put_event_config(&self, r: &EventConfigRecord) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO event_invoke_configs (function, qualifier, config, last_modified) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (function, qualifier) DO UPDATE SET config = ?3, last_modified = ?4",
            params![r.function, r.qualifier, r.config_json, r.last_modified_ms as i64],
        )?;
        Ok(())
    }

    /// Removes an event-invoke configuration; false if there was none.
    pub fn delete_event_config(&self, function: &str, qualifier: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM event_invoke_configs WHERE function = ?1 AND qualifier = ?2",
            [function, qualifier],
        )?;
        Ok(n > 0)
    }

    pub(crate) fn provisioned_of(
        conn: &rusqlite::Connection,
        function: &str,
    ) -> Result<Vec<(String, u32)>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT qualifier, requested FROM provisioned_concurrency WHERE function = ?1 ORDER BY qualifier",
        )?;
        let rows = stmt
            .query_map([function], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub(crate) fn event_configs_of(
        conn: &rusqlite::Connection,
        function: &str,
    ) -> Result<Vec<EventConfigRecord>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT function, qualifier, config, last_modified FROM event_invoke_configs WHERE function = ?1 ORDER BY qualifier",
        )?;
        let rows = stmt
            .query_map([function], |r| {
                Ok(EventConfigRecord {
                    function: r.get(0)?,
                    qualifier: r.get(1)?,
                    config_json: r.get(2)?,
                    last_modified_ms: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
