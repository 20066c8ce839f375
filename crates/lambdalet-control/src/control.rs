//! The [`Control`] handle: the store, the code store, the in-memory table and the invoker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use lambdalet_core::{AccountInfo, LambdaError};
use lambdalet_invoker::Invoker;
use lambdalet_package::CodeStore;
use lambdalet_store::Store;
use parking_lot::RwLock;

use crate::error::ControlError;
use crate::layer_table::LayerTable;
use crate::table::{FunctionEntry, VersionView, view_of};

/// The management operations of the Lambda API over lambdalet's state.
pub struct Control {
    pub(crate) store: Store,
    pub(crate) code: Arc<CodeStore>,
    pub(crate) account: AccountInfo,
    pub(crate) invoker: Arc<Invoker>,
    /// The event router, once the daemon has started it.
    pub(crate) router: std::sync::OnceLock<Arc<lambdalet_events::EventRouter>>,
    pub(crate) table: RwLock<BTreeMap<String, FunctionEntry>>,
    /// Every layer version, deleted ones included (see `layers.rs`).
    pub(crate) layers: RwLock<LayerTable>,
    /// Serializes management writes: each is a read-check-write over table and store. Never
    /// held while a zip is unpacked.
    pub(crate) writes: tokio::sync::Mutex<()>,
    /// Seals access keys' secrets in the store.
    pub(crate) master: lambdalet_auth::MasterKey,
    /// Every access key by id, secrets in the clear (see `keys`).
    pub(crate) keys: RwLock<std::collections::HashMap<String, crate::keys::LiveKey>>,
    /// Signs `Code.Location` URLs; made at start, never shown.
    pub(crate) code_url_secret: String,
    /// Code changes of one function in arrival order (taken before `writes`).
    pub(crate) order: crate::order::Order,
    /// The S3 endpoint's buckets, when it runs (see `Control::object_bytes`).
    pub(crate) object_store: std::sync::OnceLock<std::path::PathBuf>,
    /// Loaded container images (see `images.rs`).
    pub(crate) images: Arc<lambdalet_package::image::ImageStore>,
    /// Function URL configurations (see `urls.rs`).
    pub(crate) urls: crate::url_config::Urls,
}

impl Control {
    /// Loads every function, layer version and access key from the store, re-unpacking code
    /// that is missing on disk, deleting stored zips no function version or layer version needs
    /// any more and giving functions stored before keys existed their own key. `master` opens
    /// the keys' secrets.
    pub async fn open(
        store: Store,
        code: CodeStore,
        images: lambdalet_package::image::ImageStore,
        account: AccountInfo,
        invoker: Arc<Invoker>,
        master: lambdalet_auth::MasterKey,
    ) -> Result<Arc<Self>, ControlError> {
        let code = Arc::new(code);
        let images = Arc::new(images);
        let (store2, code2, master2) = (store.clone(), code.clone(), master.clone());
        let account2 = account.clone();
        let (loaded, layers, keys) =
            tokio::task::spawn_blocking(move || -> Result<_, ControlError> {
                let all = store2.load_all()?;
                let layers = LayerTable::from_records(store2.load_layer_versions()?);
                let names: Vec<String> = all.iter().map(|f| f.function.name.clone()).collect();
                let keys = crate::keys::load(&store2, &master2, &names)?;
                let mut referenced = store2.referenced_code()?;
                // An image function's code hash is its image's id, which the image store
                // keeps (and `lambdalet image rm` refuses to remove while it is used).
                for v in all
                    .iter()
                    .flat_map(|f| std::iter::once(&f.function.latest).chain(&f.versions))
                {
                    if let Some(image) = &v.config.image {
                        referenced.remove(&image.id);
                    }
                }
                let used = all
                    .iter()
                    .flat_map(|f| std::iter::once(&f.function.latest).chain(&f.versions))
                    .flat_map(|v| &v.config.layers);
                referenced.extend(layers.kept_hashes(&account2, used));
                for sha in &referenced {
                    code2.ensure_unpacked(sha)?;
                }
                let removed = code2.remove_unreferenced(&referenced)?;
                if removed > 0 {
                    tracing::info!(
                        removed,
                        "removed stored code no function version or layer version needs"
                    );
                }
                Ok((all, layers, keys))
            })
            .await??;
        let mut table = BTreeMap::new();
        let mut credentials = crate::keys::function_credentials(&keys);
        for stored in loaded {
            let name = stored.function.name.clone();
            let own = credentials.remove(&name);
            table.insert(
                name,
                FunctionEntry::from_stored(&account, &code, &images, &layers, stored, own),
            );
        }
        // Tell the invoker about every version: pinned ones start now, before any event.
        for (name, entry) in &table {
            for v in entry.all_versions() {
                invoker.deploy(v.deployed.clone());
            }
            invoker.set_reserved_concurrency(name, entry.reserved_concurrency);
            for (version, n) in entry.provisioned_by_version() {
                invoker.set_provisioned(name, &version, n);
            }
        }
        tracing::info!(functions = table.len(), "control.loaded");
        let urls = crate::url_config::Urls::load(&store)?;
        let control = Arc::new(Self {
            store,
            code,
            account,
            invoker,
            router: std::sync::OnceLock::new(),
            table: RwLock::new(table),
            layers: RwLock::new(layers),
            writes: tokio::sync::Mutex::new(()),
            master,
            keys: RwLock::new(keys),
            code_url_secret: lambdalet_auth::new_access_key().1,
            order: crate::order::Order::default(),
            object_store: std::sync::OnceLock::new(),
            images,
            urls,
        });
        control.check_loaded_runtimes();
        Ok(control)
    }

