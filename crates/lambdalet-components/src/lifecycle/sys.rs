//! The system calls of the lifecycle: a step's own session and user, and finding and
//! signalling every process of a session.
//!
//! Every step starts a new session (`setsid`), so its shell is the leader of a session and
//! of a process group whose id is the shell's pid. Its children stay in that session even
//! when they change process group (a shell with job control does); they are found by
//! reading the session field of `/proc/<pid>/stat`. A child that calls `setsid` itself
//! leaves the session and cannot be found this way: it outlives a stop (a cgroup per
//! component would catch it; this module does not create one).

use std::io;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Gid, Pid, Uid, getegid, geteuid, setgid, setgroups, setsid, setuid};

/// The daemon's effective uid and gid.
pub(crate) fn effective_ids() -> (u32, u32) {
    (geteuid().as_raw(), getegid().as_raw())
}

/// Makes the child of `cmd` lead a new session and, with `user`, drop to that uid and gid
/// (its supplementary groups become just that gid) before it executes.
pub(crate) fn new_session_as(cmd: &mut tokio::process::Command, user: Option<(u32, u32)>) {
    let child_setup = move || -> io::Result<()> {
        setsid()?;
        if let Some((uid, gid)) = user {
            let gid = Gid::from_raw(gid);
            setgroups(&[gid])?;
            setgid(gid)?;
            setuid(Uid::from_raw(uid))?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It makes only the raw system calls setsid,
    // setgroups, setgid and setuid (nix's wrappers pass a borrowed slice and allocate
    // nothing), and its errors are errno values converted without allocating.
    unsafe {
        cmd.pre_exec(child_setup);
    }
}

/// The live (not zombie) processes of session `sid`.
pub(crate) fn session_members(sid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| live_session_of(*pid) == Some(sid))
        .collect()
}

/// The session of `pid` if it is alive (neither zombie nor dead).
pub(crate) fn live_session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(2)?.parse().ok()
}

/// Whether `pid` is alive (a zombie counts as dead).
#[cfg(test)]
pub(crate) fn is_alive(pid: i32) -> bool {
    live_session_of(pid).is_some()
}

/// Sends `signal` to the process group `sid` and to every process of session `sid`; true
/// when some process of the session was still alive.
pub(crate) fn signal_session(sid: i32, signal: Signal) -> bool {
    // 0 would be our own group, 1 init's: never a step's.
    if sid <= 1 {
        return false;
    }
    ignore_gone(killpg(Pid::from_raw(sid), signal));
    let members = session_members(sid);
    for pid in &members {
        ignore_gone(kill(Pid::from_raw(*pid), signal));
    }
    !members.is_empty()
}

fn ignore_gone(result: nix::Result<()>) {
    match result {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!(error = %e, "signalling a component process failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_session_is_found_and_a_made_up_one_is_empty() {
        let me = std::process::id() as i32;
        let sid = live_session_of(me).unwrap();
        assert!(session_members(sid).contains(&me));
        assert!(is_alive(me));
        assert!(session_members(i32::MAX).is_empty());
        assert!(!is_alive(i32::MAX));
    }
}
