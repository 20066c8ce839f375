//! An image function's root against the real kernel: a tiny image (a static program built by
//! the test, links pointing at host files, `/proc` a file) is assembled as the init does it, in
//! a child of the test (a re-run of this test binary in new mount and UTS namespaces), and the
//! program looked up on `PATH` and started as the init starts a runtime. Needs root, overlayfs
//! and a C compiler that links statically; otherwise it prints why it is skipped.

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::container::init::start_runtime;
use crate::container::os::Linux;
use crate::container::plan::tests::{Table, spec};
use crate::container::plan::{Exec, plan};
use crate::container::setup::assemble_root;
use crate::seccomp::Filter;

const CHILD: &str = "LAMBDALET_IMAGE_TEST_DIR";
const NAME: &str = "container::image::real_tests::an_image_runs_in_its_own_read_only_root_and_its_links_lead_nowhere";

const PROGRAM: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *name, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s=%s\n", name, strerror(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    for (char *c = buf; *c; c++) if (*c == '\n' || *c == '\t') *c = ' ';
    printf("%s=%s\n", name, buf);
}

static void try_write(const char *name, const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { printf("%s=%s\n", name, strerror(errno)); return; }
    printf("%s=%s\n", name, write(fd, "x", 1) == 1 ? "written" : "short");
    close(fd);
}

int main(int argc, char **argv) {
    printf("argv0=%s\n", argv[0]);
    show("hello", "/hello.txt");
    show("hostname", "/etc/hostname");
    show("hosts", "/etc/hosts");
    show("resolv", "/etc/resolv.conf");
    try_write("root", "/new-file");
    try_write("etc", "/etc/new-file");
    try_write("tmp", "/tmp/new-file");
    printf("uid=%d\n", (int)getuid());
    printf("proc=%s\n", access("/proc/self/status", R_OK) == 0 ? "yes" : "no");
    printf("null=%s\n", access("/dev/null", W_OK) == 0 ? "yes" : "no");
    return 7;
}
"#;

/// Why this machine cannot run the test, if it cannot.
fn unable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("mounts and namespaces need root".to_owned());
    }
    match std::fs::read_to_string("/proc/filesystems") {
        Ok(f) if f.lines().any(|l| l.ends_with("\toverlay")) => None,
        _ => Some("this kernel has no overlayfs".to_owned()),
    }
}

/// Every entry under `dir`: its kind, and a link's target or a file's contents.
fn listing(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let t = std::fs::symlink_metadata(&p).expect("lstat").file_type();
            let what = if t.is_symlink() {
                format!("-> {}", std::fs::read_link(&p).expect("link").display())
            } else if t.is_dir() {
                todo.push(p.clone());
                "dir".to_owned()
            } else {
                format!("{} bytes", std::fs::read(&p).expect("read").len())
            };
            out.insert(p.strip_prefix(dir).expect("under").to_owned(), what);
        }
    }
    out
}

