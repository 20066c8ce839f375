//! UpdateFunctionConfiguration, GetFunction, ListFunctions, DeleteFunction (CreateFunction and
//! UpdateFunctionCode are in `code.rs`).

use std::collections::BTreeMap;

use lambdalet_core::{ErrorCode, FunctionConfigPatch, LambdaError, Qualifier};
use lambdalet_store::VersionRecord;

use crate::code::check_code;
use crate::control::{Control, new_revision, now_ms};
use crate::error::ControlError;
use crate::table::VersionView;

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
        let mut config = entry.latest.record.config.apply(patch)?;
        let had = &entry.latest.record.config.layers;
        if config.layers != *had {
            let layers = self.resolve_layers(&mut config, had)?;
            self.check_stored_size(&entry.latest.record.code_sha256, &layers)
                .await?;
        }
        crate::events::check(&config)?;
        if config.runtime != entry.latest.record.config.runtime {
            self.check_runtime(&config).await?;
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

    pub(crate) async fn replace_latest(
        &self,
        record: VersionRecord,
    ) -> Result<VersionView, ControlError> {
        let r = record.clone();
        self.blocking(move |s| s.update_latest(&r)).await?;
        let credentials = self.credentials_of(&record.function);
        let view = self.view(record, credentials);
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
                self.forget_keys_of(name);
                self.forget_function_urls(name, None);
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
                self.blocking(move |s| {
                    s.delete_policy(&n, &vs)?;
                    s.delete_version(&n, &vs)
                })
                .await?;
                if let Some(e) = self.table.write().get_mut(name) {
                    e.versions.remove(&v);
                    e.policies.remove(&v.to_string());
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
