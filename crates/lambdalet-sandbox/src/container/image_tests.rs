//! The image plan, and its set-up against the recording [`Os`](super::super::os::Os) with
//! hostile images: whatever links and files an image holds, no write or mount leaves the root.

use lambdalet_core::{DeviceMount, Permission, VolumeMount};

use super::*;
use crate::container::os::{Kind, Recorder};
use crate::container::plan::tests::{Table, debian, sample_plan, spec};
use crate::container::plan::{DeviceNode, InitPlan, plan};
use crate::container::setup::{StepError, assemble_root};

const IMAGE: &str = "/data/images/rootfs/abc";

fn host() -> Table {
    let mut t = debian();
    t.0.insert(IMAGE.into(), HostEntry::Dir { gid: 0 });
    t.0.insert(
        "/srv/sensor".into(),
        HostEntry::Device(DeviceNode::public(10, 1)),
    );
    t
}

fn image_spec() -> ContainerSpec {
    ContainerSpec {
        image_root: Some(IMAGE.into()),
        ..spec()
    }
}

fn plan_of(s: &ContainerSpec) -> Result<InitPlan, PlanError> {
    let exec = sample_plan().exec.expect("an exec");
    plan(
        &host(),
        Path::new("/r"),
        s,
        &Limits::lambda(128 << 20),
        exec,
    )
}

/// A step in a word or two, for comparing whole plans.
fn brief(s: &Step) -> String {
    match s {
        Step::ImageRoot { lower } => format!("image {}", lower.display()),
        Step::Fresh { path, file } => format!(
            "fresh {} {}",
            if *file { "file" } else { "dir" },
            path.display()
        ),
        Step::File { path, .. } => format!("file {}", path.display()),
        Step::Tmpfs { path, .. } => format!("tmpfs {}", path.display()),
        Step::Bind { source, path, .. } => format!("bind {} {}", source.display(), path.display()),
        Step::Mknod { path, .. } => format!("mknod {}", path.display()),
        Step::Symlink { path, .. } => format!("symlink {}", path.display()),
        Step::Proc { .. } => "proc".to_owned(),
        Step::Sysfs { .. } => "sysfs".to_owned(),
        Step::Devpts { .. } => "devpts".to_owned(),
        Step::Mask { path } => format!("mask {}", path.display()),
        Step::ReadOnly { path } => format!("ro {}", path.display()),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_image_plan_in_order() {
    let p = plan_of(&image_spec()).expect("plans");
    let got: Vec<String> = p
        .steps
        .iter()
        .map(brief)
        .filter(|b| !b.starts_with("mask ") && !b.starts_with("ro /proc/"))
        .collect();
    let want = [
        "image /data/images/rootfs/abc",
        "fresh dir /etc",
        "file /etc/hostname",
        "file /etc/hosts",
        "fresh file /etc/resolv.conf",
        "bind /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf",
        "fresh dir /tmp",
        "tmpfs /tmp",
        "fresh dir /dev",
        "tmpfs /dev",
        "mknod /dev/null",
        "mknod /dev/zero",
        "mknod /dev/random",
        "mknod /dev/urandom",
        "mknod /dev/tty",
        "symlink /dev/fd",
        "symlink /dev/stdin",
        "symlink /dev/stdout",
        "symlink /dev/stderr",
        "symlink /dev/ptmx",
        "devpts",
        "tmpfs /dev/shm",
        "fresh dir /proc",
        "proc",
        "fresh file /socket/greengrassv2_ipc.sock",
        "bind /data/ipc.socket /socket/greengrassv2_ipc.sock",
        "SealRoot",
    ];
    assert_eq!(got, want);
    assert!(p.steps.contains(&Step::Mask {
        path: "/proc/kcore".into()
    }));
    assert!(p.steps.contains(&Step::File {
        path: "/etc/hosts".into(),
        contents: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\thello-1f2e\n127.0.0.1\tsandbox.localdomain sandbox\n".into(),
        mode: 0o644,
    }));
    assert_eq!(p.identity.uid, 200_003);
    assert_eq!(p.runtime_api, None);
}

#[test]
fn an_image_shows_nothing_of_the_host_but_resolv_conf_and_the_socket() {
    let p = plan_of(&image_spec()).expect("plans");
    let sources: Vec<String> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Bind { source, .. } => Some(source.display().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sources,
        ["/run/systemd/resolve/stub-resolv.conf", "/data/ipc.socket"]
    );
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s, Step::File { path, .. } if path == Path::new("/etc/passwd"))),
        "the image's own passwd stays"
    );
    // No network: the image's resolv.conf is left alone; /sys when asked.
    let mut s = image_spec();
    s.network = NetworkMode::None;
    s.mount_ro_sysfs = true;
    s.ipc_socket = None;
    let p = plan_of(&s).expect("plans");
    let b: Vec<String> = p.steps.iter().map(brief).collect();
    assert!(
        !b.iter()
            .any(|b| b.contains("resolv.conf") || b.contains("socket"))
    );
    let at = |want: &str| b.iter().position(|x| x == want).expect(want);
    assert!(at("fresh dir /sys") < at("sysfs"));
    assert!(p.runtime_api.is_some());
}

