//! Cgroups made ahead: a family's next fork finds its sandbox's cgroup made (in five cgroup v1
//! hierarchies, with its limits and device rules: about half a millisecond) while the version's
//! previous sandbox ran, instead of on its cold start's path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Zygotes;
use super::registry::generation;
use crate::cgroup::{CgroupLimits, Cgroups, SandboxCgroup};
use crate::spec::{SandboxSpec, ZygoteKey};

/// Cgroups made ahead by this daemon: each its own name.
static MADE: AtomicU64 = AtomicU64::new(0);

impl Zygotes {
    /// The cgroup made ahead for the next fork of `key`'s family, if it was made for this
    /// generation (new code or configuration may mean other limits).
    pub(crate) fn take_cgroup(&self, spec: &SandboxSpec, key: &ZygoteKey) -> Option<SandboxCgroup> {
        let generation = generation(spec, key);
        let (made_for, cgroup) = self.spares.lock().remove(&key.family)?;
        if made_for == generation {
            return Some(cgroup);
        }
        remove_later(cgroup);
        None
    }

    /// Makes the next fork's cgroup of `key`'s family off the async threads, with the limits
    /// `limits` gives there (it may read the host), unless the family's zygote has been
    /// retired meanwhile.
    pub(crate) fn make_cgroup_ahead(
        self: &Arc<Self>,
        spec: &SandboxSpec,
        key: &ZygoteKey,
        cgroups: &Arc<Cgroups>,
        limits: impl FnOnce() -> Option<CgroupLimits> + Send + 'static,
    ) {
        let generation = generation(spec, key);
        let (me, cgroups, family) = (self.clone(), cgroups.clone(), key.family.clone());
        tokio::task::spawn_blocking(move || {
            let Some(limits) = limits() else { return };
            let name = format!(
                "fork-{}-{}",
                std::process::id(),
                MADE.fetch_add(1, Ordering::Relaxed)
            );
            let cgroup = match cgroups.create(&name, &limits) {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(%family, error = %e, "zygote.cgroup_ahead");
                    return;
                }
            };
            let current = me
                .slots
                .lock()
                .get(&family)
                .is_some_and(|z| z.generation == generation);
            let replaced = if current {
                me.spares.lock().insert(family, (generation, cgroup))
            } else {
                Some((generation, cgroup))
            };
            if let Some((_, old)) = replaced {
                remove(&old);
            }
        });
    }

    /// Removes the cgroups made ahead for the families `matches` names.
    pub(super) fn drop_spares(&self, matches: impl Fn(&str) -> bool) {
        let mut spares = self.spares.lock();
        let families: Vec<String> = spares.keys().filter(|f| matches(f)).cloned().collect();
        for f in families {
            if let Some((_, c)) = spares.remove(&f) {
                remove_later(c);
            }
        }
    }
}

/// Removes an unused cgroup off the async threads (at once outside a runtime).
fn remove_later(cgroup: SandboxCgroup) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(move || remove(&cgroup));
        }
        Err(_) => remove(&cgroup),
    }
}

fn remove(cgroup: &SandboxCgroup) {
    if let Err(e) = cgroup.remove() {
        tracing::warn!(error = %e, "cannot remove a cgroup made ahead");
    }
}
