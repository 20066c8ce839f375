//! EventBridge Scheduler's API on the Lambda port: schedules made with the real `aws scheduler`
//! CLI and boto3 fire asynchronous invocations of local functions, at their time, once, and
//! across a restart exactly once; disabled and deleted schedules stay silent; refusals come in
//! the Scheduler's shapes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, python_script};

pub(crate) fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

/// A function that prints each event it gets on one `EVENT {json}` line, which every
/// schedule of the account may invoke.
pub(crate) fn deploy_sink(d: &Daemon, name: &str) {
    deploy_ungranted(d, name);
    grant_schedules(
        d,
        name,
        "arn:aws:scheduler:us-east-1:000000000000:schedule/*",
    );
}

/// [`deploy_sink`] without the grant.
pub(crate) fn deploy_ungranted(d: &Daemon, name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("app.py"),
        "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return 'ok'\n",
    )
    .expect("write");
    d.create(name, tmp.path(), "python3.11", "app.handler", &[]);
}

/// Lets the schedules `source_arn` matches invoke `function` (the grant that stands in for
/// the schedule's role on AWS).
pub(crate) fn grant_schedules(d: &Daemon, function: &str, source_arn: &str) {
    d.aws_ok(&[
        "lambda",
        "add-permission",
        "--function-name",
        function,
        "--statement-id",
        "scheduler",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "scheduler.amazonaws.com",
        "--source-arn",
        source_arn,
    ]);
}

/// The events `name` has received, oldest first.
pub(crate) fn events(d: &Daemon, name: &str) -> Vec<Value> {
    d.logs(name)
        .iter()
        .filter_map(|r| {
            let log = r["log"].as_str()?;
            let line = log.lines().find(|l| l.starts_with("EVENT "))?;
            serde_json::from_str(&line["EVENT ".len()..]).ok()
        })
        .collect()
}

/// Waits up to 30 s for `f`, failing with the daemon's log.
pub(crate) fn wait_for(d: &Daemon, what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {what}\n--- daemon log ---\n{}",
        d.log()
    );
}

