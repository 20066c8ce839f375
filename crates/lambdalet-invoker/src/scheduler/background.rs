//! The scheduler off the invocation path: versions deployed and removed, concurrency settings,
//! pinned and provisioned environments, idle reaping, waking waiters, figures, shutdown.

use std::sync::Arc;

use lambdalet_core::DeployedVersion;
use lambdalet_sandbox::Sandbox;
use parking_lot::Mutex;

use super::*;
use crate::instance::Instance;

impl Scheduler {
    pub(crate) fn new(global_max: usize, prestart: bool) -> Self {
        Self {
            st: Mutex::new(State::default()),
            global_max: global_max.max(1),
            prestart,
        }
    }

    /// Told when a version is below its floor of ready environments.
    pub(crate) fn short(&self) -> Arc<tokio::sync::Notify> {
        self.st.lock().short.clone()
    }

    /// The sandboxes being stopped, whose exits wake waiters.
    pub(crate) fn stopping(&self) -> Arc<Stopping> {
        self.st.lock().stopping.clone()
    }

    /// Registers or updates a version. A new revision makes idle environments of the old one
    /// stop; busy ones stop when released. Returns whether a pinned supervisor must be started.
    pub(crate) fn deploy(&self, spec: Arc<DeployedVersion>) -> bool {
        let mut st = self.st.lock();
        let key = key_of(&spec);
        st.functions.entry(key.0.clone()).or_default();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        let pool = pools
            .entry(key.clone())
            .or_insert_with(|| PoolState::new(spec.clone()));
        if pool.spec.revision_id != spec.revision_id || pool.spec.config != spec.config {
            pool.spec = spec;
            let func = functions.entry(key.0.clone()).or_default();
            for instance in std::mem::take(&mut pool.idle) {
                discard(pool, func, total_live, stopping, instance);
            }
        }
        pool.health = Health::Active;
        pool.pinned_failures = 0;
        pool.supervisor.notify_one();
        let start_supervisor = pool.pinned() && !pool.supervised;
        if start_supervisor {
            pool.supervised = true;
        }
        drop(st);
        self.wake();
        start_supervisor
    }

    /// Forgets a function (all versions when `version` is None): idle environments stop now,
    /// busy ones when released, waiters are told the function is gone.
    pub(crate) fn remove(&self, function: &str, version: Option<&str>) {
        let mut st = self.st.lock();
        let keys: Vec<PoolKey> = st
            .pools
            .keys()
            .filter(|(f, v)| f == function && version.is_none_or(|want| want == v))
            .cloned()
            .collect();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        for key in keys {
            if let Some(mut pool) = pools.remove(&key) {
                let func = functions.entry(key.0.clone()).or_default();
                for instance in std::mem::take(&mut pool.idle) {
                    discard(&mut pool, func, total_live, stopping, instance);
                }
                for w in pool.queue.drain(..) {
                    let _ = w.send(GrantMsg(Grant::Refused(Refusal::Gone(format!(
                        "function {}:{} was deleted while this invocation waited",
                        key.0, key.1
                    )))));
                }
                // Busy and starting environments are stopped by `release` / `started`,
                // which no longer find the pool.
                pool.supervisor.notify_one();
            }
        }
    }

    pub(crate) fn set_reserved(&self, function: &str, reserved: Option<u32>) {
        self.st
            .lock()
            .functions
            .entry(function.to_owned())
            .or_default()
            .reserved = reserved;
        self.wake();
    }

    pub(crate) fn set_provisioned(&self, key: &PoolKey, n: u32) {
        if let Some(p) = self.st.lock().pools.get_mut(key) {
            p.provisioned = n;
        }
    }

    /// Reserves a start outside any invocation (pinned supervisor, provisioned concurrency, a
    /// pre-started sandbox). Pinned versions always get theirs; the others only within the
    /// limits. Also says whether it is for provisioned concurrency.
    pub(crate) fn reserve_background(&self, key: &PoolKey) -> Option<(Arc<DeployedVersion>, bool)> {
        let mut st = self.st.lock();
        if st.closing {
            return None;
        }
        let total = st.total_live + st.stopping.now();
        let State {
            pools,
            functions,
            total_live,
            ..
        } = &mut *st;
        let pool = pools.get_mut(key)?;
        let func = functions.entry(key.0.clone()).or_default();
        let allowed = if pool.pinned() {
            pool.live() == 0 && pool.health == Health::Active
        } else {
            pool.live() < pool.floor(self.prestart)
                && pool.health == Health::Active
                && can_start(pool, func, total, self.global_max)
        };
        if !allowed {
            return None;
        }
        let provisioned = (pool.live() as u32) < pool.provisioned;
        reserve(pool, func, total_live);
        Some((pool.spec.clone(), provisioned))
    }

