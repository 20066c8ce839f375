//! Offline (issue 15): `up`, deploy and invoke on a machine with no network, and nothing they
//! do tries to leave the host.
//!
//! The daemon and the client run in a network namespace that has only loopback, under strace,
//! which records every address a process sends to or connects to; any that is not loopback
//! fails the test.

use std::process::Command;

use std::time::Duration;

use crate::harness::{Daemon, LAMBDALET, eventually, repo};

/// The system calls that name a peer.
const TRACE: &str = "trace=connect,sendto,sendmsg,sendmmsg";

#[test]
fn the_quick_start_works_with_no_network_and_never_tries_one() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: a network namespace of its own needs root");
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        println!("skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let daemon_trace = tmp.path().join("daemon.trace");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "--",
        "sh",
        "-c",
        r#"ip link set lo up && exec strace -f -qq -e "$TRACE" -o "$OUT" "$@""#,
        "sh",
        LAMBDALET,
    ])
    .env("TRACE", TRACE)
    .env("OUT", &daemon_trace);
    let d = Daemon::start_cmd(
        cmd,
        &tmp.path().join("data"),
        "up",
        &[
            "--listen",
            "127.0.0.1:9001",
            "--mqtt-listen",
            "127.0.0.1:1883",
            "--s3-listen",
            "127.0.0.1:9002",
            "--url-listen",
            "127.0.0.1:9003",
        ],
        &[],
    );
    let netns = format!("--net=/proc/{}/ns/net", d.pid());
    let client = |trace: &str, args: &[&str]| {
        let out = Command::new("nsenter")
            .args([
                netns.as_str(),
                "--",
                "strace",
                "-f",
                "-qq",
                "-e",
                TRACE,
                "-o",
            ])
            .arg(tmp.path().join(trace))
            .arg(LAMBDALET)
            .args(args)
            .env("LAMBDALET_ENDPOINT", &d.url)
            .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "lambdalet {args:?}: {text}{}\n--- daemon ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            d.log()
        );
        text
    };
    // `up` deploys the examples after it starts listening; the background remover's is last.
    eventually(Duration::from_secs(60), "the examples", || {
        d.log().contains("example deployed") || d.log().contains("example not deployed")
    });
    // The README's first command after `make up`.
    let out = client(
        "invoke-example.trace",
        &["invoke", "hello-python", "--payload", r#"{"name":"edge"}"#],
    );
    assert!(out.contains("hello, edge"), "{out}");
    // And a function of one's own.
    let code = tmp.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(
        repo().join("examples/hello-python/app.py"),
        code.join("app.py"),
    )
    .unwrap();
    client(
        "deploy.trace",
        &[
            "deploy",
            code.to_str().unwrap(),
            "--name",
            "mine",
            "--handler",
            "app.handler",
        ],
    );
    let out = client(
        "invoke.trace",
        &["invoke", "mine", "--payload", r#"{"name":"offline"}"#],
    );
    assert!(out.contains("hello, offline"), "{out}");
    drop(d);

    let mut peers = 0;
    for trace in [
        "daemon.trace",
        "invoke-example.trace",
        "deploy.trace",
        "invoke.trace",
    ] {
        let text = std::fs::read_to_string(tmp.path().join(trace)).unwrap();
        for line in text.lines() {
            if let Some(addr) = inet_peer(line) {
                peers += 1;
                assert!(is_loopback(&addr), "{trace}: a peer off the host: {line}");
            }
        }
    }
    assert!(peers > 0, "the traces saw the client reach the daemon");
}

/// The IPv4 or IPv6 address a traced call names, if it names one.
fn inet_peer(line: &str) -> Option<String> {
    for key in ["inet_addr(\"", "inet_pton(AF_INET6, \""] {
        if let Some(i) = line.find(key) {
            let rest = &line[i + key.len()..];
            return rest.split('"').next().map(str::to_owned);
        }
    }
    None
}

fn is_loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback() || a.is_unspecified())
        || addr
            .strip_prefix("::ffff:")
            .is_some_and(|v4| v4.starts_with("127."))
}
