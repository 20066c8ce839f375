//! CreateFunction and UpdateFunctionCode: storing a function's code, and taking back what a
//! refused operation stored.
//!
//! Unpacking happens before the operation takes `Control::writes` (a zip of 60,000 files takes
//! seconds, and other functions' operations must not wait for it); the package store's pin keeps
//! the new hash until the operation has recorded its use under the lock, or has given it up
//! here. Code changes of one function take their turn (`order.rs`) so they apply in the order
//! they arrived.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lambdalet_core::{
    FunctionConfig, FunctionConfigPatch, FunctionName, LambdaError, PackageType, RuntimeFamily,
};
use lambdalet_package::StoredCode;
use lambdalet_store::{FunctionRecord, LATEST, VersionRecord};

use crate::control::{Control, new_revision, now_ms};
use crate::error::ControlError;
use crate::functions::check_revision;
use crate::layer_table::check_total_size;
use crate::table::{FunctionEntry, VersionView};

/// What CreateFunction carries.
#[derive(Debug, Clone, Default)]
pub struct CreateFunctionInput {
    pub name: String,
    pub config: FunctionConfigPatch,
    pub zip: Vec<u8>,
    /// The zip came from a bucket (`Code.S3Bucket`): the direct-upload limit does not apply.
    pub zip_from_bucket: bool,
    pub publish: bool,
    pub tags: BTreeMap<String, String>,
    /// `Code.ImageUri`: the loaded image a function of PackageType Image runs (by name, id
    /// or `repo@sha256:id`).
    pub image_uri: Option<String>,
}

/// What UpdateFunctionCode carries.
#[derive(Debug, Clone, Default)]
pub struct UpdateCodeInput {
    pub zip: Vec<u8>,
    /// The zip came from a bucket (`S3Bucket`): the direct-upload limit does not apply.
    pub zip_from_bucket: bool,
    pub publish: bool,
    pub dry_run: bool,
    pub revision_id: Option<String>,
    /// `ImageUri`: an image function's new image.
    pub image_uri: Option<String>,
}

impl Control {
    /// CreateFunction. The zip is unpacked before the management lock is taken; a refused
    /// create takes back what it stored.
    pub async fn create_function(
        &self,
        input: CreateFunctionInput,
    ) -> Result<VersionView, ControlError> {
        let name = FunctionName::new(&input.name)?;
        lambdalet_core::tags::validate_tags(&input.tags)?;
        let mut config = FunctionConfig::create(input.config.clone())?;
        if config.package_type == PackageType::Image {
            return self.create_image_function(name, config, input).await;
        }
        if input.image_uri.is_some() {
            return Err(LambdaError::invalid(
                "Code.ImageUri is for a function of PackageType Image: set PackageType Image (lambdalet deploy --image does), or upload a zip with Code.ZipFile",
            )
            .into());
        }
        crate::events::check(&config)?;
        self.check_runtime(&config).await?;
        self.invoker
            .check_sandbox(&config)
            .map_err(LambdaError::invalid)?;
        let _turn = self.order.turn(name.as_str()).await;
        // Before the upload is unpacked, and again under the lock.
        self.check_absent(&name)?;
        self.resolve_layers(&mut config, &[])?;
        let stored = self.put_code(input.zip, input.zip_from_bucket).await?;
        let w = self.writes.lock().await;
        let view = match self
            .insert_function(&name, config, input.tags, &stored)
            .await
        {
            Ok(view) => view,
            Err(e) => {
                self.discard_code(stored).await;
                return Err(e);
            }
        };
        drop(stored);
        tracing::info!(function = %name, runtime = %view.record.config.runtime.as_ref().map(ToString::to_string).unwrap_or_default(), code = %view.record.code_sha256, "function.created");
        if input.publish {
            drop(w);
            return self.publish_version(name.as_str(), None, None, None).await;
        }
        Ok(view)
    }

    /// The conflict a CreateFunction of an existing name gets.
    fn check_absent(&self, name: &FunctionName) -> Result<(), ControlError> {
        if self.table.read().contains_key(name.as_str()) {
            return Err(LambdaError::conflict(format!(
                "Function already exist: {name}; update it with UpdateFunctionCode / UpdateFunctionConfiguration (lambdalet deploy does this for you) or delete it first"
            ))
            .into());
        }
        Ok(())
    }

    /// Stores a new function with `stored` as its code; the caller holds `writes`.
    async fn insert_function(
        &self,
        name: &FunctionName,
        mut config: FunctionConfig,
        tags: BTreeMap<String, String>,
        stored: &StoredCode,
    ) -> Result<VersionView, ControlError> {
        self.check_absent(name)?;
        let layers = self.resolve_layers(&mut config, &[])?;
        check_total_size(stored.summary.unzipped_bytes, &layers)?;
        check_code(&config, &stored.dir)?;
        self.insert_record(name, config, tags, &stored.sha256_hex, stored.size)
            .await
    }

