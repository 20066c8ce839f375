//! Event sources with real peers: mosquitto clients against the embedded broker, the local
//! bus from the command line, Greengrass IPC through the AWS IoT Device SDK v2, Greengrass V1
//! code through greengrasssdk, and the legacy subscriptions.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Daemon, MqttSub, copy_into, eventually, fixture, free_port, mosquitto_pub, mqtt_pub, pip_cache,
};

fn start_with_mqtt() -> (Daemon, u16, tempfile::TempDir) {
    start_with_mqtt_and(&[], &[])
}

/// A daemon with its embedded broker on a free port, extra flags and environment.
fn start_with_mqtt_and(extra: &[&str], env: &[(&str, &str)]) -> (Daemon, u16, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--mqtt-listen", &listen];
    args.extend_from_slice(extra);
    let d = Daemon::start_env(&tmp.path().join("data"), "serve", &args, env);
    (d, port, tmp)
}

/// A fixture directory with a PyPI package vendored next to the code.
fn with_package(fixture_name: &str, package: &str, dst: &Path) -> PathBuf {
    let dir = dst.join(fixture_name);
    copy_into(&fixture(fixture_name), &dir);
    copy_into(&pip_cache(package), &dir);
    dir
}

fn deploy(d: &Daemon, name: &str, dir: &Path, handler: &str, extra: &[&str]) {
    d.deploy_python(dir, name, handler, &[&["--timeout", "10"], extra].concat());
}

fn metric(d: &Daemon, name: &str) -> u64 {
    let text = d.http("GET", "/metrics", None, &[]).text();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Logged events a function received (it prints `EVENT <json> SUBJECT <topic>`).
fn received(d: &Daemon, name: &str) -> Vec<(Value, String)> {
    d.logs(name)
        .iter()
        .filter_map(|r| {
            let line = r["log"]
                .as_str()?
                .lines()
                .find(|l| l.starts_with("EVENT "))?
                .to_owned();
            let (event, subject) = line["EVENT ".len()..].split_once(" SUBJECT ")?;
            Some((serde_json::from_str(event).ok()?, subject.to_owned()))
        })
        .collect()
}

fn deploy_printer(d: &Daemon, name: &str, extra: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("app.py"),
        "import json\ndef handler(event, context):\n    subject = (context.client_context.custom or {}).get('subject') if context.client_context else None\n    body = event.hex() if isinstance(event, bytes) else event\n    print('EVENT ' + json.dumps(body) + ' SUBJECT ' + str(subject))\n    return 'ok'\n",
    )
    .expect("write");
    deploy(d, name, tmp.path(), "app.handler", extra);
}

