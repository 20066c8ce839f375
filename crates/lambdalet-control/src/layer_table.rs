//! The in-memory table of layer versions (rebuilt from the store at start), and the rules a
//! function's `Layers` follow: at most five versions of this account's layers, none deleted
//! unless the function already had it, and code plus layers within 250 MB unzipped.
//!
//! Pure data and rules: no I/O, so every rule is unit-tested here.

use std::collections::{BTreeMap, HashSet};

use lambdalet_core::limits::MAX_UNZIPPED_BYTES;
use lambdalet_core::{AccountInfo, LambdaError, LayerRef};
use lambdalet_store::LayerVersionRecord;

/// One layer version a function version uses: what GetFunction shows (`Arn`, `CodeSize`) and
/// where its sandboxes find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerUse {
    /// The layer version's ARN.
    pub arn: String,
    pub code_size: u64,
    pub unzipped_size: u64,
    pub code_sha256: String,
}

/// Every layer version this daemon has, deleted ones included, by name and version.
#[derive(Debug, Default, Clone)]
pub(crate) struct LayerTable {
    by_name: BTreeMap<String, BTreeMap<u64, LayerVersionRecord>>,
}

impl LayerTable {
    pub(crate) fn from_records(records: Vec<LayerVersionRecord>) -> Self {
        let mut t = Self::default();
        for r in records {
            t.insert(r);
        }
        t
    }

    pub(crate) fn insert(&mut self, r: LayerVersionRecord) {
        self.by_name
            .entry(r.name.clone())
            .or_default()
            .insert(r.version, r);
    }

    /// A version that is not deleted.
    pub(crate) fn live(&self, name: &str, version: u64) -> Option<&LayerVersionRecord> {
        self.by_name.get(name)?.get(&version).filter(|r| !r.deleted)
    }

