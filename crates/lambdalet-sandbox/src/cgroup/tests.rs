//! Tests of [`Cgroups`] and [`SandboxCgroup`] against the fake: which interface `detect`
//! picks, what it says when none is usable, the clean-up of a crashed run's sandboxes, and how
//! a sandbox's processes are killed, its cgroup removed and its memory statistics read.

use std::sync::Arc;

use super::fake::{
    FakeOs, HYBRID_CGROUP, OWN_MEMORY, OWN_V2, V2_CGROUP, V2_MOUNTINFO, detect_hybrid, detect_v2,
    hybrid_fake, v2_fake,
};
use super::sandbox::KILL_ROUNDS;
use super::*;

const LIMITS: CgroupLimits = CgroupLimits {
    memory_bytes: 64 << 20,
    pids: 20,
    cpu_weight: 100,
    devices: None,
};

#[test]
fn v2_is_preferred_when_it_has_the_controllers() {
    let fake = v2_fake();
    fake.mount_v1("/sys/fs/cgroup/v1-memory", &["memory"]);
    fake.mount_v1("/sys/fs/cgroup/v1-pids", &["pids"]);
    let mountinfo = format!(
        "{V2_MOUNTINFO}\
         50 35 0:40 / /sys/fs/cgroup/v1-memory rw - cgroup cgroup rw,memory\n\
         51 35 0:41 / /sys/fs/cgroup/v1-pids rw - cgroup cgroup rw,pids\n"
    );
    let self_cgroup = format!("3:memory:/\n2:pids:/\n{V2_CGROUP}");
    let os = Arc::new(fake.clone());
    let cgroups = Cgroups::detect_with(os, &self_cgroup, &mountinfo, "x1").expect("detect");
    assert_eq!(cgroups.version(), CgroupVersion::V2);
    assert!(!fake.is_dir("/sys/fs/cgroup/v1-memory/lambdalet-x1"));
}

#[test]
fn nothing_usable_names_what_is_missing() {
    let fake = FakeOs::new();
    fake.mount_v2("/sys/fs/cgroup/unified", &[]);
    let mountinfo = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    let err = Cgroups::detect_with(Arc::new(fake.clone()), "0::/\n", mountinfo, "x1")
        .expect_err("no controllers anywhere");
    assert_eq!(
        err.to_string(),
        "cgroups are unavailable: the cgroup v2 tree at /sys/fs/cgroup/unified lacks controllers \
         memory, pids and no cgroup v1 memory or pids hierarchy is mounted; mount cgroup2 with \
         the memory and pids controllers enabled, or the cgroup v1 memory and pids hierarchies"
    );
    assert!(
        fake.changes().is_empty(),
        "nothing created: {:?}",
        fake.changes()
    );

    let err = Cgroups::detect_with(Arc::new(fake), HYBRID_CGROUP, "", "x1").expect_err("no mounts");
    assert!(
        err.to_string().starts_with(
            "cgroups are unavailable: no cgroup2 file system is mounted and no cgroup v1 memory \
             or pids hierarchy is mounted;"
        ),
        "{err}"
    );
}

#[test]
fn names_must_be_one_plain_directory_name() {
    let fake = v2_fake();
    for bad in ["", "../x", "a/b", "memory.max", &"x".repeat(129)] {
        let err = Cgroups::detect_with(Arc::new(fake.clone()), V2_CGROUP, V2_MOUNTINFO, bad)
            .expect_err(bad);
        assert!(matches!(err, CgroupError::InvalidName { .. }), "{err}");
    }
    let cgroups = detect_v2(&fake).expect("detect");
    let err = cgroups.create("..", &LIMITS).expect_err("..");
    assert_eq!(
        err.to_string(),
        "sandbox id \"..\" cannot name a cgroup: use 1 to 128 letters, digits, '-' or '_'"
    );
    assert!(cgroups.create("hello-3f2a_1", &LIMITS).is_ok());
}

