//! The read calls Terraform and SAM make after a create, boto3's paginators and waiters, and
//! every operation of botocore's model of the Lambda API: served, or refused by name.

use super::{assert_error, aws_err, create, python_dir};
use crate::harness::{Daemon, python_script, zip_file};

/// After `aws_lambda_function` or `AWS::Serverless::Function` creates a function, Terraform's AWS
/// provider and SAM read it back with these calls; each answers as AWS does for a function
/// without the feature, and 404 for an unknown function.
#[test]
fn read_calls_after_a_create_answer_as_aws_for_a_function_without_the_feature() {
    let d = Daemon::start();
    let code = python_dir("reads");
    let created = create(&d, "plain", code.path(), &["--tags", "owner=infra"]);
    let arn = created["FunctionArn"].as_str().expect("arn");
    let fname = ["--function-name", "plain"];
    let call = |op: &str, extra: &[&str]| {
        let mut args = vec!["lambda", op];
        args.extend_from_slice(extra);
        d.aws_ok(&args)
    };
    let got = call("get-function", &fname);
    assert_eq!(got["Configuration"]["FunctionArn"], arn);
    assert_eq!(got["Tags"], serde_json::json!({"owner": "infra"}));
    assert_eq!(
        call("get-function-code-signing-config", &fname),
        serde_json::json!({"FunctionName": "plain", "CodeSigningConfigArn": ""})
    );
    assert_eq!(
        call("get-runtime-management-config", &fname),
        serde_json::json!({"UpdateRuntimeOn": "Auto", "FunctionArn": arn})
    );
    assert_eq!(
        call("list-function-url-configs", &fname),
        serde_json::json!({"FunctionUrlConfigs": []})
    );
    assert_eq!(
        call("list-event-source-mappings", &fname),
        serde_json::json!({"EventSourceMappings": []})
    );
    assert_eq!(
        call("get-function-recursion-config", &fname),
        serde_json::json!({"RecursiveLoop": "Terminate"})
    );
    assert_eq!(
        call("list-tags", &["--resource", arn]),
        serde_json::json!({"Tags": {"owner": "infra"}})
    );
    // No policy is a 404, which Terraform and SAM read as "none".
    let err = aws_err(&d, &["lambda", "get-policy", "--function-name", "plain"]);
    assert_error(&err, "ResourceNotFoundException", &["plain"]);
    let concurrency = call("get-function-concurrency", &fname);
    assert!(
        concurrency.is_null() || concurrency == serde_json::json!({}),
        "{concurrency}"
    );
    assert_eq!(
        call("list-event-source-mappings", &[]),
        serde_json::json!({"EventSourceMappings": []})
    );
    // A published version's runtime management configuration names the version.
    d.aws_ok(&["lambda", "publish-version", "--function-name", "plain"]);
    let v1 = call(
        "get-runtime-management-config",
        &["--function-name", "plain", "--qualifier", "1"],
    );
    assert_eq!(v1["FunctionArn"], format!("{arn}:1"));
    let err = aws_err(
        &d,
        &[
            "lambda",
            "get-runtime-management-config",
            "--function-name",
            "plain",
            "--qualifier",
            "7",
        ],
    );
    assert_error(&err, "ResourceNotFoundException", &["plain:7"]);

    for op in [
        "get-function-code-signing-config",
        "get-runtime-management-config",
        "list-function-url-configs",
        "list-event-source-mappings",
        "get-function-recursion-config",
        "get-function-concurrency",
        "get-policy",
    ] {
        let err = aws_err(&d, &["lambda", op, "--function-name", "absent"]);
        assert_error(&err, "ResourceNotFoundException", &["absent"]);
    }
}

