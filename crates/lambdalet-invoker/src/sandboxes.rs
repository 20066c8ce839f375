//! Which sandbox a function runs in, and as whom: the daemon's backends, its `--sandbox`
//! default, the reason container sandboxes are unavailable on this host (if they are), and the
//! user sandboxes run as.

use std::sync::Arc;

use lambdalet_core::{ContainerMode, DeployedVersion, FunctionConfig};
use lambdalet_sandbox::SandboxBackend;

/// Who a container sandbox's runtime runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxUser {
    /// Each function its own uid and gid, `base` + the function's number (given at creation,
    /// never reused), so functions cannot touch each other's files or processes, and the
    /// per-user kernel limits (processes, inotify instances) are per function.
    PerFunction { base: u32 },
    /// Every function as this user and group (`--sandbox-user`).
    Fixed { uid: u32, gid: u32 },
}

impl SandboxUser {
    /// The group every container sandbox has (its own, or a supplementary one): what shared
    /// resources such as the IPC socket are opened to. Per-function uids share
    /// `base` - 1 as a supplementary group.
    pub fn shared_group(self) -> u32 {
        match self {
            Self::PerFunction { base } => base.saturating_sub(1),
            Self::Fixed { gid, .. } => gid,
        }
    }
}

impl Default for SandboxUser {
    fn default() -> Self {
        Self::PerFunction {
            base: DEFAULT_UID_BASE,
        }
    }
}

/// First uid of the per-function range: above the usual ranges of system and human users and
/// of rootless containers' subordinate ids (100000 + 65536 per user).
pub const DEFAULT_UID_BASE: u32 = 2_000_000;

/// The sandbox backends and the policy that picks one.
#[derive(Clone)]
pub struct Sandboxes {
    pub process: Arc<dyn SandboxBackend>,
    /// `None` when this host cannot run container sandboxes.
    pub container: Option<Arc<dyn SandboxBackend>>,
    /// What functions without a `containerMode` get (`--sandbox`).
    pub default_mode: ContainerMode,
    /// Why container sandboxes are unavailable, when they are.
    pub container_unavailable: Option<String>,
    pub user: SandboxUser,
    /// Whether Python functions that do not choose (`LAMBDALET_ZYGOTE`) start from a zygote
    /// where they can (`--zygote`).
    pub zygote: bool,
}

impl std::fmt::Debug for Sandboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandboxes")
            .field("container", &self.container.is_some())
            .field("default_mode", &self.default_mode)
            .field("container_unavailable", &self.container_unavailable)
            .field("user", &self.user)
            .field("zygote", &self.zygote)
            .finish()
    }
}

/// The sandbox a function gets here, and why not the one it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxChoice {
    pub mode: ContainerMode,
    pub warning: Option<String>,
}

impl Sandboxes {
    /// Only the process backend (tests, hosts without containers).
    pub fn process_only(process: Arc<dyn SandboxBackend>) -> Self {
        Self {
            process,
            container: None,
            default_mode: ContainerMode::NoContainer,
            container_unavailable: None,
            user: SandboxUser::default(),
            zygote: false,
        }
    }

    /// What a function with `config` runs in on this host.
    pub fn choose(&self, config: &FunctionConfig) -> SandboxChoice {
        // An image runs only in a container, whatever the daemon's default.
        let default = match config.package_type {
            lambdalet_core::PackageType::Image => ContainerMode::GreengrassContainer,
            lambdalet_core::PackageType::Zip => self.default_mode,
        };
        let asked = config.lifecycle.container_mode.unwrap_or(default);
        match (asked, &self.container) {
            (ContainerMode::GreengrassContainer, None) => SandboxChoice {
                mode: ContainerMode::NoContainer,
                warning: Some(format!(
                    "runs in the process sandbox, without isolation or memory limit enforcement by a container, because container sandboxes are unavailable on this host: {}",
                    self.container_unavailable
                        .as_deref()
                        .unwrap_or("no container backend")
                )),
            },
            (mode, _) => SandboxChoice {
                mode,
                warning: None,
            },
        }
    }

    /// Retires the zygotes of `family` (`name:version`; every one: `None`) in every backend.
    pub(crate) fn retire_zygotes(&self, family: Option<&str>) {
        self.process.retire_zygotes(family);
        if let Some(c) = &self.container {
            c.retire_zygotes(family);
        }
    }

    pub(crate) fn backend(&self, mode: ContainerMode) -> &Arc<dyn SandboxBackend> {
        match (mode, &self.container) {
            (ContainerMode::GreengrassContainer, Some(c)) => c,
            _ => &self.process,
        }
    }

    /// The uid and gid `version`'s container sandboxes run as, and the `RLIMIT_NPROC` that
    /// goes with them: 1024 processes per sandbox the function may have at once when the uid
    /// is the function's own, nothing when every function shares one user.
    pub(crate) fn identity(&self, version: &DeployedVersion) -> (u32, u32, Option<u64>) {
        match self.user {
            SandboxUser::PerFunction { base } => {
                let id = base.saturating_add(version.uid_index);
                let lc = &version.config.lifecycle;
                let sandboxes = if lc.pinned {
                    1
                } else {
                    u64::from(lc.max_instances_count)
                };
                let nproc = u64::from(lambdalet_sandbox::MAX_PROCESSES) * sandboxes;
                (id, id, Some(nproc))
            }
            SandboxUser::Fixed { uid, gid } => (uid, gid, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambdalet_sandbox::ProcessBackend;

    fn config(mode: Option<ContainerMode>) -> FunctionConfig {
        let mut c = FunctionConfig::create(lambdalet_core::FunctionConfigPatch {
            runtime: Some("provided".into()),
            handler: Some("x".into()),
            ..Default::default()
        })
        .expect("valid");
        c.lifecycle.container_mode = mode;
        c
    }

    #[test]
    fn a_container_that_cannot_be_had_falls_back_with_a_reason() {
        let mut s = Sandboxes::process_only(Arc::new(ProcessBackend::default()));
        s.default_mode = ContainerMode::GreengrassContainer;
        s.container_unavailable = Some("no memory cgroup controller".into());
        let c = s.choose(&config(None));
        assert_eq!(c.mode, ContainerMode::NoContainer);
        assert!(
            c.warning
                .as_deref()
                .is_some_and(|w| w.contains("no memory cgroup controller")),
            "{c:?}"
        );
        let c = s.choose(&config(Some(ContainerMode::NoContainer)));
        assert_eq!(c.warning, None, "asking for a process is not a fallback");
        s.container = Some(Arc::new(ProcessBackend::default()));
        let c = s.choose(&config(None));
        assert_eq!(c.mode, ContainerMode::GreengrassContainer);
        assert_eq!(c.warning, None);
    }
}