    /// Counts a pinned environment's death (crash, hang) toward the failure limit.
    pub(crate) fn pinned_died(&self, key: &PoolKey) {
        if let Some(p) = self.st.lock().pools.get_mut(key) {
            p.pinned_failures += 1;
        }
    }

    pub(crate) fn pinned_failures(&self, key: &PoolKey) -> u32 {
        self.st
            .lock()
            .pools
            .get(key)
            .map_or(0, |p| p.pinned_failures)
    }

    /// Marks a version Failed: waiting and future invocations are refused with `reason` until
    /// the next deploy.
    pub(crate) fn mark_failed(&self, key: &PoolKey, reason: String) {
        let mut st = self.st.lock();
        if let Some(pool) = st.pools.get_mut(key) {
            pool.health = Health::Failed(reason.clone());
            for w in pool.queue.drain(..) {
                let _ = w.send(GrantMsg(Grant::Refused(Refusal::Failed(reason.clone()))));
            }
        }
    }

    /// Removes a dead environment from the idle stack (it died while waiting for work).
    pub(crate) fn forget_dead(&self, key: &PoolKey, id: &str) {
        let mut st = self.st.lock();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        let Some(pool) = pools.get_mut(key) else {
            return;
        };
        if let Some(i) = pool.idle.iter().position(|x| x.id == id) {
            let instance = pool.idle.remove(i);
            let func = functions.entry(key.0.clone()).or_default();
            discard(pool, func, total_live, stopping, instance);
        }
    }

    /// Stops idle on-demand environments unused for `maxIdleTimeInSeconds`, keeping the
    /// provisioned ones. Returns the versions that are below their provisioned count.
    pub(crate) fn reap_idle(&self) -> Vec<PoolKey> {
        let mut st = self.st.lock();
        let State {
            pools,
            functions,
            total_live,
            stopping,
            ..
        } = &mut *st;
        let mut short = Vec::new();
        let mut reaped = 0;
        for (key, pool) in pools.iter_mut() {
            if pool.pinned() {
                continue;
            }
            let max_idle =
                Duration::from_secs(pool.spec.config.lifecycle.max_idle_time_in_seconds.into());
            // A sandbox that has exited or failed goes wherever it is in the stack: behind a
            // healthy one used longer ago, it would count as live (holding a place of the
            // version's instances and of its pre-started floor) until that one expired.
            let mut i = 0;
            while i < pool.idle.len() {
                if pool.idle[i].is_healthy() {
                    i += 1;
                    continue;
                }
                let instance = pool.idle.remove(i);
                tracing::debug!(function = %key.0, version = %key.1, sandbox = %instance.id, "sandbox.reap");
                let func = functions.entry(key.0.clone()).or_default();
                discard(pool, func, total_live, stopping, instance);
                reaped += 1;
            }
            // The idle stack is in use order: the front was used longest ago.
            while let Some(first) = pool.idle.first() {
                let expired = first.last_used.elapsed() >= max_idle || !first.is_healthy();
                if !expired || (pool.live() <= pool.floor(self.prestart) && first.is_healthy()) {
                    break;
                }
                let instance = pool.idle.remove(0);
                tracing::debug!(function = %key.0, version = %key.1, sandbox = %instance.id, "sandbox.reap");
                let func = functions.entry(key.0.clone()).or_default();
                discard(pool, func, total_live, stopping, instance);
                reaped += 1;
            }
            if pool.live() < pool.floor(self.prestart) && pool.health == Health::Active {
                short.push(key.clone());
            }
        }
        drop(st);
        if reaped > 0 {
            self.wake();
        }
        short
    }

    /// The version's spec and health, if it is known.
    pub(crate) fn pool_info(
        &self,
        key: &PoolKey,
    ) -> Option<(Arc<DeployedVersion>, Health, Arc<Notify>)> {
        let st = self.st.lock();
        st.pools
            .get(key)
            .map(|p| (p.spec.clone(), p.health.clone(), p.supervisor.clone()))
    }

