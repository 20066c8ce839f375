//! The daemon's own open-files limit.

/// Raises the open-files soft limit to the hard one: every API connection, sandbox pipe and
/// Runtime API listener is a descriptor, and the usual soft limit of 1024 is soon reached.
/// Sandboxes get their own limit (1024, as in Lambda) whatever the daemon's.
pub fn raise_limit(max_connections: u32) {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-files limit");
            return;
        }
    };
    // An unlimited hard limit is refused as a soft one: the kernel's ceiling is fs.nr_open.
    let target = if hard == RLIM_INFINITY {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(soft)
    } else {
        hard
    };
    let limit = if target > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
            Ok(()) => target,
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the open-files limit");
                soft
            }
        }
    } else {
        soft
    };
    tracing::debug!(limit, was = soft, hard, "open-files limit");
    #[allow(clippy::useless_conversion, reason = "rlim_t is u32 on 32-bit ARM")]
    let limit = u64::from(limit);
    if u64::from(max_connections) + 256 > limit {
        tracing::warn!(
            limit,
            max_connections,
            "the open-files limit leaves little room beyond --max-connections: raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower --max-connections"
        );
    }
}
