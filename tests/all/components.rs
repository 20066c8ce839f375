//! Generic Greengrass components: lifecycle, recipe variables, dependencies, configuration
//! merge and reset, a failed install rolled back, deployments that cannot resolve, and the
//! Greengrass CLI's output lines.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::greengrass::{Workspace, component, components, out, read};
use crate::harness::{Daemon, eventually};

const WRITER: &str = "com.example.Writer";

/// A component whose `run` writes its message, configuration and paths to `out`, then stays up.
fn writer(version: &str, out_file: &Path, install: &str) -> String {
    format!(
        r#"RecipeFormatVersion: '2020-01-25'
ComponentName: {WRITER}
ComponentVersion: '{version}'
ComponentDescription: writes what it was given
ComponentConfiguration:
  DefaultConfiguration:
    message: hello
    nested: {{a: 1, b: 2}}
Manifests:
  - Platform: {{os: /linux|darwin/}}
    Artifacts:
      - Uri: greengrass:write.sh
        Permission: {{Read: OWNER, Execute: OWNER}}
    Lifecycle:
      Setenv:
        OUT: {out}
      Install:
        Script: {install}
        Timeout: 10
      Run: '{{artifacts:path}}/write.sh {version} "{{configuration:/message}}" ''{{configuration:/nested}}'' {{work:path}} {{iot:thingName}}'
"#,
        out = out_file.display(),
    )
}

const WRITE_SH: &[u8] = b"#!/bin/sh\nprintf '%s|%s|%s|%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" \"$5\" \"$SVCUID\" > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\"\nexec sleep 600\n";

fn writer_workspace(version: &str, out_file: &Path, install: &str) -> Workspace {
    let w = Workspace::new();
    w.add_recipe(
        &format!("{WRITER}-{version}.yaml"),
        &writer(version, out_file, install),
    );
    w.add_artifact(WRITER, version, "write.sh", WRITE_SH);
    w
}

fn fields(out_file: &Path) -> Vec<String> {
    read(out_file)
        .trim()
        .split('|')
        .map(str::to_owned)
        .collect()
}

