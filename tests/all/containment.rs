//! Escape tests for the container sandbox (the default): a function tries to reach what is not
//! its own (other functions' code, the daemon's data, host files and processes) and to keep
//! privileges, and reports what it got. Each test skips, saying why, on a host that cannot run
//! container sandboxes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, fixture, processes_matching};

/// Why this host cannot run container sandboxes (the daemon says so in /metrics), if it cannot.
pub fn containers_unavailable(d: &Daemon) -> Option<String> {
    let metrics = d.http("GET", "/metrics", None, &[]).text();
    if metrics.contains("lambdalet_sandbox_container_available 1") {
        return None;
    }
    Some(
        metrics
            .lines()
            .find(|l| l.starts_with("lambdalet_sandbox_fallback_info"))
            .unwrap_or("no container backend")
            .to_owned(),
    )
}

/// Starts a daemon and skips (returns `None`, printing why) where containers are unavailable.
pub fn container_daemon(extra: &[&str]) -> Option<Daemon> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_with(tmp.path(), "serve", extra);
    d.keep(tmp);
    if let Some(why) = containers_unavailable(&d) {
        eprintln!("skipped: container sandboxes are unavailable on this host: {why}");
        return None;
    }
    Some(d)
}

/// Deploys the escape fixture as `name` with extra `lambdalet deploy` flags.
pub fn deploy_escape(d: &Daemon, name: &str, handler: &str, extra: &[&str]) -> Value {
    d.deploy_python(
        &fixture("escape"),
        name,
        handler,
        &[&["--timeout", "30"], extra].concat(),
    );
    function(d, name)
}

