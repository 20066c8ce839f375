//! Tests of the plan and of its execution against the recording [`Os`](super::super::os::Os).

use std::collections::HashMap;

use lambdalet_core::{DeviceMount, Permission, VolumeMount};

use super::*;
use crate::container::os::Recorder;
use crate::container::setup::assemble_root;

/// A Debian-like host: merged /usr, resolv.conf a link into /run, a pyenv Python under /root.
pub(crate) struct Table(pub HashMap<PathBuf, HostEntry>);

impl HostView for Table {
    fn entry(&self, path: &Path) -> Option<HostEntry> {
        self.0.get(path).cloned()
    }
}

pub(crate) fn debian() -> Table {
    let dir = HostEntry::Dir { gid: 0 };
    let file = HostEntry::File { gid: 0 };
    let mut t = HashMap::new();
    t.insert("/usr".into(), dir.clone());
    for l in ["bin", "sbin", "lib", "lib64"] {
        t.insert(
            format!("/{l}").into(),
            HostEntry::Symlink(format!("usr/{l}").into()),
        );
    }
    for e in ["ld.so.cache", "hosts", "nsswitch.conf"] {
        t.insert(format!("/etc/{e}").into(), file.clone());
    }
    t.insert("/etc/ssl".into(), dir.clone());
    t.insert(
        "/etc/resolv.conf".into(),
        HostEntry::Symlink("../run/systemd/resolve/stub-resolv.conf".into()),
    );
    t.insert("/run/systemd/resolve/stub-resolv.conf".into(), file.clone());
    t.insert("/srv/data".into(), HostEntry::Dir { gid: 44 });
    t.insert("/srv/config.json".into(), HostEntry::File { gid: 0 });
    t.insert(
        "/dev/ttyUSB0".into(),
        HostEntry::Device(DeviceNode {
            char: true,
            major: 188,
            minor: 0,
            mode: 0o660,
            uid: 0,
            gid: 20,
        }),
    );
    t.insert("/etc/shadow".into(), file);
    Table(t)
}

pub(crate) fn spec() -> ContainerSpec {
    ContainerSpec {
        code_dir: "/data/packages/code/abc".into(),
        layers: Vec::new(),
        runtime_dir: "/data/runtimes/1234/python".into(),
        host_dirs: vec!["/root/.pyenv/versions/3.11.7".into()],
        sdk_dir: None,
        ipc_socket: Some("/data/ipc.socket".into()),
        tmp_bytes: 512 << 20,
        network: NetworkMode::Host,
        mount_ro_sysfs: false,
        volumes: Vec::new(),
        devices: Vec::new(),
        uid: 200_003,
        gid: 200_003,
        groups: Vec::new(),
        hostname: "hello-1f2e".into(),
        image_root: None,
    }
}

fn exec() -> Exec {
    Exec {
        program: "/root/.pyenv/versions/3.11.7/bin/python3.11".into(),
        args: vec!["-u".into(), "/var/runtime/bootstrap.py".into()],
        env: vec![("LAMBDA_TASK_ROOT".into(), "/var/task".into())],
        cwd: "/var/task".into(),
    }
}

pub(crate) fn sample_plan() -> InitPlan {
    plan(
        &debian(),
        Path::new("/data/sandbox-root"),
        &spec(),
        &Limits::lambda(128 << 20),
        exec(),
    )
    .expect("plans")
}

