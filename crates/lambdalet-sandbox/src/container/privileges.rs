//! Becoming the sandbox's unprivileged user: every capability dropped (bounding set included,
//! so nothing can win one back), the function's uid, gid and groups, Lambda's rlimits,
//! `no_new_privs` and the seccomp filter. The runtime does all of it before `execve`; the init
//! does the same after starting the runtime, so nothing in the sandbox keeps root.

use std::io;

use crate::seccomp::Filter;

use super::plan::Identity;

/// A failed step of the drop, for the report.
pub(crate) type Failure = (&'static str, io::Error);

fn check(step: &'static str, r: libc::c_int) -> Result<(), Failure> {
    if r == -1 {
        Err((step, io::Error::last_os_error()))
    } else {
        Ok(())
    }
}

/// Highest capability number this kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Drops root for `who`. `rlimits`: also set the open-file, process and core limits (the
/// runtime; the init keeps its own).
pub(crate) fn drop_to(who: &Identity, filter: &Filter, rlimits: bool) -> Result<(), Failure> {
    // SAFETY: plain system calls on integers and on pointers to live locals.
    unsafe {
        for cap in 0..=last_cap() {
            let r = libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0);
            // EINVAL: a capability this kernel does not have.
            if r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return Err((
                    "drop the capability bounding set",
                    io::Error::last_os_error(),
                ));
            }
        }
        // Limits first: raising one (the process limit) needs root.
        if rlimits {
            let limit = |value: u64| libc::rlimit {
                rlim_cur: crate::sys::rlim(value),
                rlim_max: crate::sys::rlim(value),
            };
            let nofile = limit(who.open_files);
            check(
                "set the open-file limit",
                libc::setrlimit(libc::RLIMIT_NOFILE, &raw const nofile),
            )?;
            if let Some(n) = who.user_processes {
                // Never above the current hard limit: raising it needs CAP_SYS_RESOURCE, which a
                // daemon in a restricted container may not have.
                let mut now = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NPROC, &raw mut now);
                #[allow(clippy::unnecessary_cast, reason = "rlim_t is u32 on 32-bit targets")]
                let hard = now.rlim_max as u64;
                let nproc = limit(n.min(hard));
                check(
                    "set the process limit",
                    libc::setrlimit(libc::RLIMIT_NPROC, &raw const nproc),
                )?;
            }
            let core = limit(0);
            check(
                "disable core dumps",
                libc::setrlimit(libc::RLIMIT_CORE, &raw const core),
            )?;
        }
        let groups: Vec<libc::gid_t> = who.groups.clone();
        check(
            "set the supplementary groups",
            libc::setgroups(groups.len(), groups.as_ptr()),
        )?;
        check(
            "set the group id",
            libc::setresgid(who.gid, who.gid, who.gid),
        )?;
        check(
            "set the user id",
            libc::setresuid(who.uid, who.uid, who.uid),
        )?;
        // Changing the user id made the kernel forget the parent-death signal: ask for it
        // again, or a kill -9 of the daemon would leave the init (and its sandbox) running.
        check(
            "ask to die with the parent again",
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0),
        )?;
        clear_capabilities()?;
        check(
            "set no_new_privs",
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        )?;
    }
    filter
        .install()
        .map_err(|e| ("install the seccomp filter", e))
}

/// Empties the effective, permitted, inheritable and ambient sets (already empty after a
/// change to a non-zero uid; this also covers a sandbox configured to run as uid 0).
fn clear_capabilities() -> Result<(), Failure> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a version-3 header and two data words from live locals.
    let r = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    check("clear the capability sets", r as libc::c_int)?;
    // SAFETY: prctl on integers.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // EINVAL: a kernel before 4.3, which has no ambient set.
    if r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(("clear the ambient capabilities", io::Error::last_os_error()));
    }
    Ok(())
}
