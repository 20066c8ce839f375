//! The layers API: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions
//! and DeleteLayerVersion.
//!
//! A layer's zip goes into the same content-addressed store as function code (unpacked once per
//! hash, before the management lock is taken, as CreateFunction's). Versions are immutable;
//! deleting one only hides it: the functions that use it keep running it, and its code stays
//! until no function version uses it (it goes at a later start).

use lambdalet_core::layer::{
    MAX_LAYER_LIST_ITEMS, check_layer_architecture, check_layer_fields, check_layer_runtime,
};
use lambdalet_core::{LambdaError, LayerRef};
use lambdalet_store::LayerVersionRecord;

use crate::control::{Control, now_ms};
use crate::error::ControlError;
use crate::functions::{ListPage, paginate};

/// What PublishLayerVersion carries.
#[derive(Debug, Clone, Default)]
pub struct PublishLayerInput {
    /// A layer name or layer ARN (the path's `{LayerName}`).
    pub layer: String,
    pub description: Option<String>,
    pub zip: Vec<u8>,
    /// The zip came from a bucket (`Content.S3Bucket`): the direct-upload limit does not apply.
    pub zip_from_bucket: bool,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// ListLayers' and ListLayerVersions' filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerFilter<'a> {
    pub runtime: Option<&'a str>,
    pub architecture: Option<&'a str>,
}

impl LayerFilter<'_> {
    fn check(&self) -> Result<(), LambdaError> {
        if let Some(r) = self.runtime {
            check_layer_runtime(r)?;
        }
        if let Some(a) = self.architecture {
            check_layer_architecture(a)?;
        }
        Ok(())
    }

    /// A version matches when it declares the runtime and architecture asked for.
    fn matches(&self, r: &LayerVersionRecord) -> bool {
        self.runtime
            .is_none_or(|rt| r.compatible_runtimes.iter().any(|x| x == rt))
            && self
                .architecture
                .is_none_or(|a| r.compatible_architectures.iter().any(|x| x == a))
    }
}

