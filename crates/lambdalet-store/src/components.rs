//! Greengrass components: the component store (every recipe a deployment brought, with the
//! hashes of its artifacts), the set of components deployed now, and the deployments.
//!
//! Rows only: parsing recipes, resolving dependencies and running components belong to
//! `lambdalet-components`. The deployed set is replaced whole in one transaction, so a
//! deployment is applied as one unit on disk too.

use rusqlite::{OptionalExtension, Row, params};

use crate::db::Store;
use crate::error::StoreError;

/// How many finished deployments are kept (Greengrass's CLI lists its last 10).
pub const KEPT_DEPLOYMENTS: usize = 50;

/// A recipe in the component store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeRecord {
    pub name: String,
    pub version: String,
    /// The file it came from (its extension says JSON or YAML).
    pub file_name: String,
    /// The recipe as written.
    pub text: String,
    /// `{"<artifact file name>": "<sha256 hex>"}`: what `ARTIFACT_DIR/NAME/VERSION/` held.
    pub artifacts_json: String,
    pub stored_ms: u64,
}

/// A component deployed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    pub name: String,
    pub version: String,
    /// The effective configuration (JSON).
    pub configuration_json: String,
    /// The deployment that last changed it.
    pub deployment_id: String,
    /// Whether a deployment asked for it (false: it is there as a dependency).
    pub requested: bool,
}

/// A deployment and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// `QUEUED`, `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The deployment document (JSON).
    pub document_json: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// What happened, step by step (JSON array of strings).
    pub detail_json: String,
}

const DEPLOYMENT_COLUMNS: &str = "id, created_ms, updated_ms, status, document, error, detail";

fn deployment_from_row(r: &Row<'_>) -> rusqlite::Result<DeploymentRecord> {
    Ok(DeploymentRecord {
        id: r.get(0)?,
        created_ms: r.get::<_, i64>(1)? as u64,
        updated_ms: r.get::<_, i64>(2)? as u64,
        status: r.get(3)?,
        document_json: r.get(4)?,
        error: r.get(5)?,
        detail_json: r.get(6)?,
    })
}

fn recipe_from_row(r: &Row<'_>) -> rusqlite::Result<RecipeRecord> {
    Ok(RecipeRecord {
        name: r.get(0)?,
        version: r.get(1)?,
        file_name: r.get(2)?,
        text: r.get(3)?,
        artifacts_json: r.get(4)?,
        stored_ms: r.get::<_, i64>(5)? as u64,
    })
}

const RECIPE_COLUMNS: &str = "name, version, file_name, text, artifacts, stored_ms";

