//! Put/Update/Get/Delete/ListFunctionEventInvokeConfig.

use lambdalet_core::destination::config_qualifier;
use lambdalet_core::{EventInvokeConfig, LambdaError, Qualifier};
use lambdalet_store::EventConfigRecord;

use crate::control::{Control, now_ms};
use crate::error::ControlError;

impl Control {
    /// PutFunctionEventInvokeConfig (`merge` false) or UpdateFunctionEventInvokeConfig (`merge`
    /// true: fields not given keep their value).
    pub async fn put_event_config(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
        given: EventInvokeConfig,
        merge: bool,
    ) -> Result<(EventInvokeConfig, u64), ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        let q = config_qualifier(qualifier);
        self.check_qualifier(&entry, function, &q)?;
        let config = match (merge, entry.event_configs.get(&q)) {
            (true, Some((old, _))) => merged(old, given),
            _ => given,
        };
        config.validate()?;
        let json =
            serde_json::to_string(&config).map_err(|e| LambdaError::invalid(e.to_string()))?;
        let now = now_ms();
        let record = EventConfigRecord {
            function: function.to_owned(),
            qualifier: q.clone(),
            config_json: json,
            last_modified_ms: now,
        };
        self.blocking(move |s| s.put_event_config(&record)).await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.event_configs.insert(q, (config.clone(), now));
        }
        Ok((config, now))
    }

    /// GetFunctionEventInvokeConfig.
    pub fn event_config(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<(EventInvokeConfig, u64), ControlError> {
        let entry = self.entry(function)?;
        let q = config_qualifier(qualifier);
        entry.event_configs.get(&q).cloned().ok_or_else(|| {
            LambdaError::not_found(format!(
                "The function {} doesn't have an EventInvokeConfig; create one with PutFunctionEventInvokeConfig",
                self.account.qualified_arn(function, &q)
            ))
            .into()
        })
    }

    /// ListFunctionEventInvokeConfigs: (qualifier, config, last modified).
    pub fn list_event_configs(
        &self,
        function: &str,
    ) -> Result<Vec<(String, EventInvokeConfig, u64)>, ControlError> {
        let entry = self.entry(function)?;
        Ok(entry
            .event_configs
            .into_iter()
            .map(|(q, (c, t))| (q, c, t))
            .collect())
    }

    /// DeleteFunctionEventInvokeConfig.
    pub async fn delete_event_config(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        self.entry(function)?;
        let (f, q) = (function.to_owned(), config_qualifier(qualifier));
        let q2 = q.clone();
        if !self
            .blocking(move |s| s.delete_event_config(&f, &q2))
            .await?
        {
            return Err(LambdaError::not_found(format!(
                "The function {} doesn't have an EventInvokeConfig",
                self.account.qualified_arn(function, &q)
            ))
            .into());
        }
        if let Some(e) = self.table.write().get_mut(function) {
            e.event_configs.remove(&q);
        }
        Ok(())
    }

    fn check_qualifier(
        &self,
        entry: &crate::table::FunctionEntry,
        function: &str,
        q: &str,
    ) -> Result<(), ControlError> {
        let known = entry.version(q).is_some() || entry.aliases.contains_key(q);
        if known {
            Ok(())
        } else {
            Err(LambdaError::not_found(format!("{function} has no version or alias {q}")).into())
        }
    }
}

fn merged(old: &EventInvokeConfig, new: EventInvokeConfig) -> EventInvokeConfig {
    let mut c = old.clone();
    if new.maximum_retry_attempts.is_some() {
        c.maximum_retry_attempts = new.maximum_retry_attempts;
    }
    if new.maximum_event_age_in_seconds.is_some() {
        c.maximum_event_age_in_seconds = new.maximum_event_age_in_seconds;
    }
    if new.destination_config.on_success.is_some() {
        c.destination_config.on_success = new.destination_config.on_success;
    }
    if new.destination_config.on_failure.is_some() {
        c.destination_config.on_failure = new.destination_config.on_failure;
    }
    c
}
