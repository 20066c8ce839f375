//! What `component list|details|restart|stop` and `deployment list|status` answer.

use serde::Serialize;
use serde_json::Value;

use crate::engine::Components;
use crate::error::DeployError;
use crate::live::{self, Kind};

/// One component as `component list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub component_name: String,
    pub version: String,
    /// `NEW`, `INSTALLED`, `STARTING`, `RUNNING`, `STOPPING`, `FINISHED`, `ERRORED`, `BROKEN`.
    pub state: String,
    pub configuration: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `aws.greengrass.generic` or `aws.greengrass.lambda`.
    pub component_type: String,
    /// A Lambda component's function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// Whether a deployment asked for it (else it is a dependency).
    pub requested: bool,
    pub notes: Vec<String>,
    /// Where its output goes (generic components).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
}

/// One deployment as `deployment list|status` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    pub deployment_id: String,
    /// Milliseconds since the epoch.
    pub created_on: u64,
    pub updated_on: u64,
    /// `QUEUED`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`.
    pub status: String,
    /// Greengrass's detailed status: `SUCCESSFUL`, `FAILED_NO_STATE_CHANGE` (refused before
    /// anything changed) or `FAILED_ROLLBACK_COMPLETE` (a component failed; the previous set
    /// runs again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detailed_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_cause: Option<String>,
    pub detail: Vec<String>,
    pub document: Value,
}

impl Components {
    /// Every running component, in start order.
    pub fn list(&self) -> Vec<ComponentView> {
        let live = self.live.read().clone();
        live.iter()
            .map(|l| {
                let (state, last_error) = live::state_of(l, &self.control);
                let r = &l.resolved;
                ComponentView {
                    component_name: r.name.clone(),
                    version: r.version.clone(),
                    state,
                    configuration: r.configuration.clone(),
                    last_error,
                    component_type: r.recipe.component_type.as_str().to_owned(),
                    function_name: match &l.kind {
                        Kind::Lambda { function, .. } => Some(function.clone()),
                        Kind::Generic(_) => None,
                    },
                    requested: r.requested,
                    notes: l.notes.clone(),
                    log_file: matches!(l.kind, Kind::Generic(_))
                        .then(|| self.artifacts.log_file(&r.name).display().to_string()),
                }
            })
            .collect()
    }

    /// One component.
    pub fn details(&self, name: &str) -> Result<ComponentView, DeployError> {
        let all = self.list();
        let names: Vec<String> = all.iter().map(|c| c.component_name.clone()).collect();
        all.into_iter()
            .find(|c| c.component_name == name)
            .ok_or_else(|| not_deployed(name, &names))
    }

    /// Restarts components by name (a Lambda component's sandboxes are replaced), then the
    /// generic components that depend on them HARD, as Greengrass does.
    pub async fn restart(&self, names: &[String]) -> Result<(), DeployError> {
        let _held = self.applying.lock().await;
        let named = self.find(names)?;
        let all: Vec<live::Live> = self.live.read().clone();
        let resolved: Vec<_> = all.iter().map(|l| l.resolved.clone()).collect();
        let dependents = live::hard_dependents(&resolved, &names.iter().cloned().collect());
        let then = all
            .into_iter()
            .filter(|l| dependents.contains(&l.resolved.name));
        for l in named.into_iter().chain(then) {
            match &l.kind {
                Kind::Generic(r) => r.restart().await,
                Kind::Lambda { function, .. } => {
                    let _ = self.control.delete_reserved_concurrency(function).await;
                    self.control
                        .update_configuration(function, Default::default(), None)
                        .await
                        .map_err(|e| DeployError::Component(format!("{}: {e}", l.resolved.name)))?;
                }
            }
        }
        Ok(())
    }

    /// Stops components by name until they are restarted or deployed again. A stopped Lambda
    /// component's function takes no invocations (its reserved concurrency is 0).
    pub async fn stop(&self, names: &[String]) -> Result<(), DeployError> {
        let _held = self.applying.lock().await;
        for l in self.find(names)? {
            match &l.kind {
                Kind::Generic(r) => r.stop().await,
                Kind::Lambda { function, .. } => {
                    self.control
                        .put_reserved_concurrency(function, 0)
                        .await
                        .map_err(|e| DeployError::Component(format!("{}: {e}", l.resolved.name)))?;
                }
            }
        }
        Ok(())
    }

    fn find(&self, names: &[String]) -> Result<Vec<live::Live>, DeployError> {
        let live = self.live.read().clone();
        let all: Vec<String> = live.iter().map(|l| l.resolved.name.clone()).collect();
        names
            .iter()
            .map(|n| {
                live.iter()
                    .find(|l| &l.resolved.name == n)
                    .cloned()
                    .ok_or_else(|| not_deployed(n, &all))
            })
            .collect()
    }

    /// Deployments, newest first.
    pub fn deployments(&self) -> Result<Vec<DeploymentView>, DeployError> {
        Ok(self.store.deployments()?.into_iter().map(view).collect())
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Result<DeploymentView, DeployError> {
        self.store.deployment(id)?.map(view).ok_or_else(|| {
            DeployError::NotFound(format!(
                "no deployment {id}; `lambdalet deployment list` shows the recent ones"
            ))
        })
    }
}

fn view(d: lambdalet_store::DeploymentRecord) -> DeploymentView {
    let detailed_status = match (d.status.as_str(), &d.error) {
        ("SUCCEEDED", _) => Some("SUCCESSFUL"),
        ("FAILED", Some(e)) if e.ends_with(crate::apply::ROLLED_BACK) => {
            Some("FAILED_ROLLBACK_COMPLETE")
        }
        ("FAILED", _) => Some("FAILED_NO_STATE_CHANGE"),
        _ => None,
    };
    DeploymentView {
        detailed_status,
        deployment_id: d.id,
        created_on: d.created_ms,
        updated_on: d.updated_ms,
        status: d.status,
        failure_cause: d.error,
        detail: serde_json::from_str(&d.detail_json).unwrap_or_default(),
        document: serde_json::from_str(&d.document_json).unwrap_or(Value::Null),
    }
}

fn not_deployed(name: &str, all: &[String]) -> DeployError {
    DeployError::NotFound(if all.is_empty() {
        format!("component {name} is not deployed; no component is")
    } else {
        format!(
            "component {name} is not deployed; deployed: {}",
            all.join(", ")
        )
    })
}
