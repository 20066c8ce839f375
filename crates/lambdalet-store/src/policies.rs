//! Functions' resource-based policies (AddPermission), one row per function and qualifier. The
//! store keeps the statements as `lambdalet-control` gives them (JSON); their meaning belongs
//! there.

use rusqlite::params;

use crate::db::Store;
use crate::error::StoreError;

/// The qualifier of the policy of the function itself (no version or alias).
pub const UNQUALIFIED: &str = "";

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub function: String,
    /// A version, an alias, or [`UNQUALIFIED`].
    pub qualifier: String,
    /// The statements, a JSON array.
    pub statements_json: String,
    pub revision_id: String,
}

impl Store {
    /// Stores (replacing) a policy.
    pub fn put_policy(&self, r: &PolicyRecord) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO function_policies (function, qualifier, statements, revision_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (function, qualifier) DO UPDATE SET statements = ?3, revision_id = ?4",
            params![r.function, r.qualifier, r.statements_json, r.revision_id],
        )?;
        Ok(())
    }

    /// Removes a policy (its last statement went); false if there was none.
    pub fn delete_policy(&self, function: &str, qualifier: &str) -> Result<bool, StoreError> {
        let n = self.conn.lock().execute(
            "DELETE FROM function_policies WHERE function = ?1 AND qualifier = ?2",
            [function, qualifier],
        )?;
        Ok(n > 0)
    }

    pub(crate) fn policies_of(
        conn: &rusqlite::Connection,
        function: &str,
    ) -> Result<Vec<PolicyRecord>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT function, qualifier, statements, revision_id FROM function_policies WHERE function = ?1 ORDER BY qualifier",
        )?;
        let rows = stmt
            .query_map([function], |r| {
                Ok(PolicyRecord {
                    function: r.get(0)?,
                    qualifier: r.get(1)?,
                    statements_json: r.get(2)?,
                    revision_id: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::tests::function;

    #[test]
    fn policies_are_kept_per_qualifier_and_go_with_their_function() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        s.insert_function(&function("f")).expect("insert");
        let record = |q: &str, rev: &str| PolicyRecord {
            function: "f".into(),
            qualifier: q.into(),
            statements_json: format!("[{{\"Sid\":\"{q}\"}}]"),
            revision_id: rev.into(),
        };
        s.put_policy(&record(UNQUALIFIED, "r1")).expect("put");
        s.put_policy(&record("live", "r2")).expect("put alias");
        s.put_policy(&record(UNQUALIFIED, "r3")).expect("replace");
        let all = s.load_all().expect("load");
        let policies = &all[0].policies;
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[0], record(UNQUALIFIED, "r3"));
        assert!(s.delete_policy("f", "live").expect("delete"));
        assert!(!s.delete_policy("f", "live").expect("gone"));
        assert!(s.delete_function("f").expect("delete function"));
        let left: i64 = s
            .conn
            .lock()
            .query_row("SELECT COUNT(*) FROM function_policies", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
    }
}
