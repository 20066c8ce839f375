//! The limits and their bookkeeping: whether an environment may start, which idle one to evict
//! for room, what a reservation and a discard count, and the 429 that explains a refusal.

use std::sync::Arc;

use lambdalet_core::DeployedVersion;

use super::*;
use crate::instance::Instance;

pub(super) fn key_of(spec: &DeployedVersion) -> PoolKey {
    (spec.name.to_string(), spec.version.clone())
}

pub(super) fn max_instances(pool: &PoolState) -> usize {
    if pool.pinned() {
        1
    } else {
        pool.spec.config.lifecycle.max_instances_count as usize
    }
}

pub(super) fn can_start(
    pool: &PoolState,
    func: &FunctionState,
    total: usize,
    global_max: usize,
) -> bool {
    pool.live() < max_instances(pool)
        && func.reserved.is_none_or(|r| func.live < r as usize)
        && total < global_max
}

/// True when `key` could start an environment but for the daemon-wide limit.
pub(super) fn blocked_only_by_global(st: &State, key: &PoolKey, global_max: usize) -> bool {
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
pub(super) fn evict_lru_idle(st: &mut State, except: &PoolKey) -> bool {
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

pub(super) fn reserve(pool: &mut PoolState, func: &mut FunctionState, total_live: &mut usize) {
    pool.starting += 1;
    func.live += 1;
    *total_live += 1;
}

/// Stops an environment (in the background) and releases its slot.
pub(super) fn discard(
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

pub(super) fn throttled(
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
