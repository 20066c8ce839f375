//! What the service tests share: [`Schedules`] over a real store and the real async queue's
//! writer, with a hand-moved clock.

use std::sync::Arc;

use lambdalet_core::{AccountInfo, FunctionRef};
use lambdalet_store::{AsyncQueueStore, NewAsyncEvent, Store};
use parking_lot::Mutex;

use crate::clock::ManualClock;
use crate::definition::ScheduleInput;
use crate::service::Schedules;
use crate::sink::{Fire, FireSink, Functions, Queued};

/// 2030-01-01T00:00:00Z.
pub(crate) const T0: i64 = 1_893_456_000_000;

/// Queues fires in the real queue table, with the schedule's change in the same transaction,
/// and remembers what it was given.
pub(crate) struct QueueSink {
    pub(crate) queue: AsyncQueueStore,
    pub(crate) fires: Mutex<Vec<Fire>>,
}

impl FireSink for QueueSink {
    fn queue(&self, fire: Fire) -> Queued {
        self.fires.lock().push(fire.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let event = NewAsyncEvent {
            request_id: uuid::Uuid::new_v4().to_string(),
            function: fire.request.function.clone(),
            qualifier: fire.request.qualifier.clone(),
            payload: fire.request.payload.clone(),
            client_context: None,
            received_ms: 0,
            next_attempt_ms: 0,
            delivery: None,
        };
        let sent = self
            .queue
            .enqueue_along(vec![event], fire.options.along, move |r| {
                let _ = tx.send(r);
            });
        Box::pin(async move {
            sent.map_err(|e| e.to_string())?;
            match rx.await {
                Ok(Ok(_)) => Ok("request".to_owned()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("dropped".to_owned()),
            }
        })
    }
}

/// Only `hello` exists; `deny`: no schedule may invoke it.
struct OneFunction {
    deny: bool,
}

impl Functions for OneFunction {
    fn check(&self, f: &FunctionRef) -> Result<(), String> {
        if f.name.to_string() == "hello" {
            Ok(())
        } else {
            Err(format!("Function not found: {}", f.name))
        }
    }

    fn may_invoke(&self, _schedule_arn: &str, _function: &FunctionRef) -> bool {
        !self.deny
    }
}

pub(crate) struct Rig {
    _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) sink: Arc<QueueSink>,
    pub(crate) schedules: Arc<Schedules>,
}

impl Rig {
    pub(crate) async fn new() -> Self {
        Self::with(false).await
    }

    pub(crate) async fn with(deny: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let clock = Arc::new(ManualClock::new(T0));
        let (sink, schedules) = Self::open(&store, clock.clone(), deny).await;
        Self {
            _dir: dir,
            store,
            clock,
            sink,
            schedules,
        }
    }

    async fn open(
        store: &Store,
        clock: Arc<ManualClock>,
        deny: bool,
    ) -> (Arc<QueueSink>, Arc<Schedules>) {
        let sink = Arc::new(QueueSink {
            queue: AsyncQueueStore::start(store).expect("queue"),
            fires: Mutex::new(Vec::new()),
        });
        let schedules = Schedules::open(
            store.clone(),
            AccountInfo::default(),
            Arc::new(OneFunction { deny }),
            sink.clone(),
            clock,
        )
        .await
        .expect("open");
        (sink, schedules)
    }

    /// A daemon restart: a new `Schedules` over the same store.
    pub(crate) async fn restart(&mut self) {
        self.sink.queue.flush();
        let (sink, schedules) = Self::open(&self.store, self.clock.clone(), false).await;
        self.sink = sink;
        self.schedules = schedules;
    }

    pub(crate) fn fired(&self) -> Vec<String> {
        self.sink
            .fires
            .lock()
            .iter()
            .map(|f| String::from_utf8_lossy(&f.request.payload).into_owned())
            .collect()
    }

    pub(crate) async fn tick(&self, ms: i64) {
        self.clock.advance(ms);
        self.schedules.fire_due().await;
    }
}

pub(crate) fn input(expr: &str, json: serde_json::Value) -> ScheduleInput {
    let mut body = serde_json::json!({
        "ScheduleExpression": expr,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": "arn:aws:lambda:us-east-1:000000000000:function:hello",
            "RoleArn": "arn:aws:iam::000000000000:role/scheduler",
            "Input": "{\"n\":1}"
        }
    });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), json.as_object()) {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(body).expect("input")
}
