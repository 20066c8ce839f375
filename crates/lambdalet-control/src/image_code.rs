//! Functions of PackageType Image: CreateFunction and UpdateFunctionCode with `ImageUri`, and
//! the rule that an image a function version runs cannot be removed.
//!
//! `ImageUri` names an image loaded with `lambdalet image load` (by name, id, id prefix, or
//! `repository@sha256:<id>`). It is resolved once, when the code is set: the version records
//! the image id and the image's settings, so loading another image under the same name later
//! changes no function (as re-tagging in ECR does not). Removal and use are decided under
//! `Control::writes`, so an image cannot go between a create's check and its insert.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambdalet_core::{
    FunctionConfig, FunctionName, ImageCode, LambdaError, config::host_architecture,
};
use lambdalet_package::image::{ImageStore, LoadedImage};

use crate::code::{CreateFunctionInput, UpdateCodeInput};
use crate::control::{Control, new_revision, now_ms};
use crate::error::ControlError;
use crate::functions::check_revision;
use crate::table::VersionView;

/// The image architecture names (OCI's `GOARCH`) of this host's Lambda architecture.
fn host_image_arch() -> &'static str {
    match host_architecture() {
        "arm64" => "arm64",
        _ => "amd64",
    }
}

/// What an image must be to run here: Linux, this machine's architecture, something to run.
fn check_runnable(uri: &str, image: &LoadedImage) -> Result<(), LambdaError> {
    if let Some(os) = image.config.os.as_deref().filter(|os| *os != "linux") {
        return Err(LambdaError::invalid(format!(
            "image {uri} is built for {os}; Lambda functions run Linux images"
        )));
    }
    if let Some(arch) = image
        .config
        .architecture
        .as_deref()
        .filter(|a| *a != host_image_arch())
    {
        return Err(LambdaError::invalid(format!(
            "image {uri} is built for {arch} and this host is {} ({}): build the image for linux/{}",
            host_image_arch(),
            host_architecture(),
            host_image_arch()
        )));
    }
    Ok(())
}

/// The reference `uri` gives the image store: the digest of `repo@sha256:<id>`, else itself.
fn reference(uri: &str) -> &str {
    match uri.split_once('@') {
        Some((_, digest)) => digest,
        None => uri,
    }
}

impl Control {
    fn image_store(&self) -> Arc<ImageStore> {
        self.images.clone()
    }

    /// The image `uri` names, as a version records it.
    pub(crate) async fn resolve_image(&self, uri: &str) -> Result<ImageCode, ControlError> {
        let store = self.image_store();
        let wanted = reference(uri).to_owned();
        let found = tokio::task::spawn_blocking(move || store.get(&wanted))
            .await?
            .map_err(|e| LambdaError::invalid(format!("ImageUri {uri:?}: {e}")))?;
        let Some(image) = found else {
            return Err(LambdaError::invalid(format!(
                "Source image {uri} does not exist. Provide a valid source image: load it first with `lambdalet image load FILE` (a docker save or OCI layout tarball), or name a loaded one (`lambdalet image list`)"
            ))
            .into());
        };
        check_runnable(uri, &image)?;
        Ok(ImageCode {
            uri: uri.to_owned(),
            id: image.id,
            entrypoint: image.config.entrypoint,
            cmd: image.config.cmd,
            working_dir: image.config.working_dir,
            env: image.config.env,
        })
    }

    /// Whether the image `id` is still loaded (checked again under `writes`).
    fn image_present(&self, id: &str) -> Result<(), ControlError> {
        match self.image_store().get(id) {
            Ok(Some(_)) => Ok(()),
            _ => Err(LambdaError::conflict(format!(
                "image sha256:{id} was removed while the function was being deployed: load it again"
            ))
            .into()),
        }
    }

