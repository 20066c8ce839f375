//! The sessions a component's steps started, and stopping everything in them.
//!
//! A session is remembered from the moment its step starts until no process of it is left
//! (checked when the step's shell exits and after every stop), so a stop also reaches
//! whatever an earlier step left running in the background.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::{Instant, sleep};

use super::sys;

/// How long processes get between `SIGTERM` and `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long a `SIGKILL`ed process may take to disappear before we stop waiting.
const KILL_WAIT: Duration = Duration::from_secs(2);

const POLL: Duration = Duration::from_millis(20);

/// The session ids (= the step shells' pids) of one component.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sessions(Arc<Mutex<BTreeSet<i32>>>);

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, BTreeSet<i32>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn add(&self, sid: i32) {
        self.lock().insert(sid);
    }

    /// Forgets `sid` if none of its processes is left.
    pub(crate) fn forget_if_empty(&self, sid: i32) {
        let mut set = self.lock();
        if sys::session_members(sid).is_empty() {
            set.remove(&sid);
        }
    }

    fn all(&self) -> Vec<i32> {
        self.lock().iter().copied().collect()
    }

    /// `SIGTERM` (and `SIGCONT`, for stopped processes) to every process of `sids`,
    /// `SIGKILL` to those left after `grace`; returns once they are gone.
    pub(crate) async fn terminate(&self, sids: &[i32], grace: Duration) {
        let mut left: Vec<i32> = sids.to_vec();
        for (signal, wait) in [(Signal::SIGTERM, grace), (Signal::SIGKILL, KILL_WAIT)] {
            left.retain(|sid| {
                let alive = sys::signal_session(*sid, signal);
                if signal == Signal::SIGTERM {
                    sys::signal_session(*sid, Signal::SIGCONT);
                }
                alive
            });
            let deadline = Instant::now() + wait;
            while !left.is_empty() && Instant::now() < deadline {
                sleep(POLL).await;
                left.retain(|sid| !sys::session_members(*sid).is_empty());
            }
            if left.is_empty() {
                break;
            }
        }
        if !left.is_empty() {
            tracing::warn!(sessions = ?left, "component processes survived SIGKILL");
        }
        for sid in sids {
            self.forget_if_empty(*sid);
        }
    }

    /// [`Sessions::terminate`] for every remembered session.
    pub(crate) async fn terminate_all(&self, grace: Duration) {
        self.terminate(&self.all(), grace).await;
    }

    /// `SIGKILL` to every remembered session at once, without waiting (for `Drop`).
    pub(crate) fn kill_all_now(&self) {
        for sid in self.all() {
            sys::signal_session(sid, Signal::SIGKILL);
        }
    }
}