    /// Stores a new function whose code (a zip's hash, an image's id) is in place and
    /// checked; the caller holds `writes`.
    pub(crate) async fn insert_record(
        &self,
        name: &FunctionName,
        config: FunctionConfig,
        tags: BTreeMap<String, String>,
        code_sha256: &str,
        code_size: u64,
    ) -> Result<VersionView, ControlError> {
        self.check_absent(name)?;
        let now = now_ms();
        let latest = VersionRecord {
            function: name.to_string(),
            version: LATEST.to_owned(),
            config,
            code_sha256: code_sha256.to_owned(),
            code_size,
            revision_id: new_revision(),
            last_modified_ms: now,
            uid_index: 0,
        };
        let mut record = FunctionRecord {
            name: name.to_string(),
            created_ms: now,
            tags,
            latest,
        };
        let r = record.clone();
        // The function's own key, stored with it in one transaction.
        let (key, new_key) = crate::keys::make_key(
            &self.master,
            Some(name.as_str()),
            "the function's own credentials",
        );
        record.latest.uid_index = self
            .blocking(move |s| s.insert_function_with_key(&r, Some(&key)))
            .await?;
        self.keys.write().insert(
            new_key.info.access_key_id.clone(),
            crate::keys::LiveKey {
                secret: new_key.credentials.secret_access_key.clone(),
                info: new_key.info,
            },
        );
        let stored = lambdalet_store::StoredFunction {
            function: record,
            versions: Vec::new(),
            aliases: Vec::new(),
            reserved_concurrency: None,
            provisioned: Vec::new(),
            event_configs: Vec::new(),
            policies: Vec::new(),
        };
        let entry = FunctionEntry::from_stored(
            &self.account,
            &self.code,
            &self.images,
            &self.layers.read(),
            stored,
            Some(new_key.credentials),
        );
        let view = entry.latest.clone();
        self.table.write().insert(name.to_string(), entry);
        self.invoker.deploy(view.deployed.clone());
        self.sync_router(name.as_str());
        Ok(view)
    }

    /// UpdateFunctionCode. The zip is unpacked before the management lock is taken; code
    /// updates of one function still apply in the order they arrived, and each is checked
    /// against the function as it is when it applies (a configuration changed meanwhile is
    /// kept; a `RevisionId` guard sees the change).
    pub async fn update_code(
        &self,
        name: &str,
        input: UpdateCodeInput,
    ) -> Result<VersionView, ControlError> {
        let _turn = self.order.turn(name).await;
        // Before the upload is unpacked, and again under the lock.
        let entry = self.entry(name)?;
        if entry.latest.record.config.package_type == PackageType::Image {
            return self.update_image_code(name, input).await;
        }
        if input.image_uri.is_some() {
            return Err(LambdaError::invalid(format!(
                "{name} is a function of PackageType Zip: give it a zip (ZipFile or S3Bucket/S3Key), not ImageUri; the package type of a function cannot change"
            ))
            .into());
        }
        check_revision(
            input.revision_id.as_deref(),
            &entry.latest.record.revision_id,
        )?;
        self.check_runtime(&entry.latest.record.config).await?;
        let stored = self.put_code(input.zip, input.zip_from_bucket).await?;
        let w = self.writes.lock().await;
        let mut record = match self.with_code(name, input.revision_id.as_deref(), &stored) {
            Ok(record) => record,
            Err(e) => {
                self.discard_code(stored).await;
                return Err(e);
            }
        };
        if input.dry_run {
            let view = self.view(record, self.credentials_of(name));
            self.discard_code(stored).await;
            return Ok(view);
        }
        record.revision_id = new_revision();
        record.last_modified_ms = now_ms();
        let view = match self.replace_latest(record).await {
            Ok(view) => view,
            Err(e) => {
                self.discard_code(stored).await;
                return Err(e);
            }
        };
        drop(stored);
        if input.publish {
            drop(w);
            return self.publish_version(name, None, None, None).await;
        }
        Ok(view)
    }

    /// `$LATEST` of `name` as it is now, with `stored` as its code; the caller holds `writes`.
    fn with_code(
        &self,
        name: &str,
        revision_id: Option<&str>,
        stored: &StoredCode,
    ) -> Result<VersionRecord, ControlError> {
        let entry = self.entry(name)?;
        check_revision(revision_id, &entry.latest.record.revision_id)?;
        check_code(&entry.latest.record.config, &stored.dir)?;
        // The layers it has stay, deleted or not; the new code must fit beside them.
        let layers = self
            .layers
            .read()
            .uses_of(&self.account, &entry.latest.record.config.layers);
        check_total_size(stored.summary.unzipped_bytes, &layers)?;
        let mut record = entry.latest.record.clone();
        record.code_sha256.clone_from(&stored.sha256_hex);
        record.code_size = stored.size;
        Ok(record)
    }

