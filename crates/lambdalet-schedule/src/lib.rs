//! Schedules: EventBridge Scheduler's API and its firing, on this node.
//!
//! A schedule names a function of this daemon and when to invoke it: once (`at()`), every so
//! often (`rate()`), or at the times a six-field `cron()` expression matches in an IANA time
//! zone. [`Schedules`] keeps schedule groups and schedules (stored in `lambdalet-store`, held
//! in memory), and its firing loop queues one asynchronous invocation per fire in the durable
//! async queue, committed together with the schedule's last fire time: a queued fire is never
//! lost, and a restart neither fires twice nor once per missed time.
//!
//! The parsing and the arithmetic of times are pure (`expr`, `cron`, `cron_next`, `timing`);
//! the clock ([`Clock`]), the queue ([`FireSink`]) and the function table ([`Functions`]) are
//! traits, so the loop is tested with a hand-moved clock. It never runs functions itself nor
//! parses HTTP: `lambdalet-api` turns requests into calls on [`Schedules`].

mod clock;
mod cron;
mod cron_next;
mod definition;
mod error;
mod expr;
mod firing;
mod groups;
mod input;
mod listing;
mod service;
mod sink;
mod table;
mod target;
mod timing;

#[cfg(test)]
mod cron_tests;
#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod test_rig;

pub use clock::{Clock, SystemClock};
pub use cron::Cron;
pub use definition::{
    DEFAULT_MAX_EVENT_AGE_SECS, DEFAULT_MAX_RETRY_ATTEMPTS, Definition, ScheduleInput, Target,
};
pub use error::ScheduleError;
pub use expr::{ExprError, Expression};
pub use input::scheduled_time;
pub use service::{GroupView, ListFilter, ScheduleStats, ScheduleView, Schedules};
pub use sink::{Fire, FireSink, Functions, PolicyTargets, SCHEDULER_PRINCIPAL, grant_command};
pub use timing::{Cursor, Timing};
