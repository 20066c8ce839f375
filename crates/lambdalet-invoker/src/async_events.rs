//! Asynchronous invocation (`X-Amz-Invocation-Type: Event`): accepted events are stored
//! durably before the caller's 202, then dispatched through the same pools as synchronous
//! invocations, retried on function errors (Lambda's 1 and 2 minute delays by default), backed
//! off exponentially on throttles and system errors up to `MaximumEventAgeInSeconds`, and
//! finally reported to their `OnSuccess` / `OnFailure` destination.
//!
//! Nothing accepted is lost: an event leaves the store only after its invocation finished,
//! so after a crash every unfinished event runs again (at least once).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambdalet_core::{
    DeliveryPolicy, DeployedVersion, Destination, EventInvokeConfig, LambdaError, timefmt,
};
use lambdalet_store::{AlongWith, AsyncEventMeta, AsyncQueueStore, NewAsyncEvent, StoreError};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::error::InvokeError;
use crate::invoker::Invoker;
use crate::metrics::DropReason;
use crate::request::Invocation;

/// What the dispatcher needs from the control plane.
pub trait Targets: Send + Sync + 'static {
    /// The version an event for `function` (as invoked with `qualifier`) runs now.
    fn resolve(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<DeployedVersion>, String), LambdaError>;
    /// The event-invoke configuration for that qualifier (defaults when none was put).
    fn event_config(&self, function: &str, qualifier: Option<&str>) -> EventInvokeConfig;
    fn reserved_concurrency(&self, function: &str) -> Option<u32>;
}

/// Daemon settings of asynchronous invocation.
#[derive(Debug, Clone)]
pub struct AsyncSettings {
    /// Wait before the 1st, 2nd, ... retry after a function error (`--async-retry-delays`).
    pub retry_delays: Vec<Duration>,
    /// Bytes of accepted payloads the dispatcher keeps in memory; events beyond it are read
    /// back from the store when their turn comes.
    pub payload_cache_bytes: usize,
}

impl Default for AsyncSettings {
    fn default() -> Self {
        Self {
            retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            payload_cache_bytes: PAYLOAD_CACHE_BYTES,
        }
    }
}

/// An event to accept.
#[derive(Debug, Clone)]
pub struct AsyncRequest {
    pub function: String,
    pub qualifier: Option<String>,
    pub payload: Bytes,
    pub client_context: Option<String>,
}

/// What [`AsyncQueue::submit_with`] adds to an event.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// The event's own delivery policy (see [`DeliveryPolicy`]).
    pub delivery: Option<DeliveryPolicy>,
    /// A change committed with the event (a schedule's fire).
    pub along: Option<AlongWith>,
}

/// Counts for `lambdalet queue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSummary {
    pub function: String,
    pub pending: u64,
    pub in_flight: u64,
    pub failed: u64,
    /// When the oldest event not yet ended (pending or in flight) was received, ms since the
    /// epoch.
    pub oldest_received_ms: Option<u64>,
}

#[derive(Default)]
struct QState {
    events: HashMap<i64, AsyncEventMeta>,
    /// Not yet due: (due time, id).
    delayed: BTreeSet<(u64, i64)>,
    /// Due, per function, oldest first.
    ready: HashMap<String, VecDeque<i64>>,
    in_flight: HashMap<String, usize>,
    /// Payloads of events accepted by this process, so the dispatcher need not read them back
    /// from the store; bounded by `payload_limit` (events beyond it are read back).
    payloads: HashMap<i64, Bytes>,
    payload_bytes: usize,
    payload_limit: usize,
    closing: bool,
}

/// How many bytes of accepted payloads the dispatcher keeps in memory by default.
const PAYLOAD_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl QState {
    fn cache_payload(&mut self, id: i64, payload: Bytes) {
        let cost = cached_cost(&payload);
        if self.payload_bytes + cost <= self.payload_limit {
            self.payload_bytes += cost;
            self.payloads.insert(id, payload);
        }
    }

    fn forget_payload(&mut self, id: i64) {
        if let Some(p) = self.payloads.remove(&id) {
            self.payload_bytes -= cached_cost(&p);
        }
    }
}

/// What a cached payload costs: its bytes plus its allocation and map entry (so a flood of
/// tiny events is bounded too).
fn cached_cost(payload: &Bytes) -> usize {
    payload.len() + 64
}

