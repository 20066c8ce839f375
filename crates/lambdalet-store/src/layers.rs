//! Lambda layer versions: one row each, never removed. Deleting a version only flags it (the
//! functions that use it keep it, and its number is never given again); which of its code may
//! go is the control plane's question.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::db::Store;
use crate::error::StoreError;

/// One published version of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersionRecord {
    pub name: String,
    /// From 1, one more than the newest version the layer ever had.
    pub version: u64,
    pub code_sha256: String,
    /// Size of the zip (`Content.CodeSize`).
    pub code_size: u64,
    /// What the zip unpacks to, counted in a function's 250 MB.
    pub unzipped_size: u64,
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub created_ms: u64,
    /// Deleted by DeleteLayerVersion: no longer listed or given to new functions.
    pub deleted: bool,
}

const COLUMNS: &str = "name, version, code_sha256, code_size, unzipped_size, description, \
     runtimes, architectures, license, created_ms, deleted";

/// A row as read, before its JSON lists are parsed.
type RawRow = (LayerVersionRecord, String, String);

fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        LayerVersionRecord {
            name: row.get(0)?,
            version: row.get::<_, i64>(1)? as u64,
            code_sha256: row.get(2)?,
            code_size: row.get::<_, i64>(3)? as u64,
            unzipped_size: row.get::<_, i64>(4)? as u64,
            description: row.get(5)?,
            compatible_runtimes: Vec::new(),
            compatible_architectures: Vec::new(),
            license_info: row.get(8)?,
            created_ms: row.get::<_, i64>(9)? as u64,
            deleted: row.get::<_, i64>(10)? != 0,
        },
        row.get(6)?,
        row.get(7)?,
    ))
}

fn finish((mut r, runtimes, architectures): RawRow) -> Result<LayerVersionRecord, StoreError> {
    let corrupt = |e: serde_json::Error| {
        StoreError::Corrupt(format!("layer version {}:{}: {e}", r.name, r.version))
    };
    r.compatible_runtimes = serde_json::from_str(&runtimes).map_err(corrupt)?;
    r.compatible_architectures = serde_json::from_str(&architectures).map_err(corrupt)?;
    Ok(r)
}

impl Store {
    /// Stores `v` (whose `version` is ignored) as its layer's next version and returns the
    /// stored record: version 1 for a new layer, else one more than any version it had.
    pub fn insert_layer_version(
        &self,
        v: &LayerVersionRecord,
    ) -> Result<LayerVersionRecord, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let newest: Option<i64> = tx
            .query_row(
                "SELECT MAX(version) FROM layer_versions WHERE name = ?1",
                [&v.name],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let mut stored = v.clone();
        stored.version = newest.map_or(1, |n| n as u64 + 1);
        stored.deleted = false;
        tx.execute(
            &format!(
                "INSERT INTO layer_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)"
            ),
            params![
                stored.name,
                stored.version as i64,
                stored.code_sha256,
                stored.code_size as i64,
                stored.unzipped_size as i64,
                stored.description,
                serde_json::to_string(&stored.compatible_runtimes)?,
                serde_json::to_string(&stored.compatible_architectures)?,
                stored.license_info,
                stored.created_ms as i64,
            ],
        )?;
        tx.commit()?;
        Ok(stored)
    }

    /// Flags a layer version deleted. Returns false if there is no such version (or it was
    /// deleted already).
    pub fn delete_layer_version(&self, name: &str, version: u64) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "UPDATE layer_versions SET deleted = 1 WHERE name = ?1 AND version = ?2 AND deleted = 0",
            params![name, version as i64],
        )?;
        Ok(n > 0)
    }

    /// Every layer version, deleted ones included, by name and version.
    pub fn load_layer_versions(&self) -> Result<Vec<LayerVersionRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM layer_versions ORDER BY name, version"
        ))?;
        let rows = stmt
            .query_map([], from_row)?
            .map(|r| r.map_err(StoreError::from).and_then(finish))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, sha: &str) -> LayerVersionRecord {
        LayerVersionRecord {
            name: name.to_owned(),
            version: 0,
            code_sha256: sha.to_owned(),
            code_size: 10,
            unzipped_size: 30,
            description: "deps".to_owned(),
            compatible_runtimes: vec!["python3.12".to_owned(), "python3.11".to_owned()],
            compatible_architectures: vec!["x86_64".to_owned()],
            license_info: Some("MIT".to_owned()),
            created_ms: 7,
            deleted: false,
        }
    }

    #[test]
    fn versions_count_from_one_and_are_never_given_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = Store::open(dir.path()).expect("open");
            assert_eq!(
                s.insert_layer_version(&record("a", "aa"))
                    .expect("1")
                    .version,
                1
            );
            assert_eq!(
                s.insert_layer_version(&record("a", "bb"))
                    .expect("2")
                    .version,
                2
            );
            assert_eq!(
                s.insert_layer_version(&record("b", "aa"))
                    .expect("b1")
                    .version,
                1
            );
            assert!(s.delete_layer_version("a", 2).expect("delete"));
            assert!(
                !s.delete_layer_version("a", 2).expect("again"),
                "already deleted"
            );
            assert!(!s.delete_layer_version("a", 9).expect("missing"));
            assert_eq!(
                s.insert_layer_version(&record("a", "cc"))
                    .expect("3")
                    .version,
                3,
                "a deleted version's number is not given again"
            );
        }
        let s = Store::open(dir.path()).expect("reopen");
        let all = s.load_layer_versions().expect("load");
        let keys: Vec<(&str, u64, bool)> = all
            .iter()
            .map(|r| (r.name.as_str(), r.version, r.deleted))
            .collect();
        assert_eq!(
            keys,
            [
                ("a", 1, false),
                ("a", 2, true),
                ("a", 3, false),
                ("b", 1, false)
            ]
        );
        let first = &all[0];
        assert_eq!(first.compatible_runtimes, ["python3.12", "python3.11"]);
        assert_eq!(first.compatible_architectures, ["x86_64"]);
        assert_eq!(first.license_info.as_deref(), Some("MIT"));
        assert_eq!(
            (first.code_size, first.unzipped_size, first.created_ms),
            (10, 30, 7)
        );
    }
}
