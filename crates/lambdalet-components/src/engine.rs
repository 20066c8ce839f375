//! [`Components`]: deployments, one at a time, each applied as one unit. A deployment is
//! checked whole before anything stops (recipes, dependencies, platform, artifacts and their
//! digests, runtimes); then what it changes is stopped and started in dependency order; if
//! any component fails to install or start, everything goes back to the previous set and the
//! deployment is `FAILED` with the component and the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lambdalet_control::Control;
use lambdalet_package::recipe::{ComponentVars, DevicePlatform, Recipe, parse_recipe};
use lambdalet_store::{ComponentRecord, DeploymentRecord, RecipeRecord, Store};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::artifacts::ArtifactStore;
use crate::error::DeployError;
use crate::live::{self, Live};
use crate::request::{self, DeploymentRequest};
use crate::resolve::{self, Current, Plan, Recipes, Resolved};
use crate::runtime::RuntimeFallback;

/// What lambdalet adds to a generic component's environment, given its name and version.
pub type EnvFn = Box<dyn Fn(&str, &str) -> BTreeMap<String, String> + Send + Sync>;

/// Told a generic component's `accessControl` (`None` when it stops).
pub type PoliciesFn = Box<dyn Fn(&str, Option<&Value>) + Send + Sync>;

/// How the daemon runs components.
pub struct ComponentsConfig {
    /// `<data>/components`.
    pub root: PathBuf,
    /// `{kernel:rootPath}`: the data directory.
    pub kernel_root: PathBuf,
    pub runtime_fallback: RuntimeFallback,
    /// `{iot:thingName}`.
    pub thing_name: String,
    pub device: DevicePlatform,
    /// What every generic component's steps get besides their recipe's `Setenv`.
    pub env: EnvFn,
    /// Called with a generic component's `accessControl` (its IPC policies) as it starts, and
    /// with `None` as it stops.
    pub access_control: PoliciesFn,
    /// Running components' recipe variables, for their dependents.
    pub(crate) running_vars: RwLock<BTreeMap<String, ComponentVars>>,
}

impl ComponentsConfig {
    pub fn new(
        root: PathBuf,
        kernel_root: PathBuf,
        runtime_fallback: RuntimeFallback,
        thing_name: String,
        env: EnvFn,
        access_control: PoliciesFn,
    ) -> Self {
        Self {
            root,
            kernel_root,
            runtime_fallback,
            thing_name,
            device: DevicePlatform::current(),
            env,
            access_control,
            running_vars: RwLock::default(),
        }
    }

    pub(crate) fn component_env(&self, name: &str, version: &str) -> BTreeMap<String, String> {
        (self.env)(name, version)
    }
}

/// Greengrass components on this device.
pub struct Components {
    pub(crate) store: Store,
    pub(crate) control: Arc<Control>,
    pub(crate) artifacts: ArtifactStore,
    pub(crate) config: ComponentsConfig,
    /// What runs now, in start order.
    pub(crate) live: RwLock<Vec<Live>>,
    /// One deployment at a time (held while one is applied, and by restart/stop).
    pub(crate) applying: tokio::sync::Mutex<()>,
    queue: Mutex<Option<mpsc::UnboundedSender<String>>>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Recipes from the component store, parsed once per deployment.
pub(crate) struct StoredRecipes<'a> {
    pub store: &'a Store,
    pub cache: Mutex<BTreeMap<(String, String), Arc<Recipe>>>,
}

impl Recipes for StoredRecipes<'_> {
    fn recipe(&self, name: &str, version: &str) -> Result<Option<Arc<Recipe>>, DeployError> {
        let key = (name.to_owned(), version.to_owned());
        if let Some(r) = self.cache.lock().get(&key) {
            return Ok(Some(r.clone()));
        }
        let Some(row) = self.store.recipe(name, version)? else {
            return Ok(None);
        };
        let r = Arc::new(
            parse_recipe(&row.file_name, row.text.as_bytes())
                .map_err(|e| DeployError::Invalid(e.to_string()))?,
        );
        self.cache.lock().insert(key, r.clone());
        Ok(Some(r))
    }

    fn versions(&self, name: &str) -> Result<Vec<String>, DeployError> {
        Ok(self.store.recipe_versions(name)?)
    }
}

