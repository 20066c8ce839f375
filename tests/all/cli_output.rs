//! `--output json|table|text` on the client commands, against a real daemon.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Daemon, LAMBDALET, fixture, python_script, repo};

/// `lambdalet ARGS --output FORMAT`, which must succeed; its stdout.
fn out(d: &Daemon, args: &[&str], format: &str) -> String {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--output", format]);
    let o = d.cli(&all);
    assert!(
        o.status.success(),
        "lambdalet {all:?}: {}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// `--output json`, parsed.
fn json(d: &Daemon, args: &[&str]) -> Value {
    let s = out(d, args, "json");
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{args:?} --output json: {e}: {s}"))
}

/// `--output text`, as lines of tab-separated fields.
fn text(d: &Daemon, args: &[&str]) -> Vec<Vec<String>> {
    out(d, args, "text")
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// `--output table`, as lines whose cells are split on runs of spaces.
fn table(d: &Daemon, args: &[&str]) -> Vec<Vec<String>> {
    out(d, args, "table")
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The line of `rows` whose first cell is `first`.
fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no line starting with {first}: {rows:?}"))
}

#[test]
fn functions_invoke_logs_and_queue_print_json_table_and_text() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(tmp.path(), "serve", &["--async-retry-delays", "1,1"]);
    let example = repo().join("examples/hello-python");
    let example = example.to_str().expect("utf-8");
    // deploy: the API's answer, keys in the order the daemon sent them.
    let deployed = out(&d, &["deploy", example, "--name", "hello"], "json");
    assert!(
        deployed.starts_with("{\n  \"FunctionName\": \"hello\",\n  \"FunctionArn\""),
        "{deployed}"
    );

    let v = json(&d, &["functions", "list"]);
    assert_eq!(v["Functions"][0]["FunctionName"], "hello");
    assert_eq!(v["Functions"][0]["Runtime"], "python3.11");
    let t = table(&d, &["functions", "list"]);
    assert_eq!(
        t[0],
        [
            "FunctionName",
            "Runtime",
            "Handler",
            "MemorySize",
            "Timeout",
            "LastModified"
        ]
    );
    assert_eq!(
        t[1][..5],
        ["hello", "python3.11", "app.handler", "128", "3"]
    );
    let lines = text(&d, &["functions", "list"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0][..5],
        ["hello", "python3.11", "app.handler", "128", "3"]
    );
    assert_eq!(lines[0].len(), 6);
    // The global flag goes before the command too, and comes from the environment.
    let o = Command::new(LAMBDALET)
        .args(["functions", "list"])
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("LAMBDALET_OUTPUT", "text")
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("hello\tpython3.11\tapp.handler\t"));

    let v = json(&d, &["functions", "get", "hello"]);
    assert_eq!(v["Configuration"]["FunctionName"], "hello");
    assert!(v["Code"].is_object(), "the whole GetFunction answer: {v}");
    assert_eq!(text(&d, &["functions", "get", "hello"]), lines);
    let t = table(&d, &["functions", "get", "hello"]);
    assert_eq!(row(&t, "FunctionName"), ["FunctionName", "hello"]);
    assert_eq!(row(&t, "MemorySize"), ["MemorySize", "128"]);

    // invoke: the AWS CLI's fields with the response.
    let v = json(
        &d,
        &[
            "invoke",
            "hello",
            "--payload",
            r#"{"name":"json"}"#,
            "--log",
        ],
    );
    assert_eq!(v["StatusCode"], 200);
    assert_eq!(v["ExecutedVersion"], "$LATEST");
    assert_eq!(v["Payload"]["message"], "hello, json");
    assert!(v.get("FunctionError").is_none(), "{v}");
    let log = v["LogResult"].as_str().expect("LogResult");
    assert!(
        log.contains("START RequestId") && log.contains("REPORT"),
        "{log}"
    );
    let lines = text(&d, &["invoke", "hello", "--payload", r#"{"name":"text"}"#]);
    assert_eq!(
        lines,
        [["200", "None", "$LATEST", r#"{"message":"hello, text"}"#]]
    );
    let t = table(&d, &["invoke", "hello"]);
    assert_eq!(row(&t, "StatusCode"), ["StatusCode", "200"]);
    d.create(
        "oops",
        &fixture("py-basic"),
        "python3.11",
        "app.raise_error",
        &[],
    );
    let o = d.cli(&["invoke", "oops", "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "a failed function still exits 1");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["FunctionError"], "Unhandled");
    assert_eq!(v["Payload"]["errorType"], "ValueError");

    // logs: JSON Lines, one record each; a row per invocation in table and text.
    let o = out(&d, &["logs", "hello", "--limit", "2"], "json");
    let records: Vec<Value> = o
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), 2, "{o}");
    for r in &records {
        assert!(
            r["log"]
                .as_str()
                .is_some_and(|l| l.contains("START RequestId"))
        );
        assert_eq!(r["outcome"], "success");
    }
    let lines = text(&d, &["logs", "hello", "--limit", "3"]);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l.len(), 6, "{l:?}");
        assert_eq!(l[3], "$LATEST");
        assert_eq!(l[5], "success");
    }
    assert_eq!(
        lines[2][2],
        records[1]["requestId"].as_str().expect("requestId")
    );
    let t = table(&d, &["logs", "hello", "--limit", "3"]);
    assert_eq!(
        t[0],
        [
            "id",
            "startedAt",
            "requestId",
            "version",
            "durationMs",
            "outcome"
        ]
    );
    assert_eq!(t.len(), 4);

    // queue: an asynchronous event that fails three times.
    let v = json(&d, &["invoke", "hello", "--async"]);
    assert_eq!(v["StatusCode"], 202);
    assert!(v["RequestId"].as_str().is_some_and(|id| !id.is_empty()));
    let v = json(&d, &["invoke", "oops", "--async"]);
    let failed_id = v["RequestId"].as_str().expect("RequestId").to_owned();
    let oops = |v: &Value| {
        v["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["function"] == "oops")
            .cloned()
    };
    crate::harness::eventually(
        std::time::Duration::from_secs(30),
        "the event to fail three times",
        || oops(&json(&d, &["queue"])).is_some_and(|f| f["failed"] == 1),
    );
    let lines = text(&d, &["queue"]);
    assert_eq!(row(&lines, "oops"), ["oops", "0", "0", "1"]);
    let t = table(&d, &["queue"]);
    assert_eq!(t[0], ["function", "pending", "inFlight", "failed"]);
    assert_eq!(row(&t, "oops"), ["oops", "0", "0", "1"]);
    let v = json(&d, &["queue", "oops"]);
    assert_eq!(v["function"], "oops");
    assert_eq!(v["failed"][0]["requestId"], failed_id.as_str());
    assert_eq!(v["failed"][0]["attempts"], 3);
    let lines = text(&d, &["queue", "oops"]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0][1..3], [failed_id.as_str(), "3"]);
    assert!(lines[0][3].contains("ValueError"), "{lines:?}");
    let t = table(&d, &["queue", "oops"]);
    assert_eq!(t[0], ["receivedAt", "requestId", "attempts", "error"]);

    // An unknown form is clap's error, naming the ones there are.
    let o = d.cli(&["functions", "list", "--output", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid value 'yaml' for '--output <OUTPUT>'")
            && err.contains("[possible values: json, table, text]"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn keys_layers_runtimes_and_schedules_print_json_table_and_text() {
    let d = Daemon::start();
    let example = repo().join("examples/hello-python");
    d.deploy_python(&example, "hello", "app.handler", &[]);

    // Each function has a key of its own.
    let v = json(&d, &["keys", "list"]);
    let key = &v["Keys"][0];
    assert_eq!(key["Function"], "hello", "{v}");
    let id = key["AccessKeyId"].as_str().expect("id");
    let lines = text(&d, &["keys", "list"]);
    assert_eq!(row(&lines, id)[2], "hello");
    let t = table(&d, &["keys", "list"]);
    assert_eq!(t[0], ["AccessKeyId", "Created", "Function", "Description"]);
    assert_eq!(row(&t, id)[2], "hello");

    let layer = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(layer.path().join("python")).expect("mkdir");
    std::fs::write(layer.path().join("python/shared.py"), "X = 1\n").expect("write");
    let layer_dir = layer.path().to_str().expect("utf-8");
    let v = json(
        &d,
        &[
            "layers",
            "publish",
            "shared",
            layer_dir,
            "--description",
            "one module",
        ],
    );
    assert!(
        v["LayerVersionArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":layer:shared:1")),
        "{v}"
    );
    let v = json(&d, &["layers", "list"]);
    assert_eq!(v["Layers"][0]["LayerName"], "shared");
    assert_eq!(v["Layers"][0]["LatestMatchingVersion"]["Version"], 1);
    let lines = text(&d, &["layers", "list"]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0][..2], ["shared", "1"]);
    assert_eq!(lines[0][3], "one module");
    let t = table(&d, &["layers", "list"]);
    assert_eq!(t[0][0], "LayerName");
    assert_eq!(t[1][..2], ["shared", "1"]);
    let lines = text(&d, &["layers", "list", "shared"]);
    assert_eq!(lines[0][0], "1");
    assert!(lines[0][3].ends_with(":layer:shared:1"), "{lines:?}");

    let v = json(&d, &["runtimes"]);
    let runtimes = v["Runtimes"].as_array().expect("Runtimes");
    assert!(runtimes.iter().any(|r| r["Runtime"] == "python3.11"), "{v}");
    assert_eq!(
        serde_json::from_slice::<Value>(&d.cli(&["runtimes", "--json"]).stdout).expect("JSON"),
        v,
        "--json is --output json"
    );
    let lines = text(&d, &["runtimes"]);
    assert_eq!(lines.len(), runtimes.len());
    assert!(lines.iter().all(|l| l.len() == 6), "{lines:?}");
    assert_eq!(row(&lines, "python3.11")[1], "installed");
    let t = table(&d, &["runtimes"]);
    assert_eq!(
        t[0],
        [
            "Runtime",
            "Status",
            "Interpreter",
            "Version",
            "Sdk.Source",
            "Sdk.Version"
        ]
    );

    crate::schedules::grant_schedules(
        &d,
        "hello",
        "arn:aws:scheduler:us-east-1:000000000000:schedule/*",
    );
    crate::schedules::create(
        &d,
        "nightly",
        "cron(0 3 * * ? *)",
        &crate::schedules::target("hello", None),
        &["--schedule-expression-timezone", "Europe/Berlin"],
    );
    let v = json(&d, &["schedule", "list"]);
    assert_eq!(v["Schedules"][0]["Name"], "nightly");
    let alias: Value =
        serde_json::from_slice(&d.cli(&["schedule", "--json"]).stdout).expect("JSON");
    assert_eq!(alias["Schedules"][0]["Name"], "nightly");
    let lines = text(&d, &["schedule", "list"]);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0][..6],
        [
            "default",
            "nightly",
            "ENABLED",
            "cron(0 3 * * ? *)",
            "Europe/Berlin",
            &crate::schedules::arn("hello")
        ]
    );
    let t = out(&d, &["schedule"], "table");
    assert!(
        t.starts_with("GroupName  Name     State    ScheduleExpression"),
        "{t}"
    );
    assert!(
        t.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("default    nightly  ENABLED"))
    );
}

#[test]
fn images_components_and_deployments_print_json_table_and_text() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = tmp.path().join("hello.tar");
    let made = python_script("oci_image.py", &[archive.to_str().expect("utf-8")]);
    let id = format!("sha256:{}", made["id"].as_str().expect("id"));
    let v = json(&d, &["image", "load", archive.to_str().expect("utf-8")]);
    assert_eq!(v["ImageId"], id.as_str());
    // The list itself, as `image list --json` has always printed it.
    let v = json(&d, &["image", "list"]);
    assert_eq!(v[0]["ImageId"], id.as_str());
    let alias: Value =
        serde_json::from_slice(&d.cli(&["image", "list", "--json"]).stdout).expect("JSON");
    assert_eq!(alias, v);
    let lines = text(&d, &["image", "list"]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0][0], id);
    assert_eq!(lines[0][2], v[0]["SizeBytes"].to_string());
    let t = table(&d, &["image", "list"]);
    assert_eq!(t[0], ["ImageId", "Names", "SizeBytes", "Layers"]);
    assert_eq!(t[1][0], id);

    let w = crate::greengrass::Workspace::new();
    w.add_recipe(
        "sleeper.yaml",
        "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.Sleeper\nComponentVersion: '1.0.0'\nManifests:\n  - Platform: {os: linux}\n    Lifecycle:\n      Run: exec sleep 600\n",
    );
    let recipes = w.recipes();
    let v = json(
        &d,
        &[
            "deployment",
            "create",
            "--recipeDir",
            recipes.to_str().expect("utf-8"),
            "--merge",
            "com.example.Sleeper=1.0.0",
            "--wait",
        ],
    );
    assert_eq!(v["status"], "SUCCEEDED", "{v}\n{}", d.log());
    let deployment = v["deploymentId"].as_str().expect("id").to_owned();

    let v = json(&d, &["component", "list"]);
    assert_eq!(v[0]["componentName"], "com.example.Sleeper", "{v}");
    let lines = text(&d, &["component", "list"]);
    assert_eq!(
        row(&lines, "com.example.Sleeper"),
        [
            "com.example.Sleeper",
            "1.0.0",
            v[0]["state"].as_str().expect("state"),
            "aws.greengrass.generic"
        ]
    );
    let t = table(&d, &["component", "list"]);
    assert_eq!(t[0], ["componentName", "version", "state", "componentType"]);
    let lines = text(&d, &["component", "details", "-n", "com.example.Sleeper"]);
    assert_eq!(lines[0][..2], ["com.example.Sleeper", "1.0.0"]);

    let v = json(&d, &["deployment", "list"]);
    assert_eq!(v[0]["deploymentId"], deployment.as_str());
    let lines = text(&d, &["deployment", "list"]);
    assert_eq!(row(&lines, &deployment)[2], "SUCCEEDED");
    let t = table(&d, &["deployment", "list"]);
    assert_eq!(t[0][..3], ["deploymentId", "createdOn", "status"]);
    assert_eq!(row(&t, &deployment)[2], "SUCCEEDED");
    let lines = text(&d, &["deployment", "status", "-i", &deployment]);
    assert_eq!(lines[0][0], deployment);
    assert_eq!(lines[0][2], "SUCCEEDED");
}
