//! Setting up the sandbox backends at start: the data directory's lock, the cgroup hierarchy
//! (and what a crashed run left in it), the container probe, and the user sandboxes run as.
//! Everything that falls back says so, once, at start.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use lambdalet_core::ContainerMode;
use lambdalet_invoker::{SandboxUser, Sandboxes};
use lambdalet_sandbox::cgroup::Cgroups;
use lambdalet_sandbox::{ContainerBackend, ProcessBackend};

use crate::cli::ServeArgs;

/// Holds `<data-dir>/lock` for the daemon's life: two daemons on one data directory would
/// remove each other's sandboxes.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A daemon that was just killed (systemd restarting it after a crash) may leave a
    // process behind for a moment that still has the lock open; wait a little for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                if !said {
                    tracing::info!(
                        "waiting for {} to be released ({})",
                        path.display(),
                        holders(&path)
                    );
                    said = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another lambdalet is using the data directory {} ({}): stop it, or give this one another --data-dir",
                data_dir.display(),
                holders(&path)
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

/// Which processes have `path` open, as "pid 42: lambdalet serve ...", for a person to act on.
fn holders(path: &Path) -> String {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let open = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path));
        if open && pid != std::process::id() {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            found.push(format!("pid {pid}: {}", cmd.trim()));
        }
    }
    if found.is_empty() {
        "held by a process this user cannot see".to_owned()
    } else {
        found.join("; ")
    }
}

/// A short id of the data directory, naming this daemon's cgroups.
fn instance_id(data_dir: &Path) -> String {
    let path = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_owned());
    // FNV-1a: stable across builds, no dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// The backends and the policy: cgroups when the host has them, containers when it can run
/// them, and why not when it cannot.
pub async fn start(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<Sandboxes> {
    let user = match &args.sandbox_user {
        Some(spec) => user(spec)?,
        None => SandboxUser::PerFunction {
            base: args.sandbox_uid_base,
        },
    };
    let detected = Cgroups::detect(&instance_id(data_dir));
    let cgroup_error = detected.as_ref().err().map(ToString::to_string);
    let cgroups = match detected {
        Ok(c) => {
            let removed = c.remove_stale();
            if removed > 0 {
                tracing::info!(
                    removed,
                    "removed the cgroups (and killed the processes) of sandboxes a previous run left behind"
                );
            }
            Some(Arc::new(c))
        }
        Err(e) => {
            tracing::warn!(
                "no cgroups for sandboxes ({e}): memory and process limits are not enforced"
            );
            None
        }
    };
    let process = Arc::new(ProcessBackend::new(cgroups.clone()));
    let for_containers = cgroups
        .clone()
        .ok_or_else(|| cgroup_error.unwrap_or_default());
    let (container, unavailable) = match ContainerBackend::probe(data_dir, for_containers).await {
        Ok(b) => (
            Some(Arc::new(b) as Arc<dyn lambdalet_sandbox::SandboxBackend>),
            None,
        ),
        Err(reason) => (None, Some(reason)),
    };
    let default_mode = if args.sandbox == "process" {
        ContainerMode::NoContainer
    } else {
        ContainerMode::GreengrassContainer
    };
    if let Some(reason) = &unavailable {
        if default_mode == ContainerMode::GreengrassContainer {
            tracing::warn!(
                "container sandboxes are unavailable on this host: {reason}. Functions run in the process sandbox instead, without isolation (`lambdalet functions get` and /metrics repeat this); --sandbox process makes that the choice instead of a fallback"
            );
        } else {
            tracing::info!("container sandboxes are unavailable on this host: {reason}");
        }
    } else {
        tracing::info!(default = args.sandbox, "container sandboxes available");
    }
    Ok(Sandboxes {
        process,
        container,
        default_mode,
        container_unavailable: unavailable,
        user,
        zygote: args.zygote == "on",
    })
}

/// `NAME|UID[:GROUP|GID]`, names looked up in the host's /etc/passwd and /etc/group.
fn user(spec: &str) -> anyhow::Result<SandboxUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let (uid, primary) = match u.parse::<u32>() {
        Ok(uid) => (uid, lookup(&passwd, 2, uid).unwrap_or(uid)),
        Err(_) => {
            let line = passwd
                .lines()
                .find(|l| l.split(':').next() == Some(u))
                .with_context(|| {
                    format!(
                        "--sandbox-user {spec}: no user {u:?} in /etc/passwd (create it, e.g. `useradd --system {u}`, or give a uid)"
                    )
                })?;
            let field = |i: usize| line.split(':').nth(i).and_then(|f| f.parse::<u32>().ok());
            (
                field(2).context("malformed /etc/passwd")?,
                field(3).context("malformed /etc/passwd")?,
            )
        }
    };
    let gid = match g {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => std::fs::read_to_string("/etc/group")
                .unwrap_or_default()
                .lines()
                .find(|l| l.split(':').next() == Some(g))
                .and_then(|l| l.split(':').nth(2)?.parse().ok())
                .with_context(|| format!("--sandbox-user {spec}: no group {g:?} in /etc/group"))?,
        },
    };
    Ok(SandboxUser::Fixed { uid, gid })
}

/// The primary group of the passwd entry whose field `by` is `value`.
fn lookup(passwd: &str, by: usize, value: u32) -> Option<u32> {
    passwd
        .lines()
        .find(|l| l.split(':').nth(by).and_then(|f| f.parse::<u32>().ok()) == Some(value))
        .and_then(|l| l.split(':').nth(3)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_name_or_number() {
        assert_eq!(
            user("0").expect("root"),
            SandboxUser::Fixed { uid: 0, gid: 0 }
        );
        assert_eq!(
            user("root:65534").expect("root"),
            SandboxUser::Fixed { uid: 0, gid: 65534 }
        );
        assert_eq!(
            user("12345").expect("numeric"),
            SandboxUser::Fixed {
                uid: 12345,
                gid: 12345
            }
        );
        assert!(
            user("no-such-user-here")
                .expect_err("unknown")
                .to_string()
                .contains("useradd")
        );
    }

    #[test]
    fn instance_ids_differ_by_data_dir() {
        assert_ne!(instance_id(Path::new("/a")), instance_id(Path::new("/b")));
        assert_eq!(instance_id(Path::new("/a")).len(), 12);
    }
}
