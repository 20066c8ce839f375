//! How a step ended, how an operation failed, and cancelling an operation when its
//! epoch is over (see `inner`).

use std::time::Duration;

use tokio::sync::watch;

use super::plan::StepKind;

/// How a step's shell ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
}

/// How waiting for a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Exited(Exit),
    /// It ran longer than its timeout and was killed.
    TimedOut(Duration),
    /// The operation was cancelled (by a stop); the step's processes are left to the stop.
    Cancelled,
}

/// Why a step did not succeed, as the component's error message.
pub(crate) fn failure_message(kind: StepKind, ended: Ended) -> String {
    let step = super::plan::step_name(kind);
    match ended {
        Ended::Exited(Exit::Code(code)) => format!("{step} exited with status {code}"),
        Ended::Exited(Exit::Signal(sig)) => format!("{step} killed by signal {sig}"),
        Ended::TimedOut(after) => format!("{step} timed out after {} s", seconds(after)),
        Ended::Cancelled => format!("{step} cancelled by stop"),
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

/// Cancellation of one operation: cancelled once the runner's epoch moves past `epoch`.
#[derive(Clone, Debug)]
pub(crate) struct Cancel {
    rx: watch::Receiver<u64>,
    epoch: u64,
}

impl Cancel {
    pub(crate) fn new(rx: watch::Receiver<u64>, epoch: u64) -> Self {
        Cancel { rx, epoch }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        *self.rx.borrow() != self.epoch
    }

    /// Resolves once cancelled.
    pub(crate) async fn cancelled(&mut self) {
        while *self.rx.borrow_and_update() == self.epoch {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Why an operation did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A step failed; the component's error message.
    Failed(String),
    /// A stop cancelled the operation.
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_step_and_what_happened() {
        let msg = |kind, ended| failure_message(kind, ended);
        assert_eq!(
            msg(StepKind::Install, Ended::Exited(Exit::Code(3))),
            "install exited with status 3"
        );
        assert_eq!(
            msg(StepKind::Startup, Ended::Exited(Exit::Signal(9))),
            "startup killed by signal 9"
        );
        assert_eq!(
            msg(StepKind::Run, Ended::TimedOut(Duration::from_secs(5))),
            "run timed out after 5 s"
        );
        assert_eq!(
            msg(
                StepKind::Install,
                Ended::TimedOut(Duration::from_millis(300))
            ),
            "install timed out after 0.3 s"
        );
    }
}
