//! The container's init: PID 1 of the sandbox's PID namespace. The daemon starts it as
//! `/proc/self/exe __lambdalet-sandbox-init` in new mount, PID, IPC, UTS (and network)
//! namespaces, already inside the sandbox's cgroup, with its control socket as descriptor 3.
//!
//! It reads the plan, assembles the root and enters it, makes the Runtime API listener when the
//! sandbox has no network, then starts the runtime as the function's unprivileged user and
//! drops root itself. As PID 1 it reaps orphans and forwards SIGTERM and friends to the
//! runtime; when the runtime exits it reports how and exits, and the kernel kills whatever is
//! left in the namespace. It dies with the daemon (the parent-death signal), so a `kill -9` of
//! the daemon takes every container down with it.
//!
//! A program named without a slash (an image's `ENTRYPOINT`, `python3`) is looked up on the
//! `PATH` of its environment inside the sandbox, as Docker does ([`command`](super::command)).

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::seccomp::Filter;

use super::command::Prepared;
use super::control::{InitEnd, Report};
use super::os::{Linux, Os};
use super::plan::{Exec, InitPlan};
use super::{net, privileges, setup};

/// The argument that makes the lambdalet binary run as a container's init.
pub const INIT_ARG: &str = "__lambdalet-sandbox-init";

/// The runtime's pid, for the signal handler.
static RUNTIME: AtomicI32 = AtomicI32::new(0);

/// Runs the init; never returns. Call it first thing in `main` when `argv[1]` is [`INIT_ARG`].
pub fn main() -> ! {
    let code = match InitEnd::from_fd3() {
        Ok(ctl) => match run(&ctl) {
            Ok(code) => code,
            Err((step, error)) => {
                let _ = ctl.report(
                    &Report::Failed {
                        step,
                        error: error.to_string(),
                    },
                    None,
                );
                1
            }
        },
        // Not started by the daemon: nothing to report to.
        Err(_) => 2,
    };
    std::process::exit(code)
}

type Failure = (String, io::Error);

fn run(ctl: &InitEnd) -> Result<i32, Failure> {
    let (plan, channel) = ctl
        .recv_plan()
        .map_err(|e| ("read the sandbox's plan".to_owned(), e))?;
    let mut os = Linux;
    // The cgroup namespace is made now that the daemon has put us in the sandbox's cgroup, so
    // it is the root of what the sandbox sees. Kernels before 4.6 have none; that is fine.
    if let Err(e) = os.unshare(libc::CLONE_NEWCGROUP)
        && e.raw_os_error() != Some(libc::EINVAL)
    {
        return Err(("create a cgroup namespace".to_owned(), e));
    }
    setup::assemble_root(&mut os, &plan).map_err(|e| (e.step, e.error))?;
    if let Some(addr) = plan.runtime_api {
        let listener = net::runtime_api_listener(addr)
            .map_err(|e| ("make the Runtime API listener".to_owned(), e))?;
        ctl.report(&Report::Listener, Some(listener.as_raw_fd()))
            .map_err(|e| ("pass the Runtime API listener".to_owned(), e))?;
    }
    let Some(exec) = &plan.exec else {
        // A probe: the sandbox could be built.
        ctl.report(&Report::Started, None)
            .map_err(|e| ("report the start".to_owned(), e))?;
        return Ok(0);
    };
    let filter = if plan.zygote {
        Filter::zygote()
    } else {
        Filter::sandbox()
    };
    let mut children = Children {
        runtime: 0,
        runtime_done: false,
        extensions: Vec::new(),
    };
    if !plan.extensions.is_empty() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| ("create the extensions' output pipe".to_owned(), e.into()))?;
        for ext in &plan.extensions {
            let pid = start_runtime(&plan, ext, &filter, Some(w.as_raw_fd()), None)?;
            children.extensions.push(Some(pid));
        }
        drop(w);
        ctl.report(&Report::Extensions, Some(r.as_raw_fd()))
            .map_err(|e| ("pass the extensions' output".to_owned(), e))?;
        drop(r);
        // The runtime starts when the daemon says the extensions are ready; meanwhile an
        // extension that exits is reported at once.
        while !ctl
            .wait_go(50)
            .map_err(|e| ("wait for the go-ahead".to_owned(), e))?
        {
            children.reap(ctl, libc::WNOHANG);
        }
    }
    let runtime = start_runtime(
        &plan,
        exec,
        &filter,
        None,
        channel.as_ref().map(AsRawFd::as_raw_fd),
    )?;
    // Only the runtime holds its channel.
    drop(channel);
    children.runtime = runtime;
    RUNTIME.store(runtime, Ordering::SeqCst);
    forward_signals();
    ctl.report(&Report::Started, None)
        .map_err(|e| ("report the start".to_owned(), e))?;
    privileges::drop_to(&plan.identity, &filter, false).map_err(|(s, e)| (s.to_owned(), e))?;
    // The daemon may have died before the parent-death signal was armed again: then its end
    // of the control socket is closed, and the sandbox goes now.
    if ctl.daemon_gone() {
        return Ok(1);
    }
    // SAFETY: prctl on integers; a non-dumpable init cannot be inspected through /proc or
    // ptrace by the sandbox's processes, which run as the same user.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // Until the runtime and every extension have exited (extensions outlive a runtime that
    // stopped on SIGTERM, to finish their SHUTDOWN).
    while !children.reap(ctl, 0) {}
    Ok(0)
}

