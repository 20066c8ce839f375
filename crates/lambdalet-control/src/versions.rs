//! PublishVersion and ListVersionsByFunction.

use lambdalet_core::{ErrorCode, LambdaError};

use crate::control::Control;
use crate::error::ControlError;
use crate::functions::{ListPage, check_revision, paginate};
use crate::table::VersionView;

impl Control {
    /// PublishVersion: snapshots `$LATEST` as the next version number. If `$LATEST` has not
    /// changed since the newest published version, that version is returned instead.
    pub async fn publish_version(
        &self,
        name: &str,
        code_sha256_base64: Option<&str>,
        description: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<VersionView, ControlError> {
        // A version is published to run: its runtime must have an interpreter here.
        let config = self.entry(name)?.latest.record.config;
        self.check_runtime(&config).await?;
        let _w = self.writes.lock().await;
        let entry = self.entry(name)?;
        check_revision(revision_id, &entry.latest.record.revision_id)?;
        if let Some(sha) = code_sha256_base64.filter(|s| !s.is_empty())
            && sha != entry.latest.code_sha256_base64()
        {
            return Err(LambdaError::invalid(format!(
                "CodeSha256 ({sha}) is different from current CodeSha256 in $LATEST ({}). Please try again with the CodeSha256 in $LATEST.",
                entry.latest.code_sha256_base64()
            ))
            .into());
        }
        let latest = &entry.latest.record;
        if let Some(newest) = entry.versions.values().next_back() {
            let same_code = newest.record.code_sha256 == latest.code_sha256;
            let mut newest_config = newest.record.config.clone();
            newest_config
                .description
                .clone_from(&latest.config.description);
            if same_code && newest_config == latest.config {
                return Ok(newest.clone());
            }
        }
        let mut record = latest.clone();
        if let Some(d) = description {
            if d.len() > lambdalet_core::limits::MAX_DESCRIPTION_LEN {
                return Err(LambdaError::invalid(format!(
                    "Description must be at most {} characters long (it has {})",
                    lambdalet_core::limits::MAX_DESCRIPTION_LEN,
                    d.len()
                ))
                .into());
            }
            record.config.description = d.to_owned();
        }
        record.revision_id = crate::control::new_revision();
        record.last_modified_ms = crate::control::now_ms();
        let published = self.blocking(move |s| s.publish_version(&record)).await?;
        let number: u64 = published.version.parse().map_err(|_| {
            LambdaError::new(
                ErrorCode::Service,
                format!("the store assigned a bad version {:?}", published.version),
            )
        })?;
        let view = self.view(published, self.credentials_of(name));
        if let Some(e) = self.table.write().get_mut(name) {
            e.versions.insert(number, view.clone());
        }
        self.invoker.deploy(view.deployed.clone());
        tracing::info!(function = %name, version = number, "function.published");
        Ok(view)
    }

    /// ListVersionsByFunction: `$LATEST` first, then published versions in order.
    pub fn list_versions(
        &self,
        name: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<ListPage<VersionView>, ControlError> {
        let entry = self.entry(name)?;
        let mut items = vec![entry.latest.clone()];
        items.extend(entry.versions.values().cloned());
        Ok(paginate(items, marker, max_items, |v| {
            v.record.version.clone()
        }))
    }
}
