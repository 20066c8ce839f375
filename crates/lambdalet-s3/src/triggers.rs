//! Bucket notifications as the web console lists a function's triggers.

use std::path::PathBuf;

use lambdalet_core::{Trigger, TriggerSource};
use lambdalet_store::Store;

use crate::notify::stored_rules;

/// The buckets whose notifications invoke a function.
pub struct BucketTriggers {
    store: Store,
    /// Where the buckets are (a bucket is a directory).
    root: PathBuf,
}

impl BucketTriggers {
    pub fn new(store: Store, root: PathBuf) -> Self {
        Self { store, root }
    }
}

impl TriggerSource for BucketTriggers {
    fn triggers_of(&self, function: &str) -> Vec<Trigger> {
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut buckets: Vec<String> = dirs
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        buckets.sort();
        let mut out = Vec::new();
        for bucket in buckets {
            let rules = stored_rules(&self.store, &bucket);
            for r in rules.iter().filter(|r| r.function == function) {
                let mut detail = r.events.join(", ");
                if let Some(p) = &r.prefix {
                    detail.push_str(&format!(", prefix {p}"));
                }
                if let Some(s) = &r.suffix {
                    detail.push_str(&format!(", suffix {s}"));
                }
                out.push(Trigger {
                    kind: "S3",
                    name: bucket.clone(),
                    detail,
                });
            }
        }
        out
    }
}
