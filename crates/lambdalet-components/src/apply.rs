//! Applying a resolved deployment: stopping what goes or changed, starting what comes or
//! changed in dependency order, rolling back on a failure; and starting the deployed set
//! when the daemon starts.

use std::collections::{BTreeMap, BTreeSet};

use lambdalet_store::{ComponentRecord, DeploymentRecord};
use parking_lot::Mutex;
use serde_json::Value;

use crate::engine::{Components, StoredRecipes};
use crate::error::DeployError;
use crate::live::{self, Live};
use crate::request::{self, DeploymentRequest};
use crate::resolve::{self, Current, Plan, Resolved};

/// How the failure cause of a deployment that was rolled back ends.
pub(crate) const ROLLED_BACK: &str = "; rolled back to the components deployed before";

impl Components {
    /// Resolves and applies a deployment; on a component's failure, rolls back.
    pub(crate) async fn apply(
        &self,
        d: &DeploymentRecord,
    ) -> Result<(Vec<ComponentRecord>, Vec<String>), DeployError> {
        let doc: Value = serde_json::from_str(&d.document_json)
            .map_err(|e| DeployError::Invalid(format!("the stored deployment is not JSON: {e}")))?;
        let req: DeploymentRequest = serde_json::from_value(serde_json::json!({
            "components": doc["components"],
            "componentsToRemove": doc["componentsToRemove"],
        }))
        .map_err(|e| DeployError::Invalid(format!("the stored deployment is not valid: {e}")))?;
        let checked = request::check(&req, &|_| true)?;
        let before: Vec<Live> = self.live.read().clone();
        let rows = self.store.deployed_components()?;
        let current: BTreeMap<String, Current> = crate::engine::current_of(&rows);
        // Which deployment last changed each component (kept for the unchanged ones).
        let last_changed: BTreeMap<&str, &str> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.deployment_id.as_str()))
            .collect();
        let recipes = StoredRecipes {
            store: &self.store,
            cache: Mutex::default(),
        };
        let plan = resolve::resolve(
            &current,
            &checked.merge,
            &checked.remove,
            &recipes,
            &self.config.device,
        )?;
        // Check every changed component's artifacts before anything stops.
        let changed = changed(&before, &plan);
        for c in plan.components.iter().filter(|c| changed.contains(&c.name)) {
            live::artifacts_of(c, &self.stored_artifacts(c)?, &self.artifacts)?;
            if c.recipe.component_type == lambdalet_package::recipe::ComponentType::Lambda {
                crate::lambda::lambda_spec(c)?;
            }
        }
        let restart = live::hard_dependents(&plan.components, &changed);
        let result = self.switch(&before, &plan, &changed, &restart).await;
        let mut notes = plan.notes.clone();
        match result {
            Ok(after) => {
                *self.live.write() = after;
                let set = plan
                    .components
                    .iter()
                    .map(|c| ComponentRecord {
                        name: c.name.clone(),
                        version: c.version.clone(),
                        configuration_json: c.configuration.to_string(),
                        deployment_id: match last_changed.get(c.name.as_str()) {
                            Some(id) if !changed.contains(&c.name) => (*id).to_owned(),
                            _ => d.id.clone(),
                        },
                        requested: c.requested,
                    })
                    .collect();
                notes.extend(changed.iter().map(|n| format!("{n}: deployed")));
                Ok((set, notes))
            }
            Err((e, started)) => {
                self.roll_back(&before, &plan, &changed, started).await;
                Err(DeployError::Component(format!("{e}{ROLLED_BACK}")))
            }
        }
    }

    /// Stops what goes or changes, starts what comes or changed, in dependency order. On
    /// failure returns the error and what it had started.
    async fn switch(
        &self,
        before: &[Live],
        plan: &Plan,
        changed: &BTreeSet<String>,
        restart: &BTreeSet<String>,
    ) -> Result<Vec<Live>, (DeployError, Vec<Live>)> {
        let wanted: BTreeSet<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
        for l in before.iter().rev() {
            let name = &l.resolved.name;
            let removed = !wanted.contains(name.as_str());
            if removed || changed.contains(name) {
                live::stop(l, &self.control, removed).await;
                self.config.running_vars.write().remove(name);
                if removed && matches!(l.kind, live::Kind::Generic(_)) {
                    // Its IPC policies go with it (a Lambda component's go with its function).
                    (self.config.access_control)(name, None);
                }
            }
        }
        let mut after = Vec::new();
        let mut started = Vec::new();
        for c in &plan.components {
            if changed.contains(&c.name) {
                match self.start_one(c, live::Start::Deploy).await {
                    Ok(l) => {
                        started.push(l.clone());
                        after.push(l);
                    }
                    Err(e) => return Err((e, started)),
                }
            } else if let Some(l) = before.iter().find(|l| l.resolved.name == c.name) {
                if restart.contains(&c.name)
                    && let live::Kind::Generic(r) = &l.kind
                {
                    r.restart().await;
                }
                after.push(l.clone());
            }
        }
        Ok(after)
    }

    /// Puts back the components of `before` after a failed switch: what it started goes,
    /// what it stopped or changed (removed or changed components) comes back as it was.
    async fn roll_back(
        &self,
        before: &[Live],
        plan: &Plan,
        changed: &BTreeSet<String>,
        started: Vec<Live>,
    ) {
        let had: BTreeSet<&str> = before.iter().map(|l| l.resolved.name.as_str()).collect();
        for l in started.iter().rev() {
            let new = !had.contains(l.resolved.name.as_str());
            live::stop(l, &self.control, new).await;
        }
        let wanted: BTreeSet<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
        let touched: BTreeSet<String> = before
            .iter()
            .map(|l| l.resolved.name.clone())
            .filter(|n| changed.contains(n) || !wanted.contains(n.as_str()))
            .collect();
        let mut restored = Vec::new();
        for l in before {
            if !touched.contains(&l.resolved.name) {
                restored.push(l.clone());
                continue;
            }
            match self.start_one(&l.resolved, live::Start::Deploy).await {
                Ok(n) => restored.push(n),
                Err(e) => {
                    tracing::error!(component = %l.resolved.name, "rollback could not restart it: {e}");
                    restored.push(l.clone());
                }
            }
        }
        *self.live.write() = restored;
    }

    /// Starts one component with the artifacts its recipe was stored with.
    async fn start_one(&self, c: &Resolved, how: live::Start) -> Result<Live, DeployError> {
        let stored = self.stored_artifacts(c)?;
        live::start(
            c,
            &stored,
            &self.artifacts,
            &self.control,
            &self.config,
            how,
        )
        .await
    }

    /// Starts the deployed set at daemon start.
    pub(crate) async fn start_deployed(&self) {
        let current = match self.current() {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => return,
            Err(e) => {
                tracing::error!("cannot read the deployed components: {e}");
                return;
            }
        };
        let recipes = StoredRecipes {
            store: &self.store,
            cache: Mutex::default(),
        };
        let plan = match resolve::resolve(
            &current,
            &BTreeMap::new(),
            &BTreeSet::new(),
            &recipes,
            &self.config.device,
        ) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("the deployed components no longer resolve, none was started: {e}");
                return;
            }
        };
        let mut after = Vec::new();
        for c in &plan.components {
            match self.start_one(c, live::Start::Boot).await {
                Ok(l) => after.push(l),
                Err(e) => {
                    tracing::error!(component = %c.name, "could not start a deployed component: {e}")
                }
            }
        }
        tracing::info!(components = after.len(), "components.started");
        *self.live.write() = after;
    }
}

/// Components whose version, configuration or recipe differ from what runs, or that are new.
fn changed(before: &[Live], plan: &Plan) -> BTreeSet<String> {
    plan.components
        .iter()
        .filter(|c| {
            before
                .iter()
                .find(|l| l.resolved.name == c.name)
                .is_none_or(|l| {
                    l.resolved.version != c.version
                        || l.resolved.configuration != c.configuration
                        || *l.resolved.recipe != *c.recipe
                })
        })
        .map(|c| c.name.clone())
        .collect()
}
