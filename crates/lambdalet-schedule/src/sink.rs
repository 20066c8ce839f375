//! Where fires go and what a target must be: the async queue and the control plane in the
//! daemon, fakes in tests.

use std::future::Future;
use std::pin::Pin;

use lambdalet_core::FunctionRef;
use lambdalet_invoker::{AsyncQueue, AsyncRequest, SubmitOptions};

/// One fire on its way to the queue: the invocation, with the schedule's delivery policy and
/// the schedule's change (its last fire time, or its removal) to commit with it.
#[derive(Debug, Clone)]
pub struct Fire {
    pub request: AsyncRequest,
    pub options: SubmitOptions,
}

/// What [`FireSink::queue`] returns: the event's request id once it is durable.
pub type Queued = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'static>>;

/// Takes fires.
pub trait FireSink: Send + Sync + 'static {
    /// Queues the fire; resolves once the event and the schedule's change are on disk
    /// together (or neither is).
    fn queue(&self, fire: Fire) -> Queued;
}

impl FireSink for AsyncQueue {
    fn queue(&self, fire: Fire) -> Queued {
        let accepted = self.submit_with(fire.request, fire.options);
        Box::pin(async move { accepted.stored().await.map_err(|e| e.to_string()) })
    }
}

/// Whether a target's function exists, and whether a schedule may invoke it.
pub trait Functions: Send + Sync + 'static {
    /// `Err` says why not (which functions there are).
    fn check(&self, function: &FunctionRef) -> Result<(), String>;

    /// Whether the schedule `schedule_arn` may invoke `function` now: asked before each fire
    /// is queued, and when a schedule is made or shown.
    fn may_invoke(&self, schedule_arn: &str, function: &FunctionRef) -> bool;
}

/// The service principal schedules invoke functions as.
pub const SCHEDULER_PRINCIPAL: &str = "scheduler.amazonaws.com";

/// The daemon's functions, as schedules see them: a schedule may invoke a function when the
/// function's resource-based policy (of the qualifier the target names) lets
/// `scheduler.amazonaws.com` do `lambda:InvokeFunction` with the schedule's ARN as
/// `aws:SourceArn`, or always when `require_permission` is off (`serve --trust-services`).
///
/// On AWS, EventBridge Scheduler invokes with its target's `RoleArn`, whose identity policy
/// must allow `lambda:InvokeFunction`; lambdalet has no IAM roles to evaluate, so the
/// function's own policy stands in for the role's (docs/schedules.md).
pub struct PolicyTargets {
    pub control: std::sync::Arc<lambdalet_control::Control>,
    pub require_permission: bool,
}

impl Functions for PolicyTargets {
    fn check(&self, function: &FunctionRef) -> Result<(), String> {
        self.control
            .resolve(function)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn may_invoke(&self, schedule_arn: &str, function: &FunctionRef) -> bool {
        let qualifier = function.qualifier.as_ref().map(ToString::to_string);
        !self.require_permission
            || self.control.permits(
                function.name.as_str(),
                qualifier.as_deref(),
                SCHEDULER_PRINCIPAL,
                "lambda:InvokeFunction",
                Some(schedule_arn),
            )
    }
}

/// The `aws lambda add-permission` command that lets `schedule_arn` invoke `function`.
pub fn grant_command(schedule_arn: &str, function: &FunctionRef) -> String {
    let statement = schedule_arn
        .rsplit('/')
        .next()
        .unwrap_or("schedule")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>();
    let qualifier = function
        .qualifier
        .as_ref()
        .map(|q| format!(" --qualifier {q}"))
        .unwrap_or_default();
    format!(
        "aws lambda add-permission --function-name {}{qualifier} --statement-id scheduler-{statement} --action lambda:InvokeFunction --principal {SCHEDULER_PRINCIPAL} --source-arn {schedule_arn}",
        function.name
    )
}
