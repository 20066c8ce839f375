//! Who runs next: the pools of environments of every function version, their FIFO queues and
//! the limits that bound them.
//!
//! One mutex guards all accounting, so the per-version limit (`maxInstancesCount`), the
//! per-function limit (reserved concurrency) and the daemon-wide limit (`--max-concurrency`)
//! are checked together. Nothing slow happens under it: starting, stopping and running
//! environments happen outside, with a reservation taken under the lock.
//!
//! An invocation asks for a [`Lease`]: an idle environment (most recently used first), or the
//! right to start one. When neither is possible it waits in its version's FIFO queue, which
//! holds at most `maxQueueSize` invocations; beyond that it is refused at once
//! ([`Refusal::Throttled`]). A released environment goes straight to the first waiter.
//! Pinned versions never start environments on demand: their supervisor keeps exactly one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdalet_core::DeployedVersion;
use lambdalet_sandbox::Sandbox;
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};

use crate::instance::Instance;

/// A pool is one function version: `(function, version)`.
pub(crate) type PoolKey = (String, String);

/// How long a runtime gets to exit after SIGTERM before it is killed.
pub(crate) const STOP_GRACE: Duration = Duration::from_millis(500);

/// What an invocation gets.
pub(crate) enum Lease {
    Warm(Instance),
    /// A reservation: start an environment of this version, then report `started`.
    Start(Arc<DeployedVersion>),
}

/// Why an invocation cannot have an environment.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    Throttled {
        reason: &'static str,
        message: String,
    },
    Failed(String),
    Gone(String),
    ShuttingDown,
}

enum Grant {
    Lease(Lease),
    Refused(Refusal),
}

/// What `acquire` decided.
pub(crate) enum Acquired {
    Now(Lease),
    Wait(oneshot::Receiver<GrantMsg>),
}

/// Sent to a waiting invocation.
pub(crate) struct GrantMsg(Grant);

impl GrantMsg {
    pub(crate) fn into_result(self) -> Result<Lease, Refusal> {
        match self.0 {
            Grant::Lease(l) => Ok(l),
            Grant::Refused(r) => Err(r),
        }
    }
}

/// Health of a version, as GetFunction shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Active,
    /// A pinned function that kept failing; the reason says why.
    Failed(String),
}

pub(crate) struct PoolState {
    pub spec: Arc<DeployedVersion>,
    idle: Vec<Instance>,
    busy: usize,
    starting: usize,
    queue: VecDeque<oneshot::Sender<GrantMsg>>,
    /// Every environment started and not yet stopped, for shutdown.
    sandboxes: HashMap<String, Arc<dyn Sandbox>>,
    pub provisioned: u32,
    pub health: Health,
    /// Consecutive failures of a pinned environment without a successful invocation.
    pub pinned_failures: u32,
    /// Wakes this version's pinned supervisor.
    pub supervisor: Arc<Notify>,
    pub supervised: bool,
}

impl PoolState {
    fn new(spec: Arc<DeployedVersion>) -> Self {
        Self {
            spec,
            idle: Vec::new(),
            busy: 0,
            starting: 0,
            queue: VecDeque::new(),
            sandboxes: HashMap::new(),
            provisioned: 0,
            health: Health::Active,
            pinned_failures: 0,
            supervisor: Arc::new(Notify::new()),
            supervised: false,
        }
    }

    fn live(&self) -> usize {
        self.idle.len() + self.busy + self.starting
    }

    fn pinned(&self) -> bool {
        self.spec.config.lifecycle.pinned
    }
}

#[derive(Default)]
struct FunctionState {
    reserved: Option<u32>,
    live: usize,
}

/// Sandboxes told to stop that have not exited yet. They still take room under the daemon-wide
/// limit (`--max-concurrency` bounds what is alive, not what is in use); the invoker's
/// maintenance task wakes waiters when one has gone.
#[derive(Default)]
pub(crate) struct Stopping {
    count: std::sync::atomic::AtomicUsize,
    pub(crate) gone: Notify,
}

impl Stopping {
    fn now(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }
}

#[derive(Default)]
struct State {
    /// Sandboxes alive (starting, idle or busy), not counting those stopping.
    total_live: usize,
    stopping: Arc<Stopping>,
    pools: HashMap<PoolKey, PoolState>,
    functions: HashMap<String, FunctionState>,
    closing: bool,
}

impl State {
    /// Gives back one environment slot of `function` (a start that failed, or an environment
    /// of a version that no longer exists).
    fn free_slot(&mut self, function: &str) {
        self.total_live = self.total_live.saturating_sub(1);
        if let Some(f) = self.functions.get_mut(function) {
            f.live = f.live.saturating_sub(1);
        }
    }
}

/// Numbers for `lambdalet queue` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: usize,
    pub busy: usize,
    pub starting: usize,
    pub queued: usize,
}

pub(crate) struct Scheduler {
    st: Mutex<State>,
    global_max: usize,
}