#[test]
fn remove_stale_kills_and_removes_leftovers_of_this_instance_only() {
    let fake = hybrid_fake();
    let cgroups = detect_hybrid(&fake);
    let mem = format!("{OWN_MEMORY}/lambdalet-ab12cd34");
    // A crashed run left a sandbox with processes and one half-created in pids only.
    fake.add_cgroup(&format!("{mem}/old1"));
    fake.add_procs(&format!("{mem}/old1"), &[700, 701]);
    fake.add_cgroup("/sys/fs/cgroup/pids/lambdalet-ab12cd34/old2");
    // Another daemon's sandbox, next to ours.
    let other = format!("{OWN_MEMORY}/lambdalet-other/theirs");
    fake.add_cgroup(&other);
    fake.add_procs(&other, &[800]);
    fake.clear_log();

    assert_eq!(cgroups.remove_stale(), 2);
    let changes = fake.changes();
    assert!(
        changes.contains(&"kill 700 SIGKILL".to_owned()),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"kill 701 SIGKILL".to_owned()),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|c| c.contains("800") || c.contains("lambdalet-other"))
    );
    assert!(!fake.is_dir(&format!("{mem}/old1")));
    assert!(!fake.is_dir("/sys/fs/cgroup/pids/lambdalet-ab12cd34/old2"));
    assert!(fake.is_dir(&other));
    assert!(fake.is_dir(&mem), "the instance directory stays");
    assert_eq!(cgroups.remove_stale(), 0);
}

#[test]
fn create_and_remove_leave_the_instance_dir_as_it_was() {
    let fake = v2_fake();
    let cgroups = detect_v2(&fake).expect("detect");
    let sandbox = cgroups.create("s1", &LIMITS).expect("create");
    assert!(sandbox.is_empty());
    sandbox.kill_all();
    sandbox.remove().expect("remove");
    assert!(!fake.is_dir(&format!("{OWN_V2}/lambdalet-ab12cd34/s1")));
    assert!(fake.is_dir(&format!("{OWN_V2}/lambdalet-ab12cd34")));
    let text = format!("{cgroups:?} {sandbox:?}");
    assert!(text.contains("cgroup v2"), "{text}");
}

fn hybrid_sandbox() -> (FakeOs, Cgroups, SandboxCgroup) {
    let fake = hybrid_fake();
    let cgroups = detect_hybrid(&fake);
    let sandbox = cgroups.create("s1", &LIMITS).expect("create");
    fake.clear_log();
    (fake, cgroups, sandbox)
}

#[test]
fn v1_kill_all_freezes_kills_and_thaws_until_empty() {
    let (fake, _cgroups, sandbox) = hybrid_sandbox();
    let freezer = "/sys/fs/cgroup/freezer/lambdalet-ab12cd34/s1";
    fake.add_procs(freezer, &[300, 301]);
    fake.add_procs(
        &format!("{OWN_MEMORY}/lambdalet-ab12cd34/s1"),
        &[300, 301, 302],
    );
    assert!(!sandbox.is_empty());
    sandbox.kill_all();
    assert_eq!(
        fake.changes(),
        [
            format!("write {freezer}/freezer.state FROZEN"),
            "kill 300 SIGKILL".to_owned(),
            "kill 301 SIGKILL".to_owned(),
            "kill 302 SIGKILL".to_owned(),
            format!("write {freezer}/freezer.state THAWED"),
        ]
    );
    assert!(sandbox.is_empty());
}

#[test]
fn kill_all_gives_up_on_processes_that_survive() {
    let (fake, _cgroups, sandbox) = hybrid_sandbox();
    fake.add_procs(&format!("{OWN_MEMORY}/lambdalet-ab12cd34/s1"), &[400]);
    fake.unkillable(400);
    sandbox.kill_all();
    let kills = fake
        .changes()
        .iter()
        .filter(|l| l.starts_with("kill"))
        .count();
    assert_eq!(kills, KILL_ROUNDS);
    assert!(!sandbox.is_empty());
    assert_eq!(
        fake.file("/sys/fs/cgroup/freezer/lambdalet-ab12cd34/s1/freezer.state")
            .as_deref(),
        Some("THAWED"),
        "never left frozen"
    );
}