/// The asynchronous event queue and its dispatcher.
pub struct AsyncQueue {
    store: AsyncQueueStore,
    invoker: Arc<Invoker>,
    targets: Arc<dyn Targets>,
    settings: AsyncSettings,
    state: Mutex<QState>,
    notify: Notify,
    topic_sink: std::sync::OnceLock<Arc<dyn TopicSink>>,
    /// Itself, for the store's commit callbacks.
    me: std::sync::Weak<AsyncQueue>,
}

/// An event handed to the queue ([`AsyncQueue::submit`]); [`Accepted::stored`] waits until
/// it is on disk.
pub struct Accepted {
    request_id: String,
    stored: tokio::sync::oneshot::Receiver<Result<(), String>>,
}

impl Accepted {
    /// Waits until the event is durably stored; returns its request id.
    pub async fn stored(self) -> Result<String, InvokeError> {
        match self.stored.await {
            Ok(Ok(())) => Ok(self.request_id),
            Ok(Err(e)) => Err(InvokeError::Internal(format!(
                "cannot store the event: {e}"
            ))),
            Err(_) => Err(InvokeError::Internal(
                "the async queue writer has stopped".to_owned(),
            )),
        }
    }
}

/// Where destination records for topics go (the event router).
pub trait TopicSink: Send + Sync + 'static {
    /// Publishes `payload` on a local topic, or on the MQTT broker when `mqtt`.
    fn publish(&self, mqtt: bool, topic: &str, payload: Bytes) -> Result<(), String>;
}

/// Why an event ended without success, as invocation records name it.
const RETRIES_EXHAUSTED: &str = "RetriesExhausted";
const EVENT_AGE_EXCEEDED: &str = "EventAgeExceeded";

impl AsyncQueue {
    /// Loads the stored events and starts dispatching them.
    pub async fn start(
        store: AsyncQueueStore,
        invoker: Arc<Invoker>,
        targets: Arc<dyn Targets>,
        settings: AsyncSettings,
    ) -> Result<Arc<Self>, StoreError> {
        let s = store.clone();
        let pending = tokio::task::spawn_blocking(move || s.load_pending())
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let payload_limit = settings.payload_cache_bytes;
        let queue = Arc::new_cyclic(|me| Self {
            store,
            invoker,
            targets,
            settings,
            state: Mutex::new(QState {
                payload_limit,
                ..QState::default()
            }),
            notify: Notify::new(),
            topic_sink: std::sync::OnceLock::new(),
            me: me.clone(),
        });
        if !pending.is_empty() {
            tracing::info!(
                events = pending.len(),
                "async.resumed: dispatching events accepted before the restart"
            );
        }
        {
            let mut st = queue.state.lock();
            for meta in pending {
                schedule(&mut st, meta);
            }
        }
        tokio::spawn(queue.clone().dispatch_loop());
        Ok(queue)
    }

    /// Stores an event durably and returns its request id; it runs soon after.
    pub async fn accept(&self, req: AsyncRequest) -> Result<String, InvokeError> {
        self.submit(req).stored().await
    }

    /// Hands an event to the queue's writer at once, without waiting for the disk. Events of
    /// successive calls get their place in the queue in the order of the calls (so a pinned
    /// function runs them in that order); [`Accepted::stored`] says when one is durable.
    pub fn submit(&self, req: AsyncRequest) -> Accepted {
        self.submit_with(req, SubmitOptions::default())
    }

