//! The system calls the process backend needs that the standard library does not offer.
//! With `spawn`, the only modules of this crate with `unsafe` code.

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Makes the child die with the daemon, limits its open files, disables core dumps and puts it
/// in the sandbox's cgroup (`cgroup_procs`: its open `cgroup.procs` files). The fork path;
/// `spawn` does the same without a fork.
pub(crate) fn confine_child(
    cmd: &mut tokio::process::Command,
    max_open_files: u64,
    cgroup_procs: Vec<std::fs::File>,
    fd3: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
) {
    use std::os::fd::AsRawFd;
    let fds: Vec<i32> = cgroup_procs.iter().map(AsRawFd::as_raw_fd).collect();
    let fd3_raw = fd3.as_ref().map(|fd| fd.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec. It only makes raw system calls
    // (prctl, setrlimit, write), which are async-signal-safe, allocates nothing and takes no
    // locks. The files it writes to are kept open by the closure, which owns them.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = (&cgroup_procs, &fd3);
            if let Some(fd) = fd3_raw {
                // The runtime's channel becomes its descriptor 3, inherited across the exec.
                let ok = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0) == 0
                } else {
                    libc::dup2(fd, 3) == 3
                };
                if !ok {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for fd in &fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // If the daemon dies (even by SIGKILL), the runtime gets SIGKILL instead of
            // living on as an orphan. The daemon spawns from long-lived runtime threads, so
            // the parent thread's exit does not trigger this early.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let (_, hard) = nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE)?;
            let soft = rlim(max_open_files).min(hard);
            setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
            setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
            Ok(())
        });
    }
}

/// `value` as this target's `rlim_t` (32 bits on 32-bit ARM), saturating.
pub(crate) fn rlim(value: u64) -> libc::rlim_t {
    libc::rlim_t::try_from(value).unwrap_or(libc::rlim_t::MAX)
}

/// Sends `signal` to every process in the process group led by `pid`. A group that no longer
/// exists is not an error.
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    let Ok(pid) = i32::try_from(pid) else { return };
    match killpg(Pid::from_raw(pid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pid, %signal, error = %e, "cannot signal sandbox processes"),
    }
}

/// `/proc/<pid>/status` of a process, kept open: it is read after every invocation, and a
/// re-read from offset 0 of an open procfs file skips the path lookup. The descriptor stays
/// bound to that process even if its pid is later reused.
pub(crate) fn open_status(pid: u32) -> Option<std::fs::File> {
    std::fs::File::open(format!("/proc/{pid}/status")).ok()
}

/// Peak resident memory (`VmHWM`) from an open `/proc/<pid>/status`, in bytes.
pub(crate) fn peak_rss_bytes(status: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 4096];
    let n = status.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A pidfd registered with the async runtime, to wait until its process exits (it becomes
/// readable then).
pub(crate) fn async_pidfd(
    pidfd: std::os::fd::OwnedFd,
) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    async_fd(pidfd, tokio::io::Interest::READABLE)
}

/// A descriptor registered with the async runtime for `interest`.
pub(crate) fn async_fd(
    fd: std::os::fd::OwnedFd,
    interest: tokio::io::Interest,
) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: the OwnedFd owns the descriptor and returns that same one until the AsyncFd
    // holding it is dropped.
    let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) }?;
    Ok(fd)
}

/// Marks every descriptor above stderr close-on-exec: what the daemon was started with
/// (a shell's or a supervisor's descriptors) must not reach the sandboxes it starts.
pub(crate) fn seal_inherited_fds() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors; it closes
    // nothing and touches no memory.
    let sealed = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if sealed {
        return;
    }
    // Kernels before 5.11: one by one.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a descriptor number only sets its flag; one that was the
        // listing's own (closed by now) fails with EBADF, which is fine.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}
