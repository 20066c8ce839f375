//! The in-memory table of functions, rebuilt from the store at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use lambdalet_core::{AccountInfo, Credentials, DeployedImage, DeployedVersion, FunctionName};
use lambdalet_core::{EventInvokeConfig, Policy};
use lambdalet_package::CodeStore;
use lambdalet_package::image::ImageStore;
use lambdalet_store::{AliasRecord, StoredFunction, VersionRecord};

use crate::layer_table::{LayerTable, LayerUse};

/// A version as the management API shows it: the stored record plus the runnable form.
#[derive(Debug, Clone)]
pub struct VersionView {
    pub record: VersionRecord,
    pub deployed: Arc<DeployedVersion>,
    /// The layer versions of its `Layers`, in order.
    pub layers: Vec<LayerUse>,
}

impl VersionView {
    /// `CodeSha256` as the API reports it: base64 of a zip's digest, an image's digest in hex
    /// (as Lambda shows both).
    pub fn code_sha256_base64(&self) -> String {
        if self.record.config.image.is_some() {
            return self.record.code_sha256.clone();
        }
        let digest = hex::decode(&self.record.code_sha256).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

/// Everything known about one function.
#[derive(Debug, Clone)]
pub(crate) struct FunctionEntry {
    pub tags: BTreeMap<String, String>,
    pub latest: VersionView,
    pub versions: BTreeMap<u64, VersionView>,
    pub aliases: BTreeMap<String, AliasRecord>,
    pub reserved_concurrency: Option<u32>,
    /// Qualifier (version or alias) → requested provisioned concurrency.
    pub provisioned: BTreeMap<String, u32>,
    /// Qualifier → event-invoke configuration and when it was last changed.
    pub event_configs: BTreeMap<String, (EventInvokeConfig, u64)>,
    /// Qualifier (`""` for the function itself) → resource-based policy.
    pub policies: BTreeMap<String, Policy>,
}

impl FunctionEntry {
    pub(crate) fn from_stored(
        account: &AccountInfo,
        code: &CodeStore,
        images: &ImageStore,
        layers: &LayerTable,
        s: StoredFunction,
        credentials: Option<Credentials>,
    ) -> Self {
        let view =
            |r: VersionRecord| view_of(account, code, images, layers, r, credentials.clone());
        let event_configs = s
            .event_configs
            .into_iter()
            .filter_map(|r| {
                let parsed = serde_json::from_str::<EventInvokeConfig>(&r.config_json);
                match parsed {
                    Ok(c) => Some((r.qualifier, (c, r.last_modified_ms))),
                    Err(e) => {
                        tracing::warn!(function = %r.function, qualifier = %r.qualifier, "ignoring an unreadable event-invoke configuration: {e}");
                        None
                    }
                }
            })
            .collect();
        let policies = crate::policies::load(s.policies);
        Self {
            tags: s.function.tags,
            latest: view(s.function.latest),
            versions: s
                .versions
                .into_iter()
                .filter_map(|v| Some((v.version.parse::<u64>().ok()?, view(v))))
                .collect(),
            aliases: s.aliases.into_iter().map(|a| (a.name.clone(), a)).collect(),
            reserved_concurrency: s.reserved_concurrency,
            provisioned: s.provisioned.into_iter().collect(),
            event_configs,
            policies,
        }
    }

    /// Every version, `$LATEST` first.
    pub(crate) fn all_versions(&self) -> impl Iterator<Item = &VersionView> {
        std::iter::once(&self.latest).chain(self.versions.values())
    }

    /// Provisioned concurrency per version, following aliases.
    pub(crate) fn provisioned_by_version(&self) -> BTreeMap<String, u32> {
        let mut out: BTreeMap<String, u32> = BTreeMap::new();
        for (q, n) in &self.provisioned {
            let version = self
                .aliases
                .get(q)
                .map_or(q.as_str(), |a| a.function_version.as_str());
            *out.entry(version.to_owned()).or_default() += n;
        }
        out
    }

    /// A version by its name (`$LATEST` or a number).
    pub(crate) fn version(&self, version: &str) -> Option<&VersionView> {
        if version == lambdalet_store::LATEST {
            return Some(&self.latest);
        }
        self.versions.get(&version.parse::<u64>().ok()?)
    }
}

/// Builds the runnable form of a version record: its code and layers as `code` stores them,
/// or its image as `images` does.
pub(crate) fn view_of(
    account: &AccountInfo,
    code: &CodeStore,
    images: &ImageStore,
    layers: &LayerTable,
    record: VersionRecord,
    credentials: Option<Credentials>,
) -> VersionView {
    let name = FunctionName::new(&record.function).expect("stored function names were validated");
    let uses = layers.uses_of(account, &record.config.layers);
    let image = record.config.image.as_ref().map(|i| DeployedImage {
        id: i.id.clone(),
        rootfs: images.rootfs_path(&i.id),
        run: i.run(record.config.image_config.as_ref()),
        env: i.env.clone(),
    });
    let deployed = DeployedVersion {
        function_arn: account.function_arn(name.as_str()),
        name,
        version: record.version.clone(),
        revision_id: record.revision_id.clone(),
        config: record.config.clone(),
        code_sha256: record.code_sha256.clone(),
        code_dir: match &image {
            Some(i) => i.rootfs.clone(),
            None => code.code_dir(&record.code_sha256),
        },
        image,
        layers: uses.iter().map(|u| code.code_dir(&u.code_sha256)).collect(),
        uid_index: record.uid_index,
        credentials,
    };
    VersionView {
        record,
        deployed: Arc::new(deployed),
        layers: uses,
    }
}