    /// [`Self::submit`] with the event's own delivery policy, and a change committed in the
    /// same transaction as the event.
    pub fn submit_with(&self, req: AsyncRequest, options: SubmitOptions) -> Accepted {
        let request_id = lambdalet_core::ids::new_request_id();
        let delivery = options
            .delivery
            .and_then(|d| serde_json::to_string(&d).ok());
        let now = timefmt::epoch_millis(SystemTime::now());
        let event = NewAsyncEvent {
            request_id: request_id.clone(),
            function: req.function,
            qualifier: req.qualifier,
            // A copy of its own: the request's bytes may be a slice of a much larger buffer
            // (hyper's read buffer), which the dispatcher's cached copy would keep alive.
            payload: Bytes::copy_from_slice(&req.payload),
            client_context: req.client_context,
            received_ms: now,
            next_attempt_ms: now,
            delivery,
        };
        let (done, stored) = tokio::sync::oneshot::channel();
        let payload = event.payload.clone();
        let mut meta = AsyncEventMeta {
            id: 0,
            request_id: event.request_id.clone(),
            function: event.function.clone(),
            qualifier: event.qualifier.clone(),
            client_context: event.client_context.clone(),
            received_ms: event.received_ms,
            attempts: 0,
            throttles: 0,
            next_attempt_ms: event.next_attempt_ms,
            delivery: event.delivery.clone(),
        };
        let me = self.me.clone();
        // Runs on the writer thread after the commit, in submission order: scheduling here
        // (not in the caller's task, which may wake in any order) keeps the queue FIFO.
        let on_commit = move |r: Result<Vec<i64>, String>| {
            let r = r.and_then(|ids| {
                ids.first()
                    .copied()
                    .ok_or_else(|| "the writer returned no id".to_owned())
            });
            if let (Ok(id), Some(queue)) = (&r, me.upgrade()) {
                queue.invoker.metrics().async_received(&meta.function);
                meta.id = *id;
                let mut st = queue.state.lock();
                st.cache_payload(*id, payload);
                schedule(&mut st, meta);
                drop(st);
                queue.notify.notify_one();
            }
            let _ = done.send(r.map(|_| ()));
        };
        if let Err(e) = self
            .store
            .enqueue_along(vec![event], options.along, on_commit)
        {
            // The callback was dropped with the message, so `stored` reports it; log why.
            tracing::error!(error = %e, "the async queue cannot take events");
        }
        Accepted { request_id, stored }
    }

    /// Pending, in-flight and failed events per function.
    pub async fn summary(&self) -> Result<Vec<QueueSummary>, StoreError> {
        let store = self.store.clone();
        let counts = tokio::task::spawn_blocking(move || store.failed_counts())
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let st = self.state.lock();
        let mut out: HashMap<String, QueueSummary> = HashMap::new();
        for (function, failed) in counts {
            out.entry(function.clone())
                .or_insert_with(|| QueueSummary {
                    function,
                    ..Default::default()
                })
                .failed = failed;
        }
        for meta in st.events.values() {
            let s = out
                .entry(meta.function.clone())
                .or_insert_with(|| QueueSummary {
                    function: meta.function.clone(),
                    ..Default::default()
                });
            s.pending += 1;
            s.oldest_received_ms = Some(
                s.oldest_received_ms
                    .map_or(meta.received_ms, |o| o.min(meta.received_ms)),
            );
        }
        for (function, n) in &st.in_flight {
            let s = out.entry(function.clone()).or_insert_with(|| QueueSummary {
                function: function.clone(),
                ..Default::default()
            });
            s.in_flight = *n as u64;
            s.pending = s.pending.saturating_sub(*n as u64);
        }
        let mut v: Vec<_> = out
            .into_values()
            .filter(|s| s.pending + s.in_flight + s.failed > 0)
            .collect();
        v.sort_by(|a, b| a.function.cmp(&b.function));
        Ok(v)
    }

    /// Connects destination topics to the event router (once, at start).
    pub fn set_topic_sink(&self, sink: Arc<dyn TopicSink>) {
        let _ = self.topic_sink.set(sink);
    }

    /// The newest `limit` failed events of `function`.
    pub async fn failed(
        &self,
        function: &str,
        limit: usize,
    ) -> Result<Vec<lambdalet_store::FailedAsyncEvent>, StoreError> {
        let (store, f) = (self.store.clone(), function.to_owned());
        tokio::task::spawn_blocking(move || store.failed(&f, limit))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }

    /// Stops dispatching; events not yet finished stay stored for the next start.
    pub fn close(&self) {
        self.state.lock().closing = true;
        self.notify.notify_one();
    }

