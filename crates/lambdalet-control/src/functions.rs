//! CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, GetFunction,
//! ListFunctions, DeleteFunction.

use std::collections::BTreeMap;

use lambdalet_core::{
    ErrorCode, FunctionConfig, FunctionConfigPatch, FunctionName, LambdaError, Qualifier,
};
use lambdalet_package::StoredCode;
use lambdalet_store::{FunctionRecord, LATEST, VersionRecord};

use crate::code::check_code;
use crate::control::{Control, new_revision, now_ms};
use crate::error::ControlError;
use crate::table::{FunctionEntry, VersionView, view_of};

/// What CreateFunction carries.
#[derive(Debug, Clone, Default)]
pub struct CreateFunctionInput {
    pub name: String,
    pub config: FunctionConfigPatch,
    pub zip: Vec<u8>,
    pub publish: bool,
    pub tags: BTreeMap<String, String>,
}

/// What UpdateFunctionCode carries.
#[derive(Debug, Clone, Default)]
pub struct UpdateCodeInput {
    pub zip: Vec<u8>,
    pub publish: bool,
    pub dry_run: bool,
    pub revision_id: Option<String>,
}

/// GetFunction's answer.
#[derive(Debug, Clone)]
pub struct FunctionDetails {
    pub view: VersionView,
    pub tags: BTreeMap<String, String>,
    /// The qualifier the caller used, if any (for the returned ARN).
    pub qualifier: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

impl Control {
    /// CreateFunction. The zip is unpacked before the management lock is taken; a refused
    /// create takes back what it stored.
    pub async fn create_function(
        &self,
        input: CreateFunctionInput,
    ) -> Result<VersionView, ControlError> {
        let name = FunctionName::new(&input.name)?;
        let config = FunctionConfig::create(input.config)?;
        crate::events::check(&config)?;
        self.invoker.check_runtime(&config.runtime).await?;
        self.invoker
            .check_sandbox(&config)
            .map_err(LambdaError::invalid)?;
        let _turn = self.order.turn(name.as_str()).await;
        // Before the upload is unpacked, and again under the lock.
        self.check_absent(&name)?;
        let stored = self.put_code(input.zip).await?;
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
        tracing::info!(function = %name, runtime = %view.record.config.runtime, code = %view.record.code_sha256, "function.created");
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
        config: FunctionConfig,
        tags: BTreeMap<String, String>,
        stored: &StoredCode,
    ) -> Result<VersionView, ControlError> {
        self.check_absent(name)?;
        check_code(&config, &stored.dir)?;
        let now = now_ms();
        let latest = VersionRecord {
            function: name.to_string(),
            version: LATEST.to_owned(),
            config,
            code_sha256: stored.sha256_hex.clone(),
            code_size: stored.size,
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
        record.latest.uid_index = self.blocking(move |s| s.insert_function(&r)).await?;
        let stored = lambdalet_store::StoredFunction {
            function: record,
            versions: Vec::new(),
            aliases: Vec::new(),
            reserved_concurrency: None,
            provisioned: Vec::new(),
            event_configs: Vec::new(),
        };
        let entry =
            FunctionEntry::from_stored(&self.account, &|sha| self.code.code_dir(sha), stored);
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
        check_revision(
            input.revision_id.as_deref(),
            &entry.latest.record.revision_id,
        )?;
        let stored = self.put_code(input.zip).await?;
        let w = self.writes.lock().await;
        let mut record = match self.with_code(name, input.revision_id.as_deref(), &stored) {
            Ok(record) => record,
            Err(e) => {
                self.discard_code(stored).await;
                return Err(e);
            }
        };
        if input.dry_run {
            let view = view_of(&self.account, stored.dir.clone(), record);
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
        let mut record = entry.latest.record.clone();
        record.code_sha256.clone_from(&stored.sha256_hex);
        record.code_size = stored.size;
        Ok(record)
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_configuration(
        &self,
        name: &str,
        patch: FunctionConfigPatch,
        revision_id: Option<&str>,
    ) -> Result<VersionView, ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(name)?;
        check_revision(revision_id, &entry.latest.record.revision_id)?;
        let config = entry.latest.record.config.apply(patch)?;
        crate::events::check(&config)?;
        if config.runtime != entry.latest.record.config.runtime {
            self.invoker.check_runtime(&config.runtime).await?;
        }
        self.invoker
            .check_sandbox(&config)
            .map_err(LambdaError::invalid)?;
        check_code(&config, &entry.latest.deployed.code_dir)?;
        let mut record = entry.latest.record.clone();
        record.config = config;
        record.revision_id = new_revision();
        record.last_modified_ms = now_ms();
        self.replace_latest(record).await
    }

    async fn replace_latest(&self, record: VersionRecord) -> Result<VersionView, ControlError> {
        let r = record.clone();
        self.blocking(move |s| s.update_latest(&r)).await?;
        let view = view_of(
            &self.account,
            self.code.code_dir(&record.code_sha256),
            record,
        );
        if let Some(e) = self.table.write().get_mut(&view.record.function) {
            e.latest = view.clone();
        }
        self.invoker.deploy(view.deployed.clone());
        self.sync_router(&view.record.function);
        tracing::info!(function = %view.record.function, revision = %view.record.revision_id, "function.updated");
        Ok(view)
    }

    /// GetFunction / GetFunctionConfiguration.
    pub fn get_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionDetails, ControlError> {
        let entry = self.entry(name)?;
        let view = match qualifier {
            None => entry.latest.clone(),
            Some(q) => match Qualifier::parse(q)? {
                Qualifier::Latest => entry.latest.clone(),
                Qualifier::Version(v) => entry.versions.get(&v).cloned().ok_or_else(|| {
                    LambdaError::not_found(format!(
                        "Function not found: {}; published versions: {}",
                        self.account.qualified_arn(name, q),
                        list_or_none(entry.versions.keys())
                    ))
                })?,
                Qualifier::Alias(a) => {
                    let alias = entry
                        .aliases
                        .get(&a)
                        .ok_or_else(|| self.alias_not_found(name, &a, &entry))?;
                    entry
                        .version(&alias.function_version)
                        .cloned()
                        .ok_or_else(|| {
                            LambdaError::new(
                                ErrorCode::Service,
                                format!(
                                    "alias {a} points at missing version {}",
                                    alias.function_version
                                ),
                            )
                        })?
                }
            },
        };
        Ok(FunctionDetails {
            view,
            tags: entry.tags,
            qualifier: qualifier.map(str::to_owned),
        })
    }

    /// ListFunctions: `$LATEST` of every function (or every version with `all_versions`),
    /// ordered by name, `max_items` per page from `marker`.
    pub fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: usize,
        all_versions: bool,
    ) -> ListPage<VersionView> {
        let table = self.table.read();
        let mut items: Vec<VersionView> = Vec::new();
        for entry in table.values() {
            items.push(entry.latest.clone());
            if all_versions {
                items.extend(entry.versions.values().cloned());
            }
        }
        paginate(items, marker, max_items, |v| {
            format!("{}:{}", v.record.function, v.record.version)
        })
    }

    /// DeleteFunction: the whole function, or one published version with a qualifier.
    pub async fn delete_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(name)?;
        match qualifier.map(Qualifier::parse).transpose()? {
            None => {
                let n = name.to_owned();
                self.blocking(move |s| s.delete_function(&n)).await?;
                self.table.write().remove(name);
                self.invoker.remove(name, None);
                self.sync_router(name);
                tracing::info!(function = %name, "function.deleted");
            }
            Some(Qualifier::Latest) => {
                return Err(LambdaError::invalid(
                    "$LATEST version cannot be deleted without deleting the function: call DeleteFunction without a qualifier",
                )
                .into());
            }
            Some(Qualifier::Alias(a)) => {
                return Err(LambdaError::invalid(format!(
                    "{a} is an alias; DeleteFunction takes a version number as qualifier: use DeleteAlias to remove an alias"
                ))
                .into());
            }
            Some(Qualifier::Version(v)) => {
                if !entry.versions.contains_key(&v) {
                    return Err(LambdaError::not_found(format!(
                        "Function not found: {}; published versions: {}",
                        self.account.qualified_arn(name, &v.to_string()),
                        list_or_none(entry.versions.keys())
                    ))
                    .into());
                }
                let users: Vec<&str> = entry
                    .aliases
                    .values()
                    .filter(|a| {
                        a.function_version == v.to_string()
                            || a.routing.contains_key(&v.to_string())
                    })
                    .map(|a| a.name.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err(LambdaError::conflict(format!(
                        "Unable to delete version {v} because the following aliases reference it: [{}]; point them elsewhere first",
                        users.join(", ")
                    ))
                    .into());
                }
                let (n, vs) = (name.to_owned(), v.to_string());
                self.blocking(move |s| s.delete_version(&n, &vs)).await?;
                if let Some(e) = self.table.write().get_mut(name) {
                    e.versions.remove(&v);
                }
                self.invoker.remove(name, Some(&v.to_string()));
            }
        }
        Ok(())
    }

    /// Names of every function, for `lambdalet up` and error messages.
    pub fn function_names(&self) -> Vec<String> {
        self.table.read().keys().cloned().collect()
    }
}

/// Fails unless the caller's `RevisionId` guard (if any) is the current one.
pub(crate) fn check_revision(given: Option<&str>, current: &str) -> Result<(), ControlError> {
    match given {
        Some(g) if !g.is_empty() && g != current => Err(LambdaError::new(
            ErrorCode::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .into()),
        _ => Ok(()),
    }
}

pub(crate) fn list_or_none<T: ToString>(items: impl Iterator<Item = T>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// Pages `items` (already in order): starts at the item whose key equals `marker`; the next
/// marker is the key of the first item of the following page.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: usize,
    key: impl Fn(&T) -> String,
) -> ListPage<T> {
    let start = match marker {
        Some(m) if !m.is_empty() => items
            .iter()
            .position(|i| key(i) == m)
            .or_else(|| items.iter().position(|i| key(i).as_str() > m))
            .unwrap_or(items.len()),
        _ => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next_marker = rest.get(max_items).map(&key);
    rest.truncate(max_items);
    ListPage {
        items: rest,
        next_marker,
    }
}