#[test]
fn an_image_that_is_not_a_directory_is_refused() {
    let mut s = image_spec();
    s.image_root = Some("/data/images/rootfs/gone".into());
    let e = plan_of(&s).expect_err("missing");
    assert!(e.0.contains("rootfs/gone is not a directory"), "{e}");
}

#[test]
fn the_image_root_is_an_overlay_on_a_private_tmpfs_with_escaped_paths() {
    let mut s = image_spec();
    s.image_root = Some(r"/data/images/rootfs/a,b:c\d".into());
    let mut t = host();
    t.0.insert(
        r"/data/images/rootfs/a,b:c\d".into(),
        HostEntry::Dir { gid: 0 },
    );
    let exec = sample_plan().exec.expect("an exec");
    let p = plan(
        &t,
        Path::new("/var/lib/l,x"),
        &s,
        &Limits::lambda(128 << 20),
        exec,
    )
    .expect("plans");
    let mut os = Recorder::default();
    assemble_root(&mut os, &p).expect("runs");
    assert_eq!(
        os.calls[..5],
        [
            "mount - / - [rec,private]",
            "mount tmpfs /var/lib/l,x tmpfs [nosuid,nodev] mode=755,size=1048576",
            "mkdir /var/lib/l,x/upper 755",
            "mkdir /var/lib/l,x/work 755",
            r"mount overlay /var/lib/l,x overlay [nosuid,nodev] lowerdir=/data/images/rootfs/a\,b\:c\\d,upperdir=/var/lib/l\,x/upper,workdir=/var/lib/l\,x/work",
        ]
    );
    let seal = "mount - /var/lib/l,x - [bind,remount,ro,nosuid,nodev]";
    let seal = os.calls.iter().position(|c| c == seal).expect("sealed");
    assert_eq!(os.calls[seal + 1], "chdir /var/lib/l,x");
    assert!(os.followed.is_empty(), "{:#?}", os.followed);
}

/// A recorder whose root `/r` already holds `image`'s entries.
fn image(entries: &[(&str, Kind)]) -> Recorder {
    let mut os = Recorder::default();
    for (path, kind) in entries {
        os.created.insert(Path::new("/r").join(path), *kind);
    }
    os
}

/// Every path the set-up touched is under the root, and none went through a link.
fn assert_contained(os: &Recorder) {
    assert!(os.followed.is_empty(), "followed links: {:#?}", os.followed);
    for call in &os.calls[1..] {
        let words: Vec<&str> = call.split(' ').collect();
        let path = match words[0] {
            "mount" => words[2],
            "sethostname" | "pivot_root" => continue,
            _ => words[1],
        };
        assert!(
            path == "/r" || path.starts_with("/r/"),
            "{call} leaves the root: {:#?}",
            os.calls
        );
    }
}