/// The init's children whose exits are reported.
struct Children {
    runtime: libc::pid_t,
    runtime_done: bool,
    /// Extensions still running.
    extensions: Vec<Option<libc::pid_t>>,
}

impl Children {
    /// Reaps children (orphans come to PID 1 too), reporting the runtime's and the extensions'
    /// exits; `flags` 0 waits for one, `WNOHANG` only takes what is there. True once the
    /// runtime and every extension are gone (or there is no child left).
    fn reap(&mut self, ctl: &super::control::InitEnd, flags: libc::c_int) -> bool {
        loop {
            let mut status = 0;
            // SAFETY: waits for any child; status is a live local.
            let pid = unsafe { libc::waitpid(-1, &raw mut status, flags) };
            if pid == 0 {
                return false;
            }
            if pid < 0 {
                let e = io::Error::last_os_error().raw_os_error();
                if e == Some(libc::EINTR) {
                    continue;
                }
                return self.runtime != 0;
            }
            let (code, signal) = if libc::WIFEXITED(status) {
                (Some(libc::WEXITSTATUS(status)), None)
            } else {
                (None, Some(libc::WTERMSIG(status)))
            };
            if pid == self.runtime && self.runtime != 0 {
                self.runtime_done = true;
                let _ = ctl.report(&Report::Exited { code, signal }, None);
            } else if let Some(index) = self.extensions.iter().position(|e| *e == Some(pid)) {
                self.extensions[index] = None;
                let _ = ctl.report(
                    &Report::ExtensionExited {
                        index,
                        code,
                        signal,
                    },
                    None,
                );
            }
            if self.runtime_done && self.extensions.iter().all(Option::is_none) {
                return true;
            }
            if flags != 0 {
                continue;
            }
            return false;
        }
    }
}