impl Components {
    /// Opens the component store and starts the deployment worker, which first starts what
    /// was deployed (in dependency order, in the background), then takes up deployments a
    /// stop left queued, then new ones.
    pub async fn open(
        store: Store,
        control: Arc<Control>,
        config: ComponentsConfig,
    ) -> Result<Arc<Self>, DeployError> {
        let artifacts = ArtifactStore::open(&config.root)?;
        let this = Arc::new(Self {
            store,
            control,
            artifacts,
            config,
            live: RwLock::default(),
            applying: tokio::sync::Mutex::new(()),
            queue: Mutex::new(None),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        *this.queue.lock() = Some(tx.clone());
        let mut pending: Vec<DeploymentRecord> = this
            .store
            .deployments()?
            .into_iter()
            .filter(|d| d.status == "QUEUED" || d.status == "IN_PROGRESS")
            .collect();
        pending.sort_by_key(|d| d.created_ms);
        for d in pending {
            let _ = tx.send(d.id);
        }
        tokio::spawn(worker(Arc::downgrade(&this), rx));
        Ok(this)
    }

    /// Checks and stores a deployment, and queues it. Returns its id.
    pub async fn submit(&self, req: DeploymentRequest) -> Result<DeploymentRecord, DeployError> {
        let checked = request::check(&req, &|sha| self.artifacts.has(sha))?;
        let now = now_ms();
        let mut rows = Vec::new();
        for (r, file, artifacts) in &checked.recipes {
            // A recipe sent again without its artifacts keeps the ones it had.
            let mut all: BTreeMap<String, String> = match self.store.recipe(&r.name, &r.version)? {
                Some(old) => serde_json::from_str(&old.artifacts_json).unwrap_or_default(),
                None => BTreeMap::new(),
            };
            all.extend(artifacts.clone());
            rows.push(RecipeRecord {
                name: r.name.clone(),
                version: r.version.clone(),
                file_name: file.file_name.clone(),
                text: file.text.clone(),
                artifacts_json: serde_json::to_string(&all).unwrap_or_else(|_| "{}".into()),
                stored_ms: now,
            });
        }
        let document = serde_json::json!({
            "components": req.components,
            "componentsToRemove": req.components_to_remove,
            "groupName": checked.group,
        });
        let record = DeploymentRecord {
            id: uuid::Uuid::new_v4().to_string(),
            created_ms: now,
            updated_ms: now,
            status: "QUEUED".to_owned(),
            document_json: document.to_string(),
            error: None,
            detail_json: "[]".to_owned(),
        };
        self.store.submit_deployment(&rows, &record)?;
        tracing::info!(deployment = %record.id, components = ?req.components.keys().collect::<Vec<_>>(), "deployment.queued");
        if let Some(tx) = self.queue.lock().as_ref() {
            let _ = tx.send(record.id.clone());
        }
        Ok(record)
    }

    /// Stores an uploaded artifact.
    pub fn put_artifact(&self, sha256_hex: &str, bytes: &[u8]) -> Result<(), DeployError> {
        self.artifacts.put(sha256_hex, bytes)
    }

    pub fn has_artifact(&self, sha256_hex: &str) -> bool {
        self.artifacts.has(sha256_hex)
    }

    /// Applies one queued deployment.
    async fn run_deployment(&self, id: &str) {
        let Ok(Some(mut d)) = self.store.deployment(id) else {
            return;
        };
        let _held = self.applying.lock().await;
        d.status = "IN_PROGRESS".to_owned();
        d.updated_ms = now_ms();
        let _ = self.store.update_deployment(&d);
        tracing::info!(deployment = %id, "deployment.started");
        let outcome = self.apply(&d).await;
        d.updated_ms = now_ms();
        let set = match outcome {
            Ok((set, notes)) => {
                d.status = "SUCCEEDED".to_owned();
                d.detail_json = serde_json::to_string(&notes).unwrap_or_else(|_| "[]".into());
                tracing::info!(deployment = %id, "deployment.succeeded");
                Some(set)
            }
            Err(e) => {
                d.status = "FAILED".to_owned();
                d.error = Some(e.to_string());
                tracing::warn!(deployment = %id, "deployment.failed: {e}");
                None
            }
        };
        if let Err(e) = self.store.finish_deployment(set.as_deref(), &d) {
            tracing::error!(deployment = %id, "could not record the deployment's end: {e}");
        }
        self.collect_artifacts();
    }

    /// Resolves and applies a deployment; on a component's failure, rolls back.
    async fn apply(
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
        let current: BTreeMap<String, Current> = self.current()?;
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
                        deployment_id: if changed.contains(&c.name) {
                            d.id.clone()
                        } else {
                            current_deployment(&self.store, &c.name).unwrap_or_else(|| d.id.clone())
                        },
                        requested: c.requested,
                    })
                    .collect();
                notes.extend(changed.iter().map(|n| format!("{n}: deployed")));
                Ok((set, notes))
            }
            Err((e, started)) => {
                self.roll_back(&before, &plan, &changed, started).await;
                Err(DeployError::Component(format!(
                    "{e}; rolled back to the components deployed before"
                )))
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
            }
        }
        let mut after = Vec::new();
        let mut started = Vec::new();
        for c in &plan.components {
            if changed.contains(&c.name) {
                let stored = match self.stored_artifacts(c) {
                    Ok(s) => s,
                    Err(e) => return Err((e, started)),
                };
                match live::start(
                    c,
                    &stored,
                    &self.artifacts,
                    &self.control,
                    &self.config,
                    live::Start::Deploy,
                )
                .await
                {
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
            let stored = self.stored_artifacts(&l.resolved).unwrap_or_default();
            match live::start(
                &l.resolved,
                &stored,
                &self.artifacts,
                &self.control,
                &self.config,
                live::Start::Deploy,
            )
            .await
            {
                Ok(n) => restored.push(n),
                Err(e) => {
                    tracing::error!(component = %l.resolved.name, "rollback could not restart it: {e}");
                    restored.push(l.clone());
                }
            }
        }
        *self.live.write() = restored;
    }

    /// Starts the deployed set at daemon start.
    async fn start_deployed(&self) {
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
            let stored = self.stored_artifacts(c).unwrap_or_default();
            match live::start(
                c,
                &stored,
                &self.artifacts,
                &self.control,
                &self.config,
                live::Start::Boot,
            )
            .await
            {
                Ok(l) => after.push(l),
                Err(e) => {
                    tracing::error!(component = %c.name, "could not start a deployed component: {e}")
                }
            }
        }
        tracing::info!(components = after.len(), "components.started");
        *self.live.write() = after;
    }

    pub(crate) fn current(&self) -> Result<BTreeMap<String, Current>, DeployError> {
        Ok(self
            .store
            .deployed_components()?
            .into_iter()
            .map(|c| {
                let configuration =
                    serde_json::from_str(&c.configuration_json).unwrap_or(Value::Null);
                (
                    c.name,
                    Current {
                        version: c.version,
                        configuration,
                        requested: c.requested,
                    },
                )
            })
            .collect())
    }

    fn stored_artifacts(&self, c: &Resolved) -> Result<BTreeMap<String, String>, DeployError> {
        Ok(match self.store.recipe(&c.name, &c.version)? {
            Some(row) => serde_json::from_str(&row.artifacts_json).unwrap_or_default(),
            None => BTreeMap::new(),
        })
    }

    fn collect_artifacts(&self) {
        let mut keep = std::collections::HashSet::new();
        if let Ok(maps) = self.store.recipe_artifact_maps() {
            for m in maps {
                let m: BTreeMap<String, String> = serde_json::from_str(&m).unwrap_or_default();
                keep.extend(m.into_values());
            }
            if let Err(e) = self.artifacts.collect(&keep) {
                tracing::warn!("could not remove unused artifacts: {e}");
            }
        }
    }

    /// Stops every generic component (daemon shutdown). Lambda components stop with the invoker.
    pub async fn shutdown(&self) {
        self.queue.lock().take();
        let live: Vec<Live> = self.live.read().clone();
        for l in live.iter().rev() {
            if let live::Kind::Generic(r) = &l.kind {
                r.stop().await;
            }
        }
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

fn current_deployment(store: &Store, name: &str) -> Option<String> {
    store
        .deployed_components()
        .ok()?
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.deployment_id)
}

/// Starts what was deployed, then applies deployments as they come, one at a time.
async fn worker(this: std::sync::Weak<Components>, mut rx: mpsc::UnboundedReceiver<String>) {
    if let Some(c) = this.upgrade() {
        let _held = c.applying.lock().await;
        c.start_deployed().await;
    }
    while let Some(id) = rx.recv().await {
        let Some(c) = this.upgrade() else {
            return;
        };
        c.run_deployment(&id).await;
    }
}
