//! CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias.

use std::collections::BTreeMap;

use lambdalet_core::LambdaError;
use lambdalet_core::ids::validate_alias_name;
use lambdalet_store::{AliasRecord, LATEST};

use crate::control::{Control, new_revision};
use crate::error::ControlError;
use crate::functions::{ListPage, check_revision, list_or_none, paginate};
use crate::table::FunctionEntry;

/// What CreateAlias and UpdateAlias carry. For an update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AliasInput {
    pub function_version: Option<String>,
    pub description: Option<String>,
    /// Additional version → weight. `Some(empty)` removes routing.
    pub routing: Option<BTreeMap<String, f64>>,
    pub revision_id: Option<String>,
}

impl Control {
    /// CreateAlias.
    pub async fn create_alias(
        &self,
        function: &str,
        alias: &str,
        input: AliasInput,
    ) -> Result<AliasRecord, ControlError> {
        validate_alias_name(alias)?;
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        if entry.aliases.contains_key(alias) {
            return Err(LambdaError::conflict(format!(
                "Alias already exists: {}; change it with UpdateAlias",
                self.account.qualified_arn(function, alias)
            ))
            .into());
        }
        let version = input.function_version.ok_or_else(|| {
            LambdaError::invalid(
                "FunctionVersion is required: give $LATEST or a published version number",
            )
        })?;
        let record = AliasRecord {
            function: function.to_owned(),
            name: alias.to_owned(),
            function_version: version,
            description: input.description.unwrap_or_default(),
            routing: input.routing.unwrap_or_default(),
            revision_id: new_revision(),
        };
        validate_alias(&entry, &record)?;
        let r = record.clone();
        self.blocking(move |s| s.insert_alias(&r)).await?;
        self.store_alias(&record);
        Ok(record)
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        function: &str,
        alias: &str,
        input: AliasInput,
    ) -> Result<AliasRecord, ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        let current = entry
            .aliases
            .get(alias)
            .ok_or_else(|| self.alias_not_found(function, alias, &entry))?;
        check_revision(input.revision_id.as_deref(), &current.revision_id)?;
        let mut record = current.clone();
        if let Some(v) = input.function_version {
            record.function_version = v;
        }
        if let Some(d) = input.description {
            record.description = d;
        }
        if let Some(r) = input.routing {
            record.routing = r;
        }
        record.revision_id = new_revision();
        validate_alias(&entry, &record)?;
        let r = record.clone();
        self.blocking(move |s| s.update_alias(&r)).await?;
        self.store_alias(&record);
        Ok(record)
    }

    fn store_alias(&self, record: &AliasRecord) {
        if let Some(e) = self.table.write().get_mut(&record.function) {
            e.aliases.insert(record.name.clone(), record.clone());
        }
        self.apply_provisioned(&record.function);
    }

    /// GetAlias.
    pub fn get_alias(&self, function: &str, alias: &str) -> Result<AliasRecord, ControlError> {
        let entry = self.entry(function)?;
        entry
            .aliases
            .get(alias)
            .cloned()
            .ok_or_else(|| self.alias_not_found(function, alias, &entry))
    }

    /// ListAliases, optionally only those pointing at `version`.
    pub fn list_aliases(
        &self,
        function: &str,
        version: Option<&str>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<ListPage<AliasRecord>, ControlError> {
        let entry = self.entry(function)?;
        let items: Vec<AliasRecord> = entry
            .aliases
            .values()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .cloned()
            .collect();
        Ok(paginate(items, marker, max_items, |a| a.name.clone()))
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, function: &str, alias: &str) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        if !entry.aliases.contains_key(alias) {
            return Err(self.alias_not_found(function, alias, &entry));
        }
        let (f, a) = (function.to_owned(), alias.to_owned());
        self.blocking(move |s| {
            s.delete_provisioned(&f, &a)?;
            s.delete_event_config(&f, &a)?;
            s.delete_policy(&f, &a)?;
            s.delete_alias(&f, &a)
        })
        .await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.aliases.remove(alias);
            e.provisioned.remove(alias);
            e.event_configs.remove(alias);
            e.policies.remove(alias);
        }
        self.forget_function_urls(function, Some(alias));
        self.apply_provisioned(function);
        Ok(())
    }

    pub(crate) fn alias_not_found(
        &self,
        function: &str,
        alias: &str,
        entry: &FunctionEntry,
    ) -> ControlError {
        LambdaError::not_found(format!(
            "Alias not found: {}; aliases of {function}: {}",
            self.account.qualified_arn(function, alias),
            list_or_none(entry.aliases.keys())
        ))
        .into()
    }
}

fn validate_alias(entry: &FunctionEntry, a: &AliasRecord) -> Result<(), ControlError> {
    if entry.version(&a.function_version).is_none() {
        return Err(LambdaError::not_found(format!(
            "Function version {} of {} does not exist; published versions: {} (or use $LATEST)",
            a.function_version,
            a.function,
            list_or_none(entry.versions.keys())
        ))
        .into());
    }
    if a.description.len() > lambdalet_core::limits::MAX_DESCRIPTION_LEN {
        return Err(LambdaError::invalid("Description must be at most 256 characters long").into());
    }
    if a.routing.len() > 1 {
        return Err(LambdaError::invalid(format!(
            "RoutingConfig.AdditionalVersionWeights may name one additional version, not {}",
            a.routing.len()
        ))
        .into());
    }
    for (version, weight) in &a.routing {
        if a.function_version == LATEST {
            return Err(LambdaError::invalid(
                "$LATEST is not supported for an alias pointing to more than 1 version: point the alias at a published version",
            )
            .into());
        }
        if version == &a.function_version {
            return Err(LambdaError::invalid(format!(
                "the additional version {version} is the alias's own FunctionVersion: name a different published version"
            ))
            .into());
        }
        if version
            .parse::<u64>()
            .ok()
            .and_then(|v| entry.versions.get(&v))
            .is_none()
        {
            return Err(LambdaError::invalid(format!(
                "additional version {version} is not a published version of {}",
                a.function
            ))
            .into());
        }
        if !(0.0..=1.0).contains(weight) || weight.is_nan() {
            return Err(LambdaError::invalid(format!(
                "the weight of version {version} must be between 0.0 and 1.0 (got {weight})"
            ))
            .into());
        }
    }
    Ok(())
}
