//! Container-image functions (`PackageType: Image`): an OCI image built by the test from a
//! static Rust `lambda_runtime` binary (musl) deployed with `lambdalet deploy --image` and
//! invoked with the AWS CLI; a shell runtime on busybox that reports what it sees from inside
//! (read-only root, writable /tmp, its uid, the image's ENV under the function's, WORKDIR and
//! ImageConfig overrides) from an image with hostile symbolic links; an image in use cannot be
//! removed. Each test skips, saying why, where container sandboxes are unavailable.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::containment::container_daemon;
use crate::harness::{Daemon, python_script, repo};

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Builds examples/hello-rust for the musl target: one static executable, as a `FROM scratch`
/// image needs.
fn musl_bootstrap() -> PathBuf {
    let target = "x86_64-unknown-linux-musl";
    let o = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "hello-rust", "--target", target])
        .current_dir(repo())
        .output()
        .expect("run cargo");
    assert!(
        o.status.success(),
        "cargo build -p hello-rust --target {target} failed (rustup target add {target}): {}",
        out(&o)
    );
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = dir.join(target).join("debug/bootstrap");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

/// Writes an OCI image layout tarball of `root` with the image config `run` and returns the
/// archive and the image id.
fn image_of(tmp: &Path, root: &Path, run: Value, name: &str) -> (PathBuf, String) {
    let archive = tmp.join(format!("{}.tar", name.replace([':', '/'], "_")));
    let made = python_script(
        "oci_from_dir.py",
        &[
            archive.to_str().expect("utf-8"),
            root.to_str().expect("utf-8"),
            &run.to_string(),
            name,
        ],
    );
    (archive, made["id"].as_str().expect("id").to_owned())
}

#[test]
fn a_static_rust_lambda_runtime_image_runs_as_an_image_function() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    let bin = musl_bootstrap();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("var/task")).expect("mkdir");
    std::fs::copy(&bin, root.join("bootstrap")).expect("copy bootstrap");
    let (archive, id) = image_of(
        tmp.path(),
        &root,
        json!({"Entrypoint": ["/bootstrap"], "WorkingDir": "/var/task"}),
        "hello-rust:latest",
    );
    let o = d.cli(&[
        "deploy",
        "--image",
        archive.to_str().expect("utf-8"),
        "--name",
        "rust-image",
    ]);
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    assert!(out(&o).contains("image sha256:"), "{}", out(&o));
    let (meta, body) = d.aws_invoke(
        &["--function-name", "rust-image", "--log-type", "Tail"],
        r#"{"name": "ferris"}"#,
    );
    assert_eq!(body["message"], "hello, ferris", "{}", d.log());
    let log = crate::harness::decode_log(meta["LogResult"].as_str().expect("log"));
    assert!(
        log.contains("hello-rust: request") && log.contains("REPORT RequestId"),
        "{log}"
    );
    let f = d.aws_ok(&["lambda", "get-function", "--function-name", "rust-image"]);
    let c = &f["Configuration"];
    assert_eq!(c["PackageType"], "Image", "{f}");
    assert!(
        c.get("Runtime").is_none() && c.get("Handler").is_none(),
        "{f}"
    );
    assert_eq!(c["CodeSha256"], id.as_str());
    assert_eq!(f["Code"]["RepositoryType"], "ECR");
    assert_eq!(f["Code"]["ImageUri"], format!("sha256:{id}"));
    assert_eq!(f["Code"]["ResolvedImageUri"], format!("sha256:{id}"));
    // lambdalet's own field, which the AWS CLI does not show.
    let own = crate::containment::function(&d, "rust-image");
    assert_eq!(
        own["LambdaletSandbox"]["Mode"], "GreengrassContainer",
        "{own}"
    );

    // A restarted daemon runs it again from its stored image (`first` keeps the data dir).
    let mut first = d;
    first.stop();
    let d = Daemon::start_in(&first.data_dir);
    let (_, body) = d.aws_invoke(&["--function-name", "rust-image"], r#"{"name": "again"}"#);
    assert_eq!(body["message"], "hello, again", "{}", d.log());
    // The image cannot go while a function runs it; then it can.
    let o = d.cli(&["image", "rm", "hello-rust"]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("ResourceConflictException") && out(&o).contains("rust-image"),
        "{}",
        out(&o)
    );
    d.aws_ok(&["lambda", "delete-function", "--function-name", "rust-image"]);
    let o = d.cli(&["image", "rm", "hello-rust"]);
    assert!(o.status.success(), "{}", out(&o));
}

