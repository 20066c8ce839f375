//! Starting a runtime without copying the daemon.
//!
//! A runtime must die with the daemon (`PR_SET_PDEATHSIG`) and get Lambda's limits, which only
//! the child itself can set between fork and exec. The standard library then has to `fork()`,
//! copying the daemon's page tables, only for the child to throw them away at `exec`: about
//! 0.7 ms on a 2-vCPU VM, a third of a Rust function's whole cold start. This module does what
//! glibc's `posix_spawn` does instead: `clone(CLONE_VM | CLONE_VFORK)` onto a small stack of its
//! own, with the daemon's thread suspended until the child has called `execve` (or failed), and
//! the child making only raw system calls on memory prepared beforehand. `CLONE_PIDFD` hands
//! back a descriptor for the child, which the daemon polls to learn when it exits and reaps
//! with `waitid(P_PIDFD)`.
//!
//! On kernels without `CLONE_PIDFD` (before 5.2), or where a seccomp policy refuses the
//! clone, [`spawn`] returns `Ok(None)` and the caller uses the standard library's fork path.

use std::ffi::{CString, c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use crate::sys;

/// What to start.
pub(crate) struct Request<'a> {
    /// An absolute path (no `PATH` search).
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    /// Becomes the child's stdout and stderr.
    pub output: RawFd,
    /// Soft limit on open files (the hard limit is kept).
    pub max_open_files: u64,
    /// Namespaces the child starts in (`CLONE_NEW*` flags; 0: the daemon's).
    pub namespaces: c_int,
    /// Open `cgroup.procs` files: the child writes "0" to each before exec, joining the
    /// sandbox's cgroup before it can start anything.
    pub cgroups: &'a [RawFd],
    /// Becomes the child's descriptor 3 (the container init's control socket); must be 3 or
    /// above.
    pub fd3: Option<RawFd>,
}

/// A started child: its pid and a pidfd for it.
pub(crate) struct Spawned {
    pub pid: u32,
    pub pidfd: OwnedFd,
}

/// Everything the child needs, prepared by the parent (the child may not allocate).
struct ChildPlan {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdin: c_int,
    output: c_int,
    parent: libc::pid_t,
    /// In a new PID namespace the parent is outside it and getppid() says 0.
    new_pid_ns: bool,
    cgroups: *const c_int,
    cgroups_len: usize,
    fd3: c_int,
    /// Signals to reset run from 1 to below this.
    signal_end: c_int,
    nofile: libc::rlimit,
    /// Written by the child if a step fails: (step, errno).
    failed_step: c_int,
    failed_errno: c_int,
}

const STEPS: [&str; 11] = [
    "",
    "set up stdin",
    "set up the output pipe",
    "change to the code directory",
    "start a process group",
    "ask to die with the daemon",
    "set the open-file limit",
    "disable core dumps",
    "exec",
    "join the sandbox's cgroup",
    "pass the control socket",
];

/// The child's stack: the steps are a few system calls deep.
const STACK_SIZE: usize = 64 * 1024;

