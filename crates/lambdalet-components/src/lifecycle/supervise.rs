//! What the runner does over time: install, the service (`startup` or `run`) and its
//! retries, and stopping. Each function here is one operation of one epoch (see `inner`):
//! it holds `Inner::op` while it runs steps and gives up as soon as its epoch is over.

use std::sync::Arc;

use super::inner::Inner;
use super::marker;
use super::outcome::{Cancel, Ended, Exit, Failure, failure_message};
use super::plan::StepKind;
use super::sessions::STOP_GRACE;
use super::state::{Event, State};

/// Exit codes of `bootstrap` asking Greengrass to restart the nucleus (100) or reboot the
/// device (101). lambdalet does neither; it counts them as success and says so in the log.
const BOOTSTRAP_RESTART_CODES: [i32; 2] = [100, 101];

/// Bootstrap and install unless the marker says they already succeeded for this version;
/// ends in `INSTALLED`. The caller holds `op`.
#[tracing::instrument(name = "lifecycle.install", skip_all,
    fields(component = %inner.ctx.plan.name, version = %inner.ctx.plan.version))]
pub(crate) async fn install(inner: &Inner, cancel: &mut Cancel) -> Result<(), Failure> {
    let epoch = cancel.epoch();
    let ctx = &inner.ctx;
    if marker::is_installed(&ctx.plan) {
        return ok_or_cancelled(inner.apply(epoch, Event::InstallOk, None));
    }
    if !inner.apply(epoch, Event::Reinstall, None) {
        return Err(Failure::Cancelled);
    }
    ctx.prepare_work_dir()
        .map_err(|e| Failure::Failed(format!("install cannot run: {e}")))?;
    if let Some(step) = &ctx.plan.bootstrap {
        let code = ctx
            .run_step_allowing(StepKind::Bootstrap, step, cancel, &BOOTSTRAP_RESTART_CODES)
            .await?;
        if code != 0 {
            let asked = if code == 100 {
                "a nucleus restart"
            } else {
                "a device reboot"
            };
            ctx.log.lifecycle(&format!(
                "bootstrap exited with status {code}, asking for {asked}; lambdalet does not do that and carries on"
            ));
            tracing::warn!(component = %ctx.plan.name, code, "bootstrap asked for a restart that lambdalet does not do");
        }
    }
    if let Some(step) = &ctx.plan.install {
        ctx.run_step(StepKind::Install, step, cancel).await?;
    }
    if cancel.is_cancelled() {
        return Err(Failure::Cancelled);
    }
    marker::mark_installed(&ctx.plan).map_err(|e| {
        Failure::Failed(format!(
            "install succeeded but its marker cannot be written: {e}"
        ))
    })?;
    ok_or_cancelled(inner.apply(epoch, Event::InstallOk, None))
}

fn ok_or_cancelled(applied: bool) -> Result<(), Failure> {
    if applied {
        Ok(())
    } else {
        Err(Failure::Cancelled)
    }
}

/// Which part of an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Install,
    Service,
}

enum Attempt {
    /// `RUNNING` (startup succeeded) or `FINISHED`: nothing more to do.
    Done,
    Cancelled,
    Failed(Phase, String),
}

/// The task behind `start`: installs if needed, starts the service, and on an error runs
/// `recover` and tries again, until the service runs or finishes, the component is
/// `BROKEN`, or a stop ends the epoch.
#[tracing::instrument(name = "lifecycle.start", skip_all,
    fields(component = %inner.ctx.plan.name, version = %inner.ctx.plan.version))]
pub(crate) async fn supervise(inner: Arc<Inner>, epoch: u64) {
    let _guard = SupervisorGuard {
        inner: &inner,
        epoch,
    };
    let _op = inner.op.lock().await;
    let mut cancel = inner.cancel_for(epoch);
    if cancel.is_cancelled() {
        return;
    }
    loop {
        let (phase, message) = match attempt(&inner, &mut cancel).await {
            Attempt::Done | Attempt::Cancelled => return,
            Attempt::Failed(phase, message) => (phase, message),
        };
        if !handle_error(&inner, &mut cancel, phase, message).await {
            return;
        }
    }
}

/// Clears the supervisor mark when the supervisor ends, however it ends.
struct SupervisorGuard<'a> {
    inner: &'a Inner,
    epoch: u64,
}

impl Drop for SupervisorGuard<'_> {
    fn drop(&mut self) {
        let mut ctl = self.inner.lock();
        if ctl.supervisor == Some(self.epoch) {
            ctl.supervisor = None;
            ctl.pending_start = false;
            self.inner.publish(&ctl);
        }
    }
}

