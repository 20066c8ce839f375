//! The hand-off between the invoker and one runtime, and the Runtime API state machine
//! (spec digest §1.6): `Started → Ready → Running → ResponseSent → Ready → …`, and
//! `Started → InitError`. Every other transition is refused with `InvalidStateTransition`.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};

use super::stream::{STREAM_QUEUE, StreamPart};

/// An event for the runtime, with what `next` sends as headers.
#[derive(Debug, Clone)]
pub struct Event {
    pub request_id: String,
    pub deadline_ms: u64,
    pub invoked_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub content_type: String,
    pub payload: Bytes,
}

/// What the runtime reported for an invocation.
#[derive(Debug)]
pub enum RuntimeOutcome {
    Response {
        body: Bytes,
        content_type: Option<String>,
    },
    Error {
        body: Bytes,
        error_type: Option<String>,
    },
    /// The runtime tried to post a response above the 6 MB limit.
    ResponseTooLarge,
    /// The runtime started a streamed response (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`): its parts follow on `body` as they arrive, ending with an end, a refusal
    /// over the limit, or a truncation.
    Stream {
        content_type: String,
        body: mpsc::Receiver<StreamPart>,
    },
}

/// What the runtime reported during init, if it failed.
#[derive(Debug, Clone)]
pub struct InitFailure {
    pub body: Bytes,
    pub error_type: Option<String>,
}

/// The runtime's state, named as in the Runtime Interface Emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    Started,
    Ready,
    Running,
    ResponseSent,
    InitError,
}

impl fmt::Display for RuntimeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Started => "Started",
            Self::Ready => "Ready",
            Self::Running => "Running",
            Self::ResponseSent => "RuntimeResponseSentState",
            Self::InitError => "InitError",
        };
        f.write_str(s)
    }
}

/// Why the Runtime API refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 403 `InvalidStateTransition`.
    InvalidState {
        from: RuntimeState,
        to: &'static str,
    },
    /// 400 `InvalidRequestID`.
    InvalidRequestId,
    /// 403 `InvalidStateTransition`: another `next` already waits for the event. The event goes
    /// to the caller that asked first, never to a second one (another process that found the
    /// port cannot take it over).
    AlreadyWaiting,
}

/// What `next` gets: an event now, or a receiver that yields one later.
pub enum NextEvent {
    Now(Event),
    Later(oneshot::Receiver<Event>),
}

struct Current {
    request_id: String,
    reply: oneshot::Sender<RuntimeOutcome>,
    /// Most bytes a streamed response may carry for this invocation's caller.
    stream_limit: usize,
}

/// Where an event goes when the runtime is waiting for one.
enum Waiter {
    /// A task awaiting it: an HTTP `next`.
    Task(oneshot::Sender<Event>),
    /// Written out by the dispatcher itself: a framed runtime's socket.
    Direct(Arc<dyn Deliver>),
}

impl Waiter {
    fn is_closed(&self) -> bool {
        match self {
            Self::Task(tx) => tx.is_closed(),
            Self::Direct(d) => d.is_closed(),
        }
    }

    /// Gives the event back (boxed: the rare path) if the runtime is gone.
    fn send(self, event: Event) -> Result<(), Box<Event>> {
        match self {
            Self::Task(tx) => tx.send(event).map_err(Box::new),
            Self::Direct(d) => d.deliver(event),
        }
    }
}

/// A runtime's channel that the dispatcher hands an event to itself, in its own task (no
/// other task to wake on the way to the runtime).
pub(crate) trait Deliver: Send + Sync {
    /// Sends `event` to the runtime, or gives it back if the runtime is gone.
    fn deliver(&self, event: Event) -> Result<(), Box<Event>>;
    /// Whether the runtime's channel is gone.
    fn is_closed(&self) -> bool;
}

struct Inner {
    state: RuntimeState,
    waiter: Option<Waiter>,
    pending: Option<Event>,
    current: Option<Current>,
    ready: Option<oneshot::Sender<Result<(), InitFailure>>>,
}

impl Inner {
    fn set(&mut self, state: RuntimeState, watch: &watch::Sender<RuntimeState>) {
        self.state = state;
        watch.send_replace(state);
    }
}

/// Shared by the invoker (which dispatches events) and the runtime's HTTP handlers.
pub struct RuntimeChannel {
    inner: Mutex<Inner>,
    watch: watch::Sender<RuntimeState>,
}

impl RuntimeChannel {
    /// A channel in state `Started`, and a receiver that resolves when init ends: `Ok` at the
    /// runtime's first `next`, `Err` if it posts `/runtime/init/error`.
    pub fn new() -> (Self, oneshot::Receiver<Result<(), InitFailure>>) {
        let (tx, rx) = oneshot::channel();
        let inner = Inner {
            state: RuntimeState::Started,
            waiter: None,
            pending: None,
            current: None,
            ready: Some(tx),
        };
        let (watch, _) = watch::channel(RuntimeState::Started);
        (
            Self {
                inner: Mutex::new(inner),
                watch,
            },
            rx,
        )
    }

    pub fn state(&self) -> RuntimeState {
        self.inner.lock().state
    }

    /// Waits up to `limit` for the runtime to come back to `next` after its last response.
    /// False if it did not (a hung runtime).
    pub async fn wait_until_back(&self, limit: std::time::Duration) -> bool {
        let mut rx = self.watch.subscribe();
        let back = rx.wait_for(|s| *s != RuntimeState::ResponseSent);
        matches!(tokio::time::timeout(limit, back).await, Ok(Ok(_)))
    }

    /// `GET /runtime/invocation/next`.
    pub fn next(&self) -> Result<NextEvent, Refusal> {
        let (tx, rx) = oneshot::channel();
        Ok(match self.wait_for_event(Waiter::Task(tx))? {
            Some(event) => NextEvent::Now(event),
            None => NextEvent::Later(rx),
        })
    }

