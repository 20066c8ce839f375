//! The function's layers at `/opt`, as Lambda extracts them: in the function's order, a later
//! layer's file over an earlier one's, directories merged, read-only.
//!
//! One layer is bound as it is. Two or more are merged by a read-only overlayfs whose lower
//! directories are the layers' unpacked trees, last layer on top: nothing is copied, and the
//! mount costs about as much as a bind (docs/layers.md has the measurements). The trees all sit
//! in the package store's `code/` directory, so the init changes into it and names them by
//! their hashes: overlayfs's option string then holds no host path that would need escaping.
//! An image function's root (`setup.rs`) names its directories by full path, escaped.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use crate::spec::ContainerSpec;

use super::plan::{PlanError, Step, ro_bind};

/// Where the layers appear.
pub(crate) const OPT: &str = "/opt";

/// The step that shows `spec`'s layers at `/opt`, if it has any.
pub(super) fn layers(spec: &ContainerSpec) -> Result<Option<Step>, PlanError> {
    match spec.layers.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(ro_bind(one, OPT, false))),
        many => {
            let base = common_parent(many)?;
            let lowers = many
                .iter()
                .rev()
                .map(|dir| plain_name(dir))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Step::Overlay {
                base,
                lowers,
                path: OPT.into(),
            }))
        }
    }
}

fn common_parent(dirs: &[PathBuf]) -> Result<PathBuf, PlanError> {
    let parent = |d: &PathBuf| d.parent().map(Path::to_path_buf);
    let first = parent(&dirs[0]);
    match first {
        Some(p) if dirs.iter().all(|d| parent(d).as_ref() == Some(&p)) => Ok(p),
        _ => Err(PlanError(format!(
            "the layers {dirs:?} are not in one directory of the package store"
        ))),
    }
}

/// A directory name overlayfs's option parser takes as it is.
fn plain_name(dir: &Path) -> Result<String, PlanError> {
    dir.file_name()
        .and_then(OsStr::to_str)
        .filter(|n| !n.is_empty() && !n.contains([':', ',', '\\', '=']))
        .map(str::to_owned)
        .ok_or_else(|| {
            PlanError(format!(
                "layer directory {} has no plain name",
                dir.display()
            ))
        })
}

/// `path` as overlayfs's options take it: `\`, `,` and `:` (which separate options and lower
/// layers) preceded by a backslash, as the kernel's option parser unescapes them.
pub(super) fn escape(path: &Path) -> io::Result<String> {
    let s = path.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not UTF-8", path.display()),
        )
    })?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::container::os::Recorder;
    use crate::container::plan::plan;
    use crate::container::plan::tests::{debian, sample_plan, spec};
    use crate::container::setup::assemble_root;
    use crate::spec::Limits;

    fn with_layers(layers: &[&str]) -> ContainerSpec {
        let mut s = spec();
        s.layers = layers.iter().map(PathBuf::from).collect();
        s
    }

    fn plan_of(s: &ContainerSpec) -> crate::container::plan::InitPlan {
        let exec = sample_plan().exec.expect("an exec");
        plan(
            &debian(),
            Path::new("/r"),
            s,
            &Limits::lambda(128 << 20),
            exec,
        )
        .expect("plans")
    }

    #[test]
    fn no_layers_leave_opt_empty() {
        let p = plan_of(&spec());
        assert!(!p.steps.iter().any(|s| matches!(s, Step::Overlay { .. })));
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s, Step::Bind { path, .. } if path == Path::new(OPT)))
        );
    }

    #[test]
    fn the_installed_sdk_is_bound_read_only_when_given() {
        let sdk = |p: &crate::container::plan::InitPlan| {
            p.steps
                .iter()
                .filter(|s| matches!(s, Step::Bind { path, .. } if path == Path::new(crate::spec::paths::SDK_DIR)))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(sdk(&plan_of(&spec())).is_empty());
        let mut s = spec();
        s.sdk_dir = Some("/data/sdk/python/3.11".into());
        assert_eq!(
            sdk(&plan_of(&s)),
            [ro_bind(
                "/data/sdk/python/3.11",
                crate::spec::paths::SDK_DIR,
                false
            )]
        );
    }

    #[test]
    fn one_layer_is_bound_read_only() {
        let p = plan_of(&with_layers(&["/data/packages/code/l1"]));
        assert!(
            p.steps
                .contains(&ro_bind("/data/packages/code/l1", OPT, false))
        );
    }

    #[test]
    fn more_layers_are_merged_last_on_top_before_the_root_is_sealed() {
        let s = with_layers(&[
            "/data/packages/code/l1",
            "/data/packages/code/l2",
            "/data/packages/code/l3",
        ]);
        let p = plan_of(&s);
        let overlay = Step::Overlay {
            base: "/data/packages/code".into(),
            lowers: vec!["l3".into(), "l2".into(), "l1".into()],
            path: OPT.into(),
        };
        let at = p
            .steps
            .iter()
            .position(|st| *st == overlay)
            .expect("an overlay");
        assert!(at < p.steps.len() - 1 && p.steps.last() == Some(&Step::SealRoot));
        let mut os = Recorder::default();
        assemble_root(&mut os, &p).expect("runs");
        let mount = os
            .calls
            .iter()
            .position(|c| c == "mount overlay /r/opt overlay [ro,nosuid,nodev] lowerdir=l3:l2:l1")
            .unwrap_or_else(|| panic!("{:#?}", os.calls));
        assert_eq!(os.calls[mount - 1], "chdir /data/packages/code");
    }

    #[test]
    fn paths_in_overlay_options_are_escaped() {
        assert_eq!(
            escape(Path::new("/data/images/rootfs/abc")).expect("utf-8"),
            "/data/images/rootfs/abc"
        );
        assert_eq!(
            escape(Path::new(r"/d,x/a:b\c=d")).expect("utf-8"),
            r"/d\,x/a\:b\\c=d"
        );
        let not_utf8 = std::ffi::OsStr::from_bytes(b"/d/\xff");
        assert!(escape(Path::new(not_utf8)).is_err());
    }

    #[test]
    fn layers_that_overlayfs_could_misread_are_refused() {
        let bad = plan(
            &debian(),
            Path::new("/r"),
            &with_layers(&["/a/x", "/b/y"]),
            &Limits::lambda(128 << 20),
            sample_plan().exec.expect("an exec"),
        )
        .expect_err("two directories");
        assert!(bad.0.contains("not in one directory"), "{bad}");
        let bad = layers(&with_layers(&["/a/x", "/a/y:z"])).expect_err("a colon");
        assert!(bad.0.contains("no plain name"), "{bad}");
    }
}
