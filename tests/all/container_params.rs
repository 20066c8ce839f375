//! The Greengrass container settings and the container's edges: devices, the network, the
//! user sandboxes run as, volumes with addGroupOwner, a read-only /sys, memory in KB. Each test
//! skips, saying why, where containers are unavailable.

use serde_json::{Value, json};

use crate::containment::{call, chmod, container_daemon, deploy_escape, function, set_handler};
use crate::harness::fixture;

#[test]
fn only_listed_devices_are_there() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    deploy_escape(&d, "devs", "app.devices", &["--device", "/dev/full:rw"]);
    let got = call(
        &d,
        "devs",
        json!({ "paths": ["/dev/full", "/dev/null", "/dev/kmsg", "/dev/mem", "/dev/sda"] }),
    );
    assert_eq!(
        got["/dev/full"]["value"],
        json!({"read": 4, "write": "ENOSPC"}),
        "usable: {got}"
    );
    assert_eq!(got["/dev/null"]["ok"], true, "{got}");
    for p in ["/dev/kmsg", "/dev/mem", "/dev/sda"] {
        assert_eq!(got[p]["errno"], "ENOENT", "{p}: {got}");
    }
    let dev: Vec<&str> = got["dev"]
        .as_array()
        .expect("dev")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for basic in [
        "null", "zero", "random", "urandom", "tty", "full", "shm", "pts",
    ] {
        assert!(dev.contains(&basic), "{basic} in {dev:?}");
    }
    assert!(
        !dev.iter()
            .any(|n| n.starts_with("sd") || n.starts_with("loop") || *n == "mem"),
        "{dev:?}"
    );
    // A device that does not exist is a deploy error that names it.
    let o = d.cli(&[
        "deploy",
        fixture("escape").to_str().expect("utf-8"),
        "--name",
        "nodev",
        "--runtime",
        "python3.11",
        "--handler",
        "app.devices",
        "--device",
        "/dev/ttyNOPE0",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/dev/ttyNOPE0") && err.contains("devices[0]"),
        "{err}"
    );
    // So is a volume whose source is missing, and a volume where the sandbox's own things are;
    // neither leaves a function behind.
    for (volume, says) in [
        (
            "/nonexistent/lambdalet-src:/data",
            "volumes[0].sourcePath /nonexistent/lambdalet-src",
        ),
        ("/tmp:/var/task", "the sandbox's own /var/task"),
        ("/sys/class:/x", "under /sys"),
        ("/:/host", "holds lambdalet's data directory"),
    ] {
        let o = d.cli(&[
            "deploy",
            fixture("escape").to_str().expect("utf-8"),
            "--name",
            "novol",
            "--runtime",
            "python3.11",
            "--handler",
            "app.devices",
            "--volume",
            volume,
        ]);
        assert!(!o.status.success(), "{volume}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(says) && err.contains("InvalidParameterValue"),
            "{volume}: {err}"
        );
    }
    assert_eq!(
        d.http("GET", "/2015-03-31/functions/novol", None, &[])
            .status,
        404
    );
}

#[test]
fn a_sandbox_without_network_still_reaches_its_runtime_api() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    deploy_escape(&d, "offline", "app.network", &["--network", "none"]);
    let api = d.url.trim_start_matches("http://").to_owned();
    let got = call(&d, "offline", json!({ "connect": [api] }));
    assert_eq!(got["interfaces"], json!(["lo"]), "{got}");
    assert_eq!(
        got["connect"][&api]["errno"], "ECONNREFUSED",
        "the host is out of reach: {got}"
    );
    deploy_escape(&d, "online", "app.network", &[]);
    let got = call(&d, "online", json!({ "connect": [api] }));
    assert_eq!(
        got["connect"][&api]["ok"], true,
        "host network by default: {got}"
    );
}

#[test]
fn greengrass_container_params_apply() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    // addGroupOwner: the source's group joins the function's groups; mountROSysfs: /sys
    // appears, read-only.
    let shared = tempfile::tempdir().expect("shared");
    std::os::unix::fs::chown(shared.path(), Some(0), Some(4242)).expect("chown");
    chmod(shared.path(), 0o770);
    let volume = format!("{}:/shared:rw:group", shared.path().display());
    deploy_escape(
        &d,
        "gg",
        "app.identity",
        &[
            "--volume",
            &volume,
            "--mount-ro-sysfs",
            "--container-memory",
            "65536",
        ],
    );
    let id = call(&d, "gg", json!({}));
    assert!(
        id["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!(4242))),
        "{id}"
    );
    set_handler(&d, "gg", "app.write_paths");
    let w = call(
        &d,
        "gg",
        json!({ "paths": ["/shared/by-group", "/sys/kernel/x"] }),
    );
    assert_eq!(
        w["/shared/by-group"]["ok"], true,
        "group access to the volume: {w}"
    );
    assert_eq!(w["/sys/kernel/x"]["errno"], "EROFS", "{w}");
    set_handler(&d, "gg", "app.list_paths");
    let l = call(&d, "gg", json!({ "paths": ["/sys/class"] }));
    assert_eq!(l["/sys/class"]["ok"], true, "{l}");
    // containerParams.memorySize (KB) is the limit: 64 MB here, whatever MemorySize says.
    let f = function(&d, "gg");
    assert_eq!(
        f["LambdaletConfig"]["containerParams"]["memorySize"], 65536,
        "{f}"
    );
    set_handler(&d, "gg", "app.allocate");
    let r = d.invoke("gg", r#"{"mb": 100}"#);
    assert_eq!(r.json()["errorType"], "Runtime.OutOfMemory", "{}", r.text());
    // Without mountROSysfs there is no /sys content.
    deploy_escape(&d, "nosys", "app.list_paths", &[]);
    let l = call(&d, "nosys", json!({ "paths": ["/sys/class"] }));
    assert_eq!(l["/sys/class"]["errno"], "ENOENT", "{l}");
}

#[test]
fn a_fixed_sandbox_user_runs_every_function() {
    let Some(d) = container_daemon(&["--sandbox-user", "65534:65534"]) else {
        return;
    };
    deploy_escape(&d, "nobody1", "app.identity", &[]);
    deploy_escape(&d, "nobody2", "app.identity", &[]);
    for name in ["nobody1", "nobody2"] {
        let id = call(&d, name, json!({}));
        assert_eq!(
            (id["uid"].clone(), id["gid"].clone()),
            (json!(65534), json!(65534)),
            "{id}"
        );
        assert_eq!(id["status"]["CapEff"], "0000000000000000");
    }
}
