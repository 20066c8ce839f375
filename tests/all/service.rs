//! Running as a service (issue 15): the configuration file and its precedence, systemd's
//! readiness and watchdog protocol, and defaults sized from the memory lambdalet may use.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Daemon, LAMBDALET};

/// A flag beats its environment variable, which beats the file; the file fills in the rest.
#[test]
fn the_config_file_fills_in_what_flags_and_environment_leave_unset() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        "# as in /etc/lambdalet/config.toml\n\
         region = \"eu-west-2\"\n\
         account_id = \"111111111111\"\n\
         log-format = \"json\"\n\
         listen = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let config_env = config.to_str().unwrap();
    let d = Daemon::start_env(
        &data,
        "serve",
        &["--region", "ap-south-1"],
        &[
            ("LAMBDALET_CONFIG", config_env),
            ("LAMBDALET_ACCOUNT_ID", "222222222222"),
        ],
    );
    assert!(
        !d.url.ends_with(":1"),
        "the harness's --listen wins: {}",
        d.url
    );
    let code = tmp.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(code.join("app.py"), "def handler(e, c):\n    return 1\n").unwrap();
    let f = d.create("cfg", &code, "python3.11", "app.handler", &[]);
    assert_eq!(
        f["FunctionArn"], "arn:aws:lambda:ap-south-1:222222222222:function:cfg",
        "--region from the command line, the account from the environment"
    );
    let log = d.log();
    let first = log.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "log-format = \"json\" came from the file: {first}"
    );
    assert!(
        log.contains(&format!("settings from {}", config.display())),
        "{log}"
    );
}

/// A mistake in the file stops the daemon with the file's name and what is wrong.
#[test]
fn a_bad_config_file_is_refused_with_its_name_and_the_mistake() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    for (text, expect) in [
        ("max-concurency = 8\n", "`max-concurency` is not a setting"),
        ("listen = [\n", "TOML parse error"),
        ("max-concurrency = 0\n", "--max-concurrency"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(LAMBDALET)
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--data-dir"])
            .arg(tmp.path().join("data"))
            .args(["--listen", "127.0.0.1:0", "--mqtt-listen", "off"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expect), "{text}: {err}");
        if !expect.starts_with("--") {
            assert!(err.contains(&config.display().to_string()), "{err}");
        }
    }
    let missing = tmp.path().join("missing.toml");
    let out = Command::new(LAMBDALET)
        .args(["serve", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the configuration file") && err.contains("missing.toml"),
        "{err}"
    );
}

/// Messages a fake systemd receives on its notification socket until `until` matches one.
fn receive_until(socket: &UnixDatagram, limit: Duration, until: &str) -> Vec<String> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        if let Ok(n) = socket.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains(until);
            got.push(m);
            if done {
                break;
            }
        }
    }
    got
}

/// `Type=notify`: READY=1 once the API answers, WATCHDOG=1 at half the watchdog's timeout,
/// STOPPING=1 on SIGTERM.
#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut d = Daemon::start_env(
        &tmp.path().join("data"),
        "serve",
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let ready = receive_until(&socket, Duration::from_secs(30), "READY=1");
    let last = ready.last().cloned().unwrap_or_default();
    assert!(
        last.contains("READY=1") && last.contains("STATUS=serving 0 functions"),
        "{ready:?}"
    );
    // Ready means ready: the API answers at once.
    let r = d.http("GET", "/2015-03-31/functions", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let start = Instant::now();
    let mut pings = 0;
    while pings < 3 && start.elapsed() < Duration::from_secs(5) {
        let got = receive_until(&socket, Duration::from_secs(1), "WATCHDOG=1");
        pings += got.iter().filter(|m| *m == "WATCHDOG=1").count();
    }
    assert!(pings >= 3, "three pings in {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "pings every 200 ms, not {:?} for three",
        start.elapsed()
    );
    // SIGTERM, and the daemon's exit; the messages wait in the socket's buffer.
    assert!(d.stop().success(), "{}", d.log());
    let stopping = receive_until(&socket, Duration::from_secs(10), "STOPPING=1");
    assert!(
        stopping.iter().any(|m| m.starts_with("STOPPING=1")),
        "{stopping:?}"
    );
}

/// On a 64 MB device the defaults shrink: at most two sandboxes, so a third invocation waits.
#[test]
fn a_small_memory_budget_limits_sandboxes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&tmp.path().join("data"), "serve", &["--memory", "64M"]);
    assert!(
        d.log()
            .contains("memory: 64 MB (--memory); max concurrency 2, queued payloads in memory 1 MB, broker clients 64"),
        "{}",
        d.log()
    );
    let code = tmp.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("app.py"),
        "import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return e\n",
    )
    .unwrap();
    d.deploy_python(&code, "slow", "app.handler", &["--timeout", "30"]);
    let start = Instant::now();
    let d = &d;
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..3)
            .map(|i| s.spawn(move || d.invoke("slow", &i.to_string())))
            .collect();
        for c in calls {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
        }
    });
    assert!(
        start.elapsed() >= Duration::from_millis(3000),
        "three 1.5 s invocations on two sandboxes take two rounds, not {:?}",
        start.elapsed()
    );
    let d2 = Daemon::start_with(
        &tmp.path().join("data2"),
        "serve",
        &["--memory", "64M", "--max-concurrency", "5"],
    );
    assert!(d2.log().contains("max concurrency 5"), "{}", d2.log());
}
