//! The zygotes of a process backend: one per function version, of its current generation.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{Claimed, Start, State, Zygote};
use crate::cgroup::SandboxCgroup;
use crate::error::SandboxError;
use crate::spec::{ContainerSpec, SandboxSpec, ZygoteKey, ZygoteState};

/// The zygote of each function version (`ZygoteKey::family`), current generation only.
#[derive(Default)]
pub(crate) struct Zygotes {
    pub(super) slots: Mutex<HashMap<String, Arc<Zygote>>>,
    /// A cgroup made ahead for each family's next fork, with the generation it was made for
    /// (see `ahead`).
    pub(super) spares: Mutex<HashMap<String, (u64, SandboxCgroup)>>,
}

/// Zygotes started by this daemon, in any backend: each has its own number (and cgroup name).
static STARTED: AtomicU64 = AtomicU64::new(0);

/// How a sandbox's runtime is to start.
pub(crate) enum Claim {
    /// Forked from this zygote, once it is ready.
    Fork(Claimed),
    /// This sandbox's cold start started the zygote: it gets what Init printed, and Init's
    /// error if there is one.
    First(Claimed),
    /// The plain way (the zygote refused).
    Plain,
}

impl Zygotes {
    /// Which zygote `spec` (a sandbox of `key`'s family) is forked from, starting one if its
    /// family has none of this generation (and retiring the family's older one).
    /// `first_output` is (a copy of) the sandbox's output: where Init's output goes if this
    /// sandbox starts the zygote.
    pub(crate) fn claim(
        &self,
        spec: &SandboxSpec,
        key: &ZygoteKey,
        how: &Start<'_>,
        first_output: OwnedFd,
    ) -> Result<Claim, SandboxError> {
        let generation = generation(spec, key);
        let mut slots = self.slots.lock();
        if let Some(z) = slots.get(&key.family)
            && z.generation == generation
        {
            match &*z.state.borrow() {
                State::Starting | State::Ready => return Ok(Claim::Fork(z.claim())),
                State::Refused(_) => return Ok(Claim::Plain),
                State::Gone => {}
            }
        }
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let zygote = Zygote::start(spec, key, generation, how, n, first_output)?;
        if let Some(old) = slots.insert(key.family.clone(), zygote.clone()) {
            old.retire();
        }
        Ok(Claim::First(zygote.claim()))
    }

    /// The state of `family`'s current zygote, if it has one (one that is gone has none: the
    /// next cold start starts another).
    pub(crate) fn state(&self, family: &str) -> Option<ZygoteState> {
        let slots = self.slots.lock();
        let z = slots.get(family)?;
        let state = z.state.borrow();
        match &*state {
            State::Starting => Some(ZygoteState::Starting),
            State::Ready => Some(ZygoteState::Ready),
            State::Refused(why) => Some(ZygoteState::Refused(why.clone())),
            State::Gone => None,
        }
    }

    /// Retires `family`'s zygote (a family ending in `:`: every family it begins), or every
    /// zygote.
    pub(crate) fn retire(&self, family: Option<&str>) {
        let mut slots = self.slots.lock();
        let matches = |f: &str| {
            family.is_none_or(|want| want == f || (want.ends_with(':') && f.starts_with(want)))
        };
        let families: Vec<String> = slots.keys().filter(|f| matches(f)).cloned().collect();
        for f in families {
            if let Some(z) = slots.remove(&f) {
                z.retire();
            }
        }
        drop(slots);
        self.drop_spares(matches);
    }
}

/// A hash of what a zygote's Init depends on: the spec but for each sandbox's own variables.
pub(super) fn generation(spec: &SandboxSpec, key: &ZygoteKey) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.program.hash(&mut h);
    spec.args.hash(&mut h);
    spec.cwd.hash(&mut h);
    for (k, v) in &spec.env {
        if !key.per_sandbox.contains(k) {
            (k, v).hash(&mut h);
        }
    }
    let l = &spec.limits;
    (l.memory_bytes, l.pids, l.cpu_weight, l.open_files).hash(&mut h);
    // A container's code, layers, volumes and devices (its Debug form names every field), but
    // not its host name, each sandbox's own.
    let container = spec.container.as_ref().map(|c| ContainerSpec {
        hostname: String::new(),
        ..c.clone()
    });
    format!("{container:?}").hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Limits;

    fn spec(env: &[(&str, &str)]) -> SandboxSpec {
        SandboxSpec {
            id: "f-1".into(),
            program: "/usr/bin/python3".into(),
            args: vec!["bootstrap.py".into()],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: "/code".into(),
            limits: Limits::lambda(128 << 20),
            container: None,
            extensions: Vec::new(),
            extension_env: Vec::new(),
            runtime_channel: None,
            zygote: None,
        }
    }

    #[test]
    fn a_generation_ignores_what_is_each_sandboxs_own_and_nothing_else() {
        let key = ZygoteKey {
            family: "f:$LATEST".into(),
            per_sandbox: vec!["STREAM".into()],
        };
        let a = generation(&spec(&[("STREAM", "a"), ("TABLE", "t")]), &key);
        let b = generation(&spec(&[("STREAM", "b"), ("TABLE", "t")]), &key);
        assert_eq!(a, b, "another sandbox of the same version");
        let c = generation(&spec(&[("STREAM", "a"), ("TABLE", "u")]), &key);
        assert_ne!(a, c, "new configuration, new zygote");
        let mut more_memory = spec(&[("STREAM", "a"), ("TABLE", "t")]);
        more_memory.limits = Limits::lambda(256 << 20);
        assert_ne!(a, generation(&more_memory, &key));
        let mut new_code = spec(&[("STREAM", "a"), ("TABLE", "t")]);
        new_code.cwd = "/code2".into();
        assert_ne!(a, generation(&new_code, &key));
    }
}
