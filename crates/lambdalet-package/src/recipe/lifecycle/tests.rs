//! Steps as strings and objects, their defaults and their refusals.

use serde_json::{Value, json};

use super::*;
use crate::recipe::error::Checked;
use crate::recipe::selection::Selection;

fn parse(v: Value) -> Checked<Lifecycle> {
    parse_lifecycle(&v, "Lifecycle", &Selection::none())
}

fn fault(v: Value) -> (String, String) {
    let e = parse(v).err().unwrap();
    (e.path, e.message)
}

#[test]
fn steps_as_strings_and_objects() {
    let l = parse(json!({
        "setenv": {"PORT": 8080, "DEBUG": true, "EMPTY": null},
        "install": {"Script": "pip install -r req.txt", "skipif": "onpath   pip3 ", "TIMEOUT": "300"},
        "Run": {"script": "python3 app.py", "RequiresPrivilege": "true", "Setenv": {"MODE": "run"}},
        "Shutdown": "kill $(cat pid)",
        "Recover": 42
    }))
    .unwrap();
    assert_eq!(
        l.setenv,
        BTreeMap::from([
            ("DEBUG".into(), "true".into()),
            ("PORT".into(), "8080".into())
        ])
    );
    let install = l.install.as_ref().unwrap();
    assert_eq!(install.skipif, Some(SkipIf::OnPath("pip3".into())));
    assert_eq!(install.timeout(StepKind::Install), Some(300));
    let run = l.step(StepKind::Run).unwrap();
    assert!(run.requires_privilege);
    assert_eq!(run.timeout(StepKind::Run), None);
    assert_eq!(run.setenv.get("MODE").map(String::as_str), Some("run"));
    let shutdown = l.shutdown.as_ref().unwrap();
    assert_eq!(
        (shutdown.script.as_str(), shutdown.requires_privilege),
        ("kill $(cat pid)", false)
    );
    assert_eq!(shutdown.timeout(StepKind::Shutdown), Some(15));
    assert_eq!(l.recover.as_ref().unwrap().script, "42");
    assert_eq!(l.bootstrap, None);
}

#[test]
fn default_timeouts() {
    let expected = [
        (StepKind::Bootstrap, Some(120)),
        (StepKind::Install, Some(120)),
        (StepKind::Run, None),
        (StepKind::Startup, Some(120)),
        (StepKind::Shutdown, Some(15)),
        (StepKind::Recover, Some(60)),
    ];
    for (kind, seconds) in expected {
        assert_eq!(Step::default_timeout(kind), seconds, "{kind:?}");
    }
}

#[test]
fn skipif_forms() {
    assert_eq!(
        SkipIf::parse("EXISTS /tmp/x.db"),
        Some(SkipIf::Exists("/tmp/x.db".into()))
    );
    assert_eq!(
        SkipIf::parse("onpath\tpython3"),
        Some(SkipIf::OnPath("python3".into()))
    );
    assert_eq!(SkipIf::parse("onpath"), None);
    assert_eq!(SkipIf::parse("exists   "), None);
    assert_eq!(SkipIf::parse("missing x"), None);
    assert_eq!(SkipIf::Exists("/a b".into()).to_string(), "exists /a b");
}

#[test]
fn refusals_name_the_field() {
    let table = [
        (
            json!({"Run": "a", "startup": "b"}),
            "Lifecycle",
            "has both Run and Startup; keep one: Run for a process that is the component, Startup for one that starts a background service and exits",
        ),
        (
            json!({"Run": {"Timeout": 5}}),
            "Lifecycle.Run",
            "missing Script; a step is a script, or an object with Script and optional RequiresPrivilege, Skipif, Timeout, Setenv",
        ),
        (
            json!({"Install": {"Script": "x", "Timeout": 0}}),
            "Lifecycle.Install.Timeout",
            "expected a positive whole number of seconds, got 0",
        ),
        (
            json!({"Install": {"Script": "x", "Timeout": "1.5"}}),
            "Lifecycle.Install.Timeout",
            "expected a positive whole number of seconds, got \"1.5\"",
        ),
        (
            json!({"Install": {"Script": "x", "Timeout": -3}}),
            "Lifecycle.Install.Timeout",
            "expected a positive whole number of seconds, got -3",
        ),
        (
            json!({"Install": {"Script": "x", "Skipif": "when x"}}),
            "Lifecycle.Install.Skipif",
            "expected \"onpath <executable>\" or \"exists <file>\", got \"when x\"",
        ),
        (
            json!({"Install": {"Script": "x", "RequiresPrivilege": "yes"}}),
            "Lifecycle.Install.RequiresPrivilege",
            "expected true or false, got \"yes\"",
        ),
        (
            json!({"Install": {"Script": ["a"]}}),
            "Lifecycle.Install.Script",
            "expected a string, got an array",
        ),
        (
            json!({"Instal": "x"}),
            "Lifecycle",
            "unknown key \"Instal\"; a lifecycle accepts Setenv, Bootstrap, Install, Run, Startup, Shutdown, Recover",
        ),
        (
            json!({"Run": {"Script": "x", "Retries": 3}}),
            "Lifecycle.Run",
            "unknown key \"Retries\"; a lifecycle step accepts Script, RequiresPrivilege, Skipif, Timeout, Setenv",
        ),
        (
            json!({"Setenv": {"A=B": "x"}}),
            "Lifecycle.Setenv",
            "expected environment variable names without '=' or NUL, got \"A=B\"",
        ),
        (
            json!({"Setenv": "A=B"}),
            "Lifecycle.Setenv",
            "expected environment variables (an object), got \"A=B\"",
        ),
        (
            json!({"Setenv": {"A": {"b": 1}}}),
            "Lifecycle.Setenv.A",
            "expected a string, got an object",
        ),
        (
            json!("run"),
            "Lifecycle",
            "expected a lifecycle (an object), got \"run\"",
        ),
    ];
    for (v, path, message) in table {
        assert_eq!(
            fault(v.clone()),
            (path.to_string(), message.to_string()),
            "{v}"
        );
    }
}
