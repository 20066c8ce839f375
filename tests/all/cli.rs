//! lambdalet's own command line: deploy, invoke, functions, logs, and `up`.

use std::process::Output;

use crate::harness::{Daemon, LAMBDALET, repo};

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn deploy_invoke_list_logs_and_delete_with_the_lambdalet_cli() {
    let d = Daemon::start();
    let example = repo().join("examples/hello-python");
    let example = example.to_str().expect("utf-8");
    let o = d.cli(&["deploy", example, "--name", "hello"]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("created hello (python3.11, handler app.handler"),
        "runtime and handler are guessed: {err}"
    );

    let o = d.cli(&["invoke", "hello", "--payload", r#"{"name":"cli"}"#, "--log"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), r#"{"message": "hello, cli"}"#);
    assert!(
        err.contains("START RequestId") && err.contains("REPORT RequestId"),
        "{err}"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let payload = tmp.path().join("event.json");
    std::fs::write(&payload, r#"{"name":"file"}"#).expect("write");
    let o = d.cli(&[
        "invoke",
        "hello",
        "--payload",
        &format!("@{}", payload.display()),
    ]);
    assert_eq!(text(&o).0.trim(), r#"{"message": "hello, file"}"#);

    let o = d.cli(&[
        "deploy",
        example,
        "--name",
        "hello",
        "--timeout",
        "9",
        "--env",
        "A=B",
        "--memory",
        "256",
    ]);
    let (_, err) = text(&o);
    assert!(
        o.status.success() && err.contains("updated hello") && err.contains("256 MB, 9 s"),
        "{err}"
    );

    let (out, _) = text(&d.cli(&["functions"]));
    assert!(
        out.lines().next().is_some_and(|h| h.starts_with("NAME")),
        "{out}"
    );
    assert!(out.contains("hello") && out.contains("python3.11"), "{out}");
    let (out, _) = text(&d.cli(&["functions", "get", "hello"]));
    let cfg: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(cfg["Environment"]["Variables"]["A"], "B");

    let (out, _) = text(&d.cli(&["logs", "hello", "--limit", "2"]));
    assert_eq!(out.matches("START RequestId").count(), 2, "{out}");
    assert!(out.contains("hello-python: request"), "{out}");

    let o = d.cli(&["deploy", example, "--name", "bad", "--timeout", "1000"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("InvalidParameterValueException") && err.contains("1000"),
        "{err}"
    );

    let o = d.cli(&["functions", "delete", "hello"]);
    assert!(o.status.success());
    let o = d.cli(&["invoke", "hello"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("ResourceNotFoundException") && err.contains("hello"),
        "{err}"
    );
}

#[test]
fn invoke_exits_1_when_the_function_fails_and_2_when_the_daemon_is_unreachable() {
    let d = Daemon::start();
    d.create(
        "oops",
        &crate::harness::fixture("py-basic"),
        "python3.11",
        "app.raise_error",
        &[],
    );
    let o = d.cli(&["invoke", "oops"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(out.contains("ValueError"), "{out}");
    let o = std::process::Command::new(LAMBDALET)
        .args(["--endpoint", "http://127.0.0.1:1", "functions"])
        .output()
        .expect("run");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("lambdalet serve"),
        "says how to start the daemon: {err}"
    );
}

#[test]
fn up_serves_the_examples() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = crate::harness::free_port();
    let mqtt = format!("127.0.0.1:{port}");
    let mut d = Daemon::start_with(tmp.path(), "up", &["--mqtt-listen", &mqtt]);
    crate::harness::eventually(
        std::time::Duration::from_secs(30),
        "the examples to be deployed",
        || d.log().contains("lambdalet is up"),
    );
    assert_eq!(
        d.invoke("hello-python", r#"{"name":"up"}"#).json()["message"],
        "hello, up"
    );
    assert_eq!(
        d.invoke("hello-node", r#"{"name":"up"}"#).json()["message"],
        "hello, up"
    );
    assert!(
        d.log()
            .contains(&format!("MQTT         embedded broker on mqtt://{mqtt}"))
    );
    assert!(
        d.log().contains("--mqtt sensors/t1/temperature"),
        "{}",
        d.log()
    );
    assert!(d.stop().success());
    // A second `up` on the same data directory updates the examples in place, and the MQTT
    // example works: a reading in, a verdict out on sensors/checked.
    let d = Daemon::start_with(tmp.path(), "up", &["--mqtt-listen", &mqtt]);
    crate::harness::eventually(
        std::time::Duration::from_secs(30),
        "the second start",
        || d.log().contains("lambdalet is up"),
    );
    assert_eq!(
        d.invoke("hello-python", "{}").json()["message"],
        "hello, world"
    );
    let checked = crate::harness::MqttSub::start(port, "sensors/checked");
    crate::harness::mqtt_pub(port, "sensors/t1/temperature", r#"{"celsius": 31.5}"#);
    crate::harness::mqtt_pub(port, "sensors/t2/temperature", r#"{"celsius": 20}"#);
    crate::harness::eventually(
        std::time::Duration::from_secs(20),
        "two verdicts on sensors/checked",
        || checked.lines().len() >= 2,
    );
    let mut verdicts: Vec<serde_json::Value> = checked
        .lines()
        .iter()
        .map(|l| {
            let record: serde_json::Value =
                serde_json::from_str(l.strip_prefix("sensors/checked ").expect("topic"))
                    .expect("a destination record");
            record["responsePayload"].clone()
        })
        .collect();
    verdicts.sort_by_key(|v| v["sensor"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        verdicts,
        [
            serde_json::json!({"sensor": "t1", "celsius": 31.5, "status": "alert"}),
            serde_json::json!({"sensor": "t2", "celsius": 20.0, "status": "ok"}),
        ]
    );
}

#[test]
fn a_large_zip_is_streamed_to_the_daemon_and_deploys_whole() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        repo().join("tests/fixtures/functions/py-basic/app.py"),
        dir.path().join("app.py"),
    )
    .expect("copy");
    // Random bytes do not compress: the zip, and so the request, is over the bar's threshold.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let blob: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    std::fs::write(dir.path().join("blob.bin"), &blob).expect("blob");
    let path = dir.path().to_str().expect("utf-8");
    for round in ["create", "update"] {
        let o = d.cli(&[
            "deploy",
            path,
            "--name",
            "big",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{round}: {out}{err}\n{}", d.log());
    }
    let got = d.aws_ok(&["lambda", "get-function", "--function-name", "big"]);
    let size = got["Configuration"]["CodeSize"].as_u64().expect("CodeSize");
    assert!(size > 2_000_000, "{size}");
    let r = d.invoke("big", r#"{"k": 1}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["event"]["k"], 1);
}
