//! [`Schedules`] over a real store and the real async queue's writer, with a hand-moved clock:
//! fires, their durability across a restart, and the API's refusals.

use std::sync::Arc;

use lambdalet_core::{AccountInfo, FunctionRef};
use lambdalet_store::{AsyncQueueStore, NewAsyncEvent, Store};
use parking_lot::Mutex;

use crate::clock::ManualClock;
use crate::definition::ScheduleInput;
use crate::error::ScheduleError;
use crate::service::{ListFilter, Schedules};
use crate::sink::{Fire, FireSink, Functions, Queued};

/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

/// Queues fires in the real queue table, with the schedule's change in the same transaction,
/// and remembers what it was given.
struct QueueSink {
    queue: AsyncQueueStore,
    fires: Mutex<Vec<Fire>>,
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

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    sink: Arc<QueueSink>,
    schedules: Arc<Schedules>,
}

impl Rig {
    async fn new() -> Self {
        Self::with(false).await
    }

    async fn with(deny: bool) -> Self {
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
    async fn restart(&mut self) {
        self.sink.queue.flush();
        let (sink, schedules) = Self::open(&self.store, self.clock.clone(), false).await;
        self.sink = sink;
        self.schedules = schedules;
    }

    fn fired(&self) -> Vec<String> {
        self.sink
            .fires
            .lock()
            .iter()
            .map(|f| String::from_utf8_lossy(&f.request.payload).into_owned())
            .collect()
    }

    async fn tick(&self, ms: i64) {
        self.clock.advance(ms);
        self.schedules.fire_due().await;
    }
}

fn input(expr: &str, json: serde_json::Value) -> ScheduleInput {
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

#[tokio::test]
async fn an_at_schedule_fires_once_with_its_input() {
    let rig = Rig::new().await;
    rig.schedules
        .create(
            "once",
            input("at(2030-01-01T00:00:03)", serde_json::json!({})),
        )
        .await
        .expect("create");
    rig.tick(2_000).await;
    assert!(rig.fired().is_empty(), "not before its time");
    rig.tick(1_000).await;
    assert_eq!(rig.fired(), [r#"{"n":1}"#]);
    let fire = rig.sink.fires.lock()[0].clone();
    assert_eq!(fire.request.function, "hello");
    let delivery = fire.options.delivery.expect("the target's retry policy");
    assert_eq!(delivery.max_retry_attempts, 185);
    assert_eq!(delivery.max_event_age_secs, 86_400);
    rig.tick(120_000).await;
    assert_eq!(rig.fired().len(), 1, "an at() schedule fires once");
    let view = rig.schedules.get(None, "once").expect("still there");
    assert_eq!(view.next_fire_ms, None);
    assert_eq!(view.last_fire_ms, Some(T0 + 3_000));
}

#[tokio::test]
async fn disabled_and_deleted_schedules_do_not_fire_and_delete_after_completion_removes() {
    let rig = Rig::new().await;
    let s = &rig.schedules;
    s.create(
        "off",
        input(
            "at(2030-01-01T00:00:02)",
            serde_json::json!({"State": "DISABLED"}),
        ),
    )
    .await
    .expect("off");
    s.create(
        "gone",
        input("at(2030-01-01T00:00:02)", serde_json::json!({})),
    )
    .await
    .expect("gone");
    s.create(
        "self-deleting",
        input(
            "at(2030-01-01T00:00:02)",
            serde_json::json!({"ActionAfterCompletion": "DELETE", "Target": {
                "Arn": "arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST",
                "RoleArn": "arn:aws:iam::000000000000:role/r"}}),
        ),
    )
    .await
    .expect("self-deleting");
    s.delete(None, "gone").await.expect("delete");
    rig.tick(5_000).await;
    assert_eq!(rig.fired(), ["{}"], "only the self-deleting one, with {{}}");
    assert!(matches!(
        s.get(None, "self-deleting"),
        Err(ScheduleError::NotFound(_))
    ));
    assert!(s.get(None, "off").expect("off").next_fire_ms.is_none());
    rig.sink.queue.flush();
    let left: Vec<String> = rig
        .store
        .load_schedules()
        .expect("load")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(left, ["off"], "the removal is stored with the fire");
}

#[tokio::test]
async fn a_restart_catches_up_once_and_does_not_fire_twice() {
    let mut rig = Rig::new().await;
    rig.schedules
        .create("every", input("rate(1 minute)", serde_json::json!({})))
        .await
        .expect("create");
    rig.schedules
        .create(
            "once",
            input("at(2030-01-01T00:00:30)", serde_json::json!({})),
        )
        .await
        .expect("create");
    rig.tick(0).await;
    assert_eq!(rig.fired().len(), 1, "a rate fires at once");
    // The daemon is down for 10 minutes: ten rate times and the at() pass.
    rig.schedules.close();
    rig.clock.advance(10 * 60_000 + 5_000);
    rig.restart().await;
    rig.schedules.fire_due().await;
    assert_eq!(
        rig.fired().len(),
        2,
        "one catch-up fire each: {:?}",
        rig.fired()
    );
    rig.schedules.fire_due().await;
    assert_eq!(rig.fired().len(), 2);
    // Another restart right after: nothing is due again.
    rig.restart().await;
    rig.schedules.fire_due().await;
    assert!(
        rig.fired().is_empty(),
        "nothing fires twice after a restart"
    );
    let every = rig.schedules.get(None, "every").expect("every");
    assert_eq!(
        every.next_fire_ms,
        Some(T0 + 11 * 60_000),
        "back on its grid"
    );
    rig.tick(55_000).await;
    assert_eq!(rig.fired().len(), 1);
}

#[tokio::test]
async fn refusals_say_what_is_wrong() {
    let rig = Rig::new().await;
    let s = &rig.schedules;
    let e = s
        .create("x", input("rate(5 seconds)", serde_json::json!({})))
        .await
        .expect_err("bad expression");
    assert!(
        matches!(&e, ScheduleError::Validation(m) if m.starts_with("Invalid Schedule Expression rate(5 seconds)")),
        "{e:?}"
    );
    let mut missing = input("rate(5 minutes)", serde_json::json!({}));
    if let Some(t) = missing.target.as_mut() {
        t.arn = Some("arn:aws:lambda:us-east-1:000000000000:function:nope".to_owned());
    }
    let e = s.create("x", missing).await.expect_err("unknown function");
    assert!(
        matches!(&e, ScheduleError::Validation(m) if m.contains("nope")),
        "{e:?}"
    );
    let e = s
        .create(
            "x",
            input(
                "rate(5 minutes)",
                serde_json::json!({"ScheduleExpressionTimezone": "Mars/Olympus"}),
            ),
        )
        .await
        .expect_err("bad zone");
    assert!(matches!(&e, ScheduleError::Validation(m) if m.contains("Mars/Olympus")));
    let e = s
        .create("bad/name", input("rate(5 minutes)", serde_json::json!({})))
        .await
        .expect_err("bad name");
    assert!(matches!(e, ScheduleError::Validation(_)));
    s.create("x", input("rate(5 minutes)", serde_json::json!({})))
        .await
        .expect("create");
    let e = s
        .create("x", input("rate(5 minutes)", serde_json::json!({})))
        .await
        .expect_err("twice");
    assert!(matches!(e, ScheduleError::Conflict(_)));
    let e = s
        .create(
            "y",
            input(
                "rate(5 minutes)",
                serde_json::json!({"GroupName": "nightly"}),
            ),
        )
        .await
        .expect_err("no such group");
    assert!(matches!(e, ScheduleError::NotFound(_)));
    assert!(matches!(
        s.update("nope", input("rate(5 minutes)", serde_json::json!({})))
            .await,
        Err(ScheduleError::NotFound(_))
    ));
    assert!(matches!(
        s.delete_group("default").await,
        Err(ScheduleError::Validation(_))
    ));
}

#[tokio::test]
async fn groups_list_filters_and_pages() {
    let rig = Rig::new().await;
    let s = &rig.schedules;
    s.create_group("nightly", None, None).await.expect("group");
    for (name, group, state) in [
        ("a1", "default", "ENABLED"),
        ("a2", "default", "DISABLED"),
        ("b1", "default", "ENABLED"),
        ("a3", "nightly", "ENABLED"),
    ] {
        s.create(
            name,
            input(
                "cron(0 3 * * ? *)",
                serde_json::json!({"GroupName": group, "State": state}),
            ),
        )
        .await
        .expect("create");
    }
    let names = |f: ListFilter| -> Vec<String> {
        let mut out = Vec::new();
        let mut f = f;
        loop {
            let (page, next) = s.list(&f).expect("list");
            out.extend(page.into_iter().map(|v| format!("{}/{}", v.group, v.name)));
            match next {
                Some(t) => f.next_token = Some(t),
                None => return out,
            }
        }
    };
    assert_eq!(
        names(ListFilter {
            max_results: Some(1),
            ..Default::default()
        }),
        ["default/a1", "default/a2", "default/b1", "nightly/a3"]
    );
    assert_eq!(
        names(ListFilter {
            name_prefix: Some("a".to_owned()),
            state: Some("ENABLED".to_owned()),
            max_results: Some(1),
            ..Default::default()
        }),
        ["default/a1", "nightly/a3"]
    );
    assert_eq!(
        names(ListFilter {
            group: Some("nightly".to_owned()),
            ..Default::default()
        }),
        ["nightly/a3"]
    );
    let (groups, _) = s.list_groups(None, None, None).expect("groups");
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["default", "nightly"]
    );
    s.delete_group("nightly").await.expect("delete group");
    assert_eq!(names(ListFilter::default()).len(), 3);
    assert!(matches!(
        s.get(Some("nightly"), "a3"),
        Err(ScheduleError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_fire_the_policy_denies_is_dropped_and_counted_as_done() {
    let rig = Rig::with(true).await;
    rig.schedules
        .create("denied", input("rate(1 minute)", serde_json::json!({})))
        .await
        .expect("create");
    rig.tick(0).await;
    assert!(rig.fired().is_empty(), "nothing queued");
    let view = rig.schedules.get(None, "denied").expect("get");
    assert_eq!(view.last_fire_ms, Some(T0), "the fire counts as done");
    assert_eq!(view.next_fire_ms, Some(T0 + 60_000));
    let stored = rig.store.load_schedules().expect("load");
    assert_eq!(stored[0].last_fire_ms, Some(T0 as u64));
}
