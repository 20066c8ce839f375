//! What invokes a function, as the web console lists it: the parts of lambdalet that own a
//! kind of trigger (bucket notifications in the S3 endpoint, for one) register a
//! [`TriggerSource`], and the console asks each about a function.

use std::sync::{Arc, RwLock};

/// One thing that invokes a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// `S3`, `Schedule`, `Topic`, `URL`, ...
    pub kind: &'static str,
    /// The bucket, schedule, topic or URL.
    pub name: String,
    /// What sets it off (event types and filters, an expression, ...).
    pub detail: String,
}

/// A part of lambdalet that invokes functions.
pub trait TriggerSource: Send + Sync {
    /// The triggers of `function`.
    fn triggers_of(&self, function: &str) -> Vec<Trigger>;
}

/// The trigger sources of a daemon, filled in as its parts start.
#[derive(Clone, Default)]
pub struct TriggerSources(Arc<RwLock<Vec<Arc<dyn TriggerSource>>>>);

impl TriggerSources {
    pub fn add(&self, source: Arc<dyn TriggerSource>) {
        if let Ok(mut v) = self.0.write() {
            v.push(source);
        }
    }

    /// Every source's triggers of `function`.
    pub fn of(&self, function: &str) -> Vec<Trigger> {
        let sources = match self.0.read() {
            Ok(v) => v.clone(),
            Err(_) => return Vec::new(),
        };
        sources
            .iter()
            .flat_map(|s| s.triggers_of(function))
            .collect()
    }
}
