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

/// Whether a target's function exists.
pub trait Functions: Send + Sync + 'static {
    /// `Err` says why not (which functions there are).
    fn check(&self, function: &FunctionRef) -> Result<(), String>;

    /// Whether the schedule `schedule_arn` may invoke `function` now: asked once per fire, by
    /// the firing loop (its single call site), before the fire is queued. On AWS this is the
    /// function's resource-based policy allowing `lambda:InvokeFunction` to the principal
    /// `scheduler.amazonaws.com` (with the schedule as `aws:SourceArn`). lambdalet has no such
    /// policy yet, so every schedule may: wire the resource-policy check here.
    fn may_invoke(&self, schedule_arn: &str, function: &FunctionRef) -> bool {
        let _ = (schedule_arn, function);
        true
    }
}

impl Functions for lambdalet_control::Control {
    fn check(&self, function: &FunctionRef) -> Result<(), String> {
        self.resolve(function)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