#[test]
fn remove_retries_while_busy_and_accepts_gone_directories() {
    let (fake, _cgroups, sandbox) = hybrid_sandbox();
    let pids = "/sys/fs/cgroup/pids/lambdalet-ab12cd34/s1";
    fake.fail("rmdir", pids, libc::EBUSY, 2);
    fake.fail(
        "rmdir",
        "/sys/fs/cgroup/cpu/lambdalet-ab12cd34/s1",
        libc::ENOENT,
        1,
    );
    sandbox.remove().expect("remove");
    let rmdirs: Vec<String> = fake.changes();
    assert_eq!(rmdirs.len(), 7, "{rmdirs:?}");
    assert_eq!(rmdirs[1], format!("rmdir {pids} -> EBUSY"));
    assert_eq!(rmdirs[3], format!("rmdir {pids}"));
    assert!(!fake.is_dir(pids));
    sandbox.remove().expect("removing again is fine");
}

#[test]
fn remove_reports_a_cgroup_that_stays_busy() {
    let (fake, _cgroups, sandbox) = hybrid_sandbox();
    fake.add_procs(&format!("{OWN_MEMORY}/lambdalet-ab12cd34/s1"), &[500]);
    let err = sandbox.remove().expect_err("a process is still inside");
    assert!(fs::is_errno(&err, libc::EBUSY), "{err}");
}

#[test]
fn peak_and_oom_kills_are_reread_from_the_open_files() {
    let (fake, _cgroups, sandbox) = hybrid_sandbox();
    let dir = format!("{OWN_MEMORY}/lambdalet-ab12cd34/s1");
    assert_eq!(sandbox.peak_memory_bytes(), Some(0));
    fake.set_file(&format!("{dir}/memory.max_usage_in_bytes"), "1234567\n");
    fake.set_file(
        &format!("{dir}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    fake.clear_log();
    assert_eq!(sandbox.peak_memory_bytes(), Some(1_234_567));
    assert_eq!(sandbox.oom_kills(), 2);
    assert!(fake.log().is_empty(), "no path lookups: {:?}", fake.log());
}

#[test]
fn kill_all_uses_cgroup_kill_then_checks() {
    let fake = v2_fake();
    let cgroups = detect_v2(&fake).expect("detect");
    let sandbox = cgroups.create("s1", &LIMITS).expect("create");
    let dir = format!("{OWN_V2}/lambdalet-ab12cd34/s1");
    fake.add_procs(&dir, &[100, 101]);
    fake.clear_log();
    sandbox.kill_all();
    assert_eq!(fake.changes(), [format!("write {dir}/cgroup.kill 1")]);
    assert!(sandbox.is_empty());
}

#[test]
fn kill_all_without_cgroup_kill_signals_each_process() {
    let fake = v2_fake();
    fake.omit("cgroup.kill");
    let cgroups = detect_v2(&fake).expect("detect");
    let sandbox = cgroups.create("s1", &LIMITS).expect("create");
    fake.add_procs(&format!("{OWN_V2}/lambdalet-ab12cd34/s1"), &[100, 101]);
    fake.clear_log();
    sandbox.kill_all();
    assert_eq!(fake.changes(), ["kill 100 SIGKILL", "kill 101 SIGKILL"]);
}

#[test]
fn peak_falls_back_to_current_and_oom_kills_come_from_events() {
    let fake = v2_fake();
    fake.omit("memory.peak");
    let cgroups = detect_v2(&fake).expect("detect");
    let sandbox = cgroups.create("s1", &LIMITS).expect("create");
    let dir = format!("{OWN_V2}/lambdalet-ab12cd34/s1");
    fake.set_file(&format!("{dir}/memory.current"), "5242880\n");
    fake.set_file(
        &format!("{dir}/memory.events"),
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    );
    assert_eq!(sandbox.peak_memory_bytes(), Some(5 << 20));
    assert_eq!(sandbox.oom_kills(), 1);
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Cgroups>();
    send_sync::<SandboxCgroup>();
}
