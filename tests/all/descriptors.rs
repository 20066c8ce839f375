//! Escape test: descriptors the daemon was started with (by a shell, a supervisor) never reach
//! a function, in either sandbox.

use serde_json::Value;

use crate::containment::{call, containers_unavailable, deploy_escape};
use crate::harness::Daemon;

#[test]
fn descriptors_the_daemon_inherited_do_not_reach_functions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secret = tmp.path().join("daemon-secret");
    std::fs::write(&secret, "the daemon's secret\n").expect("write");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let d = Daemon::start_holding(&data, &secret, &["--sandbox", "process"]);
    let mut sandboxes = vec!["process"];
    match containers_unavailable(&d) {
        None => sandboxes.push("container"),
        Some(why) => eprintln!("container sandbox not checked: {why}"),
    }
    for sandbox in sandboxes {
        let name = format!("fds-{sandbox}");
        deploy_escape(&d, &name, "app.descriptors", &["--sandbox", sandbox]);
        let fds = call(&d, &name, Value::Null);
        let fds = fds.as_object().expect("object");
        assert!(!fds.is_empty(), "{fds:?}");
        for (fd, target) in fds {
            let target = target.as_str().unwrap_or_default();
            assert!(
                !target.contains("daemon-secret"),
                "{sandbox} sandbox: descriptor {fd} is the daemon's inherited file {target}: {fds:?}"
            );
        }
        assert!(
            !fds.contains_key("9"),
            "{sandbox} sandbox: descriptor 9 leaked: {fds:?}"
        );
    }
}