    async fn dispatch_loop(self: Arc<Self>) {
        loop {
            let next_due = {
                let mut st = self.state.lock();
                if st.closing {
                    break;
                }
                let now = timefmt::epoch_millis(SystemTime::now());
                while let Some(&(due, id)) = st.delayed.first() {
                    if due > now {
                        break;
                    }
                    st.delayed.pop_first();
                    if let Some(f) = st.events.get(&id).map(|m| m.function.clone()) {
                        st.ready.entry(f).or_default().push_back(id);
                    }
                }
                let mut starts = Vec::new();
                let functions: Vec<String> = st.ready.keys().cloned().collect();
                for function in functions {
                    let limit = self.dispatch_limit(&st, &function);
                    loop {
                        let busy = st.in_flight.get(&function).copied().unwrap_or(0);
                        if busy >= limit {
                            break;
                        }
                        let Some(id) = st.ready.get_mut(&function).and_then(VecDeque::pop_front)
                        else {
                            break;
                        };
                        if let Some(meta) = st.events.get(&id).cloned() {
                            *st.in_flight.entry(function.clone()).or_default() += 1;
                            starts.push(meta);
                        }
                    }
                    if st.ready.get(&function).is_some_and(VecDeque::is_empty) {
                        st.ready.remove(&function);
                    }
                }
                for meta in starts {
                    tokio::spawn(self.clone().dispatch(meta));
                }
                st.delayed.first().map(|(due, _)| *due)
            };
            let sleep = match next_due {
                Some(due) => Duration::from_millis(
                    due.saturating_sub(timefmt::epoch_millis(SystemTime::now())),
                ),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// How many events of one function may run at once: one for a pinned function (its events
    /// run in order), else its instance limit.
    fn dispatch_limit(&self, st: &QState, function: &str) -> usize {
        let head = st
            .ready
            .get(function)
            .and_then(|q| q.front())
            .and_then(|id| st.events.get(id));
        let qualifier = head.and_then(|m| m.qualifier.clone());
        match self.targets.resolve(function, qualifier.as_deref()) {
            Ok((v, _)) if v.config.lifecycle.pinned => 1,
            Ok((v, _)) => v.config.lifecycle.max_instances_count.max(1) as usize,
            Err(_) => 1,
        }
    }

    async fn dispatch(self: Arc<Self>, meta: AsyncEventMeta) {
        let outcome = self.run_one(&meta).await;
        let mut st = self.state.lock();
        if let Some(n) = st.in_flight.get_mut(&meta.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.in_flight.remove(&meta.function);
            }
        }
        match outcome {
            Next::Done => {
                st.events.remove(&meta.id);
                st.forget_payload(meta.id);
            }
            Next::Retry(updated) => {
                st.delayed.insert((updated.next_attempt_ms, updated.id));
                st.events.insert(updated.id, updated);
            }
            Next::Leave => {}
        }
        drop(st);
        self.notify.notify_one();
    }

    async fn run_one(&self, meta: &AsyncEventMeta) -> Next {
        let id = meta.id;
        let cached = self.state.lock().payloads.get(&id).cloned();
        let payload = match cached {
            Some(p) => p,
            None => {
                let store = self.store.clone();
                match tokio::task::spawn_blocking(move || store.payload(id)).await {
                    Ok(Ok(Some(p))) => Bytes::from(p),
                    Ok(Ok(None)) => return Next::Done,
                    Ok(Err(e)) => {
                        tracing::error!(event = id, error = %e, "cannot read a queued event; leaving it for the next start");
                        return Next::Leave;
                    }
                    Err(_) => return Next::Leave,
                }
            }
        };
        let config = self
            .targets
            .event_config(&meta.function, meta.qualifier.as_deref());
        // Until the function first runs it, an event with its own delivery policy follows it.
        let delivery = undelivered_policy(meta);
        let failed = FailurePath::of(&config, delivery.as_ref());
        let now = timefmt::epoch_millis(SystemTime::now());
        let max_age_ms = u64::from(
            delivery
                .as_ref()
                .map_or(config.max_event_age_secs(), |d| d.max_event_age_secs),
        ) * 1000;
        if now.saturating_sub(meta.received_ms) > max_age_ms {
            return self
                .give_up(
                    meta,
                    &failed,
                    &payload,
                    EVENT_AGE_EXCEEDED,
                    "the event is older than MaximumEventAgeInSeconds",
                )
                .await;
        }
        let (version, invoked_arn) = match self
            .targets
            .resolve(&meta.function, meta.qualifier.as_deref())
        {
            Ok(r) => r,
            Err(e) if delivery.is_some() => {
                return self
                    .give_up(meta, &failed, &payload, RETRIES_EXHAUSTED, &e.message)
                    .await;
            }
            Err(e) => {
                tracing::warn!(function = %meta.function, request_id = %meta.request_id, "async event cannot run: {e}");
                self.finish(meta.id, Some((meta.attempts, e.message.clone())), None)
                    .await;
                return Next::Done;
            }
        };
        self.invoker.metrics().async_dispatched(
            &meta.function,
            Duration::from_millis(now.saturating_sub(meta.received_ms)),
        );
        let result = self
            .invoker
            .invoke(Invocation {
                target: version,
                invoked_arn: invoked_arn.clone(),
                payload: payload.clone(),
                client_context: meta.client_context.clone(),
                trace_id: None,
                want_log_tail: false,
                request_id: Some(meta.request_id.clone()),
            })
            .await;
        match result {
            Ok(r) if !r.function_error => {
                let record = config.on_success().ok().flatten().map(|d| {
                    destination_event(
                        &d,
                        &record(
                            meta,
                            &invoked_arn,
                            "Success",
                            meta.attempts + 1,
                            &payload,
                            Some(&r),
                        ),
                    )
                });
                self.finish(meta.id, None, record).await;
                Next::Done
            }
            Ok(r) => {
                let attempts = meta.attempts + 1;
                let error = String::from_utf8_lossy(&r.payload)
                    .chars()
                    .take(1024)
                    .collect::<String>();
                if attempts <= config.max_retry_attempts() {
                    let delay = self
                        .settings
                        .retry_delays
                        .get(attempts as usize - 1)
                        .or(self.settings.retry_delays.last())
                        .copied()
                        .unwrap_or(Duration::from_secs(60));
                    tracing::info!(function = %meta.function, request_id = %meta.request_id, attempts, "async.retry in {delay:?} after a function error");
                    let next = timefmt::epoch_millis(SystemTime::now() + delay);
                    self.store
                        .reschedule(meta.id, attempts, meta.throttles, next, error);
                    Next::Retry(AsyncEventMeta {
                        attempts,
                        next_attempt_ms: next,
                        ..meta.clone()
                    })
                } else {
                    tracing::warn!(function = %meta.function, request_id = %meta.request_id, attempts, "async.failed: retries exhausted");
                    let follow = config.on_failure().ok().flatten().map(|d| {
                        destination_event(
                            &d,
                            &record(
                                meta,
                                &invoked_arn,
                                RETRIES_EXHAUSTED,
                                attempts,
                                &payload,
                                Some(&r),
                            ),
                        )
                    });
                    let metrics = self.invoker.metrics();
                    metrics.async_dropped(&meta.function, DropReason::RetriesExhausted);
                    if !self.finish(meta.id, Some((attempts, error)), follow).await {
                        metrics.dead_letter_error(&meta.function);
                    }
                    Next::Done
                }
            }
            Err(InvokeError::ShuttingDown) => Next::Leave,
            Err(e) => {
                if matches!(e, InvokeError::Throttled { .. })
                    && self.targets.reserved_concurrency(&meta.function) == Some(0)
                {
                    return self
                        .give_up(
                            meta,
                            &failed,
                            &payload,
                            RETRIES_EXHAUSTED,
                            "reserved concurrency is 0",
                        )
                        .await;
                }
                let throttles = meta.throttles + 1;
                if delivery
                    .as_ref()
                    .is_some_and(|d| throttles > d.max_retry_attempts)
                {
                    return self
                        .give_up(meta, &failed, &payload, RETRIES_EXHAUSTED, &e.to_string())
                        .await;
                }
                let delay = Duration::from_secs((1u64 << throttles.min(9)).min(300));
                let next = timefmt::epoch_millis(SystemTime::now() + delay);
                if next.saturating_sub(meta.received_ms) > max_age_ms {
                    return self
                        .give_up(meta, &failed, &payload, EVENT_AGE_EXCEEDED, &e.to_string())
                        .await;
                }
                tracing::info!(function = %meta.function, request_id = %meta.request_id, "async.backoff {delay:?}: {e}");
                self.store
                    .reschedule(meta.id, meta.attempts, throttles, next, e.to_string());
                Next::Retry(AsyncEventMeta {
                    throttles,
                    next_attempt_ms: next,
                    ..meta.clone()
                })
            }
        }
    }

    /// Ends an event without an invocation result (too old, disabled function, or not
    /// delivered within its own delivery policy).
    async fn give_up(
        &self,
        meta: &AsyncEventMeta,
        failed: &FailurePath,
        payload: &Bytes,
        condition: &str,
        why: &str,
    ) -> Next {
        tracing::warn!(function = %meta.function, request_id = %meta.request_id, condition, "async.failed: {why}");
        let metrics = self.invoker.metrics();
        let reason = if condition == EVENT_AGE_EXCEEDED {
            DropReason::EventAge
        } else {
            DropReason::RetriesExhausted
        };
        metrics.async_dropped(&meta.function, reason);
        let arn = self
            .targets
            .resolve(&meta.function, meta.qualifier.as_deref())
            .map(|(_, arn)| arn)
            .unwrap_or_else(|_| meta.function.clone());
        let follow = failed.destination.as_ref().map(|d| {
            let mut r = record(meta, &arn, condition, meta.attempts, payload, None);
            if failed.dead_letter {
                // What Scheduler's dead-letter messages carry as attributes.
                r["errorCode"] = serde_json::Value::String(condition.to_owned());
                r["errorMessage"] = serde_json::Value::String(why.to_owned());
            }
            destination_event(d, &r)
        });
        let delivered = self
            .finish(
                meta.id,
                Some((meta.attempts, format!("{condition}: {why}"))),
                follow,
            )
            .await;
        if !delivered {
            metrics.dead_letter_error(&meta.function);
        }
        Next::Done
    }

    /// Deletes a finished event (`failed` None) or marks it failed, together with its
    /// destination: an event for a function (committed together, then scheduled here too) or a
    /// message for a topic (published first). Returns false when there was a follow-up and it
    /// could not be delivered.
    async fn finish(
        &self,
        id: i64,
        failed: Option<(u32, String)>,
        follow: Option<FollowUp>,
    ) -> bool {
        let mut delivered = true;
        let follow = match follow {
            Some(FollowUp::Publish {
                mqtt,
                topic,
                payload,
            }) => {
                match self.topic_sink.get() {
                    Some(sink) => {
                        if let Err(e) = sink.publish(mqtt, &topic, payload) {
                            delivered = false;
                            tracing::warn!(event = id, topic = %topic, "cannot publish to the destination topic: {e}");
                        }
                    }
                    None => {
                        delivered = false;
                        tracing::warn!(event = id, topic = %topic, "no topic bus to publish the destination record on")
                    }
                }
                None
            }
            Some(FollowUp::Event(e)) => Some(e),
            None => None,
        };
        let store = self.store.clone();
        let f = follow.clone();
        let end = move || match failed {
            None => store.complete(id, f),
            Some((attempts, error)) => store.fail(id, attempts, error, f),
        };
        // Without a follow-up event the store only queues the change for its writer and
        // returns at once; with one it waits for the commit, off the async threads.
        let result = if follow.is_none() {
            Ok(end())
        } else {
            tokio::task::spawn_blocking(end).await
        };
        match (result, follow) {
            (Ok(Ok(Some(new_id))), Some(e)) => {
                let meta = AsyncEventMeta {
                    id: new_id,
                    request_id: e.request_id,
                    function: e.function,
                    qualifier: e.qualifier,
                    client_context: e.client_context,
                    received_ms: e.received_ms,
                    attempts: 0,
                    throttles: 0,
                    next_attempt_ms: e.next_attempt_ms,
                    delivery: e.delivery,
                };
                let mut st = self.state.lock();
                st.cache_payload(new_id, e.payload);
                schedule(&mut st, meta);
                drop(st);
                self.notify.notify_one();
            }
            (Ok(Ok(None)), Some(_)) => delivered = false,
            (Ok(Ok(_)), _) => {}
            (Ok(Err(e)), f) => {
                delivered &= f.is_none();
                tracing::error!(event = id, error = %e, "cannot record the end of an async event")
            }
            (Err(e), f) => {
                delivered &= f.is_none();
                tracing::error!(event = id, error = %e, "cannot record the end of an async event")
            }
        }
        delivered
    }
}

/// Where an event given up without a result is reported.
struct FailurePath {
    destination: Option<Destination>,
    /// The event's own dead-letter target (not the function's `OnFailure`).
    dead_letter: bool,
}

impl FailurePath {
    fn of(config: &EventInvokeConfig, delivery: Option<&DeliveryPolicy>) -> Self {
        match delivery {
            Some(d) => Self {
                destination: d
                    .dead_letter
                    .as_deref()
                    .and_then(|a| Destination::parse(a).ok()),
                dead_letter: true,
            },
            None => Self {
                destination: config.on_failure().ok().flatten(),
                dead_letter: false,
            },
        }
    }
}

/// The event's own delivery policy while the function has not yet run it.
fn undelivered_policy(meta: &AsyncEventMeta) -> Option<DeliveryPolicy> {
    if meta.attempts > 0 {
        return None;
    }
    let text = meta.delivery.as_deref()?;
    match serde_json::from_str(text) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(event = meta.id, error = %e, "an event's delivery policy cannot be read; the function's configuration applies");
            None
        }
    }
}

