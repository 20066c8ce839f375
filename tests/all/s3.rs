//! The embedded S3 endpoint with real clients (the AWS CLI, boto3, curl): objects, multipart,
//! presigned URLs, both addressing styles, SigV4 with lambdalet's keys; bucket notifications
//! that invoke functions with S3's event JSON, durable across a kill; `--allow-bucket`.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, aws_env, curl, eventually, fixture, free_port, python_script_env};

/// A daemon with its S3 endpoint on a port of its own; returns it and the endpoint URL.
pub fn s3_daemon(extra: &[&str]) -> (Daemon, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--s3-listen", listen.as_str()];
    args.extend_from_slice(extra);
    let mut d = Daemon::start_with(tmp.path(), "serve", &args);
    d.keep(tmp);
    (d, format!("http://{listen}"))
}

/// `aws --endpoint-url S3 ARGS` with the test credentials (any will do on loopback).
pub fn s3(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("aws");
    cmd.args(["--endpoint-url", url]).args(args);
    aws_env(&mut cmd);
    cmd.output().expect("run aws")
}

pub fn s3_ok(url: &str, args: &[&str]) -> String {
    let o = s3(url, args);
    assert!(
        o.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_aws_cli_copies_lists_syncs_and_presigns() {
    let (_d, url) = s3_daemon(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    s3_ok(&url, &["s3", "mb", "s3://photos"]);
    let small = tmp.path().join("small.txt");
    std::fs::write(&small, "hello s3").expect("write");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            small.to_str().expect("utf-8"),
            "s3://photos/a b.txt",
        ],
    );
    // Big enough for the CLI's multipart upload (8 MB parts).
    let big = tmp.path().join("big.bin");
    let data: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&big, &data).expect("write");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            big.to_str().expect("utf-8"),
            "s3://photos/big.bin",
        ],
    );
    let ls = s3_ok(&url, &["s3", "ls", "s3://photos"]);
    assert!(
        ls.contains("a b.txt") && ls.contains("20000000 big.bin"),
        "{ls}"
    );
    let back = tmp.path().join("back.bin");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            "s3://photos/big.bin",
            back.to_str().expect("utf-8"),
        ],
    );
    assert!(
        std::fs::read(&back).expect("read") == data,
        "the multipart object comes back whole"
    );
    // sync both ways.
    let dir = tmp.path().join("dir");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("one.txt"), "1").expect("write");
    std::fs::write(dir.join("sub/two.txt"), "2").expect("write");
    s3_ok(
        &url,
        &[
            "s3",
            "sync",
            "--quiet",
            dir.to_str().expect("utf-8"),
            "s3://photos/synced",
        ],
    );
    let out = tmp.path().join("out");
    s3_ok(
        &url,
        &[
            "s3",
            "sync",
            "--quiet",
            "s3://photos/synced",
            out.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sub/two.txt")).expect("synced"),
        "2"
    );
    // A presigned URL works for anyone who has it.
    let signed = s3_ok(&url, &["s3", "presign", "s3://photos/a b.txt"]);
    let r = curl("GET", signed.trim(), None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "hello s3");
    // Virtual-hosted style: BUCKET.localhost.
    let host = format!(
        "photos.{}",
        url.trim_start_matches("http://")
            .replace("127.0.0.1", "localhost")
    );
    let r = curl("GET", &format!("{url}/a%20b.txt"), None, &[("Host", &host)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "hello s3");
    s3_ok(&url, &["s3", "rm", "--quiet", "--recursive", "s3://photos"]);
    assert_eq!(s3_ok(&url, &["s3", "ls", "s3://photos"]).trim(), "");
}

#[test]
fn with_sigv4_only_lambdalets_keys_get_in() {
    let tmp = tempfile::tempdir().expect("tempdir");
    Daemon::start_in(tmp.path()).stop();
    let made = Command::new(env!("CARGO_BIN_EXE_lambdalet"))
        .args(["keys", "create", "--no-save", "--data-dir"])
        .arg(tmp.path())
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .output()
        .expect("keys create");
    let key = crate::auth::key_from_output(&made);
    let (id, secret) = (key.id, key.secret);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut d = Daemon::start_with(
        tmp.path(),
        "serve",
        &["--s3-listen", &listen, "--auth", "sigv4"],
    );
    let url = format!("http://{listen}");
    let as_key = |key: &str, secret: &str, args: &[&str]| {
        let mut cmd = Command::new("aws");
        cmd.args(["--endpoint-url", &url]).args(args);
        aws_env(&mut cmd);
        cmd.env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret);
        cmd.output().expect("aws")
    };
    let ok = as_key(&id, &secret, &["s3", "mb", "s3://private"]);
    assert!(
        ok.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&ok.stderr),
        d.log()
    );
    let wrong = as_key(&id, "not-the-secret", &["s3", "ls", "s3://private"]);
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("SignatureDoesNotMatch"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let unknown = as_key("LKIANOTAKEY0000000000", "x", &["s3", "ls"]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("InvalidAccessKeyId"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let r = curl("GET", &format!("{url}/private"), None, &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("AccessDenied"), "{}", r.text());
    d.stop();
}

/// A function that records the events it gets and copies each created object, upper-cased,
/// to `processed/` (boto3 with no arguments: lambdalet's endpoint and the function's keys).
fn deploy_processor(d: &Daemon, name: &str, extra: &[&str]) {
    d.deploy_python(
        &fixture("s3-processor"),
        name,
        "app.handler",
        &[&["--timeout", "30"], extra].concat(),
    );
}

fn events_of(d: &Daemon, name: &str) -> Vec<Value> {
    d.logs(name)
        .iter()
        .filter_map(|r| {
            r["log"].as_str().and_then(|l| {
                l.lines()
                    .find_map(|line| line.strip_prefix("EVENT "))
                    .and_then(|j| serde_json::from_str(j).ok())
            })
        })
        .collect()
}

/// Lets `bucket` invoke `function`, as `aws lambda add-permission` (or a SAM template's S3
/// event) does before a bucket notification on AWS.
pub fn grant_bucket(d: &Daemon, function: &str, bucket: &str) {
    let statement = format!("s3-{bucket}");
    let source = format!("arn:aws:s3:::{bucket}");
    d.aws_ok(&[
        "lambda",
        "add-permission",
        "--function-name",
        function,
        "--statement-id",
        &statement,
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "s3.amazonaws.com",
        "--source-arn",
        &source,
        "--source-account",
        "000000000000",
    ]);
}

fn notify(url: &str, bucket: &str, config: &Value) -> Output {
    s3(
        url,
        &[
            "s3api",
            "put-bucket-notification-configuration",
            "--bucket",
            bucket,
            "--notification-configuration",
            &config.to_string(),
        ],
    )
}

#[test]
fn an_upload_invokes_the_function_with_s3_s_event_and_filters_hold() {
    let (d, url) = s3_daemon(&[]);
    deploy_processor(&d, "resize", &[]);
    for b in ["uploads", "processed"] {
        s3_ok(&url, &["s3", "mb", &format!("s3://{b}")]);
    }
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:resize";
    let config = json!({"LambdaFunctionConfigurations": [
        {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".txt"}]}}},
        {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]},
    ]});
    grant_bucket(&d, "resize", "uploads");
    let o = notify(&url, "uploads", &config);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_str(&s3_ok(
        &url,
        &[
            "s3api",
            "get-bucket-notification-configuration",
            "--bucket",
            "uploads",
        ],
    ))
    .expect("json");
    assert_eq!(
        got["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"][0]["Name"],
        "Prefix"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = tmp.path().join("f.txt");
    std::fs::write(&f, "red").expect("write");
    let fp = f.to_str().expect("utf-8");
    s3_ok(
        &url,
        &["s3", "cp", "--quiet", fp, "s3://uploads/in/red flower.txt"],
    );
    s3_ok(
        &url,
        &["s3", "cp", "--quiet", fp, "s3://uploads/in/skip.png"],
    );
    s3_ok(
        &url,
        &["s3", "cp", "--quiet", fp, "s3://uploads/other/skip.txt"],
    );
    eventually(Duration::from_secs(30), "the processed copy", || {
        s3(&url, &["s3", "ls", "s3://processed/in/"])
            .stdout
            .starts_with(b"20")
    });
    let out = tmp.path().join("out.txt");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            "s3://processed/in/red flower.txt",
            out.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "RED");
    let events = events_of(&d, "resize");
    assert_eq!(events.len(), 1, "only the matching key: {events:?}");
    let rec = &events[0]["Records"][0];
    // Field by field as AWS's sample (LDG with-s3.md) has them.
    assert_eq!(rec["eventVersion"], "2.1");
    assert_eq!(rec["eventSource"], "aws:s3");
    assert_eq!(rec["awsRegion"], "us-east-1");
    assert_eq!(rec["eventName"], "ObjectCreated:Put");
    assert!(rec["eventTime"].as_str().expect("time").ends_with('Z'));
    assert_eq!(rec["s3"]["s3SchemaVersion"], "1.0");
    assert_eq!(rec["s3"]["configurationId"], "created");
    assert_eq!(rec["s3"]["bucket"]["name"], "uploads");
    assert_eq!(rec["s3"]["bucket"]["arn"], "arn:aws:s3:::uploads");
    assert_eq!(rec["s3"]["object"]["key"], "in/red+flower.txt");
    assert_eq!(rec["s3"]["object"]["size"], 3);
    assert_eq!(
        rec["s3"]["object"]["eTag"], "bda9643ac6601722a28f238714274da4",
        "md5 of the body"
    );
    assert!(
        rec["s3"]["object"]["sequencer"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    for k in ["userIdentity", "requestParameters", "responseElements"] {
        assert!(rec[k].is_object(), "{k}: {rec}");
    }
    // A removal: ObjectRemoved:Delete, without size or eTag.
    s3_ok(
        &url,
        &["s3", "rm", "--quiet", "s3://uploads/other/skip.txt"],
    );
    eventually(Duration::from_secs(30), "the removal event", || {
        events_of(&d, "resize").len() == 2
    });
    let removed = events_of(&d, "resize")
        .into_iter()
        .find(|e| e["Records"][0]["eventName"] == "ObjectRemoved:Delete")
        .expect("removal");
    assert!(removed["Records"][0]["s3"]["object"].get("size").is_none());
    // Bad configurations are refused as S3 refuses them.
    let overlap = json!({"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]},
        {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"]},
    ]});
    let o = notify(&url, "uploads", &overlap);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("overlapping"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let missing = json!({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:nope", "Events": ["s3:ObjectCreated:*"]}]});
    let o = notify(&url, "uploads", &missing);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unable to validate"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_notification_survives_a_kill_right_after_the_put() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let args = ["--s3-listen", listen.as_str()];
    let mut d = Daemon::start_with(tmp.path(), "serve", &args);
    deploy_processor(&d, "keeper", &[]);
    for b in ["uploads", "processed"] {
        s3_ok(&url, &["s3", "mb", &format!("s3://{b}")]);
    }
    let config = json!({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:keeper", "Events": ["s3:ObjectCreated:Put"]}]});
    grant_bucket(&d, "keeper", "uploads");
    assert!(notify(&url, "uploads", &config).status.success());
    let f = tmp.path().join("f.txt");
    std::fs::write(&f, "kept").expect("write");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            f.to_str().expect("utf-8"),
            "s3://uploads/k.txt",
        ],
    );
    d.kill9();
    let d = Daemon::start_with(tmp.path(), "serve", &args);
    eventually(
        Duration::from_secs(30),
        "the event after the restart",
        || {
            s3(&url, &["s3", "ls", "s3://processed/"])
                .stdout
                .starts_with(b"20")
        },
    );
    // The invocation's record is written in the background, a moment after the function's
    // output object: wait for it, then check the event ran exactly once.
    eventually(Duration::from_secs(10), "the invocation's record", || {
        !events_of(&d, "keeper").is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(events_of(&d, "keeper").len(), 1);
}

#[test]
fn a_function_limited_to_its_buckets_gets_access_denied_elsewhere() {
    let (d, url) = s3_daemon(&[]);
    for b in ["mine", "theirs"] {
        s3_ok(&url, &["s3", "mb", &format!("s3://{b}")]);
    }
    d.deploy_python(
        &fixture("s3-processor"),
        "limited",
        "app.try_buckets",
        &["--allow-bucket", "mine"],
    );
    let r = d.invoke("limited", r#"{"buckets": ["mine", "theirs"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"mine": "OK", "theirs": "AccessDenied"}),
        "{}",
        d.log()
    );
    let f = d
        .http("GET", "/2015-03-31/functions/limited", None, &[])
        .json();
    assert_eq!(
        f["Configuration"]["LambdaletConfig"]["allowedBuckets"],
        json!(["mine"])
    );
    // Nothing of the function reached the other bucket; the host's administrators are not
    // limited.
    assert!(!s3_ok(&url, &["s3", "ls", "s3://theirs"]).contains("probe.txt"));
    assert!(s3_ok(&url, &["s3", "ls", "s3://mine"]).contains("probe.txt"));
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            "/etc/hostname",
            "s3://theirs/from-admin",
        ],
    );
}

#[test]
fn boto3_uses_the_endpoint_as_it_uses_s3() {
    let (_d, url) = s3_daemon(&[]);
    let got = python_script_env("s3_boto3.py", &[&url], &[]);
    assert_eq!(got["get"], "alpha");
    assert_eq!(got["content_type"], "text/plain");
    assert_eq!(got["head_size"], 5);
    assert_eq!(got["list"], json!(["dir/a.txt", "dir/b.txt"]));
    assert_eq!(got["prefixes"], json!(["dir/"]));
    assert_eq!(got["multipart_same"], true);
    assert_eq!(got["multipart_etag_parts"], "3");
    assert_eq!(got["presigned"], "alpha");
    assert_eq!(got["after_delete"], json!(["big.bin"]));
    assert_eq!(got["missing"], "NoSuchKey");
}

#[test]
fn a_greengrass_artifact_can_come_from_a_bucket() {
    let (d, url) = s3_daemon(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = tmp.path().join("hello.sh");
    let out = tmp.path().join("out");
    std::fs::write(&script, format!("echo from-bucket > {}\n", out.display())).expect("write");
    s3_ok(&url, &["s3", "mb", "s3://gg-artifacts"]);
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            script.to_str().expect("utf-8"),
            "s3://gg-artifacts/v1/hello.sh",
        ],
    );
    let w = crate::greengrass::Workspace::new();
    w.add_recipe(
        "hello.yaml",
        "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.FromS3\nComponentVersion: '1.0.0'\nManifests:\n  - Artifacts:\n      - Uri: s3://gg-artifacts/v1/hello.sh\n    Lifecycle:\n      Run: sh {artifacts:path}/hello.sh\n",
    );
    let o = w.deploy(&d, &["--merge", "com.example.FromS3=1.0.0"]);
    assert!(o.status.success(), "{}", crate::greengrass::out(&o));
    eventually(Duration::from_secs(10), "the artifact to run", || {
        out.exists()
    });
    assert_eq!(
        std::fs::read_to_string(&out).expect("read"),
        "from-bucket\n"
    );
    // A missing object names what to do.
    let w = crate::greengrass::Workspace::new();
    w.add_recipe(
        "missing.yaml",
        "RecipeFormatVersion: '2020-01-25'\nComponentName: com.example.Missing\nComponentVersion: '1.0.0'\nManifests:\n  - Artifacts:\n      - Uri: s3://gg-artifacts/nope.sh\n    Lifecycle:\n      Run: 'true'\n",
    );
    let text = crate::greengrass::out(&w.deploy(&d, &["--merge", "com.example.Missing=1.0.0"]));
    assert!(
        text.contains("no object s3://gg-artifacts/nope.sh"),
        "{text}"
    );
}

#[test]
fn an_external_s3_server_s_webhook_events_invoke_the_function() {
    let d = Daemon::start();
    d.deploy_python(&fixture("s3-processor"), "hook", "app.record", &[]);
    let url = d.lifecycle("hook")["s3WebhookUrl"]
        .as_str()
        .expect("a webhook URL")
        .to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/lambdalet/v1/functions/hook/s3-events?token=",
            d.url
        )),
        "{url}"
    );
    // What MinIO's webhook target sends.
    let minio = json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": "photos/cat.jpg",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
            "eventTime": "2026-12-05T01:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"sourceIPAddress": "10.0.0.5"}, "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                   "bucket": {"name": "photos", "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::photos"},
                   "object": {"key": "cat.jpg", "size": 4, "eTag": "abc", "sequencer": "17E1"}}
        }]
    });
    let r = curl(
        "POST",
        &url,
        Some(minio.to_string().as_bytes()),
        &[("content-type", "application/json")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);
    eventually(Duration::from_secs(20), "the webhook's event", || {
        !events_of(&d, "hook").is_empty()
    });
    let rec = &events_of(&d, "hook")[0]["Records"][0];
    assert_eq!(
        rec["eventName"], "ObjectCreated:Put",
        "written as Lambda's S3 events are"
    );
    assert_eq!(rec["s3"]["object"]["key"], "cat.jpg");
    // A wrong token, a body that is not S3 event JSON.
    let wrong = url.replace("token=", "token=x");
    let r = curl("POST", &wrong, Some(minio.to_string().as_bytes()), &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = curl(
        "POST",
        &url,
        Some(b"{\"Records\": [{\"eventName\": \"x\"}]}"),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("Records[0]"), "{}", r.text());
    assert_eq!(
        events_of(&d, "hook").len(),
        1,
        "a refused request queues nothing"
    );
}

#[test]
fn code_and_layers_come_from_a_bucket_beyond_the_direct_upload_limit() {
    let (d, url) = s3_daemon(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    // A layer over the 50 MB of a direct upload: incompressible data, stored.
    let layer_dir = tmp.path().join("layer");
    std::fs::create_dir_all(layer_dir.join("python")).expect("mkdir");
    std::fs::write(
        layer_dir.join("python/weights.py"),
        "SIZE = 52 * 1024 * 1024\n",
    )
    .expect("write");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let blob: Vec<u8> = (0..52 * 1024 * 1024 / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(layer_dir.join("python/weights.bin"), &blob).expect("write");
    // Zipped as a user would (`lambdalet deploy` itself refuses zips over the upload limit).
    let layer_zip = tmp.path().join("layer.zip");
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&layer_zip)
        .arg("python")
        .current_dir(&layer_dir)
        .status()
        .expect("python3 -m zipfile");
    assert!(status.success());
    let code_zip = crate::harness::zip_file(&fixture("py-basic"));
    s3_ok(&url, &["s3", "mb", "s3://deploy"]);
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            layer_zip.to_str().expect("utf-8"),
            "s3://deploy/layer.zip",
        ],
    );
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            code_zip.path().to_str().expect("utf-8"),
            "s3://deploy/code.zip",
        ],
    );
    let layer = d.aws_ok(&[
        "lambda",
        "publish-layer-version",
        "--layer-name",
        "weights",
        "--content",
        "S3Bucket=deploy,S3Key=layer.zip",
    ]);
    assert!(
        layer["Content"]["CodeSize"].as_u64().expect("size") > 50 * 1024 * 1024,
        "{layer}"
    );
    let arn = layer["LayerVersionArn"].as_str().expect("arn").to_owned();
    let f = d.aws_ok(&[
        "lambda",
        "create-function",
        "--function-name",
        "from-bucket",
        "--runtime",
        "python3.11",
        "--handler",
        "app.handler",
        "--role",
        "arn:aws:iam::000000000000:role/x",
        "--code",
        "S3Bucket=deploy,S3Key=code.zip",
        "--layers",
        &arn,
    ]);
    assert_eq!(f["FunctionName"], "from-bucket");
    let r = d.invoke("from-bucket", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    // A missing object, and half a location.
    let missing = d.aws(&[
        "lambda",
        "update-function-code",
        "--function-name",
        "from-bucket",
        "--s3-bucket",
        "deploy",
        "--s3-key",
        "nope.zip",
    ]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("NoSuchKey"), "{err}");
    let r = d.http(
        "POST",
        "/2018-10-31/layers/half/versions",
        Some(br#"{"Content": {"S3Bucket": "deploy"}}"#),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("go together"), "{}", r.text());
}

/// The console's function list names what invokes each function: a bucket notification, a
/// schedule and a function URL.
#[test]
fn the_console_lists_a_functions_triggers() {
    let (d, url) = s3_daemon(&[]);
    deploy_processor(&d, "watched", &[]);
    s3_ok(&url, &["s3", "mb", "s3://inbox"]);
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:watched";
    let config = json!({"LambdaFunctionConfigurations": [
        {"Id": "in", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}},
    ]});
    grant_bucket(&d, "watched", "inbox");
    let o = notify(&url, "inbox", &config);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let target = json!({"Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/s"}).to_string();
    crate::schedules::create(&d, "nightly", "cron(0 3 * * ? *)", &target, &[]);
    d.aws_ok(&[
        "lambda",
        "create-function-url-config",
        "--function-name",
        "watched",
        "--auth-type",
        "AWS_IAM",
    ]);
    let page = d.http("GET", "/console", None, &[]).text();
    let row = page
        .split("<tr data-function=\"watched\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row for watched in {page}"));
    for want in [
        "<b>S3</b> inbox",
        "s3:ObjectCreated:*, prefix in/",
        "<b>Schedule</b> default/nightly",
        "<b>URL</b> http://",
    ] {
        assert!(row.contains(want), "no {want:?} in {row}");
    }
}
