//! Functions, their versions (`$LATEST` and published) and aliases.

use std::collections::BTreeMap;

use lambdalet_core::FunctionConfig;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::db::Store;
use crate::error::StoreError;

/// The mutable, unpublished version every function has.
pub const LATEST: &str = "$LATEST";

/// One version of a function: `$LATEST` or a published number.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub function: String,
    pub version: String,
    pub config: FunctionConfig,
    pub code_sha256: String,
    pub code_size: u64,
    pub revision_id: String,
    pub last_modified_ms: u64,
    /// The function's sandbox identity (a column of `functions`, not of `versions`): given
    /// by [`Store::insert_function`], filled in by every read.
    pub uid_index: u32,
}

/// A function: its name, tags, and its `$LATEST` version.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRecord {
    pub name: String,
    pub created_ms: u64,
    pub tags: BTreeMap<String, String>,
    pub latest: VersionRecord,
}

/// An alias: a name that points at a version, optionally splitting traffic with a second one.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub function: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// Additional version → weight (0.0–1.0).
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A function with everything that belongs to it, as loaded at start.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFunction {
    pub function: FunctionRecord,
    /// Published versions, in order.
    pub versions: Vec<VersionRecord>,
    pub aliases: Vec<AliasRecord>,
    pub reserved_concurrency: Option<u32>,
    /// Qualifier → requested provisioned concurrency.
    pub provisioned: Vec<(String, u32)>,
    pub event_configs: Vec<crate::settings::EventConfigRecord>,
    /// Resource-based policies, by qualifier.
    pub policies: Vec<crate::policies::PolicyRecord>,
}

const VERSION_COLUMNS: &str =
    "function, version, config, code_sha256, code_size, revision_id, last_modified";

/// A version row as read, before its JSON config is parsed.
struct RawVersion {
    function: String,
    version: String,
    config: String,
    code_sha256: String,
    code_size: i64,
    revision_id: String,
    last_modified: i64,
}

fn version_from_row(row: &Row<'_>) -> rusqlite::Result<RawVersion> {
    Ok(RawVersion {
        function: row.get(0)?,
        version: row.get(1)?,
        config: row.get(2)?,
        code_sha256: row.get(3)?,
        code_size: row.get(4)?,
        revision_id: row.get(5)?,
        last_modified: row.get(6)?,
    })
}

/// Parses the config after the row is read, so a bad config becomes a `StoreError::Corrupt`
/// naming the function instead of an opaque SQLite error.
fn finish_version(raw: RawVersion) -> Result<VersionRecord, StoreError> {
    let config = serde_json::from_str(&raw.config).map_err(|e| {
        StoreError::Corrupt(format!("config of {}:{}: {e}", raw.function, raw.version))
    })?;
    Ok(VersionRecord {
        function: raw.function,
        version: raw.version,
        config,
        code_sha256: raw.code_sha256,
        code_size: raw.code_size as u64,
        revision_id: raw.revision_id,
        last_modified_ms: raw.last_modified as u64,
        uid_index: 0,
    })
}

fn alias_from_row(row: &Row<'_>) -> rusqlite::Result<(AliasRecord, String)> {
    Ok((
        AliasRecord {
            function: row.get(0)?,
            name: row.get(1)?,
            function_version: row.get(2)?,
            description: row.get(3)?,
            routing: BTreeMap::new(),
            revision_id: row.get(5)?,
        },
        row.get(4)?,
    ))
}

fn finish_alias((mut a, routing): (AliasRecord, String)) -> Result<AliasRecord, StoreError> {
    a.routing = serde_json::from_str(&routing)?;
    Ok(a)
}

fn insert_version(tx: &rusqlite::Connection, v: &VersionRecord) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            v.function,
            v.version,
            serde_json::to_string(&v.config)?,
            v.code_sha256,
            v.code_size as i64,
            v.revision_id,
            v.last_modified_ms as i64
        ],
    )?;
    Ok(())
}

// Write transactions here read before they write: they are IMMEDIATE, so they take the write
// lock at BEGIN (waiting under the busy timeout) instead of failing at once with "database is
// locked" when another connection (the log writer, the queue) committed since their read.
impl Store {
    /// Inserts a new function with its `$LATEST` version and returns the sandbox identity it
    /// was given (never one a function had before). Fails with `Conflict` if it exists.
    pub fn insert_function(&self, f: &FunctionRecord) -> Result<u32, StoreError> {
        self.insert_function_with_key(f, None)
    }

