//! An external extension built on AWS's own `lambda-extension` crate (crates.io), unmodified
//! in what it sends and parses: its registration, `event/next` loop, Telemetry API
//! subscription and typed telemetry records all work against lambdalet.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{deploy, invoke, read, sandboxes};
use crate::harness::{Daemon, eventually, free_port, repo};
use crate::layers::publish;

/// Builds `tests/fixtures/extensions/rust-official` (a workspace member) and returns it.
fn official_extension() -> PathBuf {
    let o = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "official-extension"])
        .current_dir(repo())
        .output()
        .expect("run cargo");
    assert!(
        o.status.success(),
        "cargo build -p official-extension failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = dir.join("debug/official-extension");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

#[test]
fn an_extension_on_aws_s_rust_library_gets_events_and_typed_telemetry() {
    let d = Daemon::start();
    let layer_dir = tempfile::tempdir().expect("tempdir");
    let ext = layer_dir.path().join("extensions/official-extension");
    std::fs::create_dir_all(ext.parent().expect("dir")).expect("mkdir");
    std::fs::copy(official_extension(), &ext).expect("copy");
    std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let arn = publish(&d, "official", layer_dir.path(), &[])["LayerVersionArn"]
        .as_str()
        .expect("arn")
        .to_owned();
    for sandbox in sandboxes(&d) {
        let logs = tempfile::tempdir().expect("tempdir");
        let name = format!("official-{sandbox}");
        let port = format!("EXT_TELEMETRY_PORT={}", free_port());
        deploy(
            &d,
            &name,
            "app.handler",
            sandbox,
            &[&arn],
            logs.path(),
            &[&port],
        );
        let first = invoke(&d, &name, &[]);
        let id = first["request_id"].as_str().expect("id").to_owned();
        let log = logs.path().join("official-extension.log");
        eventually(
            Duration::from_secs(15),
            "INVOKE and platform.report for the invocation",
            || {
                let l = read(&log);
                l.contains(&format!(r#""requestId":"{id}""#))
                    && l.contains(&format!("platform.report {id}"))
            },
        );
        let l = read(&log);
        for want in [
            "platform.initStart".to_owned(),
            format!("platform.start {id}"),
            r#"{"telemetry":"function"}"#.to_owned(),
            "platform.runtimeDone".to_owned(),
        ] {
            assert!(l.contains(&want), "{sandbox}: {want} in\n{l}\n{}", d.log());
        }
        assert!(
            l.contains(&format!(":function:{name}")),
            "the INVOKE event's ARN: {l}"
        );

        // Retiring the environment sends SHUTDOWN, which the library hands to the extension.
        let r = d.http(
            "PUT",
            &format!("/2015-03-31/functions/{name}/configuration"),
            Some(br#"{"Description":"retire"}"#),
            &[("content-type", "application/json")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        eventually(Duration::from_secs(10), "SHUTDOWN", || {
            read(&log).contains(r#""event":"SHUTDOWN","reason":"spindown""#)
        });
    }
}