/// A custom runtime in busybox sh, as AWS's shell-runtime tutorial writes one, that answers
/// each event with what it sees.
const SHELL_RUNTIME: &str = r#"#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H=$(mktemp)
  EVENT=$(wget -q -S -O - "$API/invocation/next" 2>"$H")
  ID=$(grep -i "Lambda-Runtime-Aws-Request-Id" "$H" | tr -d '\r' | sed 's/.*: *//')
  rm -f "$H"
  if touch /written-by-the-function 2>/dev/null; then ROOT=writable; else ROOT=read-only; fi
  if echo x > /tmp/scratch 2>/dev/null; then TMP=writable; else TMP=read-only; fi
  if [ -e /etc/shadow ]; then SHADOW=visible; else SHADOW=absent; fi
  if echo x > /etc/hostname 2>/dev/null; then ETC=writable; else ETC=read-only; fi
  BODY="{\"uid\":\"$(id -u)\",\"cwd\":\"$(pwd)\",\"handler\":\"$_HANDLER\",\"greeting\":\"$GREETING\",\"fromImage\":\"$FROM_IMAGE\",\"root\":\"$ROOT\",\"tmp\":\"$TMP\",\"etc\":\"$ETC\",\"shadow\":\"$SHADOW\",\"taskRoot\":\"$LAMBDA_TASK_ROOT\",\"event\":$EVENT}"
  wget -q -O /dev/null --post-data "$BODY" "$API/invocation/$ID/response"
done
"#;

