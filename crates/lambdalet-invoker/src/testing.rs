//! A fake [`SandboxBackend`] for unit tests of the scheduler: no processes, no containers.
//!
//! Each "sandbox" is a tokio task that plays a runtime against the real per-sandbox Runtime API
//! over HTTP (see `runtime`), so the invoker under test is the production one from
//! `Invoker::invoke` down to the Runtime API server; only the backend is fake. The fake's
//! behaviour is chosen by the function's handler (see [`Behaviour`]). Its output goes through a
//! real pipe, so the invocation logs are the real ones too.
//!
//! The backend counts what the tests assert on: launches, live sandboxes (and their peak),
//! handlers running at once (and their peak), the payloads runtimes received in order, and how
//! each sandbox ended.

mod harness;
mod runtime;
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lambdalet_sandbox::{
    ExitInfo, Launched, OutputReader, Sandbox, SandboxBackend, SandboxError, SandboxSpec,
};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;

use runtime::Behaviour;

/// What every fake sandbox of one backend reports to the test.
pub(crate) struct Counters {
    launches: AtomicUsize,
    live: AtomicUsize,
    peak_live: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    /// Payloads in the order the fake runtimes received them from `next`.
    seen: Mutex<Vec<String>>,
    /// How each sandbox ended, in order.
    exits: Mutex<Vec<ExitInfo>>,
    /// Permits for the `gate` behaviour: one per invocation allowed to answer.
    gate: Semaphore,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            launches: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            peak_live: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak_running: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            exits: Mutex::new(Vec::new()),
            gate: Semaphore::new(0),
        }
    }
}

impl Counters {
    /// A handler started on an event; the guard marks its end (also when its task is aborted).
    pub(crate) fn handling(self: &Arc<Self>, payload: &str) -> Running {
        self.seen.lock().push(payload.to_owned());
        let now = self.running.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak_running.fetch_max(now, Ordering::AcqRel);
        Running(self.clone())
    }

    /// Waits until the test opens the gate for one invocation.
    pub(crate) async fn pass_gate(&self) {
        self.gate
            .acquire()
            .await
            .expect("the gate is never closed")
            .forget();
    }
}

/// A handler at work; dropping it counts the handler as done.
pub(crate) struct Running(Arc<Counters>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Creates fake sandboxes that run [`runtime::play`].
#[derive(Default)]
pub(crate) struct FakeBackend {
    counters: Arc<Counters>,
}

impl FakeBackend {
    /// Sandboxes launched so far.
    pub(crate) fn launches(&self) -> usize {
        self.counters.launches.load(Ordering::Acquire)
    }

    /// Sandboxes launched and not yet exited.
    pub(crate) fn live(&self) -> usize {
        self.counters.live.load(Ordering::Acquire)
    }

    /// Most sandboxes alive at once.
    pub(crate) fn peak_live(&self) -> usize {
        self.counters.peak_live.load(Ordering::Acquire)
    }

    /// Most handlers working on an event at once.
    pub(crate) fn peak_running(&self) -> usize {
        self.counters.peak_running.load(Ordering::Acquire)
    }

    /// Payloads in the order runtimes received them.
    pub(crate) fn seen(&self) -> Vec<String> {
        self.counters.seen.lock().clone()
    }

    /// How the sandboxes that ended so far ended.
    pub(crate) fn exits(&self) -> Vec<ExitInfo> {
        self.counters.exits.lock().clone()
    }

    /// Lets `n` invocations of `gate` functions answer.
    pub(crate) fn open_gate(&self, n: usize) {
        self.counters.gate.add_permits(n);
    }
}

/// Signal numbers as the process backend reports them.
pub(crate) const SIGKILL: i32 = 9;
pub(crate) const SIGTERM: i32 = 15;

impl SandboxBackend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    // The trait is declared with `#[async_trait]`; this is the signature it expands to, written
    // out so the invoker needs no `async-trait` dependency for its tests.
    fn launch<'a, 'f>(
        &'a self,
        spec: SandboxSpec,
    ) -> Pin<Box<dyn Future<Output = Result<Launched, SandboxError>> + Send + 'f>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(std::future::ready(self.launch_now(spec)))
    }
}

impl FakeBackend {
    /// Launching a fake sandbox never waits: it spawns the runtime task and returns.
    fn launch_now(&self, spec: SandboxSpec) -> Result<Launched, SandboxError> {
        let env = |key: &str| {
            spec.env
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| SandboxError::Setup(format!("the spec has no {key}")))
        };
        let api = env("AWS_LAMBDA_RUNTIME_API")?;
        let behaviour = Behaviour::parse(&env("_HANDLER")?).map_err(SandboxError::Setup)?;
        let (log, output) = tokio::net::unix::pipe::pipe()
            .map_err(|e| SandboxError::Setup(format!("cannot make the output pipe: {e}")))?;
        let c = &self.counters;
        c.launches.fetch_add(1, Ordering::AcqRel);
        let now = c.live.fetch_add(1, Ordering::AcqRel) + 1;
        c.peak_live.fetch_max(now, Ordering::AcqRel);
        let (exit, _) = watch::channel(None);
        let life = Arc::new(Life {
            id: spec.id,
            ended: AtomicBool::new(false),
            exit,
            task: Mutex::new(None),
            counters: c.clone(),
        });
        let task = tokio::spawn(runtime::play(api, behaviour, life.clone(), log));
        // Should the task end the sandbox before this is stored, aborting it later is a no-op.
        *life.task.lock() = Some(task.abort_handle());
        Ok(Launched {
            sandbox: Arc::new(FakeSandbox(life)),
            output: OutputReader::from_pipe(output),
            runtime_api: None,
            extension_output: None,
        })
    }
}

/// One fake sandbox's life: its runtime task and how it ended.
pub(crate) struct Life {
    id: String,
    ended: AtomicBool,
    exit: watch::Sender<Option<ExitInfo>>,
    task: Mutex<Option<AbortHandle>>,
    counters: Arc<Counters>,
}

impl Life {
    /// The "process" exits: the first call records `info`, stops the runtime task (closing its
    /// connections and its end of the output pipe) and counts the sandbox as gone.
    pub(crate) fn end(&self, info: ExitInfo) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
        self.counters.live.fetch_sub(1, Ordering::AcqRel);
        self.counters.exits.lock().push(info);
        // Last, so whoever the exit wakes sees the counts already updated.
        self.exit.send_replace(Some(info));
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

/// The handle the invoker holds.
struct FakeSandbox(Arc<Life>);

impl Sandbox for FakeSandbox {
    fn id(&self) -> &str {
        &self.0.id
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.0.exit.subscribe()
    }

    fn terminate(&self) {
        self.0.end(signal(SIGTERM));
    }

    fn kill(&self) {
        self.0.end(signal(SIGKILL));
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        None
    }
}

/// An exit by `sig`.
pub(crate) fn signal(sig: i32) -> ExitInfo {
    ExitInfo {
        code: None,
        signal: Some(sig),
    }
}

/// An exit with `code`.
pub(crate) fn code(code: i32) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
    }
}
