//! What the asynchronous dispatcher asks the control plane: which version an event runs,
//! with which event-invoke configuration.

use std::sync::Arc;

use lambdalet_core::destination::config_qualifier;
use lambdalet_core::{DeployedVersion, EventInvokeConfig, FunctionRef, LambdaError, Qualifier};
use lambdalet_invoker::Targets;

use crate::control::Control;

impl Targets for Control {
    fn resolve(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<DeployedVersion>, String), LambdaError> {
        let mut r = FunctionRef::parse(function)?;
        r.qualifier = qualifier.map(Qualifier::parse).transpose()?;
        let resolved =
            Control::resolve(self, &r).map_err(|e| LambdaError::not_found(e.to_string()))?;
        Ok((resolved.version, resolved.invoked_arn))
    }

    fn event_config(&self, function: &str, qualifier: Option<&str>) -> EventInvokeConfig {
        let q = qualifier.and_then(|q| Qualifier::parse(q).ok());
        let key = config_qualifier(q.as_ref());
        self.table
            .read()
            .get(function)
            .and_then(|e| e.event_configs.get(&key).map(|(c, _)| c.clone()))
            .unwrap_or_default()
    }

    fn reserved_concurrency(&self, function: &str) -> Option<u32> {
        self.table
            .read()
            .get(function)
            .and_then(|e| e.reserved_concurrency)
    }
}
