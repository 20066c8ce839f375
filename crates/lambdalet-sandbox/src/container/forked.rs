//! Container sandboxes whose runtime is forked from a zygote (see the `zygote` module).
//!
//! The zygote is a container sandbox like any other, but for two things ([`plan::zygote`]):
//! its seccomp filter lets it `unshare` a user namespace with mount, PID and IPC namespaces
//! (exactly those) and `mount`, and its root holds a procfs no one in it can reach. Each fork
//! makes those namespaces for itself before it serves: its own `/tmp` (a copy of the zygote's,
//! as Init left it), `/dev/shm`, `/dev/pts` and `/proc`, an init of its own as PID 1, then it
//! drops every capability and installs the sandbox's filter on top of the zygote's, so that it
//! may make no namespace or mount again. Forks of one version share the zygote's root, network
//! and user; they cannot see, signal or trace each other's processes, nor read each other's
//! files in `/tmp`.
//!
//! Only a sandbox on the host's network is forked: one with `network: none` has a network
//! namespace of its own for its Runtime API, which a fork would have to make (its netfilter
//! is reachable from a user namespace, and this design keeps it out of reach).

use std::sync::Arc;

use lambdalet_core::NetworkMode;
use tokio::net::unix::pipe;

use super::ContainerBackend;
use super::plan::ZYGOTE_PROC;
use super::rootfs::{PROC_MASKED, PROC_READ_ONLY};
use crate::error::SandboxError;
use crate::output::OutputReader;
use crate::process::Shared;
use crate::seccomp::{Filter, ZYGOTE_UNSHARE};
use crate::spec::{ContainerSpec, Launched, SandboxSpec, ZygoteKey};
use crate::zygote::{Claim, ZygoteSandbox, ZygoteStart};

/// Whether a container sandbox of `spec` may be forked from a zygote.
pub(super) fn eligible(spec: &SandboxSpec, c: &ContainerSpec) -> bool {
    spec.extensions.is_empty()
        && spec.runtime_channel.is_some()
        && c.network == NetworkMode::Host
        && c.image_root.is_none()
}

/// A sandbox of `key`'s zygote, started (or, should the zygote refuse, started the plain way
/// by the sandbox itself); `None` when its version's zygote has refused already.
pub(super) fn launch(
    backend: &ContainerBackend,
    spec: &SandboxSpec,
    c: &ContainerSpec,
    key: &ZygoteKey,
) -> Result<Option<Launched>, SandboxError> {
    let zygotes = &backend.zygotes;
    let setup = |e: std::io::Error| SandboxError::Setup(format!("output pipe: {e}"));
    let (tx, rx) = pipe::pipe().map_err(setup)?;
    let stdout = tx.into_blocking_fd().map_err(setup)?;
    let output = stdout.try_clone().map_err(setup)?;
    let claimed = match zygotes.claim(spec, key, &ZygoteStart::Container(backend), output)? {
        Claim::Fork(z) => (z, false),
        Claim::First(z) => (z, true),
        Claim::Plain => return Ok(None),
    };
    let (claim, first) = claimed;
    // The cgroup made ahead, else one made now; then the next fork's, off this one's path.
    let cgroup = match zygotes.take_cgroup(spec, key) {
        Some(made) => made,
        None => {
            let limits = backend.cgroup_limits(spec, &backend.plan_of(spec, c)?);
            backend
                .cgroups
                .create(&spec.id, &limits)
                .map_err(|e| SandboxError::Setup(e.to_string()))?
        }
    };
    let (ahead, next) = (backend.clone(), spec.clone());
    zygotes.make_cgroup_ahead(spec, key, &backend.cgroups, move || {
        let c = next.container.as_ref()?;
        let plan = ahead.plan_of(&next, c).ok()?;
        Some(ahead.cgroup_limits(&next, &plan))
    });
    let shared = Arc::new(Shared::new(Some(Arc::new(cgroup)), 1));
    let sandbox = Arc::new(ZygoteSandbox::new(
        spec.id.clone(),
        Arc::clone(&claim),
        first,
        shared,
        Some(backend.clone()),
    ));
    tokio::spawn(sandbox.clone().run(spec.clone(), stdout, claim));
    Ok(Some(Launched {
        sandbox,
        output: OutputReader::new(rx),
        runtime_api: None,
        extension_output: None,
    }))
}

impl ContainerBackend {
    /// What a container zygote's forks need to make their own sandbox, for its init message:
    /// the namespaces to make, the sizes of `/tmp` and `/dev/shm`, where the hidden procfs is,
    /// what of `/proc` to mask or make read-only, and the filter to install last.
    pub(crate) fn zygote_setup(
        &self,
        spec: &SandboxSpec,
    ) -> Result<serde_json::Value, SandboxError> {
        let c = spec.container.as_ref().ok_or_else(|| {
            SandboxError::Setup("a container zygote needs its container spec".to_owned())
        })?;
        let filter: String = Filter::sandbox()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(serde_json::json!({
            "unshare": ZYGOTE_UNSHARE,
            "tmpBytes": c.tmp_bytes,
            "shmBytes": spec.limits.memory_bytes,
            "proc": ZYGOTE_PROC,
            "masked": PROC_MASKED,
            "readOnly": PROC_READ_ONLY,
            "filter": filter,
        }))
    }
}
