//! The API's refusals, groups, filters and pages.

use crate::error::ScheduleError;
use crate::service::ListFilter;
use crate::test_rig::{Rig, input};

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
