//! Access control of the Lambda API: functions' own credentials and sandboxes' rights, keys,
//! signatures on a network listen, presigned code URLs. Run as an attacker inside a function
//! (both backends), a stranger on the network, and the operator with `lambdalet keys`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::containment::{call, container_daemon, deploy_escape, function};
use crate::harness::{Daemon, LAMBDALET, aws_env, curl, fixture, python_script_env, zip_file};

/// An access key printed by `lambdalet keys create`.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

pub fn key_from_output(out: &Output) -> Key {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys create failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    Key {
        id: field("AccessKeyId:"),
        secret: field("SecretAccessKey:"),
    }
}

/// An administrator's key made offline (`keys create --no-save --data-dir`) for the daemon
/// that will run on `data_dir`.
pub fn new_key(data_dir: &Path) -> Key {
    let made = Command::new(LAMBDALET)
        .args(["keys", "create", "--no-save", "--data-dir"])
        .arg(data_dir)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .output()
        .expect("keys create");
    key_from_output(&made)
}

/// `lambdalet` as a client with its configuration under `config` (where keys are saved).
fn client(config: &Path, endpoint: &str, args: &[&str]) -> Output {
    Command::new(LAMBDALET)
        .args(args)
        .env("LAMBDALET_ENDPOINT", endpoint)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("LAMBDALET_ACCESS_KEY_ID")
        .env_remove("LAMBDALET_SECRET_ACCESS_KEY")
        .output()
        .expect("run lambdalet")
}

/// The AWS CLI with `key`.
fn aws_as(endpoint: &str, key: &Key, args: &[&str]) -> Output {
    aws_with_token(endpoint, key, None, args)
}