impl Store {
    /// Stores recipes (replacing one of the same name and version, as a local deployment
    /// does) and the deployment that brought them, in one transaction.
    pub fn submit_deployment(
        &self,
        recipes: &[RecipeRecord],
        deployment: &DeploymentRecord,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        for r in recipes {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO component_recipes ({RECIPE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    r.name,
                    r.version,
                    r.file_name,
                    r.text,
                    r.artifacts_json,
                    r.stored_ms as i64
                ],
            )?;
        }
        tx.execute(
            &format!(
                "INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                deployment.id,
                deployment.created_ms as i64,
                deployment.updated_ms as i64,
                deployment.status,
                deployment.document_json,
                deployment.error,
                deployment.detail_json
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One recipe of the component store.
    pub fn recipe(&self, name: &str, version: &str) -> Result<Option<RecipeRecord>, StoreError> {
        Ok(self
            .conn
            .lock()
            .query_row(
                &format!(
                    "SELECT {RECIPE_COLUMNS} FROM component_recipes WHERE name = ?1 AND version = ?2"
                ),
                [name, version],
                recipe_from_row,
            )
            .optional()?)
    }

    /// Every stored version of a component (in no particular order).
    pub fn recipe_versions(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT version FROM component_recipes WHERE name = ?1")?;
        let rows = stmt.query_map([name], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every artifact hash a stored recipe refers to (the JSON maps, for the caller to read).
    pub fn recipe_artifact_maps(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT artifacts FROM component_recipes")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The components deployed now, by name.
    pub fn deployed_components(&self) -> Result<Vec<ComponentRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT name, version, configuration, deployment_id, requested FROM components ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ComponentRecord {
                name: r.get(0)?,
                version: r.get(1)?,
                configuration_json: r.get(2)?,
                deployment_id: r.get(3)?,
                requested: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the deployed set and finishes the deployment, in one transaction.
    pub fn finish_deployment(
        &self,
        components: Option<&[ComponentRecord]>,
        deployment: &DeploymentRecord,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        if let Some(components) = components {
            tx.execute("DELETE FROM components", [])?;
            for c in components {
                tx.execute(
                    "INSERT INTO components (name, version, configuration, deployment_id, requested) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        c.name,
                        c.version,
                        c.configuration_json,
                        c.deployment_id,
                        c.requested
                    ],
                )?;
            }
        }
        update_deployment(&tx, deployment)?;
        // Keep the newest finished deployments; queued and running ones always stay.
        tx.execute(
            "DELETE FROM deployments WHERE status IN ('SUCCEEDED', 'FAILED') AND id NOT IN (
                SELECT id FROM deployments WHERE status IN ('SUCCEEDED', 'FAILED')
                ORDER BY created_ms DESC, rowid DESC LIMIT ?1)",
            [KEPT_DEPLOYMENTS as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Updates a deployment's status, error and detail.
    pub fn update_deployment(&self, deployment: &DeploymentRecord) -> Result<(), StoreError> {
        update_deployment(&self.conn.lock(), deployment)
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Result<Option<DeploymentRecord>, StoreError> {
        Ok(self
            .conn
            .lock()
            .query_row(
                &format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?1"),
                [id],
                deployment_from_row,
            )
            .optional()?)
    }

    /// Deployments, newest first.
    pub fn deployments(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY created_ms DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map([], deployment_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn update_deployment(conn: &rusqlite::Connection, d: &DeploymentRecord) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE deployments SET updated_ms = ?2, status = ?3, error = ?4, detail = ?5 WHERE id = ?1",
        params![d.id, d.updated_ms as i64, d.status, d.error, d.detail_json],
    )?;
    if n == 0 {
        return Err(StoreError::Corrupt(format!(
            "deployment {} is not in the store",
            d.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, created_ms: u64, status: &str) -> DeploymentRecord {
        DeploymentRecord {
            id: id.to_owned(),
            created_ms,
            updated_ms: created_ms,
            status: status.to_owned(),
            document_json: "{}".to_owned(),
            error: None,
            detail_json: "[]".to_owned(),
        }
    }

    fn recipe(name: &str, version: &str) -> RecipeRecord {
        RecipeRecord {
            name: name.to_owned(),
            version: version.to_owned(),
            file_name: format!("{name}-{version}.yaml"),
            text: "x".to_owned(),
            artifacts_json: r#"{"a.zip":"00"}"#.to_owned(),
            stored_ms: 1,
        }
    }

    #[test]
    fn a_deployment_replaces_the_deployed_set_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.submit_deployment(
            &[recipe("a", "1.0.0"), recipe("b", "2.0.0")],
            &deployment("d1", 1, "QUEUED"),
        )
        .unwrap();
        assert_eq!(
            s.recipe("a", "1.0.0").unwrap().unwrap().file_name,
            "a-1.0.0.yaml"
        );
        assert_eq!(s.recipe_versions("b").unwrap(), ["2.0.0"]);
        let set = [ComponentRecord {
            name: "a".into(),
            version: "1.0.0".into(),
            configuration_json: "{}".into(),
            deployment_id: "d1".into(),
            requested: true,
        }];
        let mut d = deployment("d1", 1, "SUCCEEDED");
        d.updated_ms = 5;
        s.finish_deployment(Some(&set), &d).unwrap();
        assert_eq!(s.deployed_components().unwrap(), set);
        assert_eq!(s.deployment("d1").unwrap().unwrap().status, "SUCCEEDED");
        // A failed deployment leaves the set as it was.
        s.submit_deployment(&[], &deployment("d2", 2, "QUEUED"))
            .unwrap();
        s.finish_deployment(None, &deployment("d2", 2, "FAILED"))
            .unwrap();
        assert_eq!(s.deployed_components().unwrap(), set);
        let ids: Vec<String> = s.deployments().unwrap().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["d2", "d1"]);
    }

    #[test]
    fn old_finished_deployments_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        for i in 0..(KEPT_DEPLOYMENTS as u64 + 5) {
            let id = format!("d{i}");
            s.submit_deployment(&[], &deployment(&id, i, "QUEUED"))
                .unwrap();
            s.finish_deployment(None, &deployment(&id, i, "SUCCEEDED"))
                .unwrap();
        }
        s.submit_deployment(&[], &deployment("queued", 0, "QUEUED"))
            .unwrap();
        let all = s.deployments().unwrap();
        assert_eq!(all.len(), KEPT_DEPLOYMENTS + 1);
        assert!(all.iter().any(|d| d.id == "queued"));
        assert!(s.deployment("d0").unwrap().is_none());
    }
}