    /// [`Store::insert_function`], storing the function's own access key in the same
    /// transaction, so a function never exists without its credentials.
    pub fn insert_function_with_key(
        &self,
        f: &FunctionRecord,
        key: Option<&crate::KeyRecord>,
    ) -> Result<u32, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: Option<String> = tx
            .query_row(
                "SELECT value FROM settings WHERE key = 'nextUidIndex'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let uid_index: u32 = match next {
            None => 0,
            Some(n) => n
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("settings.nextUidIndex is {n:?}")))?,
        };
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO functions (name, created_ms, tags, uid_index) VALUES (?1, ?2, ?3, ?4)",
            params![f.name, f.created_ms as i64, serde_json::to_string(&f.tags)?, uid_index],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "function {} already exists",
                f.name
            )));
        }
        insert_version(&tx, &f.latest)?;
        if let Some(k) = key {
            crate::keys::insert_key(&tx, k)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('nextUidIndex', ?1)",
            [(uid_index + 1).to_string()],
        )?;
        tx.commit()?;
        Ok(uid_index)
    }

    /// Replaces `$LATEST` of an existing function.
    pub fn update_latest(&self, v: &VersionRecord) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let n = conn.execute(
            "UPDATE versions SET config = ?3, code_sha256 = ?4, code_size = ?5, revision_id = ?6,
                 last_modified = ?7 WHERE function = ?1 AND version = ?2",
            params![
                v.function,
                LATEST,
                serde_json::to_string(&v.config)?,
                v.code_sha256,
                v.code_size as i64,
                v.revision_id,
                v.last_modified_ms as i64
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "function {} not found",
                v.function
            )));
        }
        Ok(())
    }

    /// Publishes `v` (whose `version` is ignored) as the function's next version number and
    /// returns the stored record. Version numbers are never reused, even after deletion.
    pub fn publish_version(&self, v: &VersionRecord) -> Result<VersionRecord, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: Option<i64> = tx
            .query_row(
                "SELECT next_version FROM functions WHERE name = ?1",
                [&v.function],
                |r| r.get(0),
            )
            .optional()?;
        let next =
            next.ok_or_else(|| StoreError::NotFound(format!("function {} not found", v.function)))?;
        let mut published = v.clone();
        published.version = next.to_string();
        insert_version(&tx, &published)?;
        tx.execute(
            "UPDATE functions SET next_version = ?2 WHERE name = ?1",
            params![v.function, next + 1],
        )?;
        tx.commit()?;
        Ok(published)
    }

    /// Sets a function's tags.
    pub fn set_tags(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "UPDATE functions SET tags = ?2 WHERE name = ?1",
            params![name, serde_json::to_string(tags)?],
        )?;
        Ok(())
    }

    /// Deletes a function with all its versions and aliases. Returns false if it did not exist.
    pub fn delete_function(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM aliases WHERE function = ?1", [name])?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function = ?1",
            [name],
        )?;
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE function = ?1",
            [name],
        )?;
        tx.execute("DELETE FROM function_policies WHERE function = ?1", [name])?;
        tx.execute("DELETE FROM versions WHERE function = ?1", [name])?;
        let n = tx.execute("DELETE FROM functions WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Deletes one published version. Returns false if it did not exist.
    pub fn delete_version(&self, name: &str, version: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM versions WHERE function = ?1 AND version = ?2",
            [name, version],
        )?;
        Ok(n > 0)
    }

    /// Every function with all versions and aliases, for rebuilding the in-memory table at start.
    pub fn load_all(&self) -> Result<Vec<StoredFunction>, StoreError> {
        let conn = self.conn.lock();
        let mut functions = Vec::new();
        let mut stmt = conn.prepare(
            "SELECT name, created_ms, tags, reserved_concurrency, uid_index FROM functions ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<u32>>(3)?,
                r.get::<_, Option<u32>>(4)?.unwrap_or(0),
            ))
        })?;
        let heads: Vec<_> = rows.collect::<Result<_, _>>()?;
        let mut vstmt = conn.prepare(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE function = ?1"
        ))?;
        let mut astmt = conn.prepare(
            "SELECT function, name, function_version, description, routing, revision_id
             FROM aliases WHERE function = ?1 ORDER BY name",
        )?;
        for (name, created_ms, tags, reserved_concurrency, uid_index) in heads {
            let versions = vstmt
                .query_map([&name], version_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(finish_version))
                .map(|r| r.map(|v| VersionRecord { uid_index, ..v }))
                .collect::<Result<Vec<_>, _>>()?;
            let aliases = astmt
                .query_map([&name], alias_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(finish_alias))
                .collect::<Result<Vec<_>, _>>()?;
            let (mut latest, mut published): (Vec<_>, Vec<_>) =
                versions.into_iter().partition(|v| v.version == LATEST);
            let latest = latest.pop().ok_or_else(|| {
                StoreError::Corrupt(format!("function {name} has no $LATEST version"))
            })?;
            published.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(u64::MAX));
            let record = FunctionRecord {
                name,
                created_ms: created_ms as u64,
                tags: serde_json::from_str(&tags)?,
                latest,
            };
            let provisioned = Store::provisioned_of(&conn, &record.name)?;
            let event_configs = Store::event_configs_of(&conn, &record.name)?;
            let policies = Store::policies_of(&conn, &record.name)?;
            functions.push(StoredFunction {
                function: record,
                versions: published,
                aliases,
                reserved_concurrency,
                provisioned,
                event_configs,
                policies,
            });
        }
        Ok(functions)
    }

    /// Inserts an alias; `Conflict` if one of that name exists.
    pub fn insert_alias(&self, a: &AliasRecord) -> Result<(), StoreError> {
        let n = self.conn.lock().execute(
            "INSERT OR IGNORE INTO aliases (function, name, function_version, description, routing, revision_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                a.function,
                a.name,
                a.function_version,
                a.description,
                serde_json::to_string(&a.routing)?,
                a.revision_id
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "alias {} of function {} already exists",
                a.name, a.function
            )));
        }
        Ok(())
    }

    /// Replaces an existing alias.
    pub fn update_alias(&self, a: &AliasRecord) -> Result<(), StoreError> {
        let n = self.conn.lock().execute(
            "UPDATE aliases SET function_version = ?3, description = ?4, routing = ?5, revision_id = ?6
             WHERE function = ?1 AND name = ?2",
            params![
                a.function,
                a.name,
                a.function_version,
                a.description,
                serde_json::to_string(&a.routing)?,
                a.revision_id
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "alias {} of function {} not found",
                a.name, a.function
            )));
        }
        Ok(())
    }

    /// Deletes an alias. Returns false if it did not exist.
    pub fn delete_alias(&self, function: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM aliases WHERE function = ?1 AND name = ?2",
            [function, name],
        )?;
        Ok(n > 0)
    }

    /// Hashes of every zip some version still uses (everything else may be garbage-collected).
    pub fn referenced_code(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT DISTINCT code_sha256 FROM versions")?;
        let set = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(set)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn version(function: &str, sha: &str) -> VersionRecord {
        let config = FunctionConfig::create(lambdalet_core::FunctionConfigPatch {
            runtime: Some("provided".to_owned()),
            handler: Some("bootstrap".to_owned()),
            ..Default::default()
        })
        .expect("valid config");
        VersionRecord {
            function: function.to_owned(),
            version: LATEST.to_owned(),
            config,
            code_sha256: sha.to_owned(),
            code_size: 10,
            revision_id: "r1".to_owned(),
            last_modified_ms: 1,
            uid_index: 0,
        }
    }

    pub(crate) fn function(name: &str) -> FunctionRecord {
        FunctionRecord {
            name: name.to_owned(),
            created_ms: 1,
            tags: BTreeMap::new(),
            latest: version(name, "aa"),
        }
    }

    #[test]
    fn functions_versions_and_aliases_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = Store::open(dir.path()).expect("open");
            assert_eq!(s.insert_function(&function("e")).expect("insert"), 0);
            assert!(s.delete_function("e").expect("delete"));
            assert_eq!(
                s.insert_function(&function("f")).expect("insert"),
                1,
                "a deleted function's identity is not given again"
            );
            assert!(matches!(
                s.insert_function(&function("f")),
                Err(StoreError::Conflict(_))
            ));
            let mut v = version("f", "bb");
            v.revision_id = "r2".to_owned();
            s.update_latest(&v).expect("update");
            let p1 = s.publish_version(&v).expect("publish");
            assert_eq!(p1.version, "1");
            assert!(s.delete_version("f", "1").expect("delete"));
            let p2 = s.publish_version(&v).expect("publish again");
            assert_eq!(p2.version, "2", "version numbers are never reused");
            let mut routing = BTreeMap::new();
            routing.insert("1".to_owned(), 0.25);
            let alias = AliasRecord {
                function: "f".into(),
                name: "prod".into(),
                function_version: "2".into(),
                description: String::new(),
                routing,
                revision_id: "a1".into(),
            };
            s.insert_alias(&alias).expect("alias");
            assert!(s.insert_alias(&alias).is_err());
        }
        let s = Store::open(dir.path()).expect("reopen");
        let all = s.load_all().expect("load");
        assert_eq!(all.len(), 1);
        let StoredFunction {
            function: f,
            versions,
            aliases,
            ..
        } = &all[0];
        assert_eq!(f.latest.code_sha256, "bb");
        assert_eq!(f.latest.uid_index, 1);
        assert!(versions.iter().all(|v| v.uid_index == 1));
        assert_eq!(
            versions
                .iter()
                .map(|v| v.version.as_str())
                .collect::<Vec<_>>(),
            ["2"]
        );
        assert_eq!(aliases[0].routing.get("1"), Some(&0.25));
        assert_eq!(s.referenced_code().expect("refs").len(), 1);
        assert!(s.delete_function("f").expect("delete"));
        assert!(s.load_all().expect("load").is_empty());
    }
}
