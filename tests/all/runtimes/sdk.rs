//! The AWS SDKs Lambda's runtimes include: `lambdalet runtimes install-sdk` fetches boto3 and
//! the AWS SDK for JavaScript v3 (from a cache under target/test-cache after the first run),
//! a function finds them after its own code and layers, and calls another function with them
//! unmodified (the sandbox's AWS_ENDPOINT_URL_LAMBDA points at lambdalet).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::Interpreters;
use crate::harness::{Daemon, repo, zip_file};

/// boto3's wheels, downloaded once with python3.11's pip: the daemon's pip installs from
/// them without the network (`PIP_NO_INDEX`, `PIP_FIND_LINKS`).
fn boto3_wheels() -> PathBuf {
    let cache = repo().join("target/test-cache/sdk-wheels");
    if !cache.join(".complete").exists() {
        let tmp = cache.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let out = Command::new("python3.11")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "-d",
            ])
            .arg(&tmp)
            .arg("boto3")
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "pip download boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(tmp.join(".complete"), "").expect("marker");
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::rename(&tmp, &cache).expect("move into the cache");
    }
    cache
}

/// The boto3 version of the cached wheels.
fn boto3_version(wheels: &Path) -> String {
    std::fs::read_dir(wheels)
        .expect("wheels")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find_map(|n| {
            let rest = n.strip_prefix("boto3-")?;
            rest.split('-').next().map(str::to_owned)
        })
        .expect("a boto3 wheel")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn cli_ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.cli(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "lambdalet {args:?}: {err}\n--- daemon ---\n{}",
        d.log()
    );
    err
}

const WHICH_BOTO3: &str = "import boto3\ndef handler(event, context):\n    return {'version': boto3.__version__, 'file': boto3.__file__}\n";

const CALLER_PY: &str = r#"import json, boto3
def handler(event, context):
    client = boto3.client("lambda")
    try:
        r = client.invoke(FunctionName=event["target"], Payload=json.dumps({"from": "python"}))
    except client.exceptions.ClientError as e:
        return {"error": e.response["Error"]["Code"]}
    return {"status": r["StatusCode"], "payload": json.loads(r["Payload"].read()), "boto3": boto3.__file__}
"#;

const CALLEE_PY: &str =
    "def handler(event, context):\n    return {'got': event, 'by': context.function_name}\n";

fn invoke_json(d: &Daemon, name: &str, payload: &Value) -> Value {
    let r = d.invoke(name, &payload.to_string());
    assert_eq!(r.status, 200, "{}\n--- daemon ---\n{}", r.text(), d.log());
    assert!(r.header("x-amz-function-error").is_none(), "{}", r.text());
    r.json()
}

#[test]
fn install_sdk_python_puts_boto3_after_the_functions_own_and_its_layers() {
    let wheels = boto3_wheels();
    let version = boto3_version(&wheels);
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let wheels_env = wheels.display().to_string();
    let d = Daemon::start_env(
        tmp.path(),
        "serve",
        &[&interpreters.flag()],
        &[("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", &wheels_env)],
    );
    let err = cli_ok(&d, &["runtimes", "install-sdk", "python"]);
    let dir = tmp.path().join("sdk/python/3.11");
    assert!(
        err.contains(&format!(
            "installed boto3 {version} for Python 3.11 in {}",
            dir.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("installing boto3 for Python 3.11"),
        "progress: {err}"
    );
    let listed: Value =
        serde_json::from_slice(&d.cli(&["runtimes", "--json"]).stdout).expect("json");
    let py = listed["Runtimes"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["Runtime"] == "python3.11"))
        .cloned()
        .expect("python3.11");
    assert_eq!(
        py["Sdk"],
        json!({"Source": "lambdalet", "Version": version, "Dir": dir})
    );

    let work = tempfile::tempdir().expect("tempdir");
    let plain = work.path().join("plain");
    write(&plain, "app.py", WHICH_BOTO3);
    d.deploy_python(&plain, "plain", "app.handler", &[]);
    let got = invoke_json(&d, "plain", &json!({}));
    assert_eq!(got["version"], version.as_str(), "the installed SDK: {got}");
    let file = got["file"].as_str().expect("file");
    let in_container = file.starts_with("/var/sdk/");
    let f = d
        .http("GET", "/2015-03-31/functions/plain", None, &[])
        .json();
    assert_eq!(
        in_container,
        f["Configuration"]["LambdaletSandbox"]["Mode"] == "GreengrassContainer",
        "a container sees the SDK at /var/sdk: {file} {f}"
    );
    assert!(
        in_container || file.starts_with(&dir.display().to_string()),
        "{file}"
    );
    // A function that ships its own boto3 gets its own, as on Lambda.
    let own = work.path().join("own");
    write(&own, "app.py", WHICH_BOTO3);
    write(&own, "boto3/__init__.py", "__version__ = '0.0-own'\n");
    d.deploy_python(&own, "own", "app.handler", &[]);
    assert_eq!(invoke_json(&d, "own", &json!({}))["version"], "0.0-own");
    // So does one whose layer has it.
    let layer = work.path().join("layer");
    write(
        &layer,
        "python/boto3/__init__.py",
        "__version__ = '0.0-layer'\n",
    );
    let zip = zip_file(&layer);
    let published = d.aws_ok(&[
        "lambda",
        "publish-layer-version",
        "--layer-name",
        "oldboto",
        "--zip-file",
        &format!("fileb://{}", zip.path().display()),
    ]);
    let arn = published["LayerVersionArn"].as_str().expect("arn");
    d.deploy_python(&plain, "layered", "app.handler", &["--layer", arn]);
    assert_eq!(
        invoke_json(&d, "layered", &json!({}))["version"],
        "0.0-layer"
    );
    if in_container {
        // The sandbox sees the SDK read-only.
        let writer = work.path().join("writer");
        write(
            &writer,
            "app.py",
            "def handler(event, context):\n    try:\n        open('/var/sdk/boto3/planted.py', 'w').write('x')\n        return 'written'\n    except OSError as e:\n        return type(e).__name__\n",
        );
        d.deploy_python(&writer, "writer", "app.handler", &[]);
        let r = d.invoke("writer", "{}").json();
        assert_ne!(r, json!("written"), "{r}");
        assert!(!dir.join("boto3/planted.py").exists());
    }

    // Function to function with the unmodified SDK: boto3.client("lambda").invoke reaches
    // lambdalet, with what the caller's accessControl allows and nothing more.
    let callee = work.path().join("callee");
    write(&callee, "app.py", CALLEE_PY);
    d.deploy_python(&callee, "callee", "app.handler", &[]);
    d.deploy_python(&callee, "other", "app.handler", &[]);
    let caller = work.path().join("caller");
    write(&caller, "app.py", CALLER_PY);
    let policy = work.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"lambdalet.lambda": {"call-callee": {"operations": ["lambda:InvokeFunction"], "resources": ["callee"]}}}"#,
    )
    .expect("write");
    d.deploy_python(
        &caller,
        "caller",
        "app.handler",
        &[
            "--timeout",
            "30",
            "--access-control",
            policy.to_str().expect("utf-8"),
        ],
    );
    let got = invoke_json(&d, "caller", &json!({"target": "callee"}));
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(
        got["payload"],
        json!({"got": {"from": "python"}, "by": "callee"})
    );
    assert!(
        got["boto3"].as_str().is_some_and(|f| f.contains("sdk")),
        "{got}"
    );
    let denied = invoke_json(&d, "caller", &json!({"target": "other"}));
    assert_eq!(denied["error"], "AccessDeniedException", "{denied}");
}