    /// Validates, stores and unpacks a zip, off the async threads, without any lock.
    pub(crate) async fn put_code(
        &self,
        zip: Vec<u8>,
        from_bucket: bool,
    ) -> Result<StoredCode, ControlError> {
        let code = self.code.clone();
        Ok(tokio::task::spawn_blocking(move || {
            if from_bucket {
                code.put_zip_from_bucket(&zip)
            } else {
                code.put_zip(&zip)
            }
        })
        .await??)
    }

    /// Where lambdalet's S3 endpoint keeps its buckets, when it runs: `Code.S3Bucket` and
    /// `Content.S3Bucket` read zips from there.
    pub fn set_object_store(&self, dir: std::path::PathBuf) {
        let _ = self.object_store.set(dir);
    }

    /// The bytes of object `bucket/key` of lambdalet's S3 endpoint (`Code.S3Bucket`/`S3Key`).
    pub async fn object_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ControlError> {
        let Some(root) = self.object_store.get().cloned() else {
            return Err(LambdaError::invalid(
                "S3Bucket/S3Key name an object of lambdalet's S3 endpoint, which is off (--s3-listen off): upload the zip itself with ZipFile",
            )
            .into());
        };
        let bad = |p: &str| p.is_empty() || p == "." || p == ".." || p.contains('\0');
        if bucket.contains('/') || bad(bucket) || key.split('/').any(bad) {
            return Err(LambdaError::invalid(format!(
                "S3Bucket {bucket:?} / S3Key {key:?} do not name an object"
            ))
            .into());
        }
        let path = root.join(bucket).join(key);
        let limit = lambdalet_core::limits::MAX_UNZIPPED_BYTES;
        let (b, k) = (bucket.to_owned(), key.to_owned());
        tokio::task::spawn_blocking(move || match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() > limit => Err(LambdaError::invalid(format!(
                "s3://{b}/{k} has {} bytes; a deployment package may be at most {limit} bytes",
                m.len()
            ))
            .into()),
            Ok(m) if m.is_file() => std::fs::read(&path).map_err(|e| {
                LambdaError::invalid(format!("cannot read s3://{b}/{k}: {e}")).into()
            }),
            _ => Err(LambdaError::invalid(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist. (s3://{b}/{k} in lambdalet's S3 endpoint)"
            ))
            .into()),
        })
        .await?
    }

    /// Removes code an operation stored but will not use (refused after the upload, or a dry
    /// run), unless a function version or layer version uses it or another operation in flight
    /// holds it. The caller holds `writes` (under which uses are recorded); the tree itself is
    /// deleted in the background.
    pub(crate) async fn discard_code(&self, stored: StoredCode) {
        let in_use = self.table.read().values().any(|e| {
            e.all_versions()
                .any(|v| v.record.code_sha256 == stored.sha256_hex)
        }) || self.layers.read().holds(&stored.sha256_hex);
        if in_use {
            return;
        }
        let code = self.code.clone();
        match tokio::task::spawn_blocking(move || code.discard(stored)).await {
            Ok(Ok(Some(hidden))) => {
                tokio::task::spawn_blocking(move || drop(hidden));
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot remove the code of a refused deploy; it goes at the next start")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove the code of a refused deploy; it goes at the next start")
            }
        }
    }
}

/// A `provided` runtime needs an executable `bootstrap` at the top of its code.
pub(crate) fn check_code(config: &FunctionConfig, dir: &Path) -> Result<(), ControlError> {
    let Some(runtime) = &config.runtime else {
        return Ok(());
    };
    if runtime.family() != RuntimeFamily::Provided {
        return Ok(());
    }
    let bootstrap = dir.join("bootstrap");
    match std::fs::metadata(&bootstrap) {
        Err(_) => Err(LambdaError::invalid(format!(
            "runtime {runtime} runs the file `bootstrap` at the top of the zip, and this zip has none: add your executable as `bootstrap` (for Rust: name the binary bootstrap)"
        ))
        .into()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(LambdaError::invalid(
            "`bootstrap` in the zip is not executable: run `chmod +x bootstrap` before zipping (zips made on Windows lose the bit; use `zip` on Linux or set the mode)",
        )
        .into()),
        Ok(_) => Ok(()),
    }
}
