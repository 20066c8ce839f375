//! A function's `Layers` as its configuration or code changes: new references are checked
//! against the layer table, and code plus layers against the 250 MB they share.

use lambdalet_core::FunctionConfig;

use crate::control::Control;
use crate::error::ControlError;
use crate::layer_table::{LayerUse, check_total_size};

impl Control {
    /// Checks `config.layers` as a new list and writes the ARNs in their one stored form. `had`
    /// is the function's current list: a version in it may have been deleted since, and stays.
    pub(crate) fn resolve_layers(
        &self,
        config: &mut FunctionConfig,
        had: &[String],
    ) -> Result<Vec<LayerUse>, ControlError> {
        let uses = self
            .layers
            .read()
            .resolve(&self.account, &config.layers, had)?;
        config.layers = uses.iter().map(|u| u.arn.clone()).collect();
        Ok(uses)
    }

    /// The 250 MB rule for the stored code `sha256` with `layers` (code alone was checked when
    /// it was uploaded). The code's unzipped size is read from its zip's listing once.
    pub(crate) async fn check_stored_size(
        &self,
        sha256: &str,
        layers: &[LayerUse],
    ) -> Result<(), ControlError> {
        if layers.is_empty() {
            return Ok(());
        }
        let (code, sha) = (self.code.clone(), sha256.to_owned());
        let bytes = tokio::task::spawn_blocking(move || code.unzipped_size(&sha)).await??;
        Ok(check_total_size(bytes, layers)?)
    }
}