enum Next {
    Done,
    Retry(AsyncEventMeta),
    /// Leave the stored event as it is (the daemon is stopping).
    Leave,
}

fn schedule(st: &mut QState, meta: AsyncEventMeta) {
    let now = timefmt::epoch_millis(SystemTime::now());
    if meta.next_attempt_ms <= now {
        st.ready
            .entry(meta.function.clone())
            .or_default()
            .push_back(meta.id);
    } else {
        st.delayed.insert((meta.next_attempt_ms, meta.id));
    }
    st.events.insert(meta.id, meta);
}

/// The invocation record a destination receives (AWS's shape).
fn record(
    meta: &AsyncEventMeta,
    invoked_arn: &str,
    condition: &str,
    invoke_count: u32,
    payload: &[u8],
    result: Option<&crate::request::InvocationResult>,
) -> serde_json::Value {
    let as_json = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(b).into_owned()))
    };
    let function_arn = if invoked_arn.matches(':').count() == 6 {
        format!("{invoked_arn}:$LATEST")
    } else {
        invoked_arn.to_owned()
    };
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": timefmt::rfc3339_millis(SystemTime::now()),
        "requestContext": {
            "requestId": meta.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": as_json(payload),
    });
    if let Some(r) = result {
        let mut ctx =
            serde_json::json!({ "statusCode": 200, "executedVersion": r.executed_version });
        if r.function_error {
            ctx["functionError"] = serde_json::Value::String("Unhandled".to_owned());
        }
        record["responseContext"] = ctx;
        record["responsePayload"] = as_json(&r.payload);
    }
    record
}