fn state(d: &Daemon, name: &str) -> Value {
    component(&components(d), name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_generic_component_runs_with_its_variables_filled_in() {
    let d = Daemon::start_with(
        tempfile::tempdir().expect("tempdir").keep().as_path(),
        "serve",
        &["--thing-name", "gateway-7"],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("out");
    let w = writer_workspace("1.0.0", &out_file, "echo installed");
    let o = w.deploy(&d, &["--merge", &format!("{WRITER}=1.0.0")]);
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    eventually(Duration::from_secs(10), "the run step to write", || {
        out_file.exists()
    });
    let f = fields(&out_file);
    assert_eq!(f[0], "1.0.0");
    assert_eq!(f[1], "hello");
    assert_eq!(
        serde_json::from_str::<Value>(&f[2]).expect("json"),
        serde_json::json!({"a": 1, "b": 2})
    );
    assert!(
        f[3].ends_with(&format!("components/work/{WRITER}")),
        "{f:?}"
    );
    assert_eq!(f[4], "gateway-7");
    assert!(f[5].len() > 10, "SVCUID is set: {f:?}");
    assert_eq!(state(&d, WRITER)["state"], "RUNNING");
    // The Greengrass CLI's lines.
    let list = d.cli(&["component", "list"]);
    let text = out(&list);
    assert!(
        text.contains(&format!("Component Name: {WRITER}")),
        "{text}"
    );
    assert!(text.contains("    Version: 1.0.0"), "{text}");
    assert!(text.contains("    State: RUNNING"), "{text}");
    assert!(
        text.contains(r#"    Configuration: {"message":"hello","nested":{"a":1,"b":2}}"#),
        "{text}"
    );
    let deployments = out(&d.cli(&["deployment", "list"]));
    assert!(deployments.contains("Deployment ID: "), "{deployments}");
    assert!(deployments.contains("Status: SUCCEEDED"), "{deployments}");
    // Stop and restart.
    let o = d.cli(&["component", "stop", "--names", WRITER]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(state(&d, WRITER)["state"], "FINISHED");
    std::fs::remove_file(&out_file).expect("rm");
    let o = d.cli(&["component", "restart", "-n", WRITER]);
    assert!(o.status.success(), "{}", out(&o));
    eventually(
        Duration::from_secs(10),
        "the restart to run it again",
        || out_file.exists(),
    );
}

#[test]
fn configuration_updates_merge_and_reset_as_greengrass_does() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("out");
    let w = writer_workspace("1.0.0", &out_file, "true");
    let merge =
        format!(r#"{{"{WRITER}": {{"MERGE": {{"message": "bonjour", "nested": {{"c": 3}}}}}}}}"#);
    let o = w.deploy(
        &d,
        &[
            "--merge",
            &format!("{WRITER}=1.0.0"),
            "--update-config",
            &merge,
        ],
    );
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    eventually(Duration::from_secs(10), "the run step to write", || {
        out_file.exists()
    });
    assert_eq!(fields(&out_file)[1], "bonjour");
    assert_eq!(
        serde_json::from_str::<Value>(&fields(&out_file)[2]).expect("json"),
        serde_json::json!({"a": 1, "b": 2, "c": 3})
    );
    // RESET a key back to its default; the component restarts with it.
    std::fs::remove_file(&out_file).expect("rm");
    let reset = format!(r#"{{"{WRITER}": {{"RESET": ["/message", "/nested/c"]}}}}"#);
    let o = d.cli(&[
        "deployment",
        "create",
        "-m",
        &format!("{WRITER}=1.0.0"),
        "-c",
        &reset,
        "--wait",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    eventually(
        Duration::from_secs(10),
        "the restart after the reset",
        || out_file.exists(),
    );
    assert_eq!(fields(&out_file)[1], "hello");
    assert_eq!(
        state(&d, WRITER)["configuration"],
        serde_json::json!({"message": "hello", "nested": {"a": 1, "b": 2}})
    );
}

#[test]
fn a_failed_install_rolls_the_deployment_back() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("out");
    let w = writer_workspace("1.0.0", &out_file, "true");
    let o = w.deploy(&d, &["--merge", &format!("{WRITER}=1.0.0")]);
    assert!(o.status.success(), "{}", out(&o));
    eventually(Duration::from_secs(10), "version 1 to run", || {
        out_file.exists()
    });
    let w2 = writer_workspace("2.0.0", &out_file, "echo cannot install >&2; exit 3");
    let o = w2.deploy(&d, &["--merge", &format!("{WRITER}=2.0.0")]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains(": FAILED"), "{text}");
    assert!(text.contains(WRITER) && text.contains("install"), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    assert!(
        text.contains("Detailed Status: FAILED_ROLLBACK_COMPLETE"),
        "{text}"
    );
    let c = state(&d, WRITER);
    assert_eq!(c["version"], "1.0.0", "{c}");
    eventually(Duration::from_secs(10), "version 1 to run again", || {
        fields(&out_file)[0] == "1.0.0" && state(&d, WRITER)["state"] == "RUNNING"
    });
    let log = read(Path::new(c["logFile"].as_str().unwrap_or("")));
    assert!(
        log.contains("cannot install"),
        "the install's output is in the component log:\n{log}"
    );
}

#[test]
fn dependencies_start_first_and_cycles_or_unknown_platforms_fail() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let order = tmp.path().join("order");
    let w = Workspace::new();
    // A Run component is RUNNING once its script starts, so two Run scripts' writes could
    // race; the dependency writes in Startup, after which (exit 0) it is RUNNING.
    let comp = |name: &str, deps: &str, platform: &str| {
        let step = if deps.is_empty() {
            "Startup: echo {name} >> {order}; test -d '{{artifacts:path}}'"
        } else {
            "Run: echo {name} >> {order}; test -d '{{artifacts:path}}' && exec sleep 600"
        };
        let step = step
            .replace("{name}", name)
            .replace("{order}", &order.display().to_string())
            .replace("{{", "{")
            .replace("}}", "}");
        format!(
            "RecipeFormatVersion: '2020-01-25'\nComponentName: {name}\nComponentVersion: '1.0.0'\n{deps}Manifests:\n  - Platform: {platform}\n    Lifecycle:\n      {step}\n"
        )
    };
    w.add_recipe("lib.yaml", &comp("com.example.Lib", "", "{os: linux}"));
    w.add_recipe(
        "app.yaml",
        &comp(
            "com.example.App",
            "ComponentDependencies:\n  com.example.Lib:\n    VersionRequirement: ^1.0.0\n",
            "{os: '*'}",
        ),
    );
    let o = w.deploy(&d, &["--merge", "com.example.App=1.0.0"]);
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    assert_eq!(read(&order), "com.example.Lib\ncom.example.App\n");
    let all = components(&d);
    assert_eq!(
        component(&all, "com.example.Lib").expect("lib")["requested"],
        false
    );

    let w = Workspace::new();
    w.add_recipe(
        "a.yaml",
        &comp(
            "com.example.A",
            "ComponentDependencies:\n  com.example.B: {}\n",
            "{}",
        ),
    );
    w.add_recipe(
        "b.yaml",
        &comp(
            "com.example.B",
            "ComponentDependencies:\n  com.example.A: {}\n",
            "{}",
        ),
    );
    let text = out(&w.deploy(&d, &["--merge", "com.example.A=1.0.0"]));
    assert!(
        text.contains("dependency cycle: com.example.A → com.example.B → com.example.A"),
        "{text}"
    );

    let w = Workspace::new();
    w.add_recipe("w.yaml", &comp("com.example.Win", "", "{os: windows}"));
    let text = out(&w.deploy(&d, &["--merge", "com.example.Win=1.0.0"]));
    assert!(
        text.contains(": FAILED") && text.contains("windows"),
        "{text}"
    );
    // Neither failure touched what runs.
    assert_eq!(components(&d).len(), 2);
}

#[test]
fn a_bad_recipe_is_refused_at_submit_with_its_file_and_field() {
    let d = Daemon::start();
    let w = Workspace::new();
    w.add_recipe(
        "broken.yaml",
        "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.Bad\nComponentVersion: 'one'\n",
    );
    let o = w.deploy(&d, &["--merge", "com.example.Bad=1.0.0"]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("broken.yaml") && text.contains("ComponentVersion"),
        "{text}"
    );
    let list = d.http("GET", "/lambdalet/v1/deployments", None, &[]);
    assert_eq!(
        list.json()["deployments"],
        serde_json::json!([]),
        "nothing was queued"
    );
}

#[test]
fn a_function_that_may_manage_functions_still_cannot_deploy_components() {
    // A generic component runs on the host as the daemon's user: deploying one from inside a
    // sandbox would be an escape, even for a function given allowManagement.
    let d = Daemon::start();
    crate::containment::deploy_escape(&d, "manager", "app.api", &["--allow-management"]);
    let w = writer_workspace("1.0.0", Path::new("/tmp/never-written"), "true");
    let recipe = read(&w.recipes().join(format!("{WRITER}-1.0.0.yaml")));
    let body = serde_json::json!({
        "recipes": [{"fileName": "w.yaml", "text": recipe}],
        "components": {WRITER: {"version": "1.0.0"}},
    });
    let calls = serde_json::json!([
        {"op": "signed", "method": "POST", "path": "/lambdalet/v1/deployments", "body": body.to_string()},
    ]);
    let got = crate::containment::call(&d, "manager", serde_json::json!({ "calls": calls }));
    assert_eq!(got["signed"], "AccessDeniedException", "{got}\n{}", d.log());
    for (method, path) in [
        ("PUT", format!("/lambdalet/v1/artifacts/{}", "0".repeat(64))),
        ("POST", "/lambdalet/v1/components/stop".to_owned()),
        ("GET", "/lambdalet/v1/components".to_owned()),
    ] {
        let calls = serde_json::json!([{"op": "signed", "method": method, "path": path, "body": "{\"componentNames\": []}"}]);
        let got = crate::containment::call(&d, "manager", serde_json::json!({ "calls": calls }));
        assert_eq!(
            got["signed"], "AccessDeniedException",
            "{method} {path}: {got}"
        );
    }
    // It still manages functions (the right it was given).
    let calls = serde_json::json!([{"op": "list"}]);
    let got = crate::containment::call(&d, "manager", serde_json::json!({ "calls": calls }));
    assert_eq!(got["list"], "OK", "{got}");
    let list = d.http("GET", "/lambdalet/v1/deployments", None, &[]);
    assert_eq!(list.json()["deployments"], serde_json::json!([]));
}

#[test]
fn components_start_again_with_the_daemon_and_go_when_removed() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(data.path());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("out");
    let installs = tmp.path().join("installs");
    let w = writer_workspace(
        "1.0.0",
        &out_file,
        &format!("echo once >> {}", installs.display()),
    );
    let o = w.deploy(&d, &["--merge", &format!("{WRITER}=1.0.0")]);
    assert!(o.status.success(), "{}", out(&o));
    eventually(Duration::from_secs(10), "the run step to write", || {
        out_file.exists()
    });
    d.stop();
    std::fs::remove_file(&out_file).expect("rm");
    let d = Daemon::start_in(data.path());
    eventually(
        Duration::from_secs(20),
        "the component to run again",
        || out_file.exists() && state(&d, WRITER)["state"] == "RUNNING",
    );
    assert_eq!(read(&installs), "once\n", "Install runs once per version");
    let svcuid = format!("SVCUID={}", fields(&out_file)[5]);
    assert!(!crate::harness::processes_with_env(&svcuid).is_empty());
    let o = d.cli(&["deployment", "create", "--remove", WRITER, "--wait"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(components(&d).is_empty());
    assert!(
        crate::harness::processes_with_env(&svcuid).is_empty(),
        "a removed component's processes are gone"
    );
}

#[test]
fn the_greengrass_example_deploys_a_lambda_and_a_generic_component() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    crate::harness::copy_into(
        &crate::harness::repo().join("examples/greengrass"),
        tmp.path(),
    );
    let o = std::process::Command::new(tmp.path().join("deploy.sh"))
        .env("LAMBDALET", env!("CARGO_BIN_EXE_lambdalet"))
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .output()
        .expect("run deploy.sh");
    let text = out(&o);
    assert!(o.status.success(), "{text}\n{}", d.log());
    assert!(
        text.contains("Component Name: com.example.TemperatureAlert"),
        "{text}"
    );
    assert!(
        text.contains("Component Name: com.example.Logger"),
        "{text}"
    );
    let p = d.cli(&["publish", "sensors/temperature", r#"{"celsius": 35}"#]);
    assert!(p.status.success(), "{}", out(&p));
    eventually(
        Duration::from_secs(10),
        "the reading to reach the Lambda component",
        || {
            d.logs("temperature-alert")
                .iter()
                .any(|r| r["log"].as_str().unwrap_or("").contains(r#""alert": true"#))
        },
    );
    let heartbeat = d
        .data_dir
        .join("components/work/com.example.Logger/heartbeat.log");
    eventually(
        Duration::from_secs(10),
        "the generic component's heartbeat",
        || read(&heartbeat).contains("still alive"),
    );
}

const PUB_PY: &[u8] = br#"import json, sys
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

client = GreengrassCoreIPCClientV2()
out = {}
for topic in sys.argv[2:]:
    try:
        client.publish_to_topic(topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message={"from": "component"})))
        out[topic] = "ok"
    except Exception as e:
        out[topic] = type(e).__name__
open(sys.argv[1], "w").write(json.dumps(out))
"#;

#[test]
fn a_generic_component_talks_ipc_as_its_access_control_allows() {
    let d = Daemon::start();
    let sdk = crate::harness::pip_cache("awsiotsdk");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("out.json");
    let w = Workspace::new();
    w.add_artifact("com.example.Pub", "1.0.0", "pub.py", PUB_PY);
    w.add_recipe(
        "pub.yaml",
        &format!(
            r#"RecipeFormatVersion: '2020-01-25'
ComponentName: com.example.Pub
ComponentVersion: '1.0.0'
ComponentConfiguration:
  DefaultConfiguration:
    sdk: {sdk}
    accessControl:
      aws.greengrass.ipc.pubsub:
        com.example.Pub:pubsub:1:
          policyDescription: publish under allowed/ only
          operations: [aws.greengrass#PublishToTopic]
          resources: [allowed/*]
Manifests:
  - Lifecycle:
      Setenv:
        PYTHONPATH: '{{configuration:/sdk}}'
      Run: python3 -u {{artifacts:path}}/pub.py {out} allowed/x forbidden/x
    Artifacts:
      - Uri: greengrass:pub.py
"#,
            sdk = sdk.display(),
            out = out_file.display()
        ),
    );
    let o = w.deploy(&d, &["--merge", "com.example.Pub=1.0.0"]);
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    eventually(Duration::from_secs(30), "the component to publish", || {
        out_file.exists()
    });
    let got: Value = serde_json::from_str(&read(&out_file)).expect("json");
    assert_eq!(got["allowed/x"], "ok", "{got}");
    assert_eq!(got["forbidden/x"], "UnauthorizedError", "{got}");
}

#[test]
fn a_deployment_naming_what_is_not_there_is_refused_at_once() {
    let d = Daemon::start();
    let o = d.cli(&[
        "deployment",
        "create",
        "--merge",
        "com.example.Nothing=1.0.0",
    ]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("no recipe for com.example.Nothing 1.0.0"),
        "{text}"
    );
    let o = d.cli(&["deployment", "create", "--remove", "com.example.Nothing"]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("cannot remove com.example.Nothing: it is not deployed"),
        "{text}"
    );
    let o = d.cli(&["deployment", "create", "--merge", "bad"]);
    assert!(out(&o).contains("is not NAME=VERSION"), "{}", out(&o));
    let list = d.http("GET", "/lambdalet/v1/deployments", None, &[]);
    assert_eq!(
        list.json()["deployments"],
        serde_json::json!([]),
        "nothing was queued"
    );
}