    /// Flags a version deleted; false if there was no live one.
    pub(crate) fn mark_deleted(&mut self, name: &str, version: u64) -> bool {
        match self.by_name.get_mut(name).and_then(|v| v.get_mut(&version)) {
            Some(r) if !r.deleted => {
                r.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Each layer's live versions, newest first, layers by name; layers without any are left out.
    pub(crate) fn live_by_name(&self) -> impl Iterator<Item = (&str, Vec<&LayerVersionRecord>)> {
        self.by_name.iter().filter_map(|(name, versions)| {
            let live: Vec<&LayerVersionRecord> =
                versions.values().rev().filter(|r| !r.deleted).collect();
            (!live.is_empty()).then_some((name.as_str(), live))
        })
    }

    /// (code hash, zip size) of every live version.
    pub(crate) fn live_sizes(&self) -> Vec<(String, u64)> {
        self.all()
            .filter(|r| !r.deleted)
            .map(|r| (r.code_sha256.clone(), r.code_size))
            .collect()
    }

    /// Whether some version (deleted or not) is stored as `sha256`.
    pub(crate) fn holds(&self, sha256: &str) -> bool {
        self.all().any(|r| r.code_sha256 == sha256)
    }

    fn all(&self) -> impl Iterator<Item = &LayerVersionRecord> {
        self.by_name.values().flat_map(BTreeMap::values)
    }

    /// The versions a stored configuration lists, in its order, deleted ones included (they
    /// keep working for the functions that had them). A version that is not in the table at
    /// all (a damaged data directory) is left out with a warning.
    pub(crate) fn uses_of(&self, account: &AccountInfo, arns: &[String]) -> Vec<LayerUse> {
        arns.iter()
            .filter_map(|arn| {
                let found = self.find(account, arn, true);
                if found.is_none() {
                    tracing::warn!(layer = %arn, "a function uses a layer version lambdalet does not have; it runs without it");
                }
                found
            })
            .collect()
    }

    /// Checks a new `Layers` list (its syntax is checked already) and returns what it uses, with
    /// each ARN in its canonical form. Every version must exist and belong to `account`; a deleted
    /// one only if `had` (the function's current list) names it already.
    pub(crate) fn resolve(
        &self,
        account: &AccountInfo,
        arns: &[String],
        had: &[String],
    ) -> Result<Vec<LayerUse>, LambdaError> {
        let mut out = Vec::with_capacity(arns.len());
        for arn in arns {
            if let Some(u) = self.find(account, arn, false) {
                out.push(u);
                continue;
            }
            let deleted = self.find(account, arn, true);
            match deleted {
                Some(u) if had.contains(&u.arn) => out.push(u),
                Some(_) => {
                    return Err(LambdaError::invalid(format!(
                        "Layer version {arn} does not exist. (it was deleted: functions that already use it keep it, new configurations cannot add it; publish the layer again and use the new version)"
                    )));
                }
                None => return Err(self.missing(account, arn)),
            }
        }
        Ok(out)
    }

    fn find(&self, account: &AccountInfo, arn: &str, with_deleted: bool) -> Option<LayerUse> {
        let r = LayerRef::version_arn(arn).ok()?;
        if !r.is_in(account) {
            return None;
        }
        let version = r.version?;
        let rec = self.by_name.get(r.name.as_str())?.get(&version)?;
        (with_deleted || !rec.deleted).then(|| LayerUse {
            arn: account.layer_version_arn(&rec.name, rec.version),
            code_size: rec.code_size,
            unzipped_size: rec.unzipped_size,
            code_sha256: rec.code_sha256.clone(),
        })
    }

    /// `Layer version ... does not exist.`, with what there is.
    fn missing(&self, account: &AccountInfo, arn: &str) -> LambdaError {
        let outside = LayerRef::version_arn(arn).is_ok_and(|r| !r.is_in(account));
        let hint = if outside {
            format!(
                "this lambdalet holds the layers of account {} in {} only; publish the layer here with aws lambda publish-layer-version",
                account.account_id, account.region
            )
        } else {
            let listed: Vec<String> = self
                .live_by_name()
                .take(10)
                .map(|(name, versions)| {
                    let numbers: Vec<String> = versions
                        .iter()
                        .rev()
                        .map(|r| r.version.to_string())
                        .collect();
                    format!("{name} ({})", numbers.join(", "))
                })
                .collect();
            if listed.is_empty() {
                "no layers are published yet; publish one with aws lambda publish-layer-version"
                    .to_owned()
            } else {
                format!("published layers and their versions: {}", listed.join(", "))
            }
        };
        LambdaError::invalid(format!("Layer version {arn} does not exist. ({hint})"))
    }

    /// The code hashes layer versions need kept: every live version's, and a deleted version's
    /// while a function version still uses it (`used`: every function version's layer ARNs).
    pub(crate) fn kept_hashes<'a>(
        &self,
        account: &AccountInfo,
        used: impl IntoIterator<Item = &'a String>,
    ) -> HashSet<String> {
        let mut keep: HashSet<String> = self
            .all()
            .filter(|r| !r.deleted)
            .map(|r| r.code_sha256.clone())
            .collect();
        for arn in used {
            if let Some(u) = self.find(account, arn, true) {
                keep.insert(u.code_sha256);
            }
        }
        keep
    }
}

/// A function's code and its layers together must unpack to at most 250 MB.
pub(crate) fn check_total_size(
    function_bytes: u64,
    layers: &[LayerUse],
) -> Result<(), LambdaError> {
    let total = layers
        .iter()
        .fold(function_bytes, |sum, l| sum.saturating_add(l.unzipped_size));
    if total <= MAX_UNZIPPED_BYTES {
        return Ok(());
    }
    let parts: Vec<String> = std::iter::once(format!("function code {function_bytes}"))
        .chain(
            layers
                .iter()
                .map(|l| format!("{} {}", l.arn, l.unzipped_size)),
        )
        .collect();
    Err(LambdaError::invalid(format!(
        "Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED_BYTES} bytes. The actual size is {total} bytes. (unzipped bytes: {}; move files out of the function or of a layer, or use fewer layers)",
        parts.join(", ")
    )))
}

#[cfg(test)]
#[path = "layer_table_tests.rs"]
mod tests;