    /// CreateFunction of PackageType Image.
    pub(crate) async fn create_image_function(
        &self,
        name: FunctionName,
        config: FunctionConfig,
        input: CreateFunctionInput,
    ) -> Result<VersionView, ControlError> {
        if !input.zip.is_empty() {
            return Err(LambdaError::invalid(
                "a function of PackageType Image takes its code from Code.ImageUri, not a zip",
            )
            .into());
        }
        let uri = input.image_uri.as_deref().ok_or_else(|| {
            LambdaError::invalid(
                "Code.ImageUri is required for PackageType Image: name an image loaded with `lambdalet image load` (lambdalet deploy --image FILE loads and deploys in one step)",
            )
        })?;
        let image = self.resolve_image(uri).await?;
        crate::events::check(&config)?;
        self.invoker
            .check_sandbox(&config)
            .map_err(LambdaError::invalid)?;
        let _turn = self.order.turn(name.as_str()).await;
        let id = image.id.clone();
        let config = config.with_image(image);
        let w = self.writes.lock().await;
        self.image_present(&id)?;
        let view = self
            .insert_record(&name, config, input.tags, &id, 0)
            .await?;
        tracing::info!(function = %name, image = %id, "function.created");
        if input.publish {
            drop(w);
            return self.publish_version(name.as_str(), None, None, None).await;
        }
        Ok(view)
    }

    /// UpdateFunctionCode of a function of PackageType Image (the caller holds its turn).
    pub(crate) async fn update_image_code(
        &self,
        name: &str,
        input: UpdateCodeInput,
    ) -> Result<VersionView, ControlError> {
        if !input.zip.is_empty() {
            return Err(LambdaError::invalid(format!(
                "{name} is a function of PackageType Image: give it a new image with ImageUri, not a zip; the package type of a function cannot change"
            ))
            .into());
        }
        let uri = input.image_uri.as_deref().ok_or_else(|| {
            LambdaError::invalid("ImageUri is required to update the code of an image function")
        })?;
        let image = self.resolve_image(uri).await?;
        let w = self.writes.lock().await;
        let entry = self.entry(name)?;
        check_revision(
            input.revision_id.as_deref(),
            &entry.latest.record.revision_id,
        )?;
        self.image_present(&image.id)?;
        let mut record = entry.latest.record.clone();
        record.code_sha256.clone_from(&image.id);
        record.code_size = 0;
        record.config = record.config.with_image(image);
        if input.dry_run {
            return Ok(self.view(record, self.credentials_of(name)));
        }
        record.revision_id = new_revision();
        record.last_modified_ms = now_ms();
        let view = self.replace_latest(record).await?;
        if input.publish {
            drop(w);
            return self.publish_version(name, None, None, None).await;
        }
        Ok(view)
    }

    /// Every loaded image some function version runs, with those versions
    /// (`name` for `$LATEST`, `name:3` for a published one).
    pub(crate) fn images_in_use(&self) -> BTreeMap<String, Vec<String>> {
        let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, entry) in self.table.read().iter() {
            for v in entry.all_versions() {
                if let Some(image) = &v.record.config.image {
                    let who = if v.record.version == lambdalet_store::LATEST {
                        name.clone()
                    } else {
                        format!("{name}:{}", v.record.version)
                    };
                    uses.entry(image.id.clone()).or_default().push(who);
                }
            }
        }
        uses
    }

    /// Refuses to remove an image a function version runs, naming them.
    pub(crate) fn check_image_unused(&self, id: &str) -> Result<(), ControlError> {
        match self.images_in_use().get(id) {
            None => Ok(()),
            Some(users) => Err(LambdaError::conflict(format!(
                "image sha256:{} is used by {}: delete those functions (or versions), or give them another image with UpdateFunctionCode, first",
                &id[..12.min(id.len())],
                users.join(", ")
            ))
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_reference_names_the_id() {
        let id = "ab".repeat(32);
        assert_eq!(
            reference(&format!("hello@sha256:{id}")),
            format!("sha256:{id}")
        );
        assert_eq!(reference("hello:latest"), "hello:latest");
    }
}