/// `GetFunction`'s configuration.
pub fn function(d: &Daemon, name: &str) -> Value {
    let r = d.http("GET", &format!("/2015-03-31/functions/{name}"), None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["Configuration"].clone()
}

/// Points `name` at another handler of the fixture.
pub fn set_handler(d: &Daemon, name: &str, handler: &str) {
    let r = d.http(
        "PUT",
        &format!("/2015-03-31/functions/{name}/configuration"),
        Some(json!({ "Handler": handler }).to_string().as_bytes()),
        &[("content-type", "application/json")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Invokes and returns the response, failing on a function error.
pub fn call(d: &Daemon, name: &str, event: Value) -> Value {
    let r = d.invoke(name, &event.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("x-amz-function-error").is_none(),
        "{name} failed: {}\n{}",
        r.text(),
        d.log()
    );
    r.json()
}

/// The directory holding `name`'s unpacked code on the host.
fn code_dir(d: &Daemon, name: &str) -> PathBuf {
    let f = function(d, name);
    let sha = f["CodeSha256"].as_str().expect("sha");
    let digest = base64_decode(sha);
    d.data_dir.join("packages/code").join(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn refused(v: &Value) -> bool {
    v["ok"] == false
}

#[test]
fn a_function_cannot_read_what_is_not_its_own() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    let f = deploy_escape(&d, "prober", "app.read_paths", &[]);
    assert_eq!(f["LambdaletSandbox"]["Mode"], "GreengrassContainer", "{f}");
    deploy_escape(&d, "victim", "app.read_paths", &[]);
    let victim = code_dir(&d, "victim").join("app.py");
    assert!(victim.exists(), "{victim:?}");
    let state = d.data_dir.join("state.db");
    let paths = [
        victim.display().to_string(),
        state.display().to_string(),
        "/etc/shadow".to_owned(),
        "/proc/1/root/etc/shadow".to_owned(),
        "/proc/1/environ".to_owned(),
        format!("/proc/{}/environ", std::process::id()),
        "/root/.bash_history".to_owned(),
    ];
    let got = call(
        &d,
        "prober",
        json!({ "paths": paths.iter().chain(["/var/task/app.py".to_owned()].iter()).collect::<Vec<_>>() }),
    );
    for p in &paths {
        assert!(refused(&got[p]), "{p} was readable: {got}");
    }
    assert_eq!(got["/var/task/app.py"]["ok"], true, "its own code: {got}");
    set_handler(&d, "prober", "app.list_paths");
    let dirs = call(
        &d,
        "prober",
        json!({ "paths": [d.data_dir.display().to_string(), "/", "/var", "/etc", "/root"] }),
    );
    assert!(refused(&dirs[d.data_dir.display().to_string()]), "{dirs}");
    let root: Vec<&str> = dirs["/"]["value"]
        .as_array()
        .expect("listing")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for unexpected in ["home", "boot", "mnt", "srv", "run"] {
        assert!(!root.contains(&unexpected), "/{unexpected} in {root:?}");
    }
    let etc: Vec<&str> = dirs["/etc"]["value"]
        .as_array()
        .expect("listing")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !etc.contains(&"shadow") && etc.contains(&"passwd"),
        "{etc:?}"
    );
}

#[test]
fn a_function_runs_unprivileged_and_confined() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    deploy_escape(&d, "who", "app.identity", &[]);
    let id = call(&d, "who", json!({ "probe": true }));
    let uid = id["uid"].as_u64().expect("uid");
    assert!(uid >= 2_000_000, "a uid of its own, not root: {id}");
    assert_eq!(id["gid"], id["uid"]);
    let st = &id["status"];
    for cap in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(st[cap], "0000000000000000", "{cap}: {id}");
    }
    assert_eq!(st["NoNewPrivs"], "1");
    assert_eq!(st["Seccomp"], "2", "a seccomp filter");
    assert_eq!(id["mount"], "EPERM");
    assert_eq!(id["unshare_user"], "EPERM");
    assert_eq!(id["unshare_mount"], "EPERM");
    assert_eq!(id["chroot"], "EPERM");
    assert_eq!(id["nofile"], json!([1024, 1024]));
    assert_eq!(id["cwd"], "/var/task");
    assert_eq!(id["env"]["LAMBDA_TASK_ROOT"], "/var/task");
    assert_eq!(
        id["cgroup"]
            .as_str()
            .map(|c| c.lines().all(|l| l.ends_with(":/"))),
        Some(true),
        "its own cgroup namespace: {id}"
    );
    // Another function gets another uid.
    deploy_escape(&d, "who2", "app.identity", &[]);
    let other = call(&d, "who2", json!({}));
    assert_ne!(other["uid"], id["uid"]);

    // It sees only its own processes, and cannot signal the daemon or its init.
    set_handler(&d, "who", "app.processes");
    let ps = call(&d, "who", json!({}));
    let procs = ps["processes"].as_object().expect("processes");
    assert!(procs.len() <= 3, "only the sandbox's processes: {ps}");
    assert!(procs.contains_key("1"), "{ps}");
    assert!(
        !procs
            .values()
            .any(|c| c.as_str().is_some_and(|c| c.contains("lambdalet serve"))),
        "{ps}"
    );
    set_handler(&d, "who", "app.signal_pids");
    let daemon_pid = d.pid();
    let sig = call(&d, "who", json!({ "pids": [daemon_pid, 1], "signal": 9 }));
    assert_eq!(sig[daemon_pid.to_string()]["errno"], "ESRCH", "{sig}");
    // PID 1 (the sandbox's init) ignores what comes from inside: the sandbox lives on.
    set_handler(&d, "who", "app.identity");
    let again = call(&d, "who", json!({}));
    assert!(again["sandbox"].is_string());
    assert!(d.log().contains("listening on"), "the daemon is fine");
}

#[test]
fn tmp_is_private_per_sandbox_and_bounded() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    let host_marker = std::env::temp_dir().join(format!("lambdalet-host-{}", std::process::id()));
    std::fs::write(&host_marker, "host").expect("host file");
    deploy_escape(&d, "tmp-a", "app.tmp", &["--memory", "1024"]);
    deploy_escape(&d, "tmp-b", "app.tmp", &[]);
    // Two sandboxes of one function at once: the first holds its marker while the second looks.
    let first = {
        let url = d.url.clone();
        std::thread::spawn(move || {
            crate::harness::curl(
                "POST",
                &format!("{url}/2015-03-31/functions/tmp-a/invocations"),
                Some(br#"{"write": "from-first", "sleep": 3}"#),
                &[],
            )
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    let second = call(&d, "tmp-a", json!({}));
    let first = first.join().expect("thread").json();
    assert_ne!(first["sandbox"], second["sandbox"], "two sandboxes");
    assert_eq!(first["files"], json!(["from-first"]), "{first}");
    assert_eq!(
        second["files"],
        json!([]),
        "the second sandbox has its own /tmp: {second}"
    );
    let host_name = host_marker
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    assert!(!first["files"].to_string().contains(host_name));
    // Another function does not see it either.
    assert_eq!(call(&d, "tmp-b", json!({}))["files"], json!([]));
    std::fs::remove_file(&host_marker).expect("cleanup");

    // Bounded by EphemeralStorage (512 MB by default).
    set_handler(&d, "tmp-a", "app.fill_tmp");
    let fill = call(&d, "tmp-a", json!({ "max_mb": 700 }));
    assert_eq!(fill["errno"], "ENOSPC", "{fill}");
    let mb = fill["written_mb"].as_u64().expect("written");
    assert!((500..=512).contains(&mb), "{fill}");
}

#[test]
fn writes_outside_tmp_and_rw_volumes_fail() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    let rw = tempfile::tempdir().expect("rw");
    let ro = tempfile::tempdir().expect("ro");
    std::fs::write(ro.path().join("config"), "x").expect("ro file");
    chmod(rw.path(), 0o777);
    chmod(ro.path(), 0o777);
    let rw_spec = format!("{}:/data:rw", rw.path().display());
    let ro_spec = format!("{}:/config", ro.path().display());
    deploy_escape(
        &d,
        "writer",
        "app.write_paths",
        &["--volume", &rw_spec, "--volume", &ro_spec],
    );
    let paths = [
        "/var/task/x",
        "/lambda/x",
        "/etc/x",
        "/x",
        "/usr/x",
        "/opt/x",
        "/var/runtime/x",
        "/config/x",
        "/config/config",
        "/proc/sys/kernel/hostname",
    ];
    let mut all: Vec<&str> = paths.to_vec();
    all.extend(["/tmp/x", "/data/x", "/dev/shm/x"]);
    let got = call(&d, "writer", json!({ "paths": all }));
    for p in paths {
        assert!(refused(&got[p]), "{p} was writable: {got}");
    }
    for p in ["/tmp/x", "/data/x", "/dev/shm/x"] {
        assert_eq!(got[p]["ok"], true, "{p}: {got}");
    }
    let written = rw.path().join("x");
    assert!(written.exists(), "the rw volume is the host directory");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&written).expect("meta").uid();
    assert!(
        owner >= 2_000_000,
        "written as the function's own uid, not root: {owner}"
    );
    assert!(!ro.path().join("x").exists());
}

/// Asserts no process with `needle` in its command line remains, within `limit`.
pub fn gone(needle: &str, limit: Duration) {
    eventually(limit, &format!("no process running {needle}"), || {
        processes_matching(needle).is_empty()
    });
}

#[test]
fn children_that_leave_the_process_group_die_with_the_sandbox() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    deploy_escape(&d, "orphans", "app.spawn_orphan", &["--idle-timeout", "1"]);
    let seconds = format!("{}.4242", 3000 + std::process::id() % 1000);
    call(&d, "orphans", json!({ "seconds": seconds }));
    assert_eq!(
        processes_matching(&format!("sleep {seconds}")).len(),
        1,
        "the child runs"
    );
    // The idle sandbox is reaped after a second: its setsid child goes with it.
    gone(&format!("sleep {seconds}"), Duration::from_secs(15));
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