/// What happens after an event ends, besides recording it.
enum FollowUp {
    /// An asynchronous event for a destination function (committed with the record).
    Event(NewAsyncEvent),
    /// A message for a destination topic (published before the record is committed, so a
    /// crash in between publishes it again rather than losing it).
    Publish {
        mqtt: bool,
        topic: String,
        payload: Bytes,
    },
}

fn destination_event(dest: &Destination, record: &serde_json::Value) -> FollowUp {
    let now = timefmt::epoch_millis(SystemTime::now());
    match dest {
        Destination::Function { target, .. } => FollowUp::Event(NewAsyncEvent {
            request_id: lambdalet_core::ids::new_request_id(),
            function: target.name.to_string(),
            qualifier: target.qualifier.as_ref().map(ToString::to_string),
            payload: Bytes::from(record.to_string()),
            client_context: None,
            received_ms: now,
            next_attempt_ms: now,
            delivery: None,
        }),
        Destination::LocalTopic { topic, .. } => FollowUp::Publish {
            mqtt: false,
            topic: topic.clone(),
            payload: Bytes::from(record.to_string()),
        },
        Destination::MqttTopic { topic, .. } => FollowUp::Publish {
            mqtt: true,
            topic: topic.clone(),
            payload: Bytes::from(record.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_cache_stays_within_its_bound_and_forgets_finished_events() {
        let mut st = QState {
            payload_limit: PAYLOAD_CACHE_BYTES,
            ..QState::default()
        };
        let big = Bytes::from(vec![0u8; PAYLOAD_CACHE_BYTES / 2 - 64]);
        st.cache_payload(1, big.clone());
        st.cache_payload(2, big.clone());
        st.cache_payload(3, Bytes::from_static(b"x"));
        assert_eq!(st.payload_bytes, PAYLOAD_CACHE_BYTES);
        assert!(
            !st.payloads.contains_key(&3),
            "beyond the bound events are read back from the store"
        );
        st.forget_payload(1);
        st.forget_payload(1);
        st.forget_payload(3);
        assert_eq!(st.payload_bytes, PAYLOAD_CACHE_BYTES / 2);
        st.cache_payload(4, Bytes::from_static(b"after"));
        assert_eq!(st.payloads.get(&4).map(|b| &b[..]), Some(&b"after"[..]));
    }
}
