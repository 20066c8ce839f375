//! The install marker: bootstrap and install run once per component version.
//!
//! After both succeed, `<work dir>/.lambdalet-installed-<version>` is written (through a
//! temporary file and a rename, so a crash leaves either no marker or a whole one) and the
//! markers of other versions are removed, so that going back to an older version installs
//! it again. While the marker is there, bootstrap and install are skipped, also after a
//! daemon restart.

use std::io;
use std::path::PathBuf;

use super::plan::Plan;

const PREFIX: &str = ".lambdalet-installed-";

/// The marker of the plan's version.
pub(crate) fn path(plan: &Plan) -> PathBuf {
    let version: String = plan
        .version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    plan.work_dir.join(format!("{PREFIX}{version}"))
}

pub(crate) fn is_installed(plan: &Plan) -> bool {
    path(plan).is_file()
}

/// Writes the marker of the plan's version and removes those of other versions.
pub(crate) fn mark_installed(plan: &Plan) -> io::Result<()> {
    let marker = path(plan);
    let tmp = plan.work_dir.join(".lambdalet-installing.tmp");
    std::fs::write(&tmp, format!("{} {}\n", plan.name, plan.version))?;
    std::fs::rename(&tmp, &marker)?;
    for entry in std::fs::read_dir(&plan.work_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_other_marker =
            name.to_str().is_some_and(|n| n.starts_with(PREFIX)) && entry.path() != marker;
        if is_other_marker {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_marker_per_version_and_only_the_latest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan {
            name: "com.example.Hello".into(),
            version: "1.0.0".into(),
            work_dir: dir.path().to_path_buf(),
            ..Plan::default()
        };
        assert!(!is_installed(&plan));
        mark_installed(&plan).unwrap();
        assert!(is_installed(&plan));

        plan.version = "2.0.0-beta+build/7".into();
        assert!(!is_installed(&plan));
        assert!(path(&plan).ends_with(".lambdalet-installed-2.0.0-beta+build_7"));
        mark_installed(&plan).unwrap();
        assert!(is_installed(&plan));

        plan.version = "1.0.0".into();
        assert!(!is_installed(&plan), "the old version's marker was removed");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
