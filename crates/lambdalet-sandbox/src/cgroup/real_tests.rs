//! The manager against the real kernel: limits read back, a child that left its session is
//! killed, a fork loop stops at the process limit, the OOM killer is counted, nothing is left
//! behind. Needs root and a memory controller; otherwise each test prints why it is skipped.
//!
//! Every test uses its own instance id and a [`Cleanup`] guard that kills and removes whatever
//! it created, even when an assertion fails.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// Kills and removes every sandbox cgroup of the test's instance, then the instance
/// directories, when the test ends (passed or panicked).
struct Cleanup(Cgroups);

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.0.remove_stale();
        for dir in self.0.instance_dirs() {
            if let Err(e) = std::fs::remove_dir(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                eprintln!("cannot remove {}: {e}", dir.display());
            }
        }
    }
}

/// The manager under a unique instance id, or `None` (having said why) when this machine
/// cannot run the test.
fn real_cgroups(test: &str) -> Option<Cleanup> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped {test}: cgroups can only be created as root");
        return None;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let instance = format!("test{}x{nanos:x}", std::process::id());
    match Cgroups::detect(&instance) {
        Ok(cgroups) => Some(Cleanup(cgroups)),
        Err(e @ (CgroupError::Unavailable(_) | CgroupError::Delegate { .. })) => {
            eprintln!("skipped {test}: {e}");
            None
        }
        Err(e) => panic!("detect: {e}"),
    }
}

fn limits(memory_mb: u64, pids: u32) -> CgroupLimits {
    CgroupLimits {
        memory_bytes: memory_mb << 20,
        pids,
        cpu_weight: 100,
        devices: None,
    }
}

/// Starts `sh -c script` inside `sandbox`: the child writes "0" to each `cgroup.procs` before
/// it execs, as the sandbox code does.
fn spawn_in(sandbox: &SandboxCgroup, script: &str) -> Child {
    let files: Vec<File> = sandbox
        .procs_files()
        .iter()
        .map(|p| {
            OpenOptions::new()
                .write(true)
                .open(p)
                .expect("open cgroup.procs")
        })
        .collect();
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec; it only calls write(2) on
    // descriptors opened beforehand, allocates nothing and takes no locks.
    unsafe {
        command.pre_exec(move || {
            for mut file in &files {
                file.write_all(b"0")?;
            }
            Ok(())
        });
    }
    command.spawn().expect("spawn /bin/sh")
}

/// The first line the child prints.
fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read child output");
    line.trim().to_owned()
}

/// A file of the sandbox's cgroup in the hierarchy of its first `cgroup.procs` (memory).
fn memory_file(sandbox: &SandboxCgroup, name: &str) -> String {
    let procs = &sandbox.procs_files()[0];
    std::fs::read_to_string(procs.with_file_name(name)).expect("read memory file")
}

/// Whether `pid` is gone (or a zombie nobody reaped: this VM's init does not).
fn is_dead(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
    matches!(state, None | Some('Z' | 'X'))
}

#[test]
fn limits_apply_and_kill_all_reaches_a_setsid_child() {
    let Some(cleanup) = real_cgroups("limits_apply_and_kill_all_reaches_a_setsid_child") else {
        return;
    };
    let sandbox = cleanup.0.create("setsid", &limits(64, 20)).expect("create");
    let limit_file = match cleanup.0.version() {
        CgroupVersion::V1 => "memory.limit_in_bytes",
        CgroupVersion::V2 => "memory.max",
    };
    assert_eq!(memory_file(&sandbox, limit_file).trim(), "67108864");

    let mut child = spawn_in(&sandbox, "setsid sleep 1000 >/dev/null & echo $!; wait");
    let escaped: u32 = first_line(&mut child)
        .parse()
        .expect("pid of the setsid child");
    assert!(!sandbox.is_empty());
    assert!(!is_dead(escaped));
    assert!(
        sandbox.peak_memory_bytes().is_some_and(|b| b > 0),
        "{:?}",
        sandbox.peak_memory_bytes()
    );

    sandbox.kill_all();
    assert!(sandbox.is_empty());
    let status = child.wait().expect("wait for sh");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(
        is_dead(escaped),
        "the setsid child {escaped} survived kill_all"
    );

    sandbox.remove().expect("remove");
    for procs in sandbox.procs_files() {
        let dir = procs.parent().expect("a cgroup directory");
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}

#[test]
fn a_fork_loop_stops_at_the_pids_limit() {
    let Some(cleanup) = real_cgroups("a_fork_loop_stops_at_the_pids_limit") else {
        return;
    };
    let sandbox = cleanup.0.create("forks", &limits(64, 20)).expect("create");
    // dash gives up ("Cannot fork", status 2) at the first fork the limit refuses; 7 would
    // mean all 60 forks succeeded.
    let script = "exec >/dev/null; i=0; while [ $i -lt 60 ]; do sleep 1000 & i=$((i+1)); done; \
                  exit 7";
    let mut child = spawn_in(&sandbox, script);
    let status = child.wait().expect("wait for sh");
    let procs = &sandbox.procs_files()[0];
    let pids = std::fs::read_to_string(procs).expect("read cgroup.procs");
    let count = pids.lines().count();
    sandbox.kill_all();
    assert!(sandbox.is_empty());
    sandbox.remove().expect("remove");
    assert_ne!(status.code(), Some(7), "all 60 forks succeeded");
    assert!(
        (5..=20).contains(&count),
        "{count} processes left in the sandbox"
    );
}

#[test]
fn the_oom_killer_is_counted() {
    let Some(cleanup) = real_cgroups("the_oom_killer_is_counted") else {
        return;
    };
    let sandbox = cleanup.0.create("oom", &limits(16, 20)).expect("create");
    // `tail` looks for the last line of an endless file without newlines: it keeps it all.
    let mut child = spawn_in(&sandbox, "exec tail /dev/zero");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            sandbox.kill_all();
            let _ = child.wait();
            panic!("tail was not OOM-killed within 20 s under a 16 MiB limit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    if cleanup.0.version() == CgroupVersion::V1
        && !memory_file(&sandbox, "memory.oom_control").contains("oom_kill ")
    {
        eprintln!("skipped the oom_kills check: this kernel's memory.oom_control has no count");
    } else {
        assert_eq!(sandbox.oom_kills(), 1);
    }
    let peak = sandbox.peak_memory_bytes().unwrap_or(0);
    assert!(peak > 8 << 20, "peak {peak} bytes");
    sandbox.remove().expect("remove");
    assert!(!Path::new(&sandbox.procs_files()[0]).exists());
}