/// Starts `req` with `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`. `Ok(None)`: this kernel
/// cannot (the caller falls back to fork).
pub(crate) fn spawn(req: &Request<'_>) -> std::io::Result<Option<Spawned>> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    if !req.program.is_absolute() {
        return Ok(None);
    }
    if req.fd3.is_some_and(|fd| fd < 3) {
        return Err(invalid("the control socket must be descriptor 3 or above"));
    }
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| invalid("a NUL byte in a path, argument or variable"))
    };
    let program = cstr(req.program.as_os_str().as_bytes())?;
    let cwd = cstr(req.cwd.as_os_str().as_bytes())?;
    let mut args = vec![program.clone()];
    for a in req.args {
        args.push(cstr(a.as_bytes())?);
    }
    let env = req
        .env
        .iter()
        .map(|(k, v)| cstr(format!("{k}={v}").as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect();
    let stdin = std::fs::File::open("/dev/null")?;
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(std::io::Error::from)?;
    let mut plan = ChildPlan {
        program: program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: cwd.as_ptr(),
        stdin: stdin.as_raw_fd(),
        output: req.output,
        parent: std::process::id() as libc::pid_t,
        new_pid_ns: req.namespaces & libc::CLONE_NEWPID != 0,
        cgroups: req.cgroups.as_ptr(),
        cgroups_len: req.cgroups.len(),
        fd3: req.fd3.unwrap_or(-1),
        signal_end: libc::SIGRTMAX() + 1,
        nofile: libc::rlimit {
            rlim_cur: sys::rlim(req.max_open_files).min(hard),
            rlim_max: hard,
        },
        failed_step: 0,
        failed_errno: 0,
    };
    let mut stack = vec![0u8; STACK_SIZE];
    // The stack grows down from its 16-byte aligned end.
    let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
    let mut pidfd: c_int = -1;

    // SAFETY: all-ones and empty signal sets are plain values filled by sigfillset.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are live locals; blocking every signal on this thread while the child
    // shares its memory keeps the daemon's signal handlers from running in the child (as
    // posix_spawn does). The mask is restored below on every path.
    unsafe {
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old);
    }
    // SAFETY: `child_main` only reads `plan` (alive until clone returns: CLONE_VFORK suspends
    // this thread until the child has exec'd or exited), runs on `stack` (alive as long), and
    // makes only async-signal-safe system calls. CLONE_PIDFD stores the pidfd in `pidfd`.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | req.namespaces | libc::SIGCHLD,
            (&raw mut plan).cast::<c_void>(),
            &raw mut pidfd,
        )
    };
    let clone_error = std::io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old, ptr::null_mut());
    }
    drop(stack);
    if pid < 0 {
        return match clone_error.raw_os_error() {
            // No CLONE_PIDFD (kernels before 5.2), or a seccomp policy that refuses this
            // clone: the fork path still works (for a plain process).
            Some(libc::EINVAL | libc::ENOSYS | libc::EPERM) if req.namespaces == 0 => Ok(None),
            _ => Err(std::io::Error::new(
                clone_error.kind(),
                format!("cannot create the sandbox's process: clone: {clone_error}"),
            )),
        };
    }
    // SAFETY: with CLONE_PIDFD a successful clone returns a new descriptor that we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The child's writes are visible: it shared our memory and has exec'd or exited.
    // SAFETY: reads of a live local, volatile because the child wrote them behind the
    // compiler's back.
    let (step, errno) = unsafe {
        (
            ptr::read_volatile(&raw const plan.failed_step),
            ptr::read_volatile(&raw const plan.failed_errno),
        )
    };
    if step != 0 {
        // It has exited (status 127); reap it.
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::PIDFd(std::os::fd::AsFd::as_fd(&pidfd)),
            nix::sys::wait::WaitPidFlag::WEXITED,
        );
        let e = std::io::Error::from_raw_os_error(errno);
        let what = STEPS.get(step as usize).copied().unwrap_or("start");
        return Err(std::io::Error::new(e.kind(), format!("cannot {what}: {e}")));
    }
    Ok(Some(Spawned {
        pid: pid as u32,
        pidfd,
    }))
}

/// The child, between clone and exec: raw system calls on the parent's prepared plan only.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `ChildPlan`, alive and not touched by the suspended parent
    // until this child has exec'd or exited.
    let plan = unsafe { &mut *arg.cast::<ChildPlan>() };
    // SAFETY: each call below is an async-signal-safe libc wrapper of one system call, given
    // pointers into `plan` or live locals; on failure the step and errno are written to `plan`
    // and the child exits without running any of the parent's code.
    unsafe {
        let fail = |plan: &mut ChildPlan, step: c_int| -> c_int {
            plan.failed_errno = *libc::__errno_location();
            plan.failed_step = step;
            libc::_exit(127)
        };
        // Handlers installed by the daemon must not run here, in its memory: back to the
        // defaults (as exec would do), and SIGPIPE too (Rust programs ignore it; a runtime
        // expects the default, as std::process::Command gives it).
        for sig in 1..plan.signal_end {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &raw mut current) != 0 {
                continue;
            }
            if sig == libc::SIGPIPE
                || (current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN)
            {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &raw const default, ptr::null_mut());
            }
        }
        if libc::dup2(plan.stdin, 0) < 0 {
            return fail(plan, 1);
        }
        for target in [1, 2] {
            let ok = if plan.output == target {
                // Already in place: keep it across exec.
                libc::fcntl(target, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(plan.output, target) >= 0
            };
            if !ok {
                return fail(plan, 2);
            }
        }
        if libc::chdir(plan.cwd) != 0 {
            return fail(plan, 3);
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(plan, 4);
        }
        // If the daemon dies (even by SIGKILL), the runtime gets SIGKILL instead of living on
        // as an orphan; a daemon already gone by now means the same.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return fail(plan, 5);
        }
        let expected_parent = if plan.new_pid_ns { 0 } else { plan.parent };
        if libc::getppid() != expected_parent {
            libc::_exit(127);
        }
        for i in 0..plan.cgroups_len {
            let fd = *plan.cgroups.add(i);
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return fail(plan, 9);
            }
        }
        if plan.fd3 >= 0 {
            let ok = if plan.fd3 == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(plan.fd3, 3) == 3
            };
            if !ok {
                return fail(plan, 10);
            }
        }
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const plan.nofile) != 0 {
            return fail(plan, 6);
        }
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_CORE, &raw const no_core) != 0 {
            return fail(plan, 7);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const none, ptr::null_mut());
        libc::execve(plan.program, plan.argv, plan.envp);
        fail(plan, 8)
    }
}