fn binds(p: &InitPlan) -> Vec<(String, String, bool)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::Bind {
                source,
                path,
                readonly,
                ..
            } => Some((
                source.display().to_string(),
                path.display().to_string(),
                *readonly,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn the_root_holds_only_what_the_function_needs() {
    let p = sample_plan();
    assert!(matches!(&p.steps[0], Step::Tmpfs { path, .. } if path == Path::new("/")));
    assert_eq!(p.steps.last(), Some(&Step::SealRoot));
    let b = binds(&p);
    let has = |src: &str, dst: &str| b.iter().any(|(s, d, ro)| s == src && d == dst && *ro);
    assert!(has("/usr", "/usr"), "{b:?}");
    assert!(has("/data/packages/code/abc", "/var/task"));
    assert!(has("/data/packages/code/abc", "/lambda"));
    assert!(has("/data/runtimes/1234/python", "/var/runtime"));
    assert!(has(
        "/root/.pyenv/versions/3.11.7",
        "/root/.pyenv/versions/3.11.7"
    ));
    assert!(
        has("/run/systemd/resolve/stub-resolv.conf", "/etc/resolv.conf"),
        "links are followed on the host"
    );
    assert!(has("/etc/ssl", "/etc/ssl"));
    assert!(!b.iter().any(|(s, _, _)| s == "/etc/shadow"
        || s == "/data"
        || s.starts_with("/data/packages/code/") && s != "/data/packages/code/abc"));
    assert!(
        b.iter()
            .any(|(s, d, ro)| s == "/data/ipc.socket" && d == paths::IPC_SOCKET && !ro)
    );
    assert!(p.steps.contains(&Step::Symlink {
        target: "usr/lib".into(),
        path: "/lib".into()
    }));
    assert!(p.steps.iter().any(|s| matches!(s, Step::Tmpfs { path, size: Some(sz), mode: 0o1777, .. } if path == Path::new("/tmp") && *sz == 512 << 20)));
    assert!(p.steps.iter().any(|s| matches!(s, Step::File { path, contents, .. } if path == Path::new("/etc/passwd") && contents.contains(":200003:200003:"))));
    assert!(p.steps.contains(&Step::Mask {
        path: "/proc/kcore".into()
    }));
    assert!(p.steps.contains(&Step::ReadOnly {
        path: "/proc/sys".into()
    }));
    assert!(
        !p.steps.iter().any(|s| matches!(s, Step::Sysfs { .. })),
        "no /sys unless asked"
    );
    assert_eq!(
        p.runtime_api, None,
        "host network: the daemon's listener is reachable"
    );
    assert_eq!(p.identity.uid, 200_003);
    assert!(p.identity.groups.is_empty());
}

#[test]
fn volumes_devices_sysfs_and_no_network() {
    let mut s = spec();
    s.mount_ro_sysfs = true;
    s.network = NetworkMode::None;
    with_volumes_and_devices(&mut s);
    let p = plan(
        &debian(),
        Path::new("/r"),
        &s,
        &Limits::lambda(128 << 20),
        exec(),
    )
    .expect("plans");
    let b = binds(&p);
    assert!(b.contains(&("/srv/data".into(), "/data".into(), false)));
    assert!(b.contains(&("/srv/config.json".into(), "/etc/app.json".into(), true)));
    assert!(p.steps.iter().any(
        |st| matches!(st, Step::Bind { path, file: true, .. } if path == Path::new("/etc/app.json"))
    ));
    assert!(
        p.steps.contains(&Step::Mknod {
            path: "/dev/ttyUSB0".into(),
            node: DeviceNode {
                char: true,
                major: 188,
                minor: 0,
                mode: 0o440,
                uid: 0,
                gid: 20
            }
        }),
        "ro takes the write bits away"
    );
    assert!(p.steps.iter().any(|st| matches!(st, Step::Sysfs { .. })));
    assert_eq!(
        p.identity.groups,
        vec![20, 44],
        "addGroupOwner adds the owners' groups"
    );
    assert_eq!(p.runtime_api, Some("127.0.0.1:9001".parse().expect("addr")));
    // Volumes come after the system directories (their mount points may be inside them) and
    // before the root is sealed.
    let pos = |want: &str| {
        p.steps
            .iter()
            .position(|st| matches!(st, Step::Bind { path, .. } if path == Path::new(want)))
            .expect(want)
    };
    assert!(pos("/usr") < pos("/data"));
    assert_eq!(p.steps.last(), Some(&Step::SealRoot));
}

#[test]
fn a_vanished_volume_or_device_is_named() {
    let mut s = spec();
    s.volumes = vec![VolumeMount {
        source_path: "/gone".into(),
        destination_path: "/x".into(),
        permission: Permission::Ro,
        add_group_owner: false,
    }];
    let e = plan(
        &debian(),
        Path::new("/r"),
        &s,
        &Limits::lambda(128 << 20),
        exec(),
    )
    .expect_err("missing");
    assert!(e.0.contains("/gone does not exist"), "{e}");
    let mut s = spec();
    s.devices = vec![DeviceMount {
        path: "/dev/nothing".into(),
        permission: Permission::Ro,
        add_group_owner: false,
    }];
    let e = plan(
        &debian(),
        Path::new("/r"),
        &s,
        &Limits::lambda(128 << 20),
        exec(),
    )
    .expect_err("missing");
    assert!(e.0.contains("/dev/nothing is not a device node"), "{e}");
}

#[test]
fn plans_travel_as_json() {
    let p = sample_plan();
    let json = serde_json::to_string(&p).expect("serializes");
    assert_eq!(serde_json::from_str::<InitPlan>(&json).expect("parses"), p);
}

#[test]
fn the_setup_runs_in_order_and_pivots_last() {
    let p = sample_plan();
    let mut os = Recorder {
        missing: vec!["/data/sandbox-root/proc/timer_stats".into()],
        ..Default::default()
    };
    assemble_root(&mut os, &p).expect("runs");
    let calls = &os.calls;
    let first = |prefix: &str| {
        calls
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {calls:#?}"))
    };
    assert_eq!(
        calls[0], "mount - / - [rec,private]",
        "nothing propagates to the host"
    );
    assert_eq!(
        calls[1],
        "mount tmpfs /data/sandbox-root tmpfs [nosuid,nodev] mode=755,size=1048576"
    );
    // /usr is bound, then made read-only, nosuid and nodev.
    let usr = first("mount /usr /data/sandbox-root/usr");
    assert_eq!(
        calls[usr + 1],
        "mount - /data/sandbox-root/usr - [bind,remount,ro,nosuid,nodev]"
    );
    let seal = first("mount - /data/sandbox-root - [bind,remount,ro,nosuid,nodev]");
    let pivot = first("pivot_root");
    assert!(first("mount /data/packages/code/abc /data/sandbox-root/var/task") < seal);
    assert!(first("mount proc /data/sandbox-root/proc proc [nosuid,nodev,noexec]") < seal);
    assert!(first("mknod /data/sandbox-root/dev/null c 1:3 666") < seal);
    assert!(seal < pivot, "the root is sealed before it is entered");
    assert_eq!(calls[pivot - 1], "chdir /data/sandbox-root");
    assert_eq!(
        calls.last().map(String::as_str),
        Some("sethostname hello-1f2e")
    );
    assert!(
        !calls.iter().any(|c| c.contains("timer_stats")),
        "a missing path is not masked"
    );
}

#[test]
fn a_failing_step_is_named() {
    let p = sample_plan();
    let mut os = Recorder {
        fail_on: Some("mount /data/packages/code/abc".into()),
        ..Default::default()
    };
    let e = assemble_root(&mut os, &p).expect_err("fails");
    assert_eq!(
        e.to_string(),
        "cannot mount /data/packages/code/abc at /var/task: Operation not permitted (os error 1)"
    );
    assert!(
        !os.calls.iter().any(|c| c.starts_with("pivot_root")),
        "stops at the failure"
    );
}

#[test]
fn zip_plans_set_up_exactly_as_before_images() {
    let mut s = spec();
    s.mount_ro_sysfs = true;
    s.network = NetworkMode::None;
    s.layers = vec![
        "/data/packages/code/l1".into(),
        "/data/packages/code/l2".into(),
    ];
    with_volumes_and_devices(&mut s);
    let p = plan(
        &debian(),
        Path::new("/r"),
        &s,
        &Limits::lambda(128 << 20),
        exec(),
    )
    .expect("plans");
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s, Step::Fresh { .. } | Step::ImageRoot { .. }))
    );
    let mut os = Recorder::default();
    assemble_root(&mut os, &p).expect("runs");
    // Recorded from the set-up before image functions existed.
    let before: Vec<&str> = include_str!("testdata/zip_setup_calls.txt")
        .lines()
        .collect();
    assert_eq!(os.calls, before);
    assert!(os.followed.is_empty());
}

/// Two volumes (one read-write with the group owner added, one read-only file) and a device.
fn with_volumes_and_devices(s: &mut ContainerSpec) {
    s.volumes = vec![
        VolumeMount {
            source_path: "/srv/data".into(),
            destination_path: "/data".into(),
            permission: Permission::Rw,
            add_group_owner: true,
        },
        VolumeMount {
            source_path: "/srv/config.json".into(),
            destination_path: "/etc/app.json".into(),
            permission: Permission::Ro,
            add_group_owner: false,
        },
    ];
    s.devices = vec![DeviceMount {
        path: "/dev/ttyUSB0".into(),
        permission: Permission::Ro,
        add_group_owner: true,
    }];
}