#[test]
fn mqtt_messages_invoke_subscribed_functions_with_wildcards_and_encodings() {
    let (d, port, _tmp) = start_with_mqtt();
    deploy_printer(&d, "on-sensor", &["--subscribe", "sensors/+/temp"]);
    deploy_printer(&d, "on-all", &["--subscribe", "sensors/#"]);
    deploy_printer(&d, "raw", &["--subscribe", "bin/#", "--encoding", "binary"]);
    mqtt_pub(port, "sensors/t1/temp", r#"{"c": 21.5}"#);
    mqtt_pub(port, "sensors/t1/humidity", r#"{"h": 40}"#);
    mqtt_pub(port, "sensors", r#"{"parent": true}"#);
    mqtt_pub(port, "sensors/t2/temp", "not json");
    mqtt_pub(port, "bin/x", "raw bytes");
    eventually(Duration::from_secs(15), "the invocations", || {
        received(&d, "on-sensor").len() == 1
            && received(&d, "on-all").len() == 3
            && received(&d, "raw").len() == 1
    });
    assert_eq!(
        received(&d, "on-sensor"),
        [(json!({"c": 21.5}), "sensors/t1/temp".to_owned())]
    );
    let subjects: std::collections::BTreeSet<String> =
        received(&d, "on-all").into_iter().map(|(_, s)| s).collect();
    let expected: std::collections::BTreeSet<String> =
        ["sensors/t1/temp", "sensors/t1/humidity", "sensors"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(
        subjects, expected,
        "MQTT 3.1.1: sensors/# also matches sensors"
    );
    assert_eq!(
        received(&d, "raw")[0].0,
        json!(hex("raw bytes")),
        "binary functions get the bytes"
    );
    // "not json" reached two json functions and was refused for both, counted.
    assert_eq!(metric(&d, "lambdalet_event_rejected_not_json_total"), 2);
    assert!(
        d.log().contains("is not JSON") || d.log().contains("not JSON"),
        "{}",
        d.log()
    );
    assert!(metric(&d, "lambdalet_mqtt_messages_received_total") >= 5);

    // A message over --max-message-size (128 KB) costs its client the connection, and the
    // log says why; the next message goes through.
    let big = "x".repeat(200 * 1024);
    let mut publisher = mosquitto_pub(port)
        .args(["-q", "1"])
        .args(["-t", "bin/big", "-s"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_pub");
    publisher
        .stdin
        .take()
        .expect("stdin")
        .write_all(big.as_bytes())
        .expect("write");
    let status = publisher.wait().expect("mosquitto_pub");
    assert!(!status.success(), "an oversize publish is refused");
    eventually(Duration::from_secs(5), "the reason in the log", || {
        d.log()
            .contains("over the 131072-byte limit (--max-message-size)")
    });
    mqtt_pub(port, "bin/after", "small");
    eventually(Duration::from_secs(15), "the next message", || {
        received(&d, "raw").len() == 2
    });
    assert_eq!(received(&d, "raw")[1].0, json!(hex("small")));
}

#[test]
fn broker_logs_by_default_say_what_a_person_needs_and_no_error_for_clients_leaving() {
    let (d, port, _tmp) = start_with_mqtt_and(&[], &[("RUST_LOG", "")]);
    // A subscriber killed without a DISCONNECT, one that leaves properly, and a client that
    // sends garbage instead of CONNECT.
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "x/#"])
        .spawn()
        .expect("mosquitto_sub");
    std::thread::sleep(Duration::from_millis(500));
    sub.kill().expect("kill");
    let _ = sub.wait();
    mqtt_pub(port, "x/1", "{}");
    let mut garbage = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    garbage
        .write_all(&[0x10, 0x03, 0xff, 0xff, 0xff])
        .expect("write");
    // An oversize publish.
    let mut publisher = mosquitto_pub(port)
        .args(["-t", "x/big", "-s"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_pub");
    let _ = publisher
        .stdin
        .take()
        .expect("stdin")
        .write_all("y".repeat(200 * 1024).as_bytes());
    let _ = publisher.wait();
    // 204 807 bytes: the 200 KB payload, the topic's 2-byte length and the 5-byte topic.
    let wanted = [
        "published a 204807-byte message, over the 131072-byte limit (--max-message-size)",
        "MQTT client refused: its CONNECT is malformed",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|w| d.log().contains(w)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the front door's lines {wanted:?} in:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(garbage);
    std::thread::sleep(Duration::from_millis(300));
    let log = d.log();
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "no ERROR for clients that come and go:\n{log}"
    );
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn local_bus_from_the_command_line_and_function_subscriptions() {
    let (d, _port, _tmp) = start_with_mqtt();
    deploy_printer(&d, "local-fn", &["--subscribe-local", "home/+/lights"]);
    let mut sub = Command::new(crate::harness::LAMBDALET)
        .args(["subscribe", "home/#"])
        .env("LAMBDALET_ENDPOINT", &d.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("lambdalet subscribe");
    let stdout = sub.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let o = d.cli(&["publish", "home/kitchen/lights", r#"{"on": true}"#]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("2 local subscribers"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the subscriber got the message");
    assert_eq!(line, r#"home/kitchen/lights {"on": true}"#);
    eventually(Duration::from_secs(10), "the function", || {
        received(&d, "local-fn").len() == 1
    });
    assert_eq!(
        received(&d, "local-fn")[0],
        (json!({"on": true}), "home/kitchen/lights".to_owned())
    );
    let _ = sub.kill();
    let _ = sub.wait();

    let bad = d.cli(&["publish", "home/+/lights", "{}"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must not contain a wildcard"));
    let bad = d.cli(&["subscribe", "home/#/x"]);
    assert_eq!(bad.status.code(), Some(2));
    let big = "x".repeat(200 * 1024);
    let r = d.http(
        "POST",
        "/lambdalet/v1/publish?topic=home/big",
        Some(big.as_bytes()),
        &[],
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (413, "RequestTooLargeException")
    );
    let o = d.cli(&[
        "deploy",
        fixture("py-basic").to_str().expect("utf-8"),
        "--name",
        "badsub",
        "--runtime",
        "python3.11",
        "--handler",
        "app.handler",
        "--subscribe",
        "a/#/b",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "invalid filters are refused at deploy"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("a/#/b"));
}

#[test]
fn ipc_publish_chain_from_mqtt_through_two_functions_back_to_mqtt() {
    let (d, port, tmp) = start_with_mqtt();
    let relay = with_package("ipc-relay", "awsiotsdk", tmp.path());
    deploy(
        &d,
        "relay-in",
        &relay,
        "app.to_local",
        &["--subscribe", "sensors/#"],
    );
    deploy(
        &d,
        "relay-out",
        &relay,
        "app.to_mqtt",
        &["--subscribe-local", "readings/#"],
    );
    let alerts = MqttSub::start(port, "alerts/#");
    mqtt_pub(port, "sensors/t9", r#"{"c": 35}"#);
    eventually(Duration::from_secs(30), "the alert on MQTT", || {
        !alerts.lines().is_empty()
    });
    let line = &alerts.lines()[0];
    let (topic, payload) = line.split_once(' ').expect("topic payload");
    assert_eq!(topic, "alerts/t9");
    let payload: Value = serde_json::from_str(payload).expect("JSON");
    assert_eq!(payload, json!({"alert": {"c": 35}, "by": "relay-out"}));
    assert!(metric(&d, "lambdalet_ipc_operations_total") >= 2);
}

#[test]
fn ipc_refuses_unknown_tokens_unauthorized_operations_bad_input_and_malformed_frames() {
    let (d, _port, tmp) = start_with_mqtt();
    let relay = with_package("ipc-relay", "awsiotsdk", tmp.path());
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"aws.greengrass.ipc.pubsub": {"only-allowed": {"operations": ["aws.greengrass#PublishToTopic"], "resources": ["allowed/*"]}}}"#,
    )
    .expect("write");
    deploy(
        &d,
        "guarded",
        &relay,
        "app.attempt",
        &["--access-control", policy.to_str().expect("utf-8")],
    );
    deploy(&d, "free", &relay, "app.attempt", &[]);
    let ok = d
        .invoke("guarded", r#"{"op": "publish", "topic": "allowed/x"}"#)
        .json();
    assert_eq!(ok, json!({"ok": true}));
    let denied = d
        .invoke("guarded", r#"{"op": "publish", "topic": "forbidden/x"}"#)
        .json();
    assert_eq!(denied["ok"], false, "{denied}");
    assert_eq!(denied["error"], "UnauthorizedError", "{denied}");
    assert!(
        denied["message"]
            .as_str()
            .is_some_and(|m| m.contains("not authorized") && m.contains("forbidden/x")),
        "{denied}"
    );
    let denied = d
        .invoke("guarded", r#"{"op": "subscribe", "topic": "allowed/x"}"#)
        .json();
    assert_eq!(
        denied["error"], "UnauthorizedError",
        "subscribe is not in the policy: {denied}"
    );
    assert_eq!(
        d.invoke("free", r#"{"op": "publish", "topic": "anything"}"#)
            .json(),
        json!({"ok": true}),
        "no policy, no restriction"
    );

    let bad = d
        .invoke("free", r#"{"op": "subscribe", "topic": "a/#/b"}"#)
        .json();
    assert_eq!(bad["error"], "InvalidArgumentsError", "{bad}");
    let bad = d
        .invoke("free", r#"{"op": "publish", "topic": "a/+/b"}"#)
        .json();
    assert_eq!(bad["error"], "InvalidArgumentsError", "{bad}");
    let big = d
        .invoke(
            "free",
            r#"{"op": "publish", "topic": "big", "bytes": 135000}"#,
        )
        .json();
    assert_eq!(
        big["error"], "InvalidArgumentsError",
        "a message over 128 KB is refused: {big}"
    );
    assert!(
        big["message"]
            .as_str()
            .is_some_and(|m| m.contains("131072")),
        "{big}"
    );
    // A frame far over the limit closes the connection (the client reconnects next time).
    let huge = d
        .invoke(
            "free",
            r#"{"op": "publish", "topic": "big", "bytes": 400000}"#,
        )
        .json();
    assert_eq!(huge["ok"], false, "{huge}");
    assert_eq!(
        d.invoke("free", r#"{"op": "publish_iot", "topic": "t"}"#)
            .json(),
        json!({"ok": true})
    );

    // Outside a sandbox: a made-up token, then garbage instead of frames.
    let socket = d.data_dir.join("ipc.socket");
    let script = format!(
        "import os\nos.environ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT'] = {socket:?}\nos.environ['SVCUID'] = 'not-a-token'\nfrom awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2\ntry:\n    GreengrassCoreIPCClientV2()\n    print('connected')\nexcept Exception as e:\n    print('refused', type(e).__name__)\n",
        socket = socket.display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .env("PYTHONPATH", pip_cache("awsiotsdk"))
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("refused"),
        "an unknown token must be refused: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut raw = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    raw.write_all(&[0xff; 64]).expect("write garbage");
    let _ = raw.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut raw, &mut rest);
    assert!(metric(&d, "lambdalet_ipc_refused_tokens_total") >= 1);
    assert!(metric(&d, "lambdalet_ipc_protocol_errors_total") >= 1);
    assert!(metric(&d, "lambdalet_ipc_unauthorized_total") >= 2);
    assert_eq!(
        d.invoke("free", r#"{"op": "publish", "topic": "still/fine"}"#)
            .json(),
        json!({"ok": true}),
        "the daemon is unharmed"
    );
}

#[test]
fn ipc_subscription_streams_deliver_to_a_pinned_function() {
    let (d, _port, tmp) = start_with_mqtt();
    let dir = with_package("ipc-listener", "awsiotsdk", tmp.path());
    let heard = tmp.path().join("heard");
    std::fs::create_dir_all(&heard).expect("mkdir");
    let out = heard.join("heard.txt");
    let env = format!("OUT_FILE={}", out.display());
    let volume = crate::harness::volume_flag(&heard);
    deploy(
        &d,
        "listener",
        &dir,
        "app.handler",
        &["--pinned", "--env", &env, "--volume", &volume],
    );
    eventually(Duration::from_secs(30), "the pinned listener", || {
        d.lifecycle("listener")["instances"]["idle"] == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    for (topic, body) in [
        ("commands/a", r#"{"n": 1}"#),
        ("commands/b/c", r#"{"n": 2}"#),
        ("other", r#"{"n": 3}"#),
    ] {
        assert!(d.cli(&["publish", topic, body]).status.success());
    }
    eventually(Duration::from_secs(10), "two messages", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
            == 2
    });
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(
        lines[0],
        json!({"topic": "commands/a", "message": {"n": 1}})
    );
    assert_eq!(
        lines[1],
        json!({"topic": "commands/b/c", "message": {"n": 2}})
    );
}

#[test]
fn a_pinned_function_runs_a_burst_of_mqtt_messages_in_arrival_order() {
    let (d, port, tmp) = start_with_mqtt();
    let out = deploy_recorder(
        &d,
        tmp.path(),
        "in-order",
        &["--pinned", "--subscribe", "burst/+"],
    );
    eventually(Duration::from_secs(20), "the subscription", || {
        mqtt_pub(port, "burst/probe", r#"{"n": 0}"#);
        std::thread::sleep(Duration::from_millis(300));
        recorded(&out).contains(&0)
    });
    let before = recorded(&out).len();

    // 400 messages on one connection, as fast as mosquitto_pub sends them (QoS 1, so the
    // broker drops none): far closer together than the time to store one event.
    let n = 400u64;
    let mut publisher = mosquitto_pub(port)
        .args(["-q", "1", "-t", "burst/s1", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run mosquitto_pub");
    {
        let mut stdin = publisher.stdin.take().expect("stdin");
        for i in 1..=n {
            writeln!(stdin, r#"{{"n": {i}}}"#).expect("write to mosquitto_pub");
        }
    }
    assert!(publisher.wait().expect("mosquitto_pub").success());

    eventually(Duration::from_secs(60), "every message", || {
        recorded(&out).len() >= before + n as usize
    });
    let got: Vec<u64> = recorded(&out).into_iter().filter(|&x| x > 0).collect();
    let expected: Vec<u64> = (1..=n).collect();
    let first_out_of_order = got.windows(2).position(|w| w[1] != w[0] + 1);
    assert_eq!(
        got, expected,
        "a pinned function runs its events in the order they arrived (first break after index {first_out_of_order:?})"
    );
}

#[test]
fn greengrass_v1_publish_is_routed_by_legacy_subscriptions() {
    let (d, port, tmp) = start_with_mqtt();
    let dir = with_package("gg-v1", "greengrasssdk", tmp.path());
    deploy(&d, "v1", &dir, "app.publish", &[]);
    deploy_printer(&d, "v1-target", &[]);
    let missing = d.invoke("v1", r#"{"topic": "v1/out"}"#).json();
    assert_eq!(missing["ok"], false);
    let msg = missing["error"].as_str().expect("error");
    assert!(
        msg.contains("No subscription exists for the source") && msg.contains("v1/out"),
        "{msg}"
    );

    let subs = json!({"subscriptions": {
        "to-cloud": {"id": "to-cloud", "source": "arn:aws:lambda:us-east-1:000000000000:function:v1", "subject": "v1/#", "target": "cloud"},
        "to-fn": {"id": "to-fn", "source": "arn:aws:lambda:us-east-1:000000000000:function:v1", "subject": "v1/fn", "target": "arn:aws:lambda:us-east-1:000000000000:function:v1-target"},
        "from-cloud": {"id": "from-cloud", "source": "cloud", "subject": "commands/#", "target": "arn:aws:lambda:us-east-1:000000000000:function:v1-target"},
    }});
    let file = tmp.path().join("subs.json");
    std::fs::write(&file, subs.to_string()).expect("write");
    let o = d.cli(&["subscriptions", "--set", file.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cloud = MqttSub::start(port, "v1/#");
    assert_eq!(
        d.invoke("v1", r#"{"topic": "v1/out", "n": 1}"#).json(),
        json!({"ok": true})
    );
    assert_eq!(
        d.invoke("v1", r#"{"topic": "v1/fn", "n": 2}"#).json(),
        json!({"ok": true})
    );
    mqtt_pub(port, "commands/go", r#"{"n": 3}"#);
    eventually(Duration::from_secs(15), "the routed messages", || {
        cloud.lines().len() >= 2 && received(&d, "v1-target").len() == 2
    });
    assert!(
        cloud
            .lines()
            .iter()
            .any(|l| l.starts_with("v1/out ") && l.contains("\"n\": 1")),
        "{:?}",
        cloud.lines()
    );
    let subjects: Vec<String> = received(&d, "v1-target")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert!(
        subjects.contains(&"v1/fn".to_owned()) && subjects.contains(&"commands/go".to_owned()),
        "{subjects:?}"
    );

    // The subscriptions survive a restart, and bad ones are refused with the reason.
    let o = d.cli(&["subscriptions"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("to-cloud"));
    std::fs::write(&file, r#"{"subscriptions": {"x": {"id": "y", "source": "cloud", "subject": "a", "target": "cloud"}}}"#).expect("write");
    let o = d.cli(&["subscriptions", "--set", file.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must equal its id"));

    // greengrasssdk's Lambda client invokes other functions.
    deploy(&d, "v1-invoker", &dir, "app.invoke", &[]);
    let r = d
        .invoke(
            "v1-invoker",
            r#"{"target": "arn:aws:lambda:us-east-1:000000000000:function:v1-target"}"#,
        )
        .json();
    assert_eq!(r, json!({"payload": "ok", "error": ""}));
}

#[test]
fn a_flooding_mqtt_client_is_slowed_and_others_get_through() {
    let (d, port, tmp) = start_with_mqtt_and(&["--mqtt-client-rate", "20000"], &[]);
    deploy_printer(&d, "probe", &["--subscribe", "probe/#"]);
    let flooded = MqttSub::start(port, "flood/x");
    let flood_file = tmp.path().join("flood.txt");
    const FLOOD: usize = 100_000;
    let lines: String = (0..FLOOD)
        .map(|i| format!("{{\"flood\": {i}}}\n"))
        .collect();
    std::fs::write(&flood_file, lines).expect("write");
    // mosquitto_pub writes the whole flood into its socket at once; lambdalet lets it through
    // to the broker at 20 KB/s.
    let status = mosquitto_pub(port)
        .args(["-t", "flood/x", "-l"])
        .stdin(std::fs::File::open(&flood_file).expect("open"))
        .status()
        .expect("mosquitto_pub");
    assert!(status.success());
    for i in 0..3 {
        mqtt_pub(port, "probe/x", &format!("{{\"probe\": {i}}}"));
    }
    eventually(
        Duration::from_secs(15),
        "the probes, despite the flood",
        || received(&d, "probe").len() == 3,
    );
    let through = flooded.lines().len();
    assert!(
        through < FLOOD / 2,
        "the flood was slowed: {through} of {FLOOD} messages reached the broker"
    );
    assert!(d.log().contains("exceeds its rate limit"), "{}", d.log());
}

#[test]
fn async_destinations_can_be_local_topics() {
    let (d, _port, _tmp) = start_with_mqtt();
    d.create(
        "fails",
        &fixture("py-basic"),
        "python3.11",
        "app.raise_error",
        &[],
    );
    let config = json!({"OnFailure": {"Destination": "topic:failures/fails"}}).to_string();
    d.aws_ok(&[
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        "fails",
        "--maximum-retry-attempts",
        "0",
        "--destination-config",
        &config,
    ]);
    deploy_printer(&d, "dlq", &["--subscribe-local", "failures/#"]);
    let id = d.invoke_async("fails", r#"{"x": 1}"#);
    eventually(Duration::from_secs(15), "the record on the topic", || {
        !received(&d, "dlq").is_empty()
    });
    let (record, subject) = received(&d, "dlq").remove(0);
    assert_eq!(subject, "failures/fails");
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
}

/// An external Mosquitto server with a persistent store, restartable on the same port.
struct Mosquitto {
    port: u16,
    conf: PathBuf,
    child: Option<std::process::Child>,
}

impl Mosquitto {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, "allow_anonymous true\n")
    }

    /// With more configuration (e.g. a TLS listener) after the plain listener's.
    fn start_with(dir: &Path, extra: &str) -> Self {
        let port = free_port();
        let store = dir.join("mosquitto-store");
        std::fs::create_dir_all(&store).expect("mkdir");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\nmax_queued_messages 10000\nuser root\n{extra}",
                store.display()
            ),
        )
        .expect("write conf");
        let mut m = Self {
            port,
            conf,
            child: None,
        };
        m.restart();
        m
    }

    fn restart(&mut self) {
        assert!(self.child.is_none());
        // Debian puts the broker in /usr/sbin, which a non-root PATH may lack.
        let bin = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run mosquitto (Debian package mosquitto; `make test` installs it)");
        self.child = Some(child);
        eventually(Duration::from_secs(10), "mosquitto listening", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// SIGTERM: Mosquitto saves its sessions and queued messages, then exits.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        crate::harness::signal(child.id(), "TERM");
        child.wait().expect("mosquitto exits");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Deploys a function that appends each event's `n` to a file under `dir`; returns the file.
fn deploy_recorder(d: &Daemon, dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let code = dir.join(format!("{name}-code"));
    std::fs::create_dir_all(&code).expect("mkdir");
    std::fs::write(
        code.join("app.py"),
        "import os\ndef handler(event, context):\n    with open(os.environ['OUT'], 'a') as f:\n        f.write(str(event['n']) + '\\n')\n",
    )
    .expect("write");
    let shared = dir.join(format!("{name}-out"));
    std::fs::create_dir_all(&shared).expect("mkdir");
    let out = shared.join("received.txt");
    let env = format!("OUT={}", out.display());
    let volume = crate::harness::volume_flag(&shared);
    let mut args = extra.to_vec();
    args.extend(["--env", &env, "--volume", &volume]);
    deploy(d, name, &code, "app.handler", &args);
    out
}

/// The numbers a recording function has appended to its file.
fn recorded(file: &Path) -> Vec<u64> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn remote_broker_restarts_mid_stream_lose_no_qos1_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut broker = Mosquitto::start(tmp.path());
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut d = Daemon::start_with(&data, "serve", &["--mqtt-remote", &url]);

    let out = deploy_recorder(&d, tmp.path(), "recorder", &["--subscribe", "sensors/#"]);

    // The subscription is made in the background: probe until it is in place.
    eventually(
        Duration::from_secs(20),
        "the subscription at the remote broker",
        || {
            mqtt_pub(broker.port, "sensors/probe", r#"{"n": 0}"#);
            std::thread::sleep(Duration::from_millis(300));
            recorded(&out).contains(&0)
        },
    );

    // lambdalet publishes to the remote broker too.
    let alerts = MqttSub::start(broker.port, "alerts/#");
    let o = d.cli(&["publish", "--mqtt", "alerts/a1", r#"{"level": "high"}"#]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eventually(
        Duration::from_secs(10),
        "the alert at the remote broker",
        || {
            alerts
                .lines()
                .iter()
                .any(|l| l.contains("alerts/a1") && l.contains("high"))
        },
    );
    drop(alerts);

    // A sensor publishes 1..=60 with QoS 1, retrying each message until the broker takes it.
    let port = broker.port;
    let publisher = std::thread::spawn(move || {
        for n in 1..=60u64 {
            loop {
                let ok = mosquitto_pub(port)
                    .args(["-q", "1"])
                    .args(["-t", "sensors/s1", "-m", &format!(r#"{{"n": {n}}}"#)])
                    .stderr(Stdio::null())
                    .status()
                    .expect("run mosquitto_pub")
                    .success();
                if ok {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    });

    // The broker restarts mid-stream ...
    eventually(Duration::from_secs(30), "the first messages", || {
        recorded(&out).len() > 10
    });
    broker.stop();
    std::thread::sleep(Duration::from_millis(700));
    broker.restart();
    // ... and later lambdalet itself stops while the sensor keeps publishing.
    eventually(
        Duration::from_secs(30),
        "messages after the broker restart",
        || recorded(&out).iter().any(|&n| n > 30),
    );
    d.stop();
    std::thread::sleep(Duration::from_secs(1));
    let mut d = Daemon::start_with(&data, "serve", &["--mqtt-remote", &url]);
    publisher.join().expect("publisher");

    let expected: std::collections::BTreeSet<u64> = (0..=60).collect();
    eventually(Duration::from_secs(60), "every message", || {
        recorded(&out)
            .into_iter()
            .collect::<std::collections::BTreeSet<u64>>()
            == expected
    });
    assert!(
        d.log().contains("session_present=true"),
        "the restarted daemon resumed its session: {}",
        d.log()
    );
    let o = d.stop();
    assert!(o.success());
}

fn openssl(args: &[&str], dir: &Path) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl; `make test` installs it)");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A test CA, and certificates it signs for a server (localhost) and a client.
pub(crate) fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend_from_slice(&ec);
    ca.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=lambdalet test CA",
    ]);
    openssl(&ca, dir);
    for (name, cn, ext) in [
        (
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ),
        (
            "client",
            "lambdalet-test-device",
            "extendedKeyUsage=clientAuth",
        ),
    ] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subj = format!("/CN={cn}");
        let mut req = vec!["req"];
        req.extend_from_slice(&ec);
        req.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(&req, dir);
        let extfile = format!("{name}.ext");
        std::fs::write(dir.join(&extfile), ext).expect("write");
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
            dir,
        );
    }
}

#[test]
fn remote_broker_over_tls_with_a_client_certificate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    make_certificates(&certs);
    let tls_port = free_port();
    let c = |f: &str| certs.join(f).display().to_string();
    let broker = Mosquitto::start_with(
        tmp.path(),
        &format!(
            "allow_anonymous true\nlistener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            c("ca.crt"),
            c("server.crt"),
            c("server.key")
        ),
    );
    let url = format!("mqtts://localhost:{tls_port}");
    let (ca, cert, key) = (c("ca.crt"), c("client.crt"), c("client.key"));

    // Without the client certificate the broker refuses lambdalet, which keeps retrying and
    // says why.
    let data = tmp.path().join("data-nocert");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut refused =
        Daemon::start_with(&data, "serve", &["--mqtt-remote", &url, "--mqtt-ca", &ca]);
    eventually(Duration::from_secs(20), "the refusal in the log", || {
        refused.log().contains("cannot connect to the MQTT broker")
    });
    assert!(
        refused.log().contains("pass --mqtt-cert and --mqtt-key"),
        "{}",
        refused.log()
    );
    refused.stop();

    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let d = Daemon::start_with(
        &data,
        "serve",
        &[
            "--mqtt-remote",
            &url,
            "--mqtt-ca",
            &ca,
            "--mqtt-cert",
            &cert,
            "--mqtt-key",
            &key,
            "--mqtt-client-id",
            "device-7",
        ],
    );
    deploy_printer(&d, "on-tls", &["--subscribe", "factory/+/temp"]);
    eventually(Duration::from_secs(20), "a message over TLS", || {
        mqtt_pub(broker.port, "factory/line1/temp", r#"{"c": 80}"#);
        std::thread::sleep(Duration::from_millis(300));
        !received(&d, "on-tls").is_empty()
    });
    assert_eq!(
        received(&d, "on-tls")[0],
        (json!({"c": 80}), "factory/line1/temp".to_owned())
    );
    assert!(
        d.log().contains("connected to the remote MQTT broker"),
        "{}",
        d.log()
    );
}

#[test]
fn remote_broker_with_username_and_password() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let passwd = tmp.path().join("passwd");
    let o = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwd)
        .args(["edge", "s3cret"])
        .output()
        .expect("run mosquitto_passwd (Debian package mosquitto)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let broker = Mosquitto::start_with(
        tmp.path(),
        &format!(
            "allow_anonymous false\npassword_file {}\n",
            passwd.display()
        ),
    );
    let url = format!("mqtt://127.0.0.1:{}", broker.port);

    let data = tmp.path().join("wrong");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut wrong = Daemon::start_with(
        &data,
        "serve",
        &[
            "--mqtt-remote",
            &url,
            "--mqtt-username",
            "edge",
            "--mqtt-password",
            "nope",
        ],
    );
    eventually(Duration::from_secs(20), "the refusal in the log", || {
        wrong
            .log()
            .contains("check --mqtt-username and --mqtt-password")
    });
    wrong.stop();

    let data = tmp.path().join("right");
    std::fs::create_dir_all(&data).expect("mkdir");
    let d = Daemon::start_env(
        &data,
        "serve",
        &["--mqtt-remote", &url, "--mqtt-username", "edge"],
        &[("LAMBDALET_MQTT_PASSWORD", "s3cret")],
    );
    deploy_printer(&d, "on-auth", &["--subscribe", "door/#"]);
    eventually(
        Duration::from_secs(20),
        "a message through the authenticated link",
        || {
            let ok = mosquitto_pub(broker.port)
                .args(["-u", "edge", "-P", "s3cret"])
                .args(["-q", "1", "-t", "door/front", "-m", r#"{"open": true}"#])
                .status()
                .expect("mosquitto_pub")
                .success();
            assert!(ok, "mosquitto_pub with the password");
            std::thread::sleep(Duration::from_millis(300));
            !received(&d, "on-auth").is_empty()
        },
    );
    assert!(
        !d.log().contains("s3cret"),
        "the password never reaches the log"
    );
}

#[test]
fn up_uses_an_mqtt_broker_already_on_its_port() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(tmp.path());
    let listen = format!("127.0.0.1:{}", broker.port);
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let d = Daemon::start_with(&data, "up", &["--mqtt-listen", &listen]);
    eventually(Duration::from_secs(30), "the banner", || {
        d.log().contains("lambdalet is up")
    });
    assert!(
        d.log()
            .contains(&format!("MQTT         remote broker mqtt://{listen}")),
        "{}",
        d.log()
    );
    let checked = MqttSub::start(broker.port, "sensors/checked");
    eventually(
        Duration::from_secs(20),
        "a verdict through Mosquitto",
        || {
            mqtt_pub(broker.port, "sensors/t9/temperature", r#"{"celsius": 40}"#);
            std::thread::sleep(Duration::from_millis(300));
            checked
                .lines()
                .iter()
                .any(|l| l.contains(r#""sensor":"t9""#))
        },
    );
}
