//! Container images: `lambdalet image load|list|rm` with an OCI image layout tarball the test
//! builds; a broken archive named in the error; signed uploads streamed; administrators only. (Functions do not run
//! images yet.)

use std::process::Command;

use crate::harness::{Daemon, LAMBDALET, python_script};

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_oci_image_is_loaded_listed_and_removed() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = tmp.path().join("hello.tar");
    let made = python_script("oci_image.py", &[archive.to_str().expect("utf-8")]);
    let id = made["id"].as_str().expect("id").to_owned();
    let o = d.cli(&["image", "load", archive.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}\n{}", out(&o), d.log());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("sha256:{id}")
    );
    let rootfs = d.data_dir.join("images/rootfs").join(&id);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("var/task/app.txt")).expect("unpacked"),
        "hello from an image\n"
    );
    let list = d.cli(&["image", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(v[0]["ImageId"], format!("sha256:{id}"));
    assert_eq!(
        v[0]["Config"]["cmd"],
        serde_json::json!(["app.handler"]),
        "{v}"
    );
    assert!(v[0]["Names"].to_string().contains("hello-image"), "{v}");
    // Loading it again stores it once.
    assert!(
        d.cli(&["image", "load", archive.to_str().expect("utf-8")])
            .status
            .success()
    );
    let again: serde_json::Value =
        serde_json::from_slice(&d.cli(&["image", "list", "--json"]).stdout).expect("json");
    assert_eq!(again.as_array().map(Vec::len), Some(1));
    // A broken archive is refused with what is wrong, and leaves nothing.
    let broken = tmp.path().join("broken.tar");
    std::fs::write(&broken, b"not a tar at all").expect("write");
    let o = d.cli(&["image", "load", broken.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    assert!(out(&o).contains("InvalidParameterValue"), "{}", out(&o));
    assert!(
        std::fs::read_dir(d.data_dir.join("images/uploads"))
            .expect("dir")
            .next()
            .is_none(),
        "uploads are cleaned"
    );
    let o = d.cli(&["image", "rm", &id[..12]]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(!rootfs.exists());
    let o = d.cli(&["image", "rm", &id[..12]]);
    assert!(out(&o).contains("no image"), "{}", out(&o));
}

#[test]
fn a_signed_upload_streams_and_unsigned_requests_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    Daemon::start_in(tmp.path()).stop();
    let key = crate::auth::new_key(tmp.path());
    let d = Daemon::start_with(tmp.path(), "serve", &["--auth", "sigv4"]);
    let archive = tmp.path().join("hello.tar");
    python_script("oci_image.py", &[archive.to_str().expect("utf-8")]);
    let signed = Command::new(LAMBDALET)
        .args(["image", "load"])
        .arg(&archive)
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .env("LAMBDALET_ACCESS_KEY_ID", &key.id)
        .env("LAMBDALET_SECRET_ACCESS_KEY", &key.secret)
        .output()
        .expect("image load");
    assert!(signed.status.success(), "{}\n{}", out(&signed), d.log());
    let unsigned = d.cli(&["image", "list"]);
    assert!(
        !unsigned.status.success(),
        "unsigned requests are refused with --auth sigv4"
    );
}

#[test]
fn a_function_may_not_load_or_list_images_even_with_management_rights() {
    let d = Daemon::start();
    crate::containment::deploy_escape(&d, "manager", "app.api", &["--allow-management"]);
    for (method, path) in [
        ("PUT", "/lambdalet/v1/images"),
        ("GET", "/lambdalet/v1/images"),
    ] {
        let calls =
            serde_json::json!([{"op": "signed", "method": method, "path": path, "body": "x"}]);
        let got = crate::containment::call(&d, "manager", serde_json::json!({ "calls": calls }));
        assert_eq!(
            got["signed"], "AccessDeniedException",
            "{method} {path}: {got}"
        );
    }
}
