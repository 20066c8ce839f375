//! GetAccountSettings: this node's limits and what its functions use of them.

use std::collections::HashMap;

use lambdalet_core::limits::{MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES};

use crate::control::Control;

/// GetAccountSettings' `AccountLimit` and `AccountUsage`, for this daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSettings {
    /// Room for code: what is stored plus what the data directory's disk has free.
    pub total_code_size: u64,
    /// A function's code and layers, unzipped.
    pub code_size_unzipped: u64,
    /// A zip uploaded in the request.
    pub code_size_zipped: u64,
    /// `--max-concurrency`.
    pub concurrent_executions: u64,
    /// `--max-concurrency` less every function's reserved concurrency.
    pub unreserved_concurrent_executions: u64,
    /// Bytes of stored zips (function versions and layer versions; each zip once, as stored).
    pub code_size_used: u64,
    pub function_count: u64,
}

impl Control {
    /// GetAccountSettings, computed from this node.
    pub fn account_settings(&self) -> AccountSettings {
        let mut zips: HashMap<String, u64> = HashMap::new();
        let (functions, reserved) = {
            let table = self.table.read();
            let mut reserved = 0u64;
            for entry in table.values() {
                reserved += u64::from(entry.reserved_concurrency.unwrap_or(0));
                for v in entry.all_versions() {
                    if v.record.config.image.is_none() {
                        zips.insert(v.record.code_sha256.clone(), v.record.code_size);
                    }
                    for l in &v.layers {
                        zips.insert(l.code_sha256.clone(), l.code_size);
                    }
                }
            }
            (table.len() as u64, reserved)
        };
        for (sha, size) in self.layers.read().live_sizes() {
            zips.insert(sha, size);
        }
        let used: u64 = zips.values().sum();
        let max = self.invoker.max_concurrency() as u64;
        AccountSettings {
            total_code_size: used.saturating_add(self.code.available_bytes().unwrap_or(0)),
            code_size_unzipped: MAX_UNZIPPED_BYTES,
            code_size_zipped: MAX_ZIP_BYTES,
            concurrent_executions: max,
            unreserved_concurrent_executions: max.saturating_sub(reserved),
            code_size_used: used,
            function_count: functions,
        }
    }
}