    pub(crate) fn health(&self, key: &PoolKey) -> Option<Health> {
        self.st.lock().pools.get(key).map(|p| p.health.clone())
    }

    pub(crate) fn stats(&self, key: &PoolKey) -> PoolStats {
        let st = self.st.lock();
        st.pools
            .get(key)
            .map(|p| PoolStats {
                idle: p.idle.len(),
                busy: p.busy,
                starting: p.starting,
                queued: p.queue.len(),
            })
            .unwrap_or_default()
    }

    /// Every live sandbox with the version it runs, to find whose a connection is.
    pub(crate) fn live_sandboxes(&self) -> Vec<(Arc<DeployedVersion>, Arc<dyn Sandbox>)> {
        let st = self.st.lock();
        st.pools
            .values()
            .flat_map(|p| p.sandboxes.values().map(|s| (p.spec.clone(), s.clone())))
            .collect()
    }

    /// The deployed function whose sandbox identity is `uid_index`.
    pub(crate) fn function_with_uid_index(&self, uid_index: u32) -> Option<Arc<DeployedVersion>> {
        let st = self.st.lock();
        st.pools
            .values()
            .find(|p| p.spec.uid_index == uid_index)
            .map(|p| p.spec.clone())
    }

    pub(crate) fn all_stats(&self) -> Vec<(PoolKey, PoolStats)> {
        let st = self.st.lock();
        st.pools
            .iter()
            .map(|(k, p)| {
                (
                    k.clone(),
                    PoolStats {
                        idle: p.idle.len(),
                        busy: p.busy,
                        starting: p.starting,
                        queued: p.queue.len(),
                    },
                )
            })
            .collect()
    }

    /// Marks a pinned supervisor as gone, so the next deploy starts a new one.
    pub(crate) fn supervisor_exited(&self, key: &PoolKey) {
        if let Some(p) = self.st.lock().pools.get_mut(key) {
            p.supervised = false;
        }
    }

    /// Hands start reservations to waiters wherever limits now allow, stopping idle
    /// environments of other versions when only the daemon-wide limit stands in the way.
    pub(crate) fn wake(&self) {
        let mut st = self.st.lock();
        if st.closing {
            return;
        }
        let global_max = self.global_max;
        let waiting: Vec<PoolKey> = st
            .pools
            .iter_mut()
            .filter_map(|(k, p)| {
                p.queue.retain(|w| !w.is_closed());
                (!p.queue.is_empty()).then(|| k.clone())
            })
            .collect();
        for key in waiting {
            loop {
                if blocked_only_by_global(&st, &key, global_max) && !evict_lru_idle(&mut st, &key) {
                    break;
                }
                let State {
                    pools,
                    functions,
                    total_live,
                    stopping,
                    ..
                } = &mut *st;
                let Some(pool) = pools.get_mut(&key) else {
                    break;
                };
                if pool.queue.is_empty() {
                    break;
                }
                if pool.pinned() {
                    pool.supervisor.notify_one();
                    break;
                }
                let func = functions.entry(key.0.clone()).or_default();
                if !can_start(pool, func, *total_live + stopping.now(), global_max) {
                    break;
                }
                reserve(pool, func, total_live);
                let w = pool.queue.pop_front().expect("checked non-empty");
                if w.send(GrantMsg(Grant::Lease(Lease::Start(pool.spec.clone()))))
                    .is_err()
                {
                    pool.starting -= 1;
                    func.live -= 1;
                    *total_live -= 1;
                }
            }
        }
    }

    /// Refuses every waiter and returns every environment (idle ones to stop gracefully,
    /// busy ones to kill).
    pub(crate) fn close(&self) -> (Vec<Instance>, Vec<Arc<dyn Sandbox>>) {
        let mut st = self.st.lock();
        st.closing = true;
        let mut idle = Vec::new();
        let mut all = Vec::new();
        for pool in st.pools.values_mut() {
            for w in pool.queue.drain(..) {
                let _ = w.send(GrantMsg(Grant::Refused(Refusal::ShuttingDown)));
            }
            idle.append(&mut pool.idle);
            all.extend(pool.sandboxes.drain().map(|(_, s)| s));
            pool.supervisor.notify_one();
        }
        (idle, all)
    }
}
