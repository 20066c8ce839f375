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
    /// When an invocation last asked for a sandbox of this version.
    pub last_invoked: Option<Instant>,
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
            last_invoked: None,
        }
    }

    fn live(&self) -> usize {
        self.idle.len() + self.busy + self.starting
    }

    fn pinned(&self) -> bool {
        self.spec.config.lifecycle.pinned
    }

    /// Environments this version keeps alive whatever the demand: its provisioned concurrency,
    /// or, with a pre-started sandbox ([`crate::zygote::prestart`]), one idle beyond the busy
    /// ones while it is in use (invoked within its `maxIdleTimeInSeconds`; after that its
    /// sandboxes are reaped as any others).
    fn floor(&self, prestart_default: bool) -> usize {
        let max_idle =
            Duration::from_secs(self.spec.config.lifecycle.max_idle_time_in_seconds.into());
        let in_use = self.last_invoked.is_some_and(|t| t.elapsed() < max_idle);
        let spare =
            !self.pinned() && in_use && crate::zygote::prestart(&self.spec, prestart_default);
        let spare = if spare { self.busy + 1 } else { 0 };
        spare.max(self.provisioned as usize)
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
    /// Told when a version is below its floor (a pre-started sandbox was taken), so the
    /// maintenance task starts another at once.
    short: Arc<Notify>,
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
    /// Whether versions that do not choose keep a pre-started sandbox (`--prestart`).
    prestart: bool,
}

impl Scheduler {
    /// The daemon-wide limit (`--max-concurrency`).
    pub(crate) fn global_max(&self) -> usize {
        self.global_max
    }
}

// The scheduler's methods: on the invocation path (`invocations`), off it (`background`); the
// limit rules both use (`rules`).
mod background;
mod invocations;
mod rules;

use rules::*;