impl Control {
    /// PublishLayerVersion: stores the zip and records it as the layer's next version.
    pub async fn publish_layer_version(
        &self,
        input: PublishLayerInput,
    ) -> Result<LayerVersionRecord, ControlError> {
        let name = self.own_layer(&input.layer)?;
        let description = input.description.unwrap_or_default();
        let runtimes = input.compatible_runtimes.unwrap_or_default();
        let architectures = input.compatible_architectures.unwrap_or_default();
        check_layer_fields(
            &description,
            &runtimes,
            &architectures,
            input.license_info.as_deref(),
        )?;
        let stored = self.put_code(input.zip, input.zip_from_bucket).await?;
        let record = LayerVersionRecord {
            name,
            version: 0,
            code_sha256: stored.sha256_hex.clone(),
            code_size: stored.size,
            unzipped_size: stored.summary.unzipped_bytes,
            description,
            compatible_runtimes: runtimes,
            compatible_architectures: architectures,
            license_info: input.license_info,
            created_ms: now_ms(),
            deleted: false,
        };
        let _w = self.writes.lock().await;
        let published = match self
            .blocking(move |s| s.insert_layer_version(&record))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                self.discard_code(stored).await;
                return Err(e);
            }
        };
        self.layers.write().insert(published.clone());
        drop(stored);
        tracing::info!(layer = %published.name, version = published.version, code = %published.code_sha256, "layer.published");
        Ok(published)
    }

    /// GetLayerVersion: a version that exists and is not deleted.
    pub fn get_layer_version(
        &self,
        layer: &str,
        version: u64,
    ) -> Result<LayerVersionRecord, ControlError> {
        let r = LayerRef::layer(layer)?;
        self.live_layer_version(&r, version, layer)
    }

    /// GetLayerVersionByArn.
    pub fn get_layer_version_by_arn(&self, arn: &str) -> Result<LayerVersionRecord, ControlError> {
        let r = LayerRef::version_arn(arn)?;
        let version = r.version.expect("a version ARN has a version");
        self.live_layer_version(&r, version, arn)
    }

    fn live_layer_version(
        &self,
        r: &LayerRef,
        version: u64,
        asked: &str,
    ) -> Result<LayerVersionRecord, ControlError> {
        let found = r
            .is_in(&self.account)
            .then(|| self.layers.read().live(r.name.as_str(), version).cloned())
            .flatten();
        found.ok_or_else(|| {
            let versions: Vec<String> = self
                .layers
                .read()
                .live_by_name()
                .find(|(n, _)| *n == r.name.as_str())
                .map(|(_, v)| v.iter().rev().map(|x| x.version.to_string()).collect())
                .unwrap_or_default();
            let hint = if versions.is_empty() {
                format!("no layer {} is published here", r.name)
            } else {
                format!("versions of {}: {}", r.name, versions.join(", "))
            };
            LambdaError::not_found(format!(
                "The resource you requested does not exist. (layer version {version} of {asked}; {hint})"
            ))
            .into()
        })
    }

    /// ListLayers: each layer with its newest version that matches the filter, by name.
    pub fn list_layers(
        &self,
        filter: LayerFilter<'_>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<ListPage<LayerVersionRecord>, ControlError> {
        filter.check()?;
        let items: Vec<LayerVersionRecord> = self
            .layers
            .read()
            .live_by_name()
            .filter_map(|(_, versions)| versions.into_iter().find(|r| filter.matches(r)).cloned())
            .collect();
        Ok(paginate(
            items,
            marker,
            max_items.min(MAX_LAYER_LIST_ITEMS),
            |r| r.name.clone(),
        ))
    }

    /// ListLayerVersions: a layer's versions that match the filter, newest first (none for a
    /// layer that does not exist). The marker is a version number.
    pub fn list_layer_versions(
        &self,
        layer: &str,
        filter: LayerFilter<'_>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<ListPage<LayerVersionRecord>, ControlError> {
        filter.check()?;
        let r = LayerRef::layer(layer)?;
        let mut items: Vec<LayerVersionRecord> = Vec::new();
        if r.is_in(&self.account) {
            let table = self.layers.read();
            if let Some((_, versions)) = table.live_by_name().find(|(n, _)| *n == r.name.as_str()) {
                items = versions
                    .into_iter()
                    .filter(|v| filter.matches(v))
                    .cloned()
                    .collect();
            }
        }
        let start = match marker.filter(|m| !m.is_empty()) {
            None => 0,
            Some(m) => {
                let from: u64 = m.parse().map_err(|_| {
                    LambdaError::invalid(format!(
                        "Marker {m:?} is not one lambdalet gave: pass the NextMarker of the previous page"
                    ))
                })?;
                items
                    .iter()
                    .position(|v| v.version <= from)
                    .unwrap_or(items.len())
            }
        };
        let mut rest = items.split_off(start);
        let max = max_items.min(MAX_LAYER_LIST_ITEMS);
        let next_marker = rest.get(max).map(|v| v.version.to_string());
        rest.truncate(max);
        Ok(ListPage {
            items: rest,
            next_marker,
        })
    }

    /// DeleteLayerVersion. Deleting a version that does not exist (or no longer does) succeeds,
    /// as on AWS; the answer says whether there was one.
    pub async fn delete_layer_version(
        &self,
        layer: &str,
        version: u64,
    ) -> Result<bool, ControlError> {
        let r = LayerRef::layer(layer)?;
        if !r.is_in(&self.account) {
            return Ok(false);
        }
        let _w = self.writes.lock().await;
        if self.layers.read().live(r.name.as_str(), version).is_none() {
            return Ok(false);
        }
        let name = r.name.to_string();
        self.blocking(move |s| s.delete_layer_version(&name, version))
            .await?;
        self.layers.write().mark_deleted(r.name.as_str(), version);
        tracing::info!(layer = %r.name, version, "layer.deleted");
        Ok(true)
    }

    /// The bare name of a layer this daemon may publish: a name, or an ARN of this account.
    fn own_layer(&self, layer: &str) -> Result<String, ControlError> {
        let r = LayerRef::layer(layer)?;
        if !r.is_in(&self.account) {
            return Err(LambdaError::invalid(format!(
                "{layer} names a layer of another account or region: this lambdalet publishes the layers of account {} in {}; give the layer's name",
                self.account.account_id, self.account.region
            ))
            .into());
        }
        Ok(r.name.to_string())
    }
}