    /// A framed runtime's `next`: the event if one is pending, else `None`, and the next event
    /// dispatched goes to `sink`.
    pub(crate) fn next_direct(&self, sink: Arc<dyn Deliver>) -> Result<Option<Event>, Refusal> {
        self.wait_for_event(Waiter::Direct(sink))
    }

    fn wait_for_event(&self, waiter: Waiter) -> Result<Option<Event>, Refusal> {
        let mut inner = self.inner.lock();
        match inner.state {
            RuntimeState::Started => {
                if let Some(ready) = inner.ready.take() {
                    let _ = ready.send(Ok(()));
                }
                inner.set(RuntimeState::Ready, &self.watch);
            }
            RuntimeState::ResponseSent => inner.set(RuntimeState::Ready, &self.watch),
            // A repeated `next` while ready or running is accepted as the RIE accepts it, but
            // only when the earlier caller is gone (below).
            RuntimeState::Ready | RuntimeState::Running => {}
            RuntimeState::InitError => {
                return Err(Refusal::InvalidState {
                    from: inner.state,
                    to: "Ready",
                });
            }
        }
        if inner.state == RuntimeState::Ready
            && let Some(event) = inner.pending.take()
        {
            inner.set(RuntimeState::Running, &self.watch);
            return Ok(Some(event));
        }
        // A waiter whose connection went away (the runtime restarted its loop) is replaced;
        // one still waiting keeps its place.
        if inner.waiter.as_ref().is_some_and(|w| !w.is_closed()) {
            return Err(Refusal::AlreadyWaiting);
        }
        inner.waiter = Some(waiter);
        Ok(None)
    }

    /// Hands an event to the runtime (now if it is waiting in `next`, else at its next `next`).
    /// The receiver yields the runtime's outcome; it is dropped if the channel is reset.
    pub fn dispatch(&self, event: Event) -> oneshot::Receiver<RuntimeOutcome> {
        self.dispatch_with_limit(event, lambdalet_core::limits::MAX_RESPONSE_BYTES)
    }

    /// [`Self::dispatch`] for a caller that takes a streamed response of up to `stream_limit`
    /// bytes (a buffered caller takes 6 MB, an `InvokeWithResponseStream` caller more).
    pub fn dispatch_with_limit(
        &self,
        event: Event,
        stream_limit: usize,
    ) -> oneshot::Receiver<RuntimeOutcome> {
        let (reply, rx) = oneshot::channel();
        let mut inner = self.inner.lock();
        inner.current = Some(Current {
            request_id: event.request_id.clone(),
            reply,
            stream_limit,
        });
        let mut event = Some(event);
        if inner.state == RuntimeState::Ready
            && let Some(waiter) = inner.waiter.take()
        {
            match waiter.send(event.take().expect("event is set above")) {
                Ok(()) => inner.set(RuntimeState::Running, &self.watch),
                // The runtime's `next` connection went away; keep the event for its next call.
                Err(ev) => event = Some(*ev),
            }
        }
        if let Some(ev) = event {
            inner.pending = Some(ev);
        }
        rx
    }

    /// `POST /runtime/invocation/{id}/response` in streaming mode: the invocation takes the
    /// stream whose parts the returned sender carries, of at most the returned number of bytes.
    /// The runtime is in `ResponseSent` from here on; the invoker keeps its environment until
    /// the stream ends.
    pub fn begin_stream(
        &self,
        request_id: &str,
        content_type: String,
    ) -> Result<(mpsc::Sender<StreamPart>, usize), Refusal> {
        let (tx, body) = mpsc::channel(STREAM_QUEUE);
        let mut inner = self.inner.lock();
        let current = self.take_current(&mut inner, request_id, "InvocationResponse")?;
        let _ = current
            .reply
            .send(RuntimeOutcome::Stream { content_type, body });
        Ok((tx, current.stream_limit))
    }

    /// `POST /runtime/invocation/{id}/response` and `/error`.
    pub fn complete(&self, request_id: &str, outcome: RuntimeOutcome) -> Result<(), Refusal> {
        let to = match outcome {
            RuntimeOutcome::Error { .. } => "InvocationErrorResponse",
            _ => "InvocationResponse",
        };
        let mut inner = self.inner.lock();
        let current = self.take_current(&mut inner, request_id, to)?;
        let _ = current.reply.send(outcome);
        Ok(())
    }

    /// Ends the running invocation `request_id` (state `ResponseSent`) and hands back its
    /// reply channel, or refuses: a wrong or repeated id, or a runtime not running one.
    fn take_current(
        &self,
        inner: &mut Inner,
        request_id: &str,
        to: &'static str,
    ) -> Result<Current, Refusal> {
        let matches = inner
            .current
            .as_ref()
            .is_some_and(|c| c.request_id == request_id);
        if !matches {
            return Err(Refusal::InvalidRequestId);
        }
        if inner.state != RuntimeState::Running {
            return Err(Refusal::InvalidState {
                from: inner.state,
                to,
            });
        }
        let current = inner.current.take().expect("checked above");
        inner.set(RuntimeState::ResponseSent, &self.watch);
        Ok(current)
    }

    /// `POST /runtime/init/error`.
    pub fn init_error(&self, failure: InitFailure) -> Result<(), Refusal> {
        let mut inner = self.inner.lock();
        if inner.state != RuntimeState::Started {
            return Err(Refusal::InvalidState {
                from: inner.state,
                to: "InitError",
            });
        }
        inner.set(RuntimeState::InitError, &self.watch);
        if let Some(ready) = inner.ready.take() {
            let _ = ready.send(Err(failure));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