#[test]
fn an_image_runs_in_its_own_read_only_root_and_its_links_lead_nowhere() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir));
        return;
    }
    if let Some(why) = unable() {
        eprintln!("skipped {NAME}: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // What the image's links point at on the host.
    let secret = dir.join("secret");
    std::fs::write(&secret, "host secret\n").expect("secret");
    let victim = dir.join("victim");
    std::fs::create_dir(&victim).expect("victim");
    std::fs::write(dir.join("resolv.conf"), "nameserver 192.0.2.53\n").expect("resolv.conf");
    // The image, in a directory whose name overlayfs's options must escape.
    let image = dir.join("img,1:x");
    for d in ["bin", "noexec", "etc"] {
        std::fs::create_dir_all(image.join(d)).expect("mkdir");
    }
    std::fs::write(dir.join("probe.c"), PROGRAM).expect("probe.c");
    let built = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(image.join("bin/probe"))
        .arg(dir.join("probe.c"))
        .output();
    match built {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped {NAME}: gcc -static failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped {NAME}: no C compiler to build the image's program: {e}");
            return;
        }
    }
    // Found on PATH after a directory where it is not and one where it is not executable.
    std::fs::copy(image.join("bin/probe"), image.join("noexec/probe")).expect("copy");
    std::fs::set_permissions(
        image.join("noexec/probe"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    std::fs::write(image.join("hello.txt"), "from the image\n").expect("hello");
    for (link, target) in [
        ("etc/resolv.conf", &secret),
        ("etc/hostname", &secret),
        ("etc/hosts", &secret),
        ("tmp", &victim),
    ] {
        symlink(target, image.join(link)).expect("symlink");
    }
    symlink("/dev", image.join("dev")).expect("symlink");
    std::fs::write(image.join("proc"), "not a directory").expect("proc");
    std::fs::create_dir(dir.join("root")).expect("root");
    let before = listing(&image);

    let started = std::time::Instant::now();
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, dir)
        .output()
        .expect("run the test binary");
    let text = String::from_utf8_lossy(&out.stdout);
    let all = format!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // Nothing of the host or the image was written to.
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "host secret\n",
        "{all}"
    );
    assert_eq!(std::fs::read_dir(&victim).expect("victim").count(), 0);
    assert_eq!(listing(&image), before);
    assert_eq!(
        std::fs::read_dir(dir.join("root")).expect("root").count(),
        0
    );
    for want in [
        "argv0=probe\n",
        "hello=from the image \n",
        "hostname=imgtest \n",
        "hosts=127.0.0.1 localhost ::1 localhost ip6-localhost ip6-loopback 127.0.1.1 imgtest 127.0.0.1 sandbox.localdomain sandbox \n",
        "resolv=nameserver 192.0.2.53 \n",
        "root=Read-only file system\n",
        "etc=Read-only file system\n",
        "tmp=written\n",
        "uid=65534\n",
        "proc=yes\n",
        "null=yes\n",
        "EXIT 7\n",
        "MISSING exec lambdalet-missing: not found on PATH /nonexistent:/noexec:/bin\n",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{all}");
    }
    assert!(out.status.success(), "{all}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// In the re-run test binary: the sandbox's root in new namespaces, then the program.
fn child(dir: &Path) {
    // SAFETY: unshare takes only flags; this process is the test's child and exits after.
    if unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS) } != 0 {
        println!("SETUP unshare: {}", std::io::Error::last_os_error());
        return;
    }
    let image = dir.join("img,1:x");
    let resolv = dir.join("resolv.conf");
    let mut host = Table(Default::default());
    host.0.insert(image.clone(), HostEntry::Dir { gid: 0 });
    host.0.insert(
        "/etc/resolv.conf".into(),
        HostEntry::Symlink(resolv.clone()),
    );
    host.0.insert(resolv, HostEntry::File { gid: 0 });
    let s = ContainerSpec {
        image_root: Some(image),
        ipc_socket: None,
        tmp_bytes: 1 << 20,
        uid: 65534,
        gid: 65534,
        host_dirs: Vec::new(),
        sdk_dir: None,
        hostname: "imgtest".into(),
        ..spec()
    };
    let exec = |program: &str| Exec {
        program: program.into(),
        args: Vec::new(),
        env: vec![("PATH".into(), "/nonexistent:/noexec:/bin".into())],
        cwd: "/".into(),
    };
    let p = plan(
        &host,
        &dir.join("root"),
        &s,
        &Limits::lambda(64 << 20),
        exec("probe"),
    )
    .expect("plans");
    if let Err(e) = assemble_root(&mut Linux, &p) {
        println!("SETUP {e}");
        return;
    }
    let filter = Filter::sandbox();
    match start_runtime(&p, &exec("probe"), &filter, None, None) {
        Ok(pid) => {
            let mut status = 0;
            // SAFETY: waits for the child just started; status is a live local.
            unsafe { libc::waitpid(pid, &raw mut status, 0) };
            println!("EXIT {}", libc::WEXITSTATUS(status));
        }
        Err((step, e)) => println!("FAILED {step}: {e}"),
    }
    match start_runtime(&p, &exec("lambdalet-missing"), &filter, None, None) {
        Ok(_) => println!("MISSING started"),
        Err((step, e)) => println!("MISSING {step}: {e}"),
    }
}