#[test]
fn install_sdk_node_gives_functions_the_v3_clients_to_call_each_other() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let npm_cache = repo().join("target/test-cache/npm");
    std::fs::create_dir_all(&npm_cache).expect("mkdir");
    let npm_cache = npm_cache.display().to_string();
    let d = Daemon::start_env(
        tmp.path(),
        "serve",
        &[&interpreters.flag()],
        &[
            ("npm_config_cache", &npm_cache),
            ("npm_config_prefer_offline", "true"),
        ],
    );
    let err = cli_ok(&d, &["runtimes", "install-sdk", "node"]);
    let dir = tmp.path().join("sdk/node/v3");
    assert!(
        err.contains("installed AWS SDK for JavaScript 3.")
            && err.contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(
        dir.join("node_modules/@aws-sdk/client-lambda/package.json")
            .exists()
            && dir
                .join("node_modules/@aws-sdk/client-s3/package.json")
                .exists()
    );
    let o = d.cli(&["runtimes"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("nodejs20.x"))
        .expect("nodejs20.x listed");
    assert!(
        line.contains("AWS SDK for JavaScript 3.") && line.contains("(lambdalet's sdk dir)"),
        "{text}"
    );

    let work = tempfile::tempdir().expect("tempdir");
    let callee = work.path().join("callee");
    write(&callee, "app.py", CALLEE_PY);
    d.deploy_python(&callee, "callee", "app.handler", &[]);
    let caller = work.path().join("caller");
    write(
        &caller,
        "index.js",
        r#"const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
exports.handler = async (event) => {
  const out = await new LambdaClient({}).send(new InvokeCommand({
    FunctionName: event.target, Payload: JSON.stringify({ from: 'node' }) }));
  return { status: out.StatusCode, payload: JSON.parse(Buffer.from(out.Payload).toString()),
           sdk: require.resolve('@aws-sdk/client-lambda') };
};
"#,
    );
    let o = d.cli(&[
        "deploy",
        caller.to_str().expect("utf-8"),
        "--name",
        "caller",
        "--runtime",
        "nodejs20.x",
        "--handler",
        "index.handler",
        "--timeout",
        "30",
        "--allow-management",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = invoke_json(&d, "caller", &json!({"target": "callee"}));
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(
        got["payload"],
        json!({"got": {"from": "node"}, "by": "callee"})
    );
    let sdk = got["sdk"].as_str().expect("sdk path");
    assert!(
        sdk.starts_with("/var/sdk/node_modules/") || sdk.starts_with(&dir.display().to_string()),
        "{sdk}"
    );
}

#[test]
fn only_an_administrator_may_install_sdks() {
    let d = Daemon::start();
    crate::containment::deploy_escape(&d, "manager", "app.api", &["--allow-management"]);
    let calls = json!([{"op": "signed", "method": "POST", "path": "/lambdalet/v1/runtimes/sdk", "body": "{\"Sdk\": \"python\"}"}]);
    let got = crate::containment::call(&d, "manager", json!({ "calls": calls }));
    assert_eq!(got["signed"], "AccessDeniedException", "{got}");
    assert!(!d.data_dir.join("sdk").exists(), "nothing was installed");
    let r = d.http(
        "POST",
        "/lambdalet/v1/runtimes/sdk",
        Some(br#"{"Sdk": "ruby"}"#),
        &[("content-type", "application/json")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("python, node or all"), "{}", r.text());
}
