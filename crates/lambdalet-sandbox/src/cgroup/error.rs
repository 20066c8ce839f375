//! Failures to find, set up or use the cgroups that confine sandboxes.

use std::path::PathBuf;

/// Why a cgroup could not be found, created or configured.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No hierarchy offers what a sandbox needs; the message names exactly what is missing.
    #[error(
        "cgroups are unavailable: {0}; mount cgroup2 with the memory and pids controllers \
         enabled, or the cgroup v1 memory and pids hierarchies"
    )]
    Unavailable(String),
    /// An instance or sandbox id that cannot be used as one directory name.
    #[error(
        "{what} {name:?} cannot name a cgroup: use 1 to {max} letters, digits, '-' or '_'",
        max = super::MAX_NAME_LEN
    )]
    InvalidName { what: &'static str, name: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create cgroup {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    /// cgroup v2 refused to enable controllers for the daemon's subtree, even after the daemon
    /// moved itself out of its own cgroup.
    #[error(
        "cannot enable controllers {controllers} in {path}: {source}; run lambdalet as a systemd \
         service with Delegate=yes, or start it in a cgroup no other process uses"
    )]
    Delegate {
        path: PathBuf,
        controllers: String,
        source: std::io::Error,
    },
}