impl Scheduler {
    pub(crate) fn new(global_max: usize) -> Self {
        Self {
            st: Mutex::new(State::default()),
            global_max: global_max.max(1),
        }
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

    /// Reserves a start outside any invocation (pinned supervisor, provisioned concurrency).
    /// Pinned versions always get theirs; provisioned ones only within the limits.
    pub(crate) fn reserve_background(&self, key: &PoolKey) -> Option<Arc<DeployedVersion>> {
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
            (pool.live() as u32) < pool.provisioned && can_start(pool, func, total, self.global_max)
        };
        if !allowed {
            return None;
        }
        reserve(pool, func, total_live);
        Some(pool.spec.clone())
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
            // The idle stack is in use order: the front was used longest ago.
            while let Some(first) = pool.idle.first() {
                let expired = first.last_used.elapsed() >= max_idle || !first.is_healthy();
                if !expired || (pool.live() as u32 <= pool.provisioned && first.is_healthy()) {
                    break;
                }
                let instance = pool.idle.remove(0);
                tracing::debug!(function = %key.0, version = %key.1, sandbox = %instance.id, "sandbox.reap");
                let func = functions.entry(key.0.clone()).or_default();
                discard(pool, func, total_live, stopping, instance);
                reaped += 1;
            }
            if (pool.live() as u32) < pool.provisioned && pool.health == Health::Active {
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

fn key_of(spec: &DeployedVersion) -> PoolKey {
    (spec.name.to_string(), spec.version.clone())
}

fn max_instances(pool: &PoolState) -> usize {
    if pool.pinned() {
        1
    } else {
        pool.spec.config.lifecycle.max_instances_count as usize
    }
}

fn can_start(pool: &PoolState, func: &FunctionState, total: usize, global_max: usize) -> bool {
    pool.live() < max_instances(pool)
        && func.reserved.is_none_or(|r| func.live < r as usize)
        && total < global_max
}

/// True when `key` could start an environment but for the daemon-wide limit.
fn blocked_only_by_global(st: &State, key: &PoolKey, global_max: usize) -> bool {
    let (Some(pool), Some(func)) = (st.pools.get(key), st.functions.get(&key.0)) else {
        return false;
    };
    st.total_live >= global_max
        && !pool.pinned()
        && pool.idle.is_empty()
        && pool.live() < max_instances(pool)
        && func.reserved.is_none_or(|r| func.live < r as usize)
}

/// Stops the least recently used idle environment of any version but `except`, keeping
/// provisioned ones. False if there was none.
fn evict_lru_idle(st: &mut State, except: &PoolKey) -> bool {
    let victim = st
        .pools
        .iter()
        .filter(|(k, p)| *k != except && !p.pinned() && p.live() as u32 > p.provisioned)
        .filter_map(|(k, p)| p.idle.first().map(|i| (i.last_used, k.clone())))
        .min_by_key(|(t, _)| *t)
        .map(|(_, k)| k);
    let Some(key) = victim else { return false };
    let State {
        pools,
        functions,
        total_live,
        stopping,
        ..
    } = st;
    let pool = pools.get_mut(&key).expect("found above");
    let instance = pool.idle.remove(0);
    tracing::debug!(function = %key.0, version = %key.1, sandbox = %instance.id, "sandbox.evict: making room under --max-concurrency");
    let func = functions.entry(key.0.clone()).or_default();
    discard(pool, func, total_live, stopping, instance);
    true
}

fn reserve(pool: &mut PoolState, func: &mut FunctionState, total_live: &mut usize) {
    pool.starting += 1;
    func.live += 1;
    *total_live += 1;
}

/// Stops an environment (in the background) and releases its slot.
fn discard(
    pool: &mut PoolState,
    func: &mut FunctionState,
    total_live: &mut usize,
    stopping: &Arc<Stopping>,
    instance: Instance,
) {
    pool.sandboxes.remove(&instance.id);
    func.live = func.live.saturating_sub(1);
    *total_live = total_live.saturating_sub(1);
    if pool.pinned() {
        pool.supervisor.notify_one();
    }
    stopping
        .count
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let stopping = stopping.clone();
    tokio::spawn(async move {
        instance.stop(STOP_GRACE).await;
        stopping
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        stopping.gone.notify_one();
    });
}

fn throttled(
    key: &PoolKey,
    pool: &PoolState,
    func: &FunctionState,
    total: usize,
    global_max: usize,
) -> Refusal {
    let queued = pool.queue.len();
    let (reason, limit) = if func.reserved.is_some_and(|r| func.live >= r as usize) {
        (
            "ReservedFunctionConcurrentInvocationLimitExceeded",
            format!(
                "its reserved concurrency ({}) is in use",
                func.reserved.unwrap_or(0)
            ),
        )
    } else if total >= global_max {
        (
            "ConcurrentInvocationLimitExceeded",
            format!("lambdalet's --max-concurrency ({global_max}) is in use"),
        )
    } else if pool.pinned() {
        (
            "ConcurrentInvocationLimitExceeded",
            "it is pinned (one invocation at a time)".to_owned(),
        )
    } else {
        (
            "ConcurrentInvocationLimitExceeded",
            format!(
                "all {} of its instances (maxInstancesCount) are busy",
                max_instances(pool)
            ),
        )
    };
    Refusal::Throttled {
        reason,
        message: format!(
            "Rate Exceeded. Function {}:{} cannot take this invocation: {limit} and its queue is full ({queued} waiting, maxQueueSize {}); retry later or raise maxQueueSize",
            key.0, key.1, pool.spec.config.lifecycle.max_queue_size
        ),
    }
}
