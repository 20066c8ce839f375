//! [`Components`]: deployments, one at a time, each applied as one unit. A deployment is
//! checked whole before anything stops (recipes, dependencies, platform, artifacts and their
//! digests, runtimes); then what it changes is stopped and started in dependency order; if
//! any component fails to install or start, everything goes back to the previous set and the
//! deployment is `FAILED` with the component and the reason.

use std::collections::BTreeMap;
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
use crate::resolve::{Current, Recipes, Resolved};

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
    /// `{iot:thingName}`.
    pub thing_name: String,
    pub device: DevicePlatform,
    /// lambdalet's S3 endpoint's buckets (`<data>/s3`), when it runs: `s3://` artifacts.
    pub object_store: Option<PathBuf>,
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
        thing_name: String,
        env: EnvFn,
        access_control: PoliciesFn,
    ) -> Self {
        Self {
            root,
            kernel_root,
            thing_name,
            device: DevicePlatform::current(),
            object_store: None,
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
        let artifacts =
            ArtifactStore::open(&config.root)?.with_object_store(config.object_store.clone());
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
        for (name, w) in &checked.merge {
            let given = checked
                .recipes
                .iter()
                .any(|(r, _, _)| &r.name == name && r.version == w.version);
            if !given && self.store.recipe(name, &w.version)?.is_none() {
                return Err(DeployError::Invalid(format!(
                    "no recipe for {name} {}: put {name}-{}.yaml (or .json) in the directory given with --recipeDir",
                    w.version, w.version
                )));
            }
        }
        let deployed = self.current()?;
        for name in &checked.remove {
            if !deployed.contains_key(name) {
                let names: Vec<&str> = deployed.keys().map(String::as_str).collect();
                return Err(DeployError::Invalid(format!(
                    "cannot remove {name}: it is not deployed (deployed: {})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        }
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

    pub(crate) fn current(&self) -> Result<BTreeMap<String, Current>, DeployError> {
        Ok(current_of(&self.store.deployed_components()?))
    }

    pub(crate) fn stored_artifacts(
        &self,
        c: &Resolved,
    ) -> Result<BTreeMap<String, String>, DeployError> {
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

/// The deployed set as `resolve` takes it.
pub(crate) fn current_of(rows: &[ComponentRecord]) -> BTreeMap<String, Current> {
    rows.iter()
        .map(|c| {
            let configuration = serde_json::from_str(&c.configuration_json).unwrap_or(Value::Null);
            (
                c.name.clone(),
                Current {
                    version: c.version.clone(),
                    configuration,
                    requested: c.requested,
                },
            )
        })
        .collect()
}
