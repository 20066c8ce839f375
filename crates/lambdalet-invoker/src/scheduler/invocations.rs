//! The scheduler on an invocation's path: an environment to run on (or a place in the queue),
//! then the environment given back.

use std::sync::Arc;
use std::time::Instant;

use lambdalet_core::DeployedVersion;
use tokio::sync::oneshot;

use super::*;
use crate::instance::Instance;

impl Scheduler {
    /// Asks for an environment for `key`.
    pub(crate) fn acquire(
        &self,
        key: &PoolKey,
        spec: &Arc<DeployedVersion>,
    ) -> Result<Acquired, Refusal> {
        let mut st = self.st.lock();
        if st.closing {
            return Err(Refusal::ShuttingDown);
        }
        if !st.pools.contains_key(key) {
            st.pools.insert(key.clone(), PoolState::new(spec.clone()));
        }
        st.functions.entry(key.0.clone()).or_default();
        if blocked_only_by_global(&st, key, self.global_max) {
            evict_lru_idle(&mut st, key);
        }
        let total = st.total_live + st.stopping.now();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        let pool = pools.get_mut(key).expect("inserted above");
        let func = functions.get_mut(&key.0).expect("inserted above");
        if let Health::Failed(reason) = &pool.health {
            return Err(Refusal::Failed(reason.clone()));
        }
        pool.last_invoked = Some(Instant::now());
        if func.reserved == Some(0) {
            return Err(Refusal::Throttled {
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                message: format!(
                    "function {} has reserved concurrency 0, which stops all invocations: raise it with PutFunctionConcurrency or remove it with DeleteFunctionConcurrency",
                    key.0
                ),
            });
        }
        while let Some(instance) = pool.idle.pop() {
            if instance.is_healthy() && instance.spec.revision_id == pool.spec.revision_id {
                pool.busy += 1;
                if pool.live() < pool.floor(self.prestart) {
                    st.short.notify_one();
                }
                return Ok(Acquired::Now(Lease::Warm(instance)));
            }
            discard(pool, func, total_live, stopping, instance);
        }
        if !pool.pinned() && can_start(pool, func, total, self.global_max) {
            reserve(pool, func, total_live);
            return Ok(Acquired::Now(Lease::Start(pool.spec.clone())));
        }
        let max_queue = pool.spec.config.lifecycle.max_queue_size as usize;
        pool.queue.retain(|w| !w.is_closed());
        if pool.queue.len() < max_queue {
            let (tx, rx) = oneshot::channel();
            pool.queue.push_back(tx);
            if pool.pinned() {
                pool.supervisor.notify_one();
            }
            return Ok(Acquired::Wait(rx));
        }
        Err(throttled(key, pool, func, total, self.global_max))
    }

    /// A reserved start succeeded: the instance is now busy with the invocation that started
    /// it. False if the function was deleted meanwhile (the caller stops the instance).
    pub(crate) fn started(&self, key: &PoolKey, instance: &Instance) -> bool {
        let mut st = self.st.lock();
        if let Some(pool) = st.pools.get_mut(key) {
            pool.starting -= 1;
            pool.busy += 1;
            pool.sandboxes
                .insert(instance.id.clone(), instance.sandbox.clone());
            if pool.live() < pool.floor(self.prestart) {
                st.short.notify_one();
            }
            return true;
        }
        st.free_slot(&key.0);
        false
    }

    /// A reserved start failed: the reservation is returned. A pinned version counts it as a
    /// failure.
    pub(crate) fn start_failed(&self, key: &PoolKey) {
        {
            let mut st = self.st.lock();
            st.free_slot(&key.0);
            if let Some(pool) = st.pools.get_mut(key) {
                pool.starting -= 1;
                if pool.pinned() {
                    pool.pinned_failures += 1;
                }
            }
        }
        self.wake();
    }

    /// Returns an environment after an invocation. A healthy one of the current revision goes
    /// to the first waiter or back to the idle stack; anything else is stopped.
    pub(crate) fn release(&self, key: &PoolKey, mut instance: Instance, healthy: bool) {
        let mut st = self.st.lock();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        let Some(pool) = pools.get_mut(key) else {
            // The function was deleted meanwhile.
            st.free_slot(&key.0);
            drop(st);
            instance.sandbox.kill();
            tokio::spawn(instance.stop(STOP_GRACE));
            return;
        };
        let func = functions.entry(key.0.clone()).or_default();
        pool.busy -= 1;
        if healthy && pool.pinned() {
            pool.pinned_failures = 0;
        }
        let current = instance.spec.revision_id == pool.spec.revision_id;
        if !healthy || !current || matches!(pool.health, Health::Failed(_)) {
            discard(pool, func, total_live, stopping, instance);
            drop(st);
            self.wake();
            return;
        }
        instance.last_used = Instant::now();
        while let Some(w) = pool.queue.pop_front() {
            match w.send(GrantMsg(Grant::Lease(Lease::Warm(instance)))) {
                Ok(()) => {
                    pool.busy += 1;
                    return;
                }
                Err(GrantMsg(Grant::Lease(Lease::Warm(back)))) => instance = back,
                Err(_) => unreachable!("the message sent above is a warm lease"),
            }
        }
        pool.idle.push(instance);
        // Another version may be waiting for room under the daemon-wide limit; this idle
        // environment can make it.
        let full = *total_live >= self.global_max;
        drop(st);
        if full {
            self.wake();
        }
    }

    /// Adds a ready environment started by a supervisor (pinned) or for provisioned
    /// concurrency (reserved with [`Self::reserve_background`]).
    pub(crate) fn add_ready(&self, key: &PoolKey, mut instance: Instance) {
        // Its init happened before any invocation: no invocation reports it.
        instance.init_duration = None;
        if self.started(key, &instance) {
            self.release(key, instance, true);
        } else {
            tokio::spawn(instance.stop(STOP_GRACE));
        }
    }
}
