//! The lifecycle of a generic Greengrass component, run as the Greengrass nucleus runs it:
//! bootstrap and install once per version, `run` or `startup`, `shutdown` on stop,
//! `recover` and retries on errors, `BROKEN` after three errors within an hour.
//!
//! The deployment engine turns a recipe into a [`Plan`] (every recipe variable already
//! replaced) and drives one [`ComponentRunner`] per deployed component version. This
//! module does not read recipes, download artifacts or order dependencies.
//!
//! Each step runs as `/bin/sh -c <script>` in a session of its own, in the plan's work dir,
//! with only the environment [`Plan::step_env`] describes (never the daemon's own), as the
//! plan's user unless it requires privilege; its output goes to the plan's log file, never
//! to the daemon's log.
//!
//! Files: `state` (states, pure transitions), `errors` (the `BROKEN` rule), `plan` (input,
//! environment, `Skipif`), `marker` (installed once per version), `log` (the log file),
//! `sys` (system calls), `sessions` (ending a component's processes), `exec` (one step),
//! `outcome` (how steps end, cancellation), `inner` (shared state and epochs), `supervise` (install, start, retries, stop),
//! `runner` (the public handle).

mod errors;
mod exec;
mod inner;
mod log;
mod marker;
mod outcome;
mod plan;
mod runner;
mod sessions;
mod state;
mod supervise;
mod sys;

#[cfg(test)]
mod tests;

pub use errors::{ERROR_WINDOW, MAX_ERRORS};
pub use log::MAX_LINE;
pub use plan::{BASE_PATH, Plan, SkipIf, Step, StepKind};
pub use runner::ComponentRunner;
pub use sessions::STOP_GRACE;
pub use state::{Event, State};
