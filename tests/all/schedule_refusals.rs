//! What the Scheduler API refuses: bad expressions, zones and targets in the Scheduler's error
//! shapes, a function that tries to schedule itself from its sandbox (schedules are
//! management: a function's own rights do not reach them), and fires of a schedule the
//! function has not granted.

use serde_json::{Value, json};

use crate::harness::Daemon;
use crate::schedules::{
    aws_err, create, deploy_sink, deploy_ungranted, events, grant_schedules, target, wait_for,
};

/// `aws scheduler create-schedule` with a name, an expression and a target.
fn create_args<'a>(name: &'a str, expr: &'a str, t: &'a str) -> Vec<&'a str> {
    vec![
        "scheduler",
        "create-schedule",
        "--name",
        name,
        "--schedule-expression",
        expr,
        "--flexible-time-window",
        r#"{"Mode": "OFF"}"#,
        "--target",
        t,
    ]
}

#[test]
fn bad_schedules_are_refused_with_the_schedulers_errors() {
    let d = Daemon::start();
    deploy_sink(&d, "sink");
    let sink = &target("sink", None);
    for (expr, says) in [
        ("rate(30 seconds)", "minute"),
        ("cron(0 12 * * * *)", "must be ?"),
        ("cron(0 12 * *)", "six fields"),
        ("at(2030-13-01T00:00:00)", "not a valid date"),
        ("every day", "rate(value unit)"),
    ] {
        let e = aws_err(&d, &create_args("bad", expr, sink));
        assert!(
            e.contains("ValidationException")
                && e.contains(&format!("Invalid Schedule Expression {expr}"))
                && e.contains(says),
            "{expr}: {e}"
        );
    }
    let nope = &target("nope", None);
    let e = aws_err(&d, &create_args("x", "rate(5 minutes)", nope));
    assert!(
        e.contains("ValidationException") && e.contains("nope"),
        "{e}"
    );
    let foreign = r#"{"Arn": "arn:aws:lambda:eu-west-1:111111111111:function:sink", "RoleArn": "arn:aws:iam::000000000000:role/r"}"#;
    let e = aws_err(&d, &create_args("x", "rate(5 minutes)", foreign));
    assert!(
        e.contains("ValidationException") && e.contains("another region or account"),
        "{e}"
    );
    let mut tz = create_args("x", "rate(5 minutes)", sink);
    tz.extend(["--schedule-expression-timezone", "Mars/Olympus"]);
    let e = aws_err(&d, &tz);
    assert!(
        e.contains("ValidationException") && e.contains("Mars/Olympus"),
        "{e}"
    );
    d.aws_ok(&create_args("x", "rate(5 minutes)", sink));
    let e = aws_err(&d, &create_args("x", "rate(5 minutes)", sink));
    assert!(e.contains("ConflictException"), "{e}");
    let e = aws_err(&d, &["scheduler", "get-schedule", "--name", "y"]);
    assert!(
        e.contains("ResourceNotFoundException") && e.contains("Schedule y does not exist"),
        "{e}"
    );
    // Raw HTTP: the Scheduler's error shape, and a body that is not JSON.
    let r = d.http("POST", "/schedules/z", Some(b"{not json"), &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("ValidationException"));
    assert!(r.json()["Message"].as_str().is_some_and(|m| !m.is_empty()));
    // The update is a whole replacement, checked like a create.
    let mut update = create_args("x", "cron(0 12 ? * MON-FRI *)", sink);
    update[1] = "update-schedule";
    d.aws_ok(&update);
    let got = d.aws_ok(&["scheduler", "get-schedule", "--name", "x"]);
    assert_eq!(got["ScheduleExpression"], "cron(0 12 ? * MON-FRI *)");
}

#[test]
fn a_function_cannot_make_or_read_schedules_from_its_sandbox() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("app.py"),
        r#"import os
import boto3, botocore.config, botocore.exceptions

def handler(event, context):
    c = boto3.client("scheduler", endpoint_url=os.environ["AWS_ENDPOINT_URL_LAMBDA"],
                     config=botocore.config.Config(retries={"max_attempts": 1}))
    calls = {
        "create": lambda: c.create_schedule(
            Name="escalate", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": context.invoked_function_arn, "RoleArn": "arn:aws:iam::000000000000:role/x"}),
        "list": lambda: c.list_schedules(),
        "delete_group": lambda: c.delete_schedule_group(Name="ops"),
    }
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = "OK"
        except botocore.exceptions.ClientError as e:
            out[name] = e.response["Error"]["Code"]
    return out
"#,
    )
    .expect("write");
    d.create(
        "climber",
        tmp.path(),
        "python3.11",
        "app.handler",
        &["--timeout", "20"],
    );
    d.aws_ok(&["scheduler", "create-schedule-group", "--name", "ops"]);
    let r = d.invoke("climber", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    for op in ["create", "list", "delete_group"] {
        assert_eq!(got[op], "AccessDeniedException", "{op}: {got}\n{}", d.log());
    }
    let listed = d.aws_ok(&["scheduler", "list-schedules"]);
    assert_eq!(listed["Schedules"], json!([]));
    d.aws_ok(&["scheduler", "get-schedule-group", "--name", "ops"]);
}

/// A schedule invokes a function only with the function's grant to `scheduler.amazonaws.com`
/// for the schedule's ARN: without it the fires are dropped, and the log and `lambdalet
/// schedule` say so with the command that grants it.
#[test]
fn a_schedule_needs_the_function_s_grant_to_invoke_it() {
    let d = Daemon::start();
    deploy_ungranted(&d, "guarded");
    let schedule = "arn:aws:scheduler:us-east-1:000000000000:schedule/default/tick";
    create(&d, "tick", "rate(1 minute)", &target("guarded", None), &[]);
    wait_for(&d, "the dropped fire", || {
        d.log().contains("schedule.denied")
    });
    assert!(d.log().contains("schedule.not_permitted"), "{}", d.log());
    let listed = d.cli(&["schedule"]);
    let said = String::from_utf8_lossy(&listed.stderr).into_owned();
    assert!(
        said.contains("default/tick")
            && said.contains("fires are dropped")
            && said.contains(&format!(
                "--principal scheduler.amazonaws.com --source-arn {schedule}"
            )),
        "{said}"
    );
    assert!(events(&d, "guarded").is_empty());

    grant_schedules(&d, "guarded", schedule);
    // A changed rate counts from now, so it fires at once.
    d.aws_ok(&[
        "scheduler",
        "update-schedule",
        "--name",
        "tick",
        "--schedule-expression",
        "rate(2 minutes)",
        "--flexible-time-window",
        r#"{"Mode": "OFF"}"#,
        "--target",
        &target("guarded", None),
    ]);
    wait_for(&d, "the permitted fire", || {
        events(&d, "guarded").len() == 1
    });
    let v: Value = serde_json::from_slice(&d.cli(&["schedule", "--json"]).stdout).expect("json");
    assert_eq!(v["Schedules"][0]["Permitted"], true, "{v}");
}
