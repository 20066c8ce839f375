//! [`ComponentRunner`]: the handle the deployment engine drives.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::exec::Ctx;
use super::inner::Inner;
use super::log::LogSink;
use super::marker;
use super::outcome::Failure;
use super::plan::Plan;
use super::sessions::Sessions;
use super::state::State;
use super::supervise;

/// Runs the lifecycle of one deployed version of a generic component.
///
/// Cheap to clone; all clones drive the same component. When the last clone is dropped,
/// every process the component's steps started is killed (`SIGKILL`, without `shutdown`)
/// and nothing more is started. Must be used inside a Tokio runtime.
#[derive(Clone, Debug)]
pub struct ComponentRunner {
    handle: Arc<Handle>,
}

/// Owned only by the runner's clones (never by its tasks), so that its `Drop` runs when
/// the last clone goes.
#[derive(Debug)]
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.bump();
        let tasks = std::mem::take(&mut self.inner.lock().tasks);
        for task in tasks {
            task.abort();
        }
        self.inner.ctx.sessions.kill_all_now();
    }
}

impl ComponentRunner {
    /// A runner in state `NEW`; nothing runs until [`install`](Self::install) or
    /// [`start`](Self::start).
    pub fn new(plan: Plan) -> Self {
        let log = LogSink::new(plan.log_file.clone());
        let ctx = Ctx {
            plan,
            log,
            sessions: Sessions::default(),
        };
        ComponentRunner {
            handle: Arc::new(Handle {
                inner: Arc::new(Inner::new(ctx)),
            }),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// The current state and the last error (`None` until something fails), e.g.
    /// `"install exited with status 3"`, `"run timed out after 5 s"`,
    /// `"startup killed by signal 9"`. The error stays after the component recovers, until
    /// [`reset_errors`](Self::reset_errors).
    pub fn state(&self) -> (State, Option<String>) {
        self.inner().status()
    }

    /// Every change of [`state`](Self::state).
    pub fn watch(&self) -> watch::Receiver<(State, Option<String>)> {
        self.inner().watch()
    }

    /// Bootstrap (timeout 120 s) then install (120 s), once per version: when both have
    /// succeeded, a marker in the work dir makes later calls (also after a daemon restart)
    /// skip them. Success: `INSTALLED`. Failure: `ERRORED` (or `BROKEN` for the third error
    /// within an hour) with the reason, which is also returned; no `recover` and no retry
    /// (those belong to [`start`](Self::start)).
    ///
    /// While a [`start`](Self::start) is under way this does not install again: `Ok` if the
    /// marker is there, else an error. A [`stop`](Self::stop) cancels it.
    pub async fn install(&self) -> Result<(), String> {
        let inner = self.inner();
        let epoch = {
            let ctl = inner.lock();
            if ctl.supervisor == Some(ctl.epoch)
                || matches!(ctl.state, State::Starting | State::Running)
            {
                return if marker::is_installed(&inner.ctx.plan) {
                    Ok(())
                } else {
                    Err(format!(
                        "component {} is {}; stop it before installing again",
                        inner.ctx.plan.name, ctl.state
                    ))
                };
            }
            if ctl.broken_latched {
                return Err(broken_message(&inner.ctx.plan.name, ctl.error.as_deref()));
            }
            ctl.epoch
        };
        let _op = inner.op.lock().await;
        let mut cancel = inner.cancel_for(epoch);
        if cancel.is_cancelled() {
            return Err("install cancelled by stop".to_owned());
        }
        match supervise::install(inner, &mut cancel).await {
            Ok(()) => Ok(()),
            Err(Failure::Cancelled) => Err("install cancelled by stop".to_owned()),
            Err(Failure::Failed(message)) => {
                inner
                    .ctx
                    .sessions
                    .terminate_all(super::sessions::STOP_GRACE)
                    .await;
                inner.fail(epoch, message.clone());
                Err(message)
            }
        }
    }

    /// Starts the service in the background and returns at once.
    ///
    /// From `NEW` (or when the install marker is missing) it installs first. Then
    /// `STARTING`, and: with `run`, `RUNNING` as soon as its process started, `FINISHED`
    /// when it exits 0, `ERRORED` otherwise; with `startup` (timeout 120 s), `RUNNING` when
    /// it exits 0 (what it left running keeps running until [`stop`](Self::stop)),
    /// `ERRORED` otherwise; with neither, `FINISHED`. A skipped step counts as success.
    ///
    /// On `ERRORED`: `recover` (timeout 60 s, its failure only logged), then `STOPPING`
    /// (`shutdown` and every process ended, as the nucleus does before a retry), then
    /// another attempt, re-installing if the marker is missing. The third error within an
    /// hour makes the component `BROKEN` instead of `ERRORED`: no `recover`, no retry;
    /// `shutdown` runs and its processes are ended.
    ///
    /// Does nothing if the service is already starting or running, or if the component is
    /// `BROKEN` and [`reset_errors`](Self::reset_errors) was not called since.
    pub fn start(&self) {
        let inner = self.inner();
        let mut ctl = inner.lock();
        if ctl.supervisor == Some(ctl.epoch)
            || matches!(ctl.state, State::Starting | State::Running)
        {
            return;
        }
        if ctl.broken_latched {
            drop(ctl);
            inner
                .ctx
                .log
                .lifecycle("not started: the component is BROKEN; reset its errors first");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(component = %inner.ctx.plan.name, "start() called outside a Tokio runtime");
            return;
        };
        let epoch = ctl.epoch;
        ctl.supervisor = Some(epoch);
        ctl.pending_start = true;
        ctl.tasks.retain(|task| !task.is_finished());
        ctl.tasks
            .push(runtime.spawn(supervise::supervise(Arc::clone(inner), epoch)));
        inner.publish(&ctl);
    }

    /// Stops the component: cancels whatever is under way (an install, a start, a retry),
    /// `STOPPING`, runs `shutdown` (timeout 15 s) if `run` or `startup` was started since
    /// the last shutdown, then `SIGTERM` to every process the steps started, `SIGKILL` to
    /// those left after 5 s, and `FINISHED` (as the nucleus reports a stopped component).
    /// A `shutdown` failure becomes the last error; the state is still `FINISHED`.
    ///
    /// Safe in any state and idempotent; a `BROKEN` component stays `BROKEN` (its processes
    /// are ended all the same). When it returns, no process of the component is left,
    /// except one that left the step's session with `setsid`.
    pub async fn stop(&self) {
        let inner = self.inner();
        let _stopping = inner.stop_lock.lock().await;
        inner.bump();
        // A supervisor that took `op` just before the epoch moved gives it back as soon as
        // it sees the move; moving it again covers one that took it just after.
        let _op = loop {
            match tokio::time::timeout(Duration::from_millis(100), inner.op.lock()).await {
                Ok(guard) => break guard,
                Err(_) => inner.bump(),
            }
        };
        supervise::stop(inner).await;
    }

    /// [`stop`](Self::stop), then [`start`](Self::start); the error count is kept.
    pub async fn restart(&self) {
        self.stop().await;
        self.start();
    }

    /// Forgets the errors counted towards `BROKEN` and the last error, so that
    /// [`start`](Self::start) works again on a `BROKEN` component (it re-installs only if the
    /// marker is missing). For a new deployment of the same version.
    pub fn reset_errors(&self) {
        let inner = self.inner();
        let mut ctl = inner.lock();
        ctl.errors.clear();
        ctl.broken_latched = false;
        ctl.error = None;
        inner.publish(&ctl);
    }

    /// Waits until the component has settled, at most `timeout`, and returns the state then.
    ///
    /// Settled means: no [`start`](Self::start) is waiting to begin, and the state is
    /// `RUNNING` or `FINISHED` (at once, even while a supervisor still watches `run`), or
    /// `BROKEN` or `ERRORED` with nothing more under way (no retry pending: `BROKEN` once
    /// its processes are ended, `ERRORED` after an [`install`](Self::install) failure or
    /// outside a start). `NEW`, `INSTALLED`, `STARTING` and `STOPPING` never are, nor is an
    /// `ERRORED` that will be retried. A state returned after the timeout is not settled.
    /// For a deployment: success is `RUNNING` or `FINISHED`.
    pub async fn wait_settled(&self, timeout: Duration) -> (State, Option<String>) {
        let mut settled = self.inner().watch_settled();
        let _ = tokio::time::timeout(timeout, settled.wait_for(|s| *s)).await;
        self.state()
    }
}

fn broken_message(name: &str, error: Option<&str>) -> String {
    format!(
        "component {name} is BROKEN (last error: {}); reset its errors or deploy it again",
        error.unwrap_or("none")
    )
}
