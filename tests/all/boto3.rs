//! boto3, the AWS SDK for Python, against lambdalet.

use crate::harness::{Daemon, fixture, python_script, zip_file};

#[test]
fn boto3_create_invoke_publish_alias_list_delete() {
    let d = Daemon::start();
    let zip = zip_file(&fixture("py-basic"));
    let out = python_script(
        "boto3_flow.py",
        &[&d.url, zip.path().to_str().expect("utf-8")],
    );
    assert_eq!(out["created_state"], "Active");
    assert_eq!(out["status"], 200);
    assert_eq!(out["payload"]["event"]["who"], "boto3");
    assert_eq!(out["payload"]["env"]["GREETING"], "boto");
    assert_eq!(out["executed"], "$LATEST");
    let log = out["log"].as_str().expect("log");
    assert!(
        log.contains("START RequestId")
            && log.contains("END RequestId")
            && log.contains("REPORT RequestId"),
        "{log}"
    );
    assert_eq!(out["version"], "1");
    assert_eq!(out["alias_executed"], "1");
    assert_eq!(
        out["listed"].as_array().expect("names").len(),
        5,
        "{}",
        out["listed"]
    );
    assert_eq!(out["missing"]["code"], "ResourceNotFoundException");
    assert_eq!(out["missing"]["status"], 404);
    assert!(
        out["missing"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does-not-exist"))
    );
    assert_eq!(out["bad_memory"], "InvalidParameterValueException");
    assert_eq!(out["deleted"], true);
}
