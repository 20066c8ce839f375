//! Who may connect to the embedded MQTT broker, with mosquitto clients against the real
//! daemon: anonymous clients refused on a network address (and the log says why),
//! `--mqtt-auth none` with its warning, TLS with client certificates, bad TLS flags.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::{Daemon, LAMBDALET, eventually, free_port, mosquitto_pub};

/// A daemon whose embedded broker listens on all interfaces, with extra flags.
fn on_the_network(extra: &[&str]) -> (Daemon, u16, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut args = vec!["--mqtt-listen", listen.as_str()];
    args.extend_from_slice(extra);
    let d = Daemon::start_with(&tmp.path().join("data"), "serve", &args);
    (d, port, tmp)
}

fn publish(cmd: &mut Command) -> Output {
    cmd.args(["-t", "sensors/t1", "-m", "21.5", "-q", "1"])
        .output()
        .expect("run mosquitto_pub (Debian package mosquitto-clients; `make test` installs it)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn anonymous_mqtt_is_refused_on_a_network_address_and_the_log_says_why() {
    let (d, port, _tmp) = on_the_network(&[]);
    assert!(
        d.log()
            .contains("clients log in with a username and password"),
        "{}",
        d.log()
    );
    assert!(
        d.log()
            .contains("send their secret access keys unencrypted: add --mqtt-tls-cert"),
        "{}",
        d.log()
    );

    let o = publish(&mut mosquitto_pub(port));
    assert!(!o.status.success(), "anonymous publish refused");
    assert!(text(&o).contains("not authori"), "{}", text(&o));
    eventually(Duration::from_secs(10), "the refusal in the log", || {
        d.log()
            .contains("MQTT client refused: it gave no username and password")
    });
    assert!(d.log().contains("CONNACK return code 5"), "{}", d.log());

    let o = publish(mosquitto_pub(port).args(["-u", "LKIAEXAMPLE", "-P", "hunter2-secret"]));
    assert!(!o.status.success(), "a login no key matches is refused");
    eventually(Duration::from_secs(10), "the second refusal", || {
        d.log().contains("no access key has this id and secret")
    });
    let log = d.log();
    assert!(log.contains("LKIAEXAMPLE"), "the username is logged: {log}");
    assert!(!log.contains("hunter2"), "never the password: {log}");
    let metrics = d.http("GET", "/metrics", None, &[]).text();
    assert!(
        metrics.contains("\nlambdalet_mqtt_clients_refused_credentials_total 2\n"),
        "{metrics}"
    );
}

#[test]
fn mqtt_auth_none_on_a_network_address_lets_anyone_in_and_warns() {
    let (d, port, _tmp) = on_the_network(&["--mqtt-auth", "none"]);
    let warning = format!("anyone who reaches 0.0.0.0:{port} can publish and subscribe");
    assert!(d.log().contains(&warning), "{}", d.log());
    let o = publish(&mut mosquitto_pub(port));
    assert!(o.status.success(), "{}", text(&o));

    // On loopback the default is none, with no warning.
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let d = Daemon::start_with(tmp.path(), "serve", &["--mqtt-listen", &listen]);
    assert!(d.log().contains("anonymous clients allowed"), "{}", d.log());
    assert!(!d.log().contains("anyone who reaches"), "{}", d.log());
    let o = publish(&mut mosquitto_pub(port));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn mqtt_client_certificates_signed_by_the_client_ca_log_in() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    crate::events::make_certificates(&certs);
    let c = |f: &str| certs.join(f).display().to_string();
    let (d, port, _data) = on_the_network(&[
        "--mqtt-tls-cert",
        &c("server.crt"),
        "--mqtt-tls-key",
        &c("server.key"),
        "--mqtt-client-ca",
        &c("ca.crt"),
    ]);
    assert!(
        d.log().contains(&format!("mqtts://0.0.0.0:{port}")),
        "{}",
        d.log()
    );
    let tls = |with_cert: bool| {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "--cafile",
            &c("ca.crt"),
        ]);
        if with_cert {
            cmd.args(["--cert", &c("client.crt"), "--key", &c("client.key")]);
        }
        cmd
    };

    // A subscriber and a publisher with certificates and no password.
    let sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "--cafile",
            &c("ca.crt"),
        ])
        .args(["--cert", &c("client.crt"), "--key", &c("client.key")])
        .args(["-t", "sensors/#", "-C", "1", "-W", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mosquitto_sub");
    std::thread::sleep(Duration::from_millis(500));
    let o = publish(&mut tls(true));
    assert!(o.status.success(), "{}", text(&o));
    let got = sub.wait_with_output().expect("mosquitto_sub");
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        "21.5",
        "{}",
        text(&got)
    );

    // Without a certificate: refused in the TLS handshake, and the log says why.
    let o = publish(&mut tls(false));
    assert!(
        !o.status.success(),
        "a client without a certificate is refused"
    );
    eventually(Duration::from_secs(10), "the refusal in the log", || {
        d.log().contains("it presented no client certificate")
    });
}

/// Runs `lambdalet serve` with `extra`, expecting it to refuse to start.
fn refused_start(extra: &[&str]) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = Command::new("timeout")
        .args([
            "30",
            LAMBDALET,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(tmp.path())
        .args(extra)
        .output()
        .expect("run lambdalet");
    assert!(!o.status.success(), "started with {extra:?}");
    assert_ne!(
        o.status.code(),
        Some(124),
        "still running after 30 s with {extra:?}"
    );
    text(&o)
}

#[test]
fn bad_mqtt_tls_flags_stop_the_daemon_naming_the_flag() {
    let listen = format!("127.0.0.1:{}", free_port());
    let e = refused_start(&[
        "--mqtt-listen",
        &listen,
        "--mqtt-tls-cert",
        "/nonexistent/server.crt",
        "--mqtt-tls-key",
        "/nonexistent/server.key",
    ]);
    assert!(
        e.contains("--mqtt-tls-cert /nonexistent/server.crt: cannot read it"),
        "{e}"
    );
    let e = refused_start(&["--mqtt-listen", &listen, "--mqtt-client-ca", "/x/ca.crt"]);
    assert!(e.contains("--mqtt-tls-cert"), "{e}");
}

#[test]
fn an_administrators_key_logs_in_to_mqtt_and_a_functions_own_does_not() {
    let (d, port, _tmp) = on_the_network(&[]);
    let made = d.http(
        "POST",
        "/lambdalet/v1/keys",
        Some(b"{\"Description\": \"mqtt\"}"),
        &[],
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let key = made.json();
    let (id, secret) = (
        key["AccessKeyId"].as_str().expect("id"),
        key["SecretAccessKey"].as_str().expect("secret"),
    );
    let o = publish(mosquitto_pub(port).args(["-u", id, "-P", secret]));
    assert!(o.status.success(), "the key logs in: {}", text(&o));
    let o = publish(mosquitto_pub(port).args(["-u", id, "-P", "not-the-secret"]));
    assert!(!o.status.success(), "a wrong secret is refused");

    // A function's own key, as its sandbox sees it, is no MQTT login.
    crate::containment::deploy_escape(&d, "fn1", "app.identity", &["--sandbox", "process"]);
    let env = crate::containment::call(&d, "fn1", serde_json::json!({}))["env"].clone();
    let (own, own_secret) = (
        env["AWS_ACCESS_KEY_ID"].as_str().expect("fn1's key id"),
        env["AWS_SECRET_ACCESS_KEY"].as_str().expect("fn1's secret"),
    );
    let o = publish(mosquitto_pub(port).args(["-u", own, "-P", own_secret]));
    assert!(!o.status.success(), "a function's own key is no MQTT login");
}
