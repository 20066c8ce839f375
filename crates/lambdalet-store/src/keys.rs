//! Access keys: administrators' keys (`lambdalet keys create`) and each function's own
//! credentials. The secret is stored sealed (`lambdalet-auth`'s `MasterKey`, whose key lives
//! in a file of its own beside the database): the store keeps it as given and never sees it in
//! the clear.

use rusqlite::{OptionalExtension, Row, params};

use crate::db::Store;
use crate::error::StoreError;

/// One access key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The access key id (`LKIA…`).
    pub id: String,
    /// The secret access key, sealed.
    pub sealed_secret: String,
    /// The function whose own credentials these are; `None`: an administrator's key.
    pub function: Option<String>,
    pub description: String,
    pub created_ms: u64,
}

const COLUMNS: &str = "id, sealed_secret, function, description, created_ms";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.get(0)?,
        sealed_secret: row.get(1)?,
        function: row.get(2)?,
        description: row.get(3)?,
        created_ms: row.get::<_, i64>(4)? as u64,
    })
}

impl Store {
    /// Stores a new key. A function's key is removed with the function.
    pub fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        insert_key(&self.conn.lock(), k)
    }

    /// One key by its id.
    pub fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self
            .conn
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM access_keys WHERE id = ?1"),
                [id],
                key_from_row,
            )
            .optional()?)
    }

    /// Every key, administrators' first, oldest first.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM access_keys ORDER BY function IS NOT NULL, created_ms, id"
        ))?;
        let rows = stmt.query_map([], key_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a key. Returns false if there was none.
    pub fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .lock()
            .execute("DELETE FROM access_keys WHERE id = ?1", [id])?
            > 0)
    }
}

pub(crate) fn insert_key(conn: &rusqlite::Connection, k: &KeyRecord) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO access_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            k.id,
            k.sealed_secret,
            k.function,
            k.description,
            k.created_ms as i64
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, function: Option<&str>) -> KeyRecord {
        KeyRecord {
            id: id.to_owned(),
            sealed_secret: format!("sealed-{id}"),
            function: function.map(str::to_owned),
            description: String::new(),
            created_ms: 1,
        }
    }

    #[test]
    fn keys_are_kept_listed_and_go_with_their_function() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        s.insert_function(&crate::functions::tests::function("f"))
            .expect("function");
        s.insert_key(&key("LKIAADMIN", None)).expect("admin key");
        s.insert_key(&key("LKIAFUNC", Some("f")))
            .expect("function key");
        assert!(
            s.insert_key(&key("LKIAADMIN", None)).is_err(),
            "ids are unique"
        );
        assert!(
            s.insert_key(&key("LKIANONE", Some("missing"))).is_err(),
            "a function's key needs the function"
        );
        let ids: Vec<String> = s.keys().expect("list").into_iter().map(|k| k.id).collect();
        assert_eq!(ids, ["LKIAADMIN", "LKIAFUNC"]);
        assert_eq!(
            s.key("LKIAFUNC")
                .expect("get")
                .expect("some")
                .function
                .as_deref(),
            Some("f")
        );
        assert!(s.delete_function("f").expect("delete"));
        assert_eq!(
            s.key("LKIAFUNC").expect("get"),
            None,
            "deleted with its function"
        );
        assert!(s.delete_key("LKIAADMIN").expect("delete"));
        assert!(!s.delete_key("LKIAADMIN").expect("delete again"));
    }
}
