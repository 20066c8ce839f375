//! Reserved concurrency (PutFunctionConcurrency and friends) and provisioned concurrency
//! (PutProvisionedConcurrencyConfig and friends).

use lambdalet_core::{ErrorCode, LambdaError, Qualifier};

use crate::control::{Control, now_ms};
use crate::error::ControlError;
use crate::table::FunctionEntry;

/// A provisioned concurrency setting as GetProvisionedConcurrencyConfig reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    pub qualifier: String,
    pub requested: u32,
    /// Environments of that version started and not busy starting.
    pub available: u32,
    pub allocated: u32,
}

impl Control {
    /// PutFunctionConcurrency.
    pub async fn put_reserved_concurrency(
        &self,
        function: &str,
        value: i64,
    ) -> Result<u32, ControlError> {
        if !(0..=i64::from(u32::MAX)).contains(&value) {
            return Err(LambdaError::invalid(format!(
                "ReservedConcurrentExecutions must be 0 or more (got {value})"
            ))
            .into());
        }
        let value = value as u32;
        let _w = self.writes.lock().await;
        self.entry(function)?;
        let f = function.to_owned();
        self.blocking(move |s| s.set_reserved_concurrency(&f, Some(value)))
            .await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.reserved_concurrency = Some(value);
        }
        self.invoker.set_reserved_concurrency(function, Some(value));
        tracing::info!(function, reserved = value, "function.concurrency");
        Ok(value)
    }

    /// GetFunctionConcurrency.
    pub fn reserved_concurrency(&self, function: &str) -> Result<Option<u32>, ControlError> {
        Ok(self.entry(function)?.reserved_concurrency)
    }

    /// DeleteFunctionConcurrency.
    pub async fn delete_reserved_concurrency(&self, function: &str) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        self.entry(function)?;
        let f = function.to_owned();
        self.blocking(move |s| s.set_reserved_concurrency(&f, None))
            .await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.reserved_concurrency = None;
        }
        self.invoker.set_reserved_concurrency(function, None);
        Ok(())
    }

    /// PutProvisionedConcurrencyConfig: keep `count` environments of a published version (or
    /// the version an alias points at) started and warm.
    pub async fn put_provisioned(
        &self,
        function: &str,
        qualifier: &str,
        count: i64,
    ) -> Result<ProvisionedStatus, ControlError> {
        if !(1..=i64::from(u32::MAX)).contains(&count) {
            return Err(LambdaError::invalid(format!(
                "ProvisionedConcurrentExecutions must be 1 or more (got {count})"
            ))
            .into());
        }
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        check_provisioned_qualifier(&entry, function, qualifier)?;
        if let Some(r) = entry.reserved_concurrency {
            let others: u32 = entry
                .provisioned
                .iter()
                .filter(|(q, _)| *q != qualifier)
                .map(|(_, n)| n)
                .sum();
            if others + count as u32 > r {
                return Err(LambdaError::invalid(format!(
                    "provisioned concurrency ({}) would exceed the function's reserved concurrency ({r})",
                    others + count as u32
                ))
                .into());
            }
        }
        let (f, q, n) = (function.to_owned(), qualifier.to_owned(), count as u32);
        self.blocking(move |s| s.put_provisioned(&f, &q, n, now_ms()))
            .await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.provisioned.insert(qualifier.to_owned(), count as u32);
        }
        self.apply_provisioned(function);
        self.provisioned_status(function, qualifier)
    }

    /// GetProvisionedConcurrencyConfig.
    pub fn provisioned_status(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<ProvisionedStatus, ControlError> {
        let entry = self.entry(function)?;
        let requested = *entry.provisioned.get(qualifier).ok_or_else(|| {
            LambdaError::new(
                ErrorCode::ProvisionedConcurrencyConfigNotFound,
                format!(
                    "No Provisioned Concurrency Config found for this function: {}",
                    self.account.qualified_arn(function, qualifier)
                ),
            )
        })?;
        let version = entry
            .aliases
            .get(qualifier)
            .map_or(qualifier, |a| a.function_version.as_str());
        let stats = self.invoker.stats(function, version);
        let ready = (stats.idle + stats.busy) as u32;
        Ok(ProvisionedStatus {
            qualifier: qualifier.to_owned(),
            requested,
            available: ready.min(requested),
            allocated: (ready + stats.starting as u32).min(requested),
        })
    }

    /// ListProvisionedConcurrencyConfigs.
    pub fn list_provisioned(&self, function: &str) -> Result<Vec<ProvisionedStatus>, ControlError> {
        let entry = self.entry(function)?;
        entry
            .provisioned
            .keys()
            .map(|q| self.provisioned_status(function, q))
            .collect()
    }

    /// DeleteProvisionedConcurrencyConfig.
    pub async fn delete_provisioned(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        self.entry(function)?;
        let (f, q) = (function.to_owned(), qualifier.to_owned());
        if !self.blocking(move |s| s.delete_provisioned(&f, &q)).await? {
            return Err(LambdaError::new(
                ErrorCode::ProvisionedConcurrencyConfigNotFound,
                format!(
                    "No Provisioned Concurrency Config found for this function: {}",
                    self.account.qualified_arn(function, qualifier)
                ),
            )
            .into());
        }
        if let Some(e) = self.table.write().get_mut(function) {
            e.provisioned.remove(qualifier);
        }
        self.apply_provisioned(function);
        Ok(())
    }

    /// Tells the invoker how many environments each version of `function` keeps warm.
    pub(crate) fn apply_provisioned(&self, function: &str) {
        let Some(entry) = self.table.read().get(function).cloned() else {
            return;
        };
        let wanted = entry.provisioned_by_version();
        for v in entry.all_versions() {
            let n = wanted.get(&v.record.version).copied().unwrap_or(0);
            self.invoker.set_provisioned(function, &v.record.version, n);
        }
    }
}

fn check_provisioned_qualifier(
    entry: &FunctionEntry,
    function: &str,
    qualifier: &str,
) -> Result<(), ControlError> {
    match Qualifier::parse(qualifier)? {
        Qualifier::Latest => Err(LambdaError::invalid(
            "provisioned concurrency cannot be set on $LATEST: publish a version (or point an alias at one) and use that",
        )
        .into()),
        Qualifier::Version(v) if !entry.versions.contains_key(&v) => Err(LambdaError::not_found(format!(
            "version {v} of {function} does not exist"
        ))
        .into()),
        Qualifier::Alias(a) if !entry.aliases.contains_key(&a) => {
            Err(LambdaError::not_found(format!("alias {a} of {function} does not exist")).into())
        }
        Qualifier::Alias(a) if entry.aliases.get(&a).is_some_and(|x| x.function_version == lambdalet_store::LATEST) => {
            Err(LambdaError::invalid(format!("alias {a} points at $LATEST, which cannot have provisioned concurrency")).into())
        }
        _ => Ok(()),
    }
}
