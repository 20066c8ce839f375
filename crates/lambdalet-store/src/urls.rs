//! Function URL configurations: one per function (`$LATEST`) or alias, with the random id
//! that names the URL for the configuration's whole life. The store keeps them as given;
//! their meaning and validation belong to `lambdalet-control`.
//!
//! A configuration goes with what it is for: deleting the function deletes its rows (a
//! foreign key), deleting an alias deletes the alias's row (a trigger), so a URL never
//! outlives its target even if a caller forgets.

use rusqlite::{OptionalExtension, params};

use crate::db::Store;
use crate::error::StoreError;

/// Schema step 11: the `function_urls` table. Self-contained: it needs only `functions` and
/// `aliases` (version 1).
pub(crate) const SCHEMA_V11: &str = "
CREATE TABLE function_urls (
    function     TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier    TEXT NOT NULL,
    url_id       TEXT NOT NULL UNIQUE,
    auth_type    TEXT NOT NULL,
    cors         TEXT,
    invoke_mode  TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    PRIMARY KEY (function, qualifier)
);
CREATE TRIGGER function_urls_follow_aliases AFTER DELETE ON aliases
BEGIN
    DELETE FROM function_urls WHERE function = OLD.function AND qualifier = OLD.name;
END;
";

/// A stored function URL configuration (`cors` is `lambdalet-control`'s JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrlRecord {
    pub function: String,
    /// `$LATEST` (the function itself) or an alias name.
    pub qualifier: String,
    pub url_id: String,
    pub auth_type: String,
    pub cors_json: Option<String>,
    pub invoke_mode: String,
    pub created_ms: u64,
    pub modified_ms: u64,
}

const COLUMNS: &str =
    "function, qualifier, url_id, auth_type, cors, invoke_mode, created_ms, modified_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FunctionUrlRecord> {
    Ok(FunctionUrlRecord {
        function: r.get(0)?,
        qualifier: r.get(1)?,
        url_id: r.get(2)?,
        auth_type: r.get(3)?,
        cors_json: r.get(4)?,
        invoke_mode: r.get(5)?,
        created_ms: r.get::<_, i64>(6)? as u64,
        modified_ms: r.get::<_, i64>(7)? as u64,
    })
}

impl Store {
    /// Adds a configuration; a `Conflict` if its function and qualifier already have one.
    pub fn insert_function_url(&self, r: &FunctionUrlRecord) -> Result<(), StoreError> {
        let result = self.conn.lock().execute(
            &format!(
                "INSERT INTO function_urls ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                r.function,
                r.qualifier,
                r.url_id,
                r.auth_type,
                r.cors_json,
                r.invoke_mode,
                r.created_ms as i64,
                r.modified_ms as i64
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(format!(
                    "function {} already has a URL for {}",
                    r.function, r.qualifier
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Changes a configuration's settings (never its id or creation time).
    pub fn update_function_url(&self, r: &FunctionUrlRecord) -> Result<(), StoreError> {
        let n = self.conn.lock().execute(
            "UPDATE function_urls SET auth_type = ?3, cors = ?4, invoke_mode = ?5, modified_ms = ?6
             WHERE function = ?1 AND qualifier = ?2",
            params![
                r.function,
                r.qualifier,
                r.auth_type,
                r.cors_json,
                r.invoke_mode,
                r.modified_ms as i64
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "function {} has no URL for {}",
                r.function, r.qualifier
            )));
        }
        Ok(())
    }

    /// Removes a configuration; false if there was none.
    pub fn delete_function_url(&self, function: &str, qualifier: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM function_urls WHERE function = ?1 AND qualifier = ?2",
            [function, qualifier],
        )?;
        Ok(n > 0)
    }

    /// One configuration, if there is one.
    pub fn function_url(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<FunctionUrlRecord>, StoreError> {
        Ok(self
            .conn
            .lock()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM function_urls WHERE function = ?1 AND qualifier = ?2"
                ),
                [function, qualifier],
                row,
            )
            .optional()?)
    }

    /// Every configuration, by function and qualifier.
    pub fn load_function_urls(&self) -> Result<Vec<FunctionUrlRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM function_urls ORDER BY function, qualifier"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{AliasRecord, LATEST};

    fn record(function: &str, qualifier: &str, id: &str) -> FunctionUrlRecord {
        FunctionUrlRecord {
            function: function.into(),
            qualifier: qualifier.into(),
            url_id: id.into(),
            auth_type: "NONE".into(),
            cors_json: Some(r#"{"AllowOrigins":["*"]}"#.into()),
            invoke_mode: "BUFFERED".into(),
            created_ms: 1,
            modified_ms: 1,
        }
    }

    fn alias(function: &str, name: &str) -> AliasRecord {
        AliasRecord {
            function: function.into(),
            name: name.into(),
            function_version: LATEST.into(),
            description: String::new(),
            routing: Default::default(),
            revision_id: "r".into(),
        }
    }

    #[test]
    fn urls_are_kept_changed_and_follow_their_function_and_alias() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        s.insert_function(&crate::functions::tests::function("f"))
            .expect("function");
        s.insert_alias(&alias("f", "live")).expect("alias");
        s.insert_function_url(&record("f", LATEST, "a1"))
            .expect("insert");
        s.insert_function_url(&record("f", "live", "a2"))
            .expect("insert alias url");
        let again = s.insert_function_url(&record("f", LATEST, "a3"));
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        let same_id = s.insert_function_url(&record("f", "other", "a1"));
        assert!(
            matches!(same_id, Err(StoreError::Conflict(_))),
            "{same_id:?}"
        );

        let mut changed = record("f", LATEST, "ignored");
        changed.auth_type = "AWS_IAM".into();
        changed.cors_json = None;
        changed.modified_ms = 5;
        s.update_function_url(&changed).expect("update");
        let got = s.function_url("f", LATEST).expect("read").expect("there");
        assert_eq!(
            (
                got.url_id.as_str(),
                got.auth_type.as_str(),
                got.cors_json,
                got.created_ms,
                got.modified_ms
            ),
            ("a1", "AWS_IAM", None, 1, 5)
        );

        s.delete_alias("f", "live").expect("delete alias");
        assert!(s.function_url("f", "live").expect("read").is_none());
        s.delete_function("f").expect("delete function");
        assert!(s.load_function_urls().expect("load").is_empty());
        assert!(!s.delete_function_url("f", LATEST).expect("delete"));
    }
}
