//! The shared core of a runner: the state, its observers and the bookkeeping that decides
//! what may happen next. Every state change goes through [`Inner::apply`], which checks it
//! against [`State::next`] and against the epoch of the operation asking for it.
//!
//! Epochs: every stop (and dropping the runner) moves the epoch on. An operation (an
//! install, a supervisor started by `start`) remembers the epoch it began in; once it has
//! moved on, its steps are cancelled and its state changes refused, so a stale operation
//! can never overwrite what a stop decided.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::errors::ErrorWindow;
use super::exec::Ctx;
use super::outcome::Cancel;
use super::state::{Event, State};

/// Everything that changes, behind one lock held only briefly.
#[derive(Debug)]
pub(crate) struct Ctl {
    pub(crate) state: State,
    pub(crate) error: Option<String>,
    pub(crate) epoch: u64,
    pub(crate) errors: ErrorWindow,
    /// Set on `BROKEN`; `start` does nothing until `reset_errors` clears it.
    pub(crate) broken_latched: bool,
    /// The epoch of the supervisor (started by `start`) that is alive, if any.
    pub(crate) supervisor: Option<u64>,
    /// `start` was called and its supervisor has not changed the state yet.
    pub(crate) pending_start: bool,
    /// `run` or `startup` was started since the last `shutdown`: a stop runs `shutdown`.
    pub(crate) service_started: bool,
    /// Supervisor tasks, aborted when the runner is dropped.
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

impl Ctl {
    fn supervised(&self) -> bool {
        self.supervisor == Some(self.epoch)
    }

    /// See `ComponentRunner::wait_settled`.
    fn settled(&self) -> bool {
        if self.pending_start {
            return false;
        }
        match self.state {
            State::Running | State::Finished => true,
            State::Errored | State::Broken => !self.supervised(),
            _ => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) ctx: Ctx,
    ctl: Mutex<Ctl>,
    public: watch::Sender<(State, Option<String>)>,
    settled: watch::Sender<bool>,
    cancel: watch::Sender<u64>,
    /// Held by whoever runs steps that change the state: an install, a supervisor, a stop.
    pub(crate) op: tokio::sync::Mutex<()>,
    /// Serializes stops, so that a second stop does not cancel the first one's shutdown.
    pub(crate) stop_lock: tokio::sync::Mutex<()>,
}

impl Inner {
    pub(crate) fn new(ctx: Ctx) -> Self {
        Inner {
            ctx,
            ctl: Mutex::new(Ctl {
                state: State::New,
                error: None,
                epoch: 0,
                errors: ErrorWindow::default(),
                broken_latched: false,
                supervisor: None,
                pending_start: false,
                service_started: false,
                tasks: Vec::new(),
            }),
            public: watch::Sender::new((State::New, None)),
            settled: watch::Sender::new(false),
            cancel: watch::Sender::new(0),
            op: tokio::sync::Mutex::new(()),
            stop_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Ctl> {
        self.ctl
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the observers about `ctl` (call with the lock held, after every change).
    pub(crate) fn publish(&self, ctl: &Ctl) {
        let now = (ctl.state, ctl.error.clone());
        self.public.send_if_modified(|old| {
            let changed = *old != now;
            *old = now;
            changed
        });
        let settled = ctl.settled();
        self.settled
            .send_if_modified(|old| std::mem::replace(old, settled) != settled);
    }

    pub(crate) fn status(&self) -> (State, Option<String>) {
        self.public.borrow().clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<(State, Option<String>)> {
        self.public.subscribe()
    }

    pub(crate) fn watch_settled(&self) -> watch::Receiver<bool> {
        self.settled.subscribe()
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// The cancellation of an operation begun in `epoch`.
    pub(crate) fn cancel_for(&self, epoch: u64) -> Cancel {
        Cancel::new(self.cancel.subscribe(), epoch)
    }

    /// Moves the epoch on: cancels every operation under way and forgets pending starts.
    pub(crate) fn bump(&self) {
        let mut ctl = self.lock();
        ctl.epoch += 1;
        ctl.supervisor = None;
        ctl.pending_start = false;
        self.cancel.send_replace(ctl.epoch);
        self.publish(&ctl);
    }

    /// Applies `event` for an operation of `epoch`; false (and nothing changes) when the
    /// epoch has moved on or the event is not allowed in the current state.
    pub(crate) fn apply(&self, epoch: u64, event: Event, error: Option<String>) -> bool {
        let mut ctl = self.lock();
        if ctl.epoch != epoch {
            return false;
        }
        let from = ctl.state;
        let Some(to) = from.next(event) else {
            tracing::error!(component = %self.ctx.plan.name, %from, ?event, "lifecycle transition refused");
            return false;
        };
        if !matches!(event, Event::Stop | Event::Stopped) {
            ctl.pending_start = false;
        }
        ctl.state = to;
        if to == State::Broken {
            ctl.broken_latched = true;
        }
        if error.is_some() {
            ctl.error.clone_from(&error);
        }
        self.publish(&ctl);
        drop(ctl);
        if from != to {
            match &error {
                Some(e) => self.ctx.log.lifecycle(&format!("state {to}: {e}")),
                None => self.ctx.log.lifecycle(&format!("state {to}")),
            }
            tracing::info!(component = %self.ctx.plan.name, %from, %to, "component state");
        }
        true
    }

    /// Counts an error of an operation of `epoch` and moves to `ERRORED`, or to `BROKEN`
    /// when it is one too many. Returns the state reached (`None`: the epoch moved on).
    pub(crate) fn fail(&self, epoch: u64, message: String) -> Option<State> {
        let broken = {
            let mut ctl = self.lock();
            if ctl.epoch != epoch {
                return None;
            }
            ctl.errors.record(Instant::now())
        };
        let (event, state) = if broken {
            (Event::GiveUp, State::Broken)
        } else {
            (Event::Fail, State::Errored)
        };
        self.apply(epoch, event, Some(message)).then_some(state)
    }

    /// Records `message` as the last error without changing the state.
    pub(crate) fn note_error(&self, message: String) {
        let mut ctl = self.lock();
        ctl.error = Some(message);
        self.publish(&ctl);
    }

    /// Remembers that `run` or `startup` is being started.
    pub(crate) fn service_starting(&self) {
        self.lock().service_started = true;
    }

    /// Whether `shutdown` is due (`run` or `startup` started since the last one); clears it.
    pub(crate) fn take_service_started(&self) -> bool {
        std::mem::take(&mut self.lock().service_started)
    }
}
