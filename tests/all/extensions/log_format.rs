//! `LoggingConfig` with the AWS CLI: the JSON log format (platform records and the runtime's
//! application logs as JSON objects), the levels, the log group, and back to text.

use serde_json::Value;

use super::fixture;
use crate::harness::{Daemon, decode_log};

fn tail(d: &Daemon, name: &str) -> Vec<String> {
    let (meta, body) = d.aws_invoke(&["--function-name", name, "--log-type", "Tail"], "{}");
    assert_eq!(body["ok"], true, "{body}");
    let log = decode_log(meta["LogResult"].as_str().expect("LogResult"));
    log.lines().map(str::to_owned).collect()
}

fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object)
        .collect()
}

#[test]
fn json_log_format_with_the_aws_cli() {
    let d = Daemon::start();
    let created = d.create(
        "jsonlogs",
        &fixture("json-logs"),
        "python3.11",
        "app.handler",
        &[
            "--logging-config",
            "LogFormat=JSON,ApplicationLogLevel=WARN,SystemLogLevel=INFO,LogGroup=/custom/jsonlogs",
        ],
    );
    assert_eq!(
        created["LoggingConfig"],
        serde_json::json!({
            "LogFormat": "JSON",
            "ApplicationLogLevel": "WARN",
            "SystemLogLevel": "INFO",
            "LogGroup": "/custom/jsonlogs",
        })
    );
    let lines = tail(&d, "jsonlogs");
    let records = json_lines(&lines);
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["platform.start", "platform.runtimeDone", "platform.report"],
        "{lines:#?}"
    );
    let report = records.last().expect("report");
    assert!(report["record"]["metrics"]["durationMs"].is_number());
    assert!(report["record"]["metrics"]["initDurationMs"].is_number());
    let app: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("level").is_some())
        .collect();
    assert_eq!(app.len(), 1, "INFO is below the WARN level: {lines:#?}");
    assert_eq!(app[0]["message"], "a warning line");
    assert_eq!(app[0]["logger"], "root");
    assert!(app[0]["requestId"].is_string() && app[0]["timestamp"].is_string());
    assert!(lines.iter().any(|l| l == "a plain print"), "{lines:#?}");

    // SystemLogLevel WARN leaves the platform records out.
    d.aws_ok(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "jsonlogs",
        "--logging-config",
        "LogFormat=JSON,SystemLogLevel=WARN",
    ]);
    let lines = tail(&d, "jsonlogs");
    assert!(
        json_lines(&lines).iter().all(|r| r.get("type").is_none()),
        "{lines:#?}"
    );

    // Back to text: Lambda's lines, and no levels.
    let text = d.aws_ok(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "jsonlogs",
        "--logging-config",
        "LogFormat=Text",
    ]);
    assert_eq!(text["LoggingConfig"]["LogFormat"], "Text");
    assert!(text["LoggingConfig"].get("ApplicationLogLevel").is_none());
    let lines = tail(&d, "jsonlogs");
    assert!(lines.iter().any(|l| l.starts_with("START RequestId: ")));
    assert!(lines.iter().any(|l| l.starts_with("REPORT RequestId: ")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[WARNING]") && l.contains("a warning line"))
    );

    // Levels need the JSON format.
    let out = d.aws(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "jsonlogs",
        "--logging-config",
        "LogFormat=Text,ApplicationLogLevel=DEBUG",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("InvalidParameterValueException"), "{err}");
}
