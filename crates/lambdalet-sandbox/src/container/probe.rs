//! Whether this host can run container sandboxes, found by building a real, empty one at start,
//! and, when it cannot, exactly what is missing: root, a cgroup hierarchy with the memory and
//! pids controllers, or one of the namespaces.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::cgroup::{CgroupLimits, Cgroups};

use super::{ContainerBackend, NAMESPACES, plan};

/// The namespaces a container needs, by name.
const NEEDED: [(libc::c_int, &str); 4] = [
    (libc::CLONE_NEWNS, "mount"),
    (libc::CLONE_NEWPID, "PID"),
    (libc::CLONE_NEWIPC, "IPC"),
    (libc::CLONE_NEWUTS, "UTS"),
];

impl ContainerBackend {
    /// Checks that this host can run containers (root, namespaces, the cgroup controllers: the
    /// error from looking for them is `cgroups`'s) by building a real, empty one, and returns
    /// the backend; or says exactly what is missing.
    pub async fn probe(
        data_dir: &Path,
        cgroups: Result<Arc<Cgroups>, String>,
    ) -> Result<Self, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(
                "container sandboxes need root (lambdalet creates namespaces, mounts and cgroups for them)"
                    .to_owned(),
            );
        }
        let cgroups = cgroups.map_err(|e| format!("container sandboxes need cgroups: {e}"))?;
        let root = data_dir.join("sandbox-root");
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let backend = Self {
            cgroups,
            root,
            zygotes: Arc::default(),
        };
        let limits = CgroupLimits {
            memory_bytes: 64 << 20,
            pids: 8,
            cpu_weight: 1,
            devices: Some(Vec::new()),
        };
        let probe = plan::probe(&backend.root);
        match backend
            .start_init("lambdalet-probe", &probe, NAMESPACES, &limits, None)
            .await
        {
            Ok(started) => {
                started.watch.await_exit().await;
                Ok(backend)
            }
            // Which namespace, if that is what failed.
            Err(e) => Err(missing_namespace()
                .unwrap_or_else(|| format!("a test sandbox could not be built: {e}"))),
        }
    }
}

/// The first namespace this kernel (or a seccomp policy around the daemon) refuses, said so.
fn missing_namespace() -> Option<String> {
    for (flag, name) in NEEDED {
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child before exec and only calls unshare(2),
        // which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::unshare(flag) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match cmd.status() {
            Ok(_) => {}
            Err(e) => {
                return Some(format!(
                    "container sandboxes need {name} namespaces, which this kernel refuses (unshare: {e}); a kernel built with CONFIG_{}_NS, outside a container that forbids them, has them",
                    match name {
                        "mount" => "MNT",
                        other => other,
                    }
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "LAMBDALET_PROBE_TEST_CHILD";

    /// Under a seccomp policy that refuses namespaces (lambdalet's own sandbox filter here, as
    /// a container runtime around the daemon might), the probe names the first one refused.
    #[test]
    fn a_refused_namespace_is_named() {
        if std::env::var_os(CHILD).is_some() {
            let filter = crate::seccomp::Filter::sandbox();
            // SAFETY: prctl on integers, in this test's own process.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            filter.install().expect("install the filter");
            println!("RESULT {:?}", missing_namespace());
            return;
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(missing_namespace(), None, "root here has every namespace");
        }
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "container::probe::tests::a_refused_namespace_is_named",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .expect("run the test binary");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("RESULT Some(\"container sandboxes need mount namespaces")
                && text.contains("Operation not permitted"),
            "{text}"
        );
    }
}