#[test]
fn boto3_paginates_waits_tags_grants_and_hears_unserved_operations_named() {
    let d = Daemon::start();
    let code = python_dir("boto3");
    let zip = zip_file(code.path());
    let out = python_script(
        "management_flow.py",
        &[&d.url, zip.path().to_str().expect("utf-8")],
    );
    assert_eq!(out["active"], "Active");
    assert_eq!(
        out["listed"],
        serde_json::json!(["m0", "m1", "m2", "m3", "m4"])
    );
    assert!(
        out["pages"].as_u64().expect("pages") >= 3,
        "{}",
        out["pages"]
    );
    assert_eq!(out["tags"], serde_json::json!({"stage": "test"}));
    assert_eq!(out["untagged"], serde_json::json!({}));
    assert_eq!(out["policy_sids"], serde_json::json!(["url"]));
    assert_eq!(
        out["policy_condition"],
        serde_json::json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
    );
    assert_eq!(out["duplicate"], "ResourceConflictException");
    assert_eq!(out["removed"], "ResourceNotFoundException");
    assert_eq!(out["function_count"], 5);
    assert_eq!(out["code_signing"], "");
    assert_eq!(out["recursion"], "Terminate");

    for (op, seen) in out["unserved"].as_object().expect("unserved") {
        assert_eq!(
            seen["code"], "UnsupportedOperationException",
            "{op}: {seen}"
        );
        assert_eq!(seen["status"], 501, "{op}: {seen}");
        let message = seen["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!("lambdalet does not serve {op} ")),
            "{op}: {message}"
        );
    }
    assert_eq!(out["unserved"].as_object().map(|o| o.len()), Some(4));

    // A path under a Lambda version that is no operation: 404 naming it, never a
    // ResourceNotFoundException (a tool would take that for a missing function).
    let r = d.http("GET", "/2015-03-31/nothing-here", None, &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_type(), "UnknownOperationException");
    assert!(r.message().contains("/2015-03-31/nothing-here"));
}

/// What docs/compatibility.md says lambdalet does with each operation (`served`, `answered`,
/// `refused`), from its tables' rows `| Name | status | notes |`.
fn documented() -> std::collections::BTreeMap<String, String> {
    include_str!("../../../docs/compatibility.md")
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let (name, status) = (*cells.get(1)?, *cells.get(2)?);
            let known = ["served", "answered", "refused"];
            (name.chars().all(|c| c.is_ascii_alphanumeric())
                && known.iter().any(|k| status.starts_with(k)))
            .then(|| (name.to_owned(), status.to_owned()))
        })
        .collect()
}

/// Every operation of the installed botocore's Lambda model, sent with boto3: the ones
/// docs/compatibility.md calls served or answered reach their handler (whose answer, for the
/// missing function they name, is AWS's own error), the refused ones get 501
/// `UnsupportedOperationException` naming the operation; none gets lambdalet's fallback.
#[test]
fn every_operation_of_the_model_is_served_or_refused_by_name() {
    let d = Daemon::start();
    let out = python_script("all_operations.py", &[&d.url]);
    let ops = out["operations"].as_object().expect("operations");
    assert!(ops.len() >= 85, "the model has {} operations", ops.len());
    let docs = documented();
    for (op, seen) in ops {
        let status = docs
            .get(op)
            .unwrap_or_else(|| panic!("docs/compatibility.md has no row for {op} ({seen})"));
        let code = seen["code"].as_str().unwrap_or("");
        let message = seen["message"].as_str().unwrap_or("");
        if status.starts_with("refused") {
            assert_eq!(seen["status"], 501, "{op}: {seen}");
            assert_eq!(code, "UnsupportedOperationException", "{op}: {seen}");
            assert!(
                message.starts_with(&format!("lambdalet does not serve {op} (")),
                "{op}: {message}"
            );
        } else {
            let http = seen["status"].as_u64().expect("status");
            assert!(
                !matches!(http, 405 | 501)
                    && !code.contains("Unsupported")
                    && !code.contains("UnknownOperation")
                    && !message.contains("is not an API lambdalet serves"),
                "{op} is {status} but answered {seen}"
            );
            assert!(
                http < 300 || code == "ResourceNotFoundException" || http == 400,
                "{op}: {seen}"
            );
        }
    }
    // The daemon refused nothing it should have served: it still lists functions.
    d.aws_ok(&["lambda", "list-functions"]);
}