/// Forks the runtime (or an extension, whose stdout and stderr are `output`), which drops
/// privileges and execs; `channel` becomes the runtime's descriptor 3 (see
/// [`RUNTIME_CHANNEL_FD`](crate::spec::RUNTIME_CHANNEL_FD)). Returns its pid once the exec has happened (a pipe closed by the exec
/// says so), or the step that failed.
pub(super) fn start_runtime(
    plan: &InitPlan,
    exec: &Exec,
    filter: &Filter,
    output: Option<libc::c_int>,
    channel: Option<libc::c_int>,
) -> Result<libc::pid_t, Failure> {
    let prepared =
        Prepared::new(exec).map_err(|e| ("prepare the runtime's command".to_owned(), e))?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| ("create a pipe".to_owned(), e.into()))?;
    // SAFETY: this process is single-threaded (a freshly exec'd init that starts no threads),
    // so the child may run ordinary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(("fork the runtime".to_owned(), io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(r);
        if let Some(fd) = output {
            // SAFETY: dup2 on descriptors this process holds.
            unsafe {
                libc::dup2(fd, 1);
                libc::dup2(fd, 2);
            }
        }
        if let Some(fd) = channel {
            // SAFETY: dup2 on descriptors this process holds; the copy is not close-on-exec.
            // The control socket's descriptor 3 is close-on-exec and unused by this child.
            if unsafe { libc::dup2(fd, crate::spec::RUNTIME_CHANNEL_FD) } < 0 {
                let e = io::Error::last_os_error();
                let msg = format!(
                    "pass the runtime's channel\n{}\n",
                    e.raw_os_error().unwrap_or(0)
                );
                let _ = nix::unistd::write(&w, msg.as_bytes());
                // SAFETY: leaving the child without running destructors or atexit handlers.
                unsafe { libc::_exit(127) };
            }
        }
        let (step, e, candidate) = exec_runtime(plan, exec, filter, &prepared);
        let candidate = candidate.map(|i| i.to_string()).unwrap_or_default();
        let msg = format!("{step}\n{}\n{candidate}", e.raw_os_error().unwrap_or(0));
        let _ = nix::unistd::write(&w, msg.as_bytes());
        // SAFETY: leaving the child without running destructors or atexit handlers.
        unsafe { libc::_exit(127) };
    }
    drop(w);
    let mut buf = Vec::new();
    let mut file = std::fs::File::from(r);
    let _ = io::Read::read_to_end(&mut file, &mut buf);
    if buf.is_empty() {
        return Ok(pid);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.splitn(3, '\n');
    let step = lines.next().unwrap_or_default();
    let errno = lines.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let candidate = lines.next().and_then(|i| i.parse().ok());
    let mut status = 0;
    // SAFETY: reaping the child that just failed.
    unsafe { libc::waitpid(pid, &raw mut status, 0) };
    Err((step.to_owned(), prepared.exec_error(errno, candidate)))
}

/// In the forked child: a session of its own, death with the init, the code directory, the
/// unprivileged identity, then exec. Returns only on failure: the step, its error and, for the
/// exec, which candidate made it.
fn exec_runtime(
    plan: &InitPlan,
    exec: &Exec,
    filter: &Filter,
    cmd: &Prepared,
) -> (String, io::Error, Option<usize>) {
    // SAFETY: plain system calls on integers and live C strings, in the forked child.
    unsafe {
        if libc::setsid() < 0 {
            return (
                "start a session".to_owned(),
                io::Error::last_os_error(),
                None,
            );
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::chdir(cmd.cwd.as_ptr()) != 0 {
            return (
                format!("change to {}", exec.cwd.display()),
                io::Error::last_os_error(),
                None,
            );
        }
    }
    if let Err((step, e)) = privileges::drop_to(&plan.identity, filter, true) {
        return (step.to_owned(), e, None);
    }
    let (e, candidate) = cmd.exec();
    (format!("exec {}", exec.program.display()), e, candidate)
}

/// The signal that asks the init to kill the runtime (only: extensions live on to finish
/// their SHUTDOWN).
pub(crate) fn kill_runtime_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

extern "C" fn forward(sig: libc::c_int) {
    let pid = RUNTIME.load(Ordering::SeqCst);
    if pid > 0 {
        let sig = if sig == kill_runtime_signal() {
            libc::SIGKILL
        } else {
            sig
        };
        // SAFETY: kill is async-signal-safe; the runtime leads its own process group.
        unsafe { libc::kill(-pid, sig) };
    }
}

/// PID 1 gets only the signals it has handlers for: these are passed on to the runtime.
fn forward_signals() {
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        kill_runtime_signal(),
    ] {
        // SAFETY: installs an async-signal-safe handler with a zeroed (empty) mask.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &raw const sa, std::ptr::null_mut());
        }
    }
}