/// `at(...)` for `secs` seconds from now, in UTC.
pub(crate) fn at_in(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    format!(
        "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(crate) fn target(function: &str, input: Option<&str>) -> String {
    let mut t =
        json!({"Arn": arn(function), "RoleArn": "arn:aws:iam::000000000000:role/scheduler"});
    if let Some(i) = input {
        t["Input"] = json!(i);
    }
    t.to_string()
}

pub(crate) fn create(
    d: &Daemon,
    name: &str,
    expression: &str,
    target: &str,
    extra: &[&str],
) -> Value {
    let mut args = vec![
        "scheduler",
        "create-schedule",
        "--name",
        name,
        "--schedule-expression",
        expression,
        "--flexible-time-window",
        r#"{"Mode": "OFF"}"#,
        "--target",
        target,
    ];
    args.extend_from_slice(extra);
    d.aws_ok(&args)
}

/// The error type and message the AWS CLI printed for a failed command.
pub(crate) fn aws_err(d: &Daemon, args: &[&str]) -> String {
    let out = d.aws(args);
    assert!(!out.status.success(), "aws {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn schedules_fire_their_input_once_and_disabled_or_deleted_ones_do_not() {
    let d = Daemon::start();
    deploy_sink(&d, "sink");
    // Far enough ahead for the CLI calls below on a busy machine (checked after them).
    let due = std::time::Instant::now() + Duration::from_secs(20);
    let fires = at_in(20);
    let created = create(
        &d,
        "once",
        &fires,
        &target(
            "sink",
            Some(r#"{"job": "once", "when": "<aws.scheduler.scheduled-time>"}"#),
        ),
        &["--schedule-expression-timezone", "UTC"],
    );
    assert_eq!(
        created["ScheduleArn"],
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/once"
    );
    create(
        &d,
        "off",
        &fires,
        &target("sink", Some(r#"{"job": "off"}"#)),
        &["--state", "DISABLED"],
    );
    create(
        &d,
        "gone",
        &fires,
        &target("sink", Some(r#"{"job": "gone"}"#)),
        &[],
    );
    d.aws_ok(&["scheduler", "delete-schedule", "--name", "gone"]);
    assert!(
        std::time::Instant::now() < due,
        "the schedules were made only after their fire time: lengthen the test's lead"
    );
    // A rate fires at once; its next fire is a minute later. Without Input, the event is {}.
    create(&d, "every", "rate(1 minute)", &target("sink", None), &[]);

    let got = d.aws_ok(&["scheduler", "get-schedule", "--name", "once"]);
    assert_eq!(got["State"], "ENABLED");
    assert_eq!(got["ScheduleExpression"], fires);
    assert_eq!(got["FlexibleTimeWindow"], json!({"Mode": "OFF"}));
    assert_eq!(
        got["Target"]["RetryPolicy"],
        json!({"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185})
    );
    let listed = d.aws_ok(&["scheduler", "list-schedules"]);
    let names: Vec<&str> = listed["Schedules"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["Name"].as_str())
        .collect();
    assert_eq!(names, ["every", "off", "once"]);
    let table = d.cli(&["schedule"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.starts_with("GROUP") && table.contains("NEXT FIRE TIME"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.contains(" once "))
        .expect("once listed");
    assert!(line.contains("sink") && line.contains("UTC"), "{line}");

    wait_for(&d, "the at() schedule's event", || {
        events(&d, "sink").iter().any(|e| e["job"] == "once")
    });
    std::thread::sleep(Duration::from_secs(3));
    let got = events(&d, "sink");
    let jobs: Vec<&Value> = got.iter().map(|e| &e["job"]).collect();
    assert_eq!(
        got.iter().filter(|e| e["job"] == "once").count(),
        1,
        "one fire: {got:?}"
    );
    assert_eq!(
        got.iter().filter(|e| **e == json!({})).count(),
        1,
        "{got:?}"
    );
    assert!(
        !jobs.contains(&&json!("off")) && !jobs.contains(&&json!("gone")),
        "{got:?}"
    );
    let once = got.iter().find(|e| e["job"] == "once").expect("once");
    let when = once["when"].as_str().expect("the scheduled time put in");
    assert!(fires.contains(&when[..19]), "{when} for {fires}");

    let json_out = d.cli(&["schedule", "list", "--json"]);
    let v: Value = serde_json::from_slice(&json_out.stdout).expect("--json prints JSON");
    let once = v["Schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .find(|s| s["Name"] == "once")
        .expect("once")
        .clone();
    assert_eq!(
        once["NextFireTime"],
        Value::Null,
        "an at() schedule fires once"
    );
    assert!(once["LastFireTime"].is_string());
    let every = v["Schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .find(|s| s["Name"] == "every")
        .expect("every")
        .clone();
    assert!(every["NextFireTime"].is_string(), "{every}");
}

#[test]
fn a_fire_missed_while_the_daemon_was_down_runs_once_after_the_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(tmp.path());
    deploy_sink(&d, "sink");
    // The fire time comes while the daemon is down.
    let due = std::time::Instant::now() + Duration::from_secs(15);
    create(
        &d,
        "catch-up",
        &at_in(15),
        &target("sink", Some(r#"{"job": "late"}"#)),
        &[],
    );
    d.stop();
    assert!(
        !d.log().contains("schedule.fired"),
        "the daemon fired before it stopped: lengthen the test's lead"
    );
    std::thread::sleep(
        due.saturating_duration_since(std::time::Instant::now()) + Duration::from_secs(2),
    );
    let mut d = Daemon::start_in(tmp.path());
    wait_for(&d, "the missed fire", || events(&d, "sink").len() == 1);
    assert!(d.log().contains("schedule.fired"), "{}", d.log());
    d.stop();
    let d = Daemon::start_in(tmp.path());
    std::thread::sleep(Duration::from_secs(4));
    let got = events(&d, "sink");
    assert_eq!(
        got,
        [json!({"job": "late"})],
        "fired once, not again after a restart"
    );
    let listed = d.aws_ok(&["scheduler", "get-schedule", "--name", "catch-up"]);
    assert_eq!(
        listed["Name"], "catch-up",
        "ActionAfterCompletion NONE keeps it"
    );
}

#[test]
fn an_undeliverable_fire_goes_to_the_dead_letter_target_and_delete_after_completion_removes() {
    let d = Daemon::start();
    deploy_sink(&d, "sink");
    deploy_sink(&d, "dlq");
    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "sink",
        "--reserved-concurrent-executions",
        "0",
    ]);
    let t = json!({
        "Arn": arn("sink"),
        "RoleArn": "arn:aws:iam::000000000000:role/scheduler",
        "Input": "{\"job\": \"blocked\"}",
        "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
        "DeadLetterConfig": {"Arn": arn("dlq")}
    })
    .to_string();
    create(
        &d,
        "blocked",
        &at_in(12),
        &t,
        &["--action-after-completion", "DELETE"],
    );
    wait_for(&d, "the dead-letter record", || {
        !events(&d, "dlq").is_empty()
    });
    let record = events(&d, "dlq").remove(0);
    assert_eq!(
        record["requestPayload"],
        json!({"job": "blocked"}),
        "{record}"
    );
    assert_eq!(record["errorCode"], "RetriesExhausted", "{record}");
    assert!(events(&d, "sink").is_empty());
    let e = aws_err(&d, &["scheduler", "get-schedule", "--name", "blocked"]);
    assert!(e.contains("ResourceNotFoundException"), "{e}");
}

#[test]
fn boto3_pages_filters_groups_and_tags() {
    let d = Daemon::start();
    deploy_sink(&d, "sink");
    let v = python_script("scheduler_flow.py", &[&d.url, &arn("sink")]);
    assert_eq!(
        v["listed"],
        json!([
            "default/hourly",
            "reports/nightly-0",
            "reports/nightly-1",
            "reports/nightly-2",
            "reports/nightly-3",
            "reports/nightly-4"
        ])
    );
    assert_eq!(v["pages"], 3);
    assert_eq!(
        v["enabled_nightly"],
        json!(["nightly-0", "nightly-2", "nightly-4"])
    );
    assert_eq!(
        v["summary_keys"],
        json!([
            "Arn",
            "CreationDate",
            "GroupName",
            "LastModificationDate",
            "Name",
            "State",
            "Target"
        ])
    );
    assert_eq!(v["summary_target"], json!({"Arn": arn("sink")}));
    assert_eq!(
        v["hourly"],
        json!({"ScheduleExpression": "rate(1 hour)", "ScheduleExpressionTimezone": "UTC",
               "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
               "State": "ENABLED", "GroupName": "default", "ActionAfterCompletion": "NONE"})
    );
    assert!(
        v["hourly_start"]
            .as_str()
            .is_some_and(|s| s.starts_with("2100-01-01T00:00:00"))
    );
    assert_eq!(v["groups"], json!(["default", "reports"]));
    assert_eq!(v["group_state"], "ACTIVE");
    assert_eq!(v["tags"], json!([{"Key": "env", "Value": "edge"}]));
    assert_eq!(v["after_group_delete"], json!(["hourly"]));
    assert_eq!(v["missing_group"][0], "ResourceNotFoundException");
    assert_eq!(v["missing_group"][2], 404);
    assert_eq!(v["missing_schedule"][0], "ResourceNotFoundException");
    assert_eq!(v["duplicate"][0], "ConflictException");
    assert_eq!(v["duplicate"][2], 409);
    assert_eq!(v["default_group"][0], "ValidationException");
}