async fn attempt(inner: &Inner, cancel: &mut Cancel) -> Attempt {
    let epoch = cancel.epoch();
    let ctx = &inner.ctx;
    match install(inner, cancel).await {
        Ok(()) => {}
        Err(Failure::Cancelled) => return Attempt::Cancelled,
        Err(Failure::Failed(message)) => return Attempt::Failed(Phase::Install, message),
    }
    if !inner.apply(epoch, Event::Start, None) {
        return Attempt::Cancelled;
    }
    let done = |event| {
        if inner.apply(epoch, event, None) {
            Attempt::Done
        } else {
            Attempt::Cancelled
        }
    };
    if let Some(step) = &ctx.plan.startup {
        inner.service_starting();
        return match ctx.run_step(StepKind::Startup, step, cancel).await {
            Ok(()) => done(Event::Up),
            Err(Failure::Cancelled) => Attempt::Cancelled,
            Err(Failure::Failed(message)) => Attempt::Failed(Phase::Service, message),
        };
    }
    let Some(step) = &ctx.plan.run else {
        return done(Event::Finish);
    };
    let mut started = match ctx.start(StepKind::Run, step) {
        Ok(Some(started)) => {
            inner.service_starting();
            started
        }
        Ok(None) => return done(Event::Finish),
        Err(message) => return Attempt::Failed(Phase::Service, message),
    };
    if !inner.apply(epoch, Event::Up, None) {
        return Attempt::Cancelled;
    }
    match started
        .wait(ctx, step.timeout_as(StepKind::Run), cancel)
        .await
    {
        Ended::Exited(Exit::Code(0)) => done(Event::Finish),
        Ended::Cancelled => Attempt::Cancelled,
        ended => Attempt::Failed(Phase::Service, failure_message(StepKind::Run, ended)),
    }
}

/// `ERRORED` (or `BROKEN`), `recover`, and the clean-up before the next attempt; true when
/// there is to be one.
async fn handle_error(inner: &Inner, cancel: &mut Cancel, phase: Phase, message: String) -> bool {
    let epoch = cancel.epoch();
    match inner.fail(epoch, message) {
        Some(State::Errored) => {}
        Some(_) => {
            clean_up(inner, cancel).await;
            return false;
        }
        None => return false,
    }
    if let Some(step) = &inner.ctx.plan.recover {
        match inner.ctx.run_step(StepKind::Recover, step, cancel).await {
            Ok(()) => {}
            Err(Failure::Cancelled) => return false,
            Err(Failure::Failed(e)) => inner.ctx.log.lifecycle(&format!("recover failed: {e}")),
        }
    }
    if phase == Phase::Service && !inner.apply(epoch, Event::Stop, None) {
        return false;
    }
    clean_up(inner, cancel).await;
    !cancel.is_cancelled()
}

/// `shutdown` if the service was started, then every process of the component ends.
async fn clean_up(inner: &Inner, cancel: &mut Cancel) {
    if inner.take_service_started()
        && let Some(step) = &inner.ctx.plan.shutdown
        && let Err(Failure::Failed(e)) = inner.ctx.run_step(StepKind::Shutdown, step, cancel).await
    {
        inner.ctx.log.lifecycle(&format!("shutdown failed: {e}"));
    }
    inner.ctx.sessions.terminate_all(STOP_GRACE).await;
}

/// The body of `stop`, once the caller has ended the epoch of every other operation and
/// holds `op`.
#[tracing::instrument(name = "lifecycle.stop", skip_all,
    fields(component = %inner.ctx.plan.name, version = %inner.ctx.plan.version))]
pub(crate) async fn stop(inner: &Inner) {
    let epoch = inner.epoch();
    let mut cancel = inner.cancel_for(epoch);
    if inner.status().0 == State::Broken {
        inner.ctx.sessions.terminate_all(STOP_GRACE).await;
        return;
    }
    inner.apply(epoch, Event::Stop, None);
    if inner.take_service_started()
        && let Some(step) = &inner.ctx.plan.shutdown
        && let Err(Failure::Failed(e)) = inner
            .ctx
            .run_step(StepKind::Shutdown, step, &mut cancel)
            .await
    {
        inner.note_error(e);
    }
    inner.ctx.sessions.terminate_all(STOP_GRACE).await;
    inner.apply(epoch, Event::Stopped, None);
}