/// The AWS CLI with `key` and a session token.
fn aws_with_token(endpoint: &str, key: &Key, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("aws");
    cmd.args(["--endpoint-url", endpoint, "--output", "json"])
        .args(args);
    aws_env(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", &key.id)
        .env("AWS_SECRET_ACCESS_KEY", &key.secret);
    if let Some(t) = token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
    cmd.output().expect("run aws")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a function may do with its own credentials, and that coming from its sandbox caps a
/// request at its rights whatever key it carries.
fn a_function_invokes_but_does_not_manage(d: &Daemon, sandbox: &str) {
    deploy_escape(d, "target", "app.identity", &["--sandbox", sandbox]);
    deploy_escape(d, "caller", "app.api", &["--sandbox", sandbox]);
    let calls = json!([
        {"op": "invoke", "name": "target"},
        {"op": "get", "name": "target"},
        {"op": "list"},
        {"op": "delete", "name": "target"},
        {"op": "unsigned_delete", "name": "target"},
    ]);
    let got = call(d, "caller", json!({ "calls": calls }));
    assert_eq!(got["invoke"], "OK", "{got}\n{}", d.log());
    for op in ["get", "list", "delete", "unsigned_delete"] {
        assert_eq!(got[op], "AccessDeniedException", "{op}: {got}");
    }
    function(d, "target");

    // An administrator's key handed to the function does not lift it.
    let admin = d.http(
        "POST",
        "/lambdalet/v1/keys",
        Some(b"{\"Description\": \"t\"}"),
        &[],
    );
    assert_eq!(admin.status, 201, "{}", admin.text());
    let admin = admin.json();
    let with_admin = json!({
        "credentials": {"id": admin["AccessKeyId"], "secret": admin["SecretAccessKey"]},
        "calls": [{"op": "delete", "name": "target"}],
    });
    let got = call(d, "caller", with_admin);
    assert_eq!(got["delete"], "AccessDeniedException", "{got}");

    // Another function's credentials are refused outright in this one's sandbox.
    let target_env = call(d, "target", json!({}))["env"].clone();
    let (tid, tsecret) = (
        target_env["AWS_ACCESS_KEY_ID"]
            .as_str()
            .expect("target has its own key"),
        target_env["AWS_SECRET_ACCESS_KEY"]
            .as_str()
            .expect("and its secret"),
    );
    assert!(tid.starts_with("LKIA"), "{tid}");
    let got = call(
        d,
        "caller",
        json!({"credentials": {"id": tid, "secret": tsecret}, "calls": [{"op": "invoke", "name": "target"}]}),
    );
    assert_eq!(got["invoke"], "AccessDeniedException", "{got}");

    // From the host, a function's key is worth that function's rights.
    let key = Key {
        id: tid.to_owned(),
        secret: tsecret.to_owned(),
    };
    let del = aws_as(
        &d.url,
        &key,
        &["lambda", "delete-function", "--function-name", "caller"],
    );
    assert!(
        !del.status.success() && stderr(&del).contains("AccessDeniedException"),
        "{}",
        stderr(&del)
    );
    let list = aws_as(&d.url, &key, &["lambda", "list-functions"]);
    assert!(
        stderr(&list).contains("AccessDeniedException"),
        "{}",
        stderr(&list)
    );
    // With its session token, as a function sends it; a token that is not its own is refused.
    let token = target_env["AWS_SESSION_TOKEN"]
        .as_str()
        .expect("a session token");
    let invoke = ["lambda", "invoke", "--function-name", "target", "/dev/null"];
    let ok = aws_with_token(&d.url, &key, Some(token), &invoke);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = aws_with_token(&d.url, &key, Some("not-its-token"), &invoke);
    assert!(
        stderr(&bad).contains("UnrecognizedClientException"),
        "{}",
        stderr(&bad)
    );

    // accessControl narrows what it may invoke...
    let policy = json!({"accessControl": {"lambdalet.lambda": {"p": {
        "operations": ["lambda:InvokeFunction"], "resources": ["orders-*"]}}}});
    let put = d.http(
        "PUT",
        "/lambdalet/v1/functions/caller/configuration",
        Some(policy.to_string().as_bytes()),
        &[],
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let got = call(
        d,
        "caller",
        json!({"calls": [{"op": "invoke", "name": "target"}]}),
    );
    assert_eq!(got["invoke"], "AccessDeniedException", "{got}");

    // ...and allowManagement lets it manage.
    let put = d.http(
        "PUT",
        "/lambdalet/v1/functions/caller/configuration",
        Some(b"{\"allowManagement\": true}"),
        &[],
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let got = call(
        d,
        "caller",
        json!({"calls": [{"op": "delete", "name": "target"}]}),
    );
    assert_eq!(got["delete"], "OK", "{got}");
    let gone = d.http("GET", "/2015-03-31/functions/target", None, &[]);
    assert_eq!(gone.status, 404);
}

#[test]
fn a_container_function_invokes_but_does_not_manage() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    a_function_invokes_but_does_not_manage(&d, "container");
}

#[test]
fn a_process_function_invokes_but_does_not_manage() {
    let d = Daemon::start();
    a_function_invokes_but_does_not_manage(&d, "process");
}

#[test]
fn keys_are_made_listed_and_deleted_and_a_functions_own_goes_with_it() {
    let d = Daemon::start();
    let config = tempfile::tempdir().expect("tempdir");
    d.deploy_python(&fixture("py-basic"), "fn1", "app.handler", &[]);
    let made = client(
        config.path(),
        &d.url,
        &["keys", "create", "--description", "ops laptop"],
    );
    let key = key_from_output(&made);
    let saved = config.path().join("lambdalet/credentials");
    let mode = std::fs::metadata(&saved)
        .expect("saved")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
    assert!(
        std::fs::read_to_string(&saved)
            .expect("read")
            .contains(&key.secret)
    );

    let list = client(config.path(), &d.url, &["keys", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains(&key.id) && text.contains("ops laptop"),
        "{text}"
    );
    assert!(text.contains("function fn1"), "{text}");
    assert!(
        !text.contains(&key.secret),
        "secrets are never listed: {text}"
    );
    let own = text
        .lines()
        .find(|l| l.contains("function fn1"))
        .and_then(|l| l.split_whitespace().next())
        .expect("fn1's key")
        .to_owned();
    let refused = client(config.path(), &d.url, &["keys", "delete", &own]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("deleted with the function"),
        "{}",
        stderr(&refused)
    );

    let del = client(config.path(), &d.url, &["keys", "delete", &key.id]);
    assert!(del.status.success(), "{}", stderr(&del));
    assert!(d.cli(&["functions", "delete", "fn1"]).status.success());
    let text = String::from_utf8_lossy(&client(config.path(), &d.url, &["keys", "list"]).stdout)
        .into_owned();
    assert!(!text.contains(&key.id) && !text.contains(&own), "{text}");
}

/// Starts a daemon on `0.0.0.0`, returning it and the loopback URL to reach it by.
fn network_daemon(data: &Path, extra: &[&str]) -> (Daemon, String) {
    let d = Daemon::start_listen(data, "0.0.0.0:0", extra);
    let url = d.url.replace("0.0.0.0", "127.0.0.1");
    (d, url)
}

#[test]
fn a_network_listen_takes_only_signed_requests_from_known_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, config) = (tmp.path().join("data"), tmp.path().join("config"));
    std::fs::create_dir(&data).expect("data dir");
    // Without keys, a daemon that listens on the network does not start.
    let first = Command::new(LAMBDALET)
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--mqtt-listen",
            "off",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("run lambdalet");
    assert!(!first.status.success(), "started without keys");
    let why = stderr(&first);
    assert!(why.contains("lambdalet keys create --data-dir"), "{why}");

    let data_arg = data.to_str().expect("utf-8");
    let key = key_from_output(&client(
        &config,
        "http://unused",
        &["keys", "create", "--data-dir", data_arg],
    ));
    let (d, url) = network_daemon(&data, &[]);

    // A stranger: unsigned, unknown key, wrong secret, tampered body.
    let unsigned = curl("GET", &format!("{url}/2015-03-31/functions/"), None, &[]);
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.error_type(), "MissingAuthenticationTokenException");
    let stranger = Key {
        id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: "x".into(),
    };
    let o = aws_as(&url, &stranger, &["lambda", "list-functions"]);
    assert!(
        stderr(&o).contains("UnrecognizedClientException"),
        "{}",
        stderr(&o)
    );
    let wrong = Key {
        id: key.id.clone(),
        secret: "not-the-secret".into(),
    };
    let o = aws_as(&url, &wrong, &["lambda", "list-functions"]);
    assert!(
        stderr(&o).contains("InvalidSignatureException"),
        "{}",
        stderr(&o)
    );
    let health = curl("GET", &format!("{url}/lambdalet/v1/health"), None, &[]);
    assert_eq!(health.status, 200, "health stays open");
    assert!(d.log().contains("api.unsigned"), "refusals are logged");

    // The operator: the AWS CLI, boto3 and lambdalet's own commands with the key.
    let zip = zip_file(&fixture("py-basic"));
    let zip_arg = format!("fileb://{}", zip.path().display());
    let made = aws_as(
        &url,
        &key,
        &[
            "lambda",
            "create-function",
            "--function-name",
            "net",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--role",
            "arn:aws:iam::000000000000:role/x",
            "--zip-file",
            &zip_arg,
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let listed = client(&config, &url, &["functions", "list"]);
    assert!(
        listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains("net"),
        "{}",
        stderr(&listed)
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", key.id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key.secret.as_str()),
    ];
    let out = python_script_env(
        "boto3_flow.py",
        &[&url, zip.path().to_str().expect("utf-8")],
        &env,
    );
    assert_eq!(out["status"], 200, "{out}");

    // Code.Location is presigned: it works as given, not without or with another signature.
    let got = aws_as(
        &url,
        &key,
        &["lambda", "get-function", "--function-name", "net"],
    );
    assert!(got.status.success(), "{}", stderr(&got));
    let got: Value = serde_json::from_slice(&got.stdout).expect("json");
    let location = got["Code"]["Location"]
        .as_str()
        .expect("location")
        .to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let zip_back = curl("GET", &location, None, &[]);
    assert_eq!(zip_back.status, 200, "{}", zip_back.text());
    assert_eq!(zip_back.body, std::fs::read(zip.path()).expect("zip"));
    let bare = location.split('?').next().expect("path");
    assert_eq!(curl("GET", bare, None, &[]).status, 403);
    let forged = format!("{}0", &location[..location.len() - 1]);
    let forged = if forged == location {
        format!("{}1", &location[..location.len() - 1])
    } else {
        forged
    };
    assert_eq!(curl("GET", &forged, None, &[]).status, 403);
}

#[test]
fn auth_none_on_a_network_listen_is_allowed_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (d, url) = network_daemon(tmp.path(), &["--auth", "none"]);
    let r = curl("GET", &format!("{url}/2015-03-31/functions/"), None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        d.log().contains("anyone who reaches this address"),
        "{}",
        d.log()
    );
}

#[test]
fn a_loopback_listen_can_require_signatures_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("data");
    {
        // The store must exist before an offline key: a first start makes it.
        let d = Daemon::start_in(&data);
        drop(d);
    }
    let key = key_from_output(&client(
        &config,
        "x",
        &[
            "keys",
            "create",
            "--data-dir",
            data.to_str().expect("utf-8"),
        ],
    ));
    let d = Daemon::start_with(&data, "serve", &["--auth", "sigv4"]);
    let r = d.http("GET", "/2015-03-31/functions/", None, &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    let ok = aws_as(&d.url, &key, &["lambda", "list-functions"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    // The offline commands refuse a data directory a daemon is using.
    let busy = client(
        &config,
        "x",
        &["keys", "list", "--data-dir", data.to_str().expect("utf-8")],
    );
    assert!(stderr(&busy).contains("is running on"), "{}", stderr(&busy));
}
