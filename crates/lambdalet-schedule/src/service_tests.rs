//! Fires, their durability across a restart, and the policy hook.

use crate::error::ScheduleError;
use crate::test_rig::{Rig, T0, input};

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