    pub fn account(&self) -> &AccountInfo {
        &self.account
    }

    /// `State` and `StateReason` of a version as GetFunction shows them: `Failed` when a pinned
    /// function kept failing, else `Active`.
    /// The sandbox a version runs in on this host, and why not the one it asked for.
    pub fn sandbox_choice(
        &self,
        config: &lambdalet_core::FunctionConfig,
    ) -> lambdalet_invoker::SandboxChoice {
        self.invoker.sandbox_choice(config)
    }

    /// The daemon's default sandbox (`--sandbox`).
    pub fn default_sandbox(&self) -> lambdalet_core::ContainerMode {
        self.invoker.default_sandbox()
    }

    /// Why container sandboxes are unavailable on this host, when they are.
    pub fn container_unavailable(&self) -> Option<String> {
        self.invoker.container_unavailable().map(str::to_owned)
    }

    pub fn state(&self, function: &str, version: &str) -> (&'static str, Option<String>) {
        match self.invoker.health(function, version) {
            Some(lambdalet_invoker::Health::Failed(reason)) => ("Failed", Some(reason)),
            _ => ("Active", None),
        }
    }

    /// The invoker this control plane drives.
    pub fn invoker(&self) -> &Arc<Invoker> {
        &self.invoker
    }

    /// Where the zip of `sha256_hex` is stored, if it is.
    pub fn code_blob(&self, sha256_hex: &str) -> Option<std::path::PathBuf> {
        let valid = sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| b.is_ascii_hexdigit());
        let path = self.code.blob_path(sha256_hex);
        (valid && path.is_file()).then_some(path)
    }

    /// The runnable form of `record` with this daemon's code and layers.
    pub(crate) fn view(
        &self,
        record: lambdalet_store::VersionRecord,
        credentials: Option<lambdalet_core::Credentials>,
    ) -> VersionView {
        view_of(
            &self.account,
            &self.code,
            &self.images,
            &self.layers.read(),
            record,
            credentials,
        )
    }

    /// Runs a store operation off the async threads.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ControlError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, lambdalet_store::StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }

    /// The `ResourceNotFoundException` for an unknown function, listing the known ones.
    pub(crate) fn function_not_found(&self, name: &str) -> ControlError {
        let table = self.table.read();
        let known: Vec<&str> = table.keys().map(String::as_str).take(10).collect();
        let hint = if known.is_empty() {
            "no functions are deployed yet".to_owned()
        } else {
            format!(
                "deployed functions: {}{}",
                known.join(", "),
                if table.len() > known.len() {
                    ", ..."
                } else {
                    ""
                }
            )
        };
        LambdaError::not_found(format!(
            "Function not found: {}; {hint}",
            self.account.function_arn(name)
        ))
        .into()
    }

    /// A copy of one function's entry.
    pub(crate) fn entry(&self, name: &str) -> Result<FunctionEntry, ControlError> {
        self.table
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.function_not_found(name))
    }
}

pub(crate) fn now_ms() -> u64 {
    lambdalet_core::timefmt::epoch_millis(SystemTime::now())
}

pub(crate) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}