fn position(os: &Recorder, call: &str) -> usize {
    os.calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no {call} in {:#?}", os.calls))
}

#[test]
fn a_hostile_image_never_leads_the_set_up_out_of_the_root() {
    let mut s = image_spec();
    s.mount_ro_sysfs = true;
    let p = plan_of(&s).expect("plans");
    let mut os = image(&[
        ("etc", Kind::Dir),
        ("etc/resolv.conf", Kind::Symlink),
        ("etc/hostname", Kind::Symlink),
        ("etc/hosts", Kind::Other),
        ("tmp", Kind::Symlink),
        ("proc", Kind::Other),
        ("dev", Kind::Symlink),
        ("sys", Kind::Symlink),
        ("socket", Kind::Symlink),
    ]);
    assemble_root(&mut os, &p).expect("runs");
    assert_contained(&os);
    // Each is removed from the overlay, made again, then used.
    for (gone, made, used) in [
        (
            "unlink /r/etc/resolv.conf",
            "touch /r/etc/resolv.conf",
            "mount /run/systemd/resolve/stub-resolv.conf /r/etc/resolv.conf - [bind]",
        ),
        (
            "unlink /r/etc/hostname",
            "write /r/etc/hostname 644 1 lines",
            "write /r/etc/hostname 644 1 lines",
        ),
        (
            "unlink /r/etc/hosts",
            "write /r/etc/hosts 644 4 lines",
            "write /r/etc/hosts 644 4 lines",
        ),
        (
            "unlink /r/tmp",
            "mkdir /r/tmp 755",
            "mount tmpfs /r/tmp tmpfs [nosuid,nodev] mode=1777,size=536870912",
        ),
        (
            "unlink /r/proc",
            "mkdir /r/proc 755",
            "mount proc /r/proc proc [nosuid,nodev,noexec]",
        ),
        (
            "unlink /r/dev",
            "mkdir /r/dev 755",
            "mount tmpfs /r/dev tmpfs [nosuid,noexec] mode=755,size=65536",
        ),
        (
            "unlink /r/sys",
            "mkdir /r/sys 755",
            "mount sysfs /r/sys sysfs [ro,nosuid,nodev,noexec]",
        ),
        (
            "unlink /r/socket",
            "touch /r/socket/greengrassv2_ipc.sock",
            "mount /data/ipc.socket /r/socket/greengrassv2_ipc.sock - [bind]",
        ),
    ] {
        assert!(position(&os, gone) < position(&os, made), "{gone}");
        assert!(position(&os, made) <= position(&os, used), "{made}");
    }
    assert_eq!(
        position(&os, "mkdir /r/socket 755") + 1,
        position(&os, "touch /r/socket/greengrassv2_ipc.sock")
    );
}

#[test]
fn an_etc_that_is_a_link_is_replaced_not_followed() {
    let p = plan_of(&image_spec()).expect("plans");
    let mut os = image(&[("etc", Kind::Symlink)]);
    assemble_root(&mut os, &p).expect("runs");
    assert_contained(&os);
    assert_eq!(
        os.calls[5..8],
        [
            "unlink /r/etc",
            "mkdir /r/etc 755",
            "write /r/etc/hostname 644 1 lines"
        ]
    );
}

#[test]
fn a_file_where_the_plan_writes_a_file_is_replaced_and_a_directory_refused() {
    let p = plan_of(&image_spec()).expect("plans");
    let mut os = image(&[("etc", Kind::Dir), ("etc/hosts", Kind::Dir)]);
    let e: StepError = assemble_root(&mut os, &p).expect_err("a directory");
    assert_eq!(
        e.to_string(),
        "cannot write /etc/hosts: /etc/hosts is a directory"
    );
    assert_contained(&os);
}

/// A volume or device whose path meets a link of the image is refused, with its name.
fn refused(s: &ContainerSpec, entries: &[(&str, Kind)]) -> (StepError, Recorder) {
    let p = plan_of(s).expect("plans");
    let mut os = image(entries);
    let e = assemble_root(&mut os, &p).expect_err("refused");
    assert_contained(&os);
    assert!(!os.calls.iter().any(|c| c.starts_with("pivot_root")));
    (e, os)
}

#[test]
fn user_paths_through_an_image_link_are_refused_with_their_name() {
    let volume = |source: &str, destination: &str| VolumeMount {
        source_path: source.into(),
        destination_path: destination.into(),
        permission: Permission::Rw,
        add_group_owner: false,
    };
    let mut s = image_spec();
    s.volumes = vec![volume("/srv/data", "/data/in")];
    let (e, _) = refused(&s, &[("data", Kind::Symlink)]);
    assert_eq!(
        e.to_string(),
        "cannot mount /srv/data at /data/in: /data is a symbolic link, which is never followed"
    );
    s.volumes = vec![volume("/srv/data", "/data")];
    let (e, _) = refused(&s, &[("data", Kind::Symlink)]);
    assert!(
        e.to_string()
            .ends_with("/data is a symbolic link, which is never followed"),
        "{e}"
    );
    s.volumes = vec![volume("/srv/config.json", "/etc/app.json")];
    let (e, _) = refused(&s, &[("etc", Kind::Dir), ("etc/app.json", Kind::Symlink)]);
    assert_eq!(
        e.to_string(),
        "cannot mount /srv/config.json at /etc/app.json: /etc/app.json is a symbolic link, which is never followed"
    );
    let mut s = image_spec();
    s.devices = vec![DeviceMount {
        path: "/srv/sensor".into(),
        permission: Permission::Rw,
        add_group_owner: false,
    }];
    let (e, _) = refused(&s, &[("srv", Kind::Symlink)]);
    assert_eq!(
        e.to_string(),
        "cannot create the device node /srv/sensor: /srv is a symbolic link, which is never followed"
    );
}

#[test]
fn a_volume_onto_an_image_file_or_directory_is_bound_over_it() {
    let mut s = image_spec();
    s.volumes = vec![VolumeMount {
        source_path: "/srv/config.json".into(),
        destination_path: "/etc/app.json".into(),
        permission: Permission::Ro,
        add_group_owner: false,
    }];
    let p = plan_of(&s).expect("plans");
    let mut os = image(&[("etc", Kind::Dir), ("etc/app.json", Kind::Other)]);
    assemble_root(&mut os, &p).expect("runs");
    assert_contained(&os);
    assert!(
        !os.calls
            .iter()
            .any(|c| c.contains("app.json") && !c.starts_with("mount"))
    );
    position(&os, "mount /srv/config.json /r/etc/app.json - [bind]");
}
