//! The warm environments of one function version (one revision of it).
//!
//! An environment is either idle in the pool or owned by exactly one invocation. Idle ones are
//! reused most-recently-used first, so the least used ones stay idle long enough to expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lambdalet_sandbox::Sandbox;
use parking_lot::Mutex;

use crate::instance::Instance;

/// How long a runtime gets to exit after SIGTERM before it is killed.
pub(crate) const STOP_GRACE: Duration = Duration::from_millis(500);

pub(crate) struct Pool {
    idle: Mutex<Vec<Instance>>,
    /// Every environment this pool started that has not been stopped, idle or busy.
    live: Mutex<HashMap<String, Arc<dyn Sandbox>>>,
    retired: AtomicBool,
}

impl Pool {
    pub(crate) fn new() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
            retired: AtomicBool::new(false),
        }
    }

    /// The most recently used healthy idle environment, if any.
    pub(crate) fn take_idle(&self) -> Option<Instance> {
        loop {
            let instance = self.idle.lock().pop()?;
            if instance.is_healthy() {
                return Some(instance);
            }
            self.discard(instance);
        }
    }

    pub(crate) fn register(&self, instance: &Instance) {
        self.live
            .lock()
            .insert(instance.id.clone(), instance.sandbox.clone());
    }

    /// Returns an environment after an invocation: kept warm if it is healthy and this pool is
    /// still current, else stopped.
    pub(crate) fn release(&self, mut instance: Instance) {
        if self.retired.load(Ordering::Acquire) || !instance.is_healthy() {
            self.discard(instance);
            return;
        }
        instance.last_used = Instant::now();
        self.idle.lock().push(instance);
    }

    /// Stops an environment (in the background) and forgets it.
    pub(crate) fn discard(&self, instance: Instance) {
        self.live.lock().remove(&instance.id);
        tokio::spawn(instance.stop(STOP_GRACE));
    }

    /// Marks the pool as out of date: idle environments stop now, busy ones when released.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.idle.lock());
        for instance in idle {
            self.discard(instance);
        }
    }

    /// Stops every environment: idle ones gracefully, busy ones at once.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.retired.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.idle.lock());
        let mut stops = Vec::new();
        for instance in idle {
            self.live.lock().remove(&instance.id);
            stops.push(tokio::spawn(instance.stop(grace)));
        }
        for (_, sandbox) in self.live.lock().drain() {
            sandbox.kill();
        }
        for s in stops {
            let _ = s.await;
        }
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
}
