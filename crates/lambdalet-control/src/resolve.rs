//! From a function reference (name, qualifier, ARN) to the version to run.

use std::sync::Arc;

use lambdalet_core::{DeployedVersion, FunctionRef, LambdaError, Qualifier};

use crate::control::Control;
use crate::error::ControlError;
use crate::functions::list_or_none;

/// The version an invocation runs and the ARN it was invoked as.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub version: Arc<DeployedVersion>,
    pub invoked_arn: String,
}

impl Control {
    /// Resolves `r` against the in-memory table; an alias with routing picks its additional
    /// version with the configured weight.
    pub fn resolve(&self, r: &FunctionRef) -> Result<Resolved, ControlError> {
        let name = r.name.as_str();
        let table = self.table.read();
        let Some(entry) = table.get(name) else {
            drop(table);
            return Err(self.function_not_found(name));
        };
        let (version, invoked_arn) = match &r.qualifier {
            None => (
                entry.latest.deployed.clone(),
                self.account.function_arn(name),
            ),
            Some(Qualifier::Latest) => (
                entry.latest.deployed.clone(),
                self.account.qualified_arn(name, Qualifier::LATEST),
            ),
            Some(Qualifier::Version(v)) => {
                let view = entry.versions.get(v).ok_or_else(|| {
                    LambdaError::not_found(format!(
                        "Function not found: {}; published versions: {}",
                        self.account.qualified_arn(name, &v.to_string()),
                        list_or_none(entry.versions.keys())
                    ))
                })?;
                (
                    view.deployed.clone(),
                    self.account.qualified_arn(name, &v.to_string()),
                )
            }
            Some(Qualifier::Alias(a)) => {
                let alias = entry
                    .aliases
                    .get(a)
                    .ok_or_else(|| self.alias_not_found(name, a, entry))?;
                let mut chosen = alias.function_version.as_str();
                if let Some((extra, weight)) = alias.routing.iter().next()
                    && fastrand::f64() < *weight
                {
                    chosen = extra;
                }
                let view = entry.version(chosen).ok_or_else(|| {
                    LambdaError::not_found(format!(
                        "alias {a} points at version {chosen}, which no longer exists"
                    ))
                })?;
                (view.deployed.clone(), self.account.qualified_arn(name, a))
            }
        };
        Ok(Resolved {
            version,
            invoked_arn,
        })
    }
}