/// What AWS's base images run: the handler is the first argument.
const ENTRYPOINT: &str = r#"#!/bin/sh
export _HANDLER="$1"
exec /var/runtime/bootstrap
"#;

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A busybox image with the shell runtime and symbolic links that point at `victims` on the
/// host: a sandbox set-up that followed them would write there.
fn busybox_root(root: &Path, victims: &Path) {
    for dir in ["bin", "etc", "var/runtime", "var/task"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    for applet in [
        "sh", "wget", "grep", "tr", "sed", "rm", "mktemp", "id", "touch", "cat",
    ] {
        symlink("busybox", root.join("bin").join(applet)).expect("symlink");
    }
    write_exec(&root.join("lambda-entrypoint.sh"), ENTRYPOINT);
    write_exec(&root.join("var/runtime/bootstrap"), SHELL_RUNTIME);
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").expect("passwd");
    for (name, victim) in [
        ("etc/resolv.conf", "resolv"),
        ("etc/hostname", "hostname"),
        ("etc/hosts", "hosts"),
    ] {
        let target = victims.join(victim);
        std::fs::write(&target, "untouched\n").expect("victim");
        symlink(&target, root.join(name)).expect("hostile symlink");
    }
    symlink(victims, root.join("tmp")).expect("hostile /tmp");
}

fn configure(d: &Daemon, name: &str, body: Value) {
    let r = d.http(
        "PUT",
        &format!("/2015-03-31/functions/{name}/configuration"),
        Some(body.to_string().as_bytes()),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn an_image_function_sees_its_image_read_only_and_nothing_of_the_host() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let victims = tmp.path().join("victims");
    std::fs::create_dir_all(&victims).expect("mkdir");
    let root = tmp.path().join("root");
    busybox_root(&root, &victims);
    let (archive, id) = image_of(
        tmp.path(),
        &root,
        json!({
            "Entrypoint": ["/lambda-entrypoint.sh"],
            "Cmd": ["handler.main"],
            "WorkingDir": "/var/task",
            "Env": ["PATH=/bin", "GREETING=from-image", "FROM_IMAGE=yes"],
        }),
        "shell-runtime:1",
    );
    let o = d.cli(&["image", "load", archive.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", out(&o));
    // CreateFunction with Code.ImageUri naming the loaded image, as the AWS CLI sends it.
    let created = d.aws_ok(&[
        "lambda",
        "create-function",
        "--function-name",
        "shell-image",
        "--package-type",
        "Image",
        "--code",
        "ImageUri=shell-runtime:1",
        "--role",
        "arn:aws:iam::000000000000:role/x",
        "--environment",
        "Variables={GREETING=from-function}",
    ]);
    assert_eq!(created["PackageType"], "Image");
    let (_, seen) = d.aws_invoke(&["--function-name", "shell-image"], r#"{"n": 1}"#);
    assert_eq!(seen["event"], json!({"n": 1}), "{seen}\n{}", d.log());
    assert_eq!(seen["handler"], "handler.main");
    assert_eq!(seen["cwd"], "/var/task");
    assert_eq!(
        seen["greeting"], "from-function",
        "the function's variable wins"
    );
    assert_eq!(seen["fromImage"], "yes", "the image's ENV is kept");
    assert_eq!(seen["taskRoot"], "/var/task");
    assert_eq!(seen["root"], "read-only");
    assert_eq!(seen["etc"], "read-only");
    assert_eq!(seen["tmp"], "writable");
    assert_eq!(seen["shadow"], "absent", "the host's /etc is not shown");
    assert_ne!(seen["uid"], "0", "{seen}");
    for victim in ["resolv", "hostname", "hosts"] {
        assert_eq!(
            std::fs::read_to_string(victims.join(victim)).expect("victim"),
            "untouched\n",
            "the sandbox set-up followed the image's link to {victim}"
        );
    }
    assert!(
        !victims.join("scratch").exists(),
        "the image's /tmp link led outside the sandbox"
    );
    let rootfs = d.data_dir.join("images/rootfs").join(&id);
    assert!(
        !rootfs.join("written-by-the-function").exists(),
        "the image on disk was written"
    );

    // ImageConfig overrides CMD and WORKDIR; an empty ImageConfig gives them back.
    configure(
        &d,
        "shell-image",
        json!({"ImageConfig": {"Command": ["other.handler"], "WorkingDirectory": "/tmp"}}),
    );
    let (_, seen) = d.aws_invoke(&["--function-name", "shell-image"], "{}");
    assert_eq!(seen["handler"], "other.handler", "{seen}");
    assert_eq!(seen["cwd"], "/tmp");
    let c = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "shell-image",
    ]);
    assert_eq!(
        c["ImageConfigResponse"]["ImageConfig"]["Command"],
        json!(["other.handler"]),
        "{c}"
    );
    configure(&d, "shell-image", json!({"ImageConfig": {}}));
    let (_, seen) = d.aws_invoke(&["--function-name", "shell-image"], "{}");
    assert_eq!(seen["handler"], "handler.main", "{seen}");
}

#[test]
fn image_functions_refuse_what_does_not_belong_to_them() {
    let d = Daemon::start();
    let create = |body: Value| {
        d.http(
            "POST",
            "/2015-03-31/functions",
            Some(body.to_string().as_bytes()),
            &[],
        )
    };
    // An image that is not loaded: AWS's words, and what to do.
    let r = create(json!({
        "FunctionName": "ghost", "PackageType": "Image",
        "Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ghost:latest"},
    }));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.message().contains("does not exist") && r.message().contains("lambdalet image load"),
        "{}",
        r.text()
    );
    // Runtime, Handler and Layers are zip settings.
    let r = create(json!({
        "FunctionName": "mixed", "PackageType": "Image", "Runtime": "python3.11",
        "Code": {"ImageUri": "x"},
    }));
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("Runtime is not supported"),
        "{}",
        r.text()
    );
    // ImageUri without PackageType Image, and ImageConfig on a zip function.
    let r = create(json!({
        "FunctionName": "zipimg", "Runtime": "python3.11", "Handler": "a.b",
        "Code": {"ImageUri": "x"},
    }));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("PackageType Image"), "{}", r.text());
    let r =
        create(json!({"FunctionName": "bad", "PackageType": "Docker", "Code": {"ImageUri": "x"}}));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("Zip or Image"), "{}", r.text());
    let r = create(json!({
        "FunctionName": "rel", "PackageType": "Image", "Code": {"ImageUri": "x"},
        "ImageConfig": {"WorkingDirectory": "relative/dir"},
    }));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("absolute"), "{}", r.text());
}
