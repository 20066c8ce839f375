//! The runc baseline: an OCI bundle whose container is set up as a lambdalet container is
//! (the host's `/usr` and library directories read-only, the program bound in, its own `/proc`,
//! `/dev` and `/tmp`, an unprivileged user with no capabilities, a memory and pids limit, the
//! host's network) and runs the same program against the same stub Runtime API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// The Lambda environment the Rust hello needs.
pub fn lambda_env(api: SocketAddr) -> Vec<(String, String)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]bench".to_owned(),
        ),
        ("_HANDLER", "bootstrap".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An OCI bundle in a temporary directory.
pub struct Bundle {
    dir: tempfile::TempDir,
    runc: PathBuf,
    bootstrap: PathBuf,
    mounts: Vec<Value>,
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Bundle {
    pub fn new(bootstrap: &Path) -> anyhow::Result<Self> {
        let Some(runc) = which("runc") else {
            bail!("runc is not installed (`apt-get install runc`; `make bench` installs it)");
        };
        let dir = tempfile::tempdir()?;
        let rootfs = dir.path().join("rootfs");
        for d in ["proc", "dev", "tmp", "usr", "etc"] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        std::fs::write(rootfs.join("bootstrap"), b"")?;
        let ro = |src: &str| json!({"destination": src, "type": "bind", "source": src, "options": ["rbind", "ro", "nosuid", "nodev"]});
        let mut mounts = vec![
            json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=64k"]}),
            json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=536870912"]}),
            json!({"destination": "/bootstrap", "type": "bind", "source": bootstrap, "options": ["bind", "ro", "nosuid", "nodev"]}),
            ro("/usr"),
        ];
        for d in ["bin", "sbin", "lib", "lib32", "lib64"] {
            let host = Path::new("/").join(d);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::os::unix::fs::symlink(std::fs::read_link(&host)?, rootfs.join(d))?;
                }
                Ok(m) if m.is_dir() => {
                    std::fs::create_dir_all(rootfs.join(d))?;
                    mounts.push(ro(&host.display().to_string()));
                }
                _ => {}
            }
        }
        Ok(Self {
            dir,
            runc,
            bootstrap: bootstrap.to_owned(),
            mounts,
        })
    }

    /// `runc run` of container `id` with the program pointed at `api`.
    pub fn run_command(
        &self,
        id: &str,
        api: SocketAddr,
    ) -> anyhow::Result<tokio::process::Command> {
        let env: Vec<String> = lambda_env(api)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 65534, "gid": 65534},
                "args": ["/bootstrap"],
                "env": env,
                "cwd": "/",
                "capabilities": {"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "bench",
            "mounts": self.mounts,
            "linux": {
                "resources": {"memory": {"limit": 134_217_728}, "pids": {"limit": 1024}},
                "cgroupsPath": format!("/lambdalet-bench/{id}"),
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
                "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/proc/scsi"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
            }
        });
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec(&config)?,
        )
        .context("cannot write the bundle's config.json")?;
        let mut cmd = tokio::process::Command::new(&self.runc);
        cmd.arg("run").arg("--bundle").arg(self.dir.path()).arg(id);
        let _ = &self.bootstrap;
        Ok(cmd)
    }

    /// Kills and removes container `id` (its program never exits by itself).
    pub async fn delete(&self, id: &str) {
        let _ = tokio::process::Command::new(&self.runc)
            .args(["delete", "--force", id])
            .output()
            .await;
    }
}
