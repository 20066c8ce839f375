//! Which external extensions a function has, and what they are started with.
//!
//! Lambda starts every file of `/opt/extensions` (from the function's layers, or an image's own
//! `/opt/extensions`) before the runtime; its name is the extension's name. A container sees
//! the layers merged at `/opt`; a process sandbox runs each layer's file where it is unpacked (a
//! later layer's file of the same name wins, as at `/opt`).

use std::path::{Path, PathBuf};

use lambdalet_core::{DeployedVersion, RuntimeFamily};

/// Variables Lambda does not give extensions (spec digest 2 §4.1).
const NOT_FOR_EXTENSIONS: &[&str] = &[
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
];

/// One external extension: its name and its program as the sandbox sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct External {
    pub name: String,
    pub program: PathBuf,
}

/// The external extensions of `version`, by name, in a container (`/opt/extensions/...`) or a
/// process sandbox (the layers' own directories).
pub(crate) fn external(version: &DeployedVersion, container: bool) -> Vec<External> {
    let mut found: Vec<External> = Vec::new();
    let mut add = |name: String, program: PathBuf| match found.iter_mut().find(|e| e.name == name) {
        Some(e) => e.program = program,
        None => found.push(External { name, program }),
    };
    if let Some(image) = &version.image {
        // Nothing of the image is followed: `opt` and `opt/extensions` must be directories.
        let dir = image.rootfs.join("opt/extensions");
        if real_dir(&image.rootfs.join("opt")) && real_dir(&dir) {
            for name in names(&dir) {
                add(name.clone(), Path::new("/opt/extensions").join(name));
            }
        }
    } else {
        for layer in &version.layers {
            let dir = layer.join("extensions");
            if !real_dir(&dir) {
                continue;
            }
            for name in names(&dir) {
                let program = if container {
                    Path::new("/opt/extensions").join(&name)
                } else {
                    dir.join(&name)
                };
                add(name, program);
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

fn real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// The names of the files (and links) directly in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// The runtime's environment without what Lambda keeps from extensions.
pub(crate) fn extension_env(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| !NOT_FOR_EXTENSIONS.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// `AWS_LAMBDA_EXEC_WRAPPER`: a managed runtime (not an OS-only one) is started through the
/// wrapper script, with the runtime's command as its arguments, as Lambda does. In a process
/// sandbox a wrapper under `/opt` is looked up in the layers (the last one that has it).
pub(crate) fn exec_wrapper(
    version: &DeployedVersion,
    family: RuntimeFamily,
    container: bool,
    program: PathBuf,
    args: Vec<String>,
) -> (PathBuf, Vec<String>) {
    let Some(wrapper) = version
        .config
        .environment
        .get("AWS_LAMBDA_EXEC_WRAPPER")
        .filter(|w| !w.is_empty() && family != RuntimeFamily::Provided)
    else {
        return (program, args);
    };
    let mut wrapper = PathBuf::from(wrapper);
    if !container
        && let Ok(rel) = wrapper.strip_prefix("/opt")
        && let Some(found) = version
            .layers
            .iter()
            .rev()
            .map(|l| l.join(rel))
            .find(|p| p.exists())
    {
        wrapper = found;
    }
    let mut all = vec![program.display().to_string()];
    all.extend(args);
    (wrapper, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_layer_wins_and_names_are_sorted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        for (layer, names) in [
            (&a, &["zeta", "shared"][..]),
            (&b, &["shared", "alpha"][..]),
        ] {
            std::fs::create_dir_all(layer.join("extensions")).expect("mkdir");
            for n in names {
                std::fs::write(layer.join("extensions").join(n), "#!/bin/sh\n").expect("write");
            }
        }
        std::fs::create_dir_all(a.join("extensions/subdir")).expect("mkdir");
        let config = lambdalet_core::FunctionConfig::create(lambdalet_core::FunctionConfigPatch {
            runtime: Some("provided.al2023".to_owned()),
            handler: Some("h".to_owned()),
            ..Default::default()
        })
        .expect("config");
        let v = DeployedVersion {
            name: lambdalet_core::FunctionName::new("f").expect("name"),
            version: "$LATEST".to_owned(),
            revision_id: "r".to_owned(),
            config,
            code_sha256: String::new(),
            code_dir: tmp.path().to_owned(),
            image: None,
            layers: vec![a.clone(), b.clone()],
            function_arn: String::new(),
            credentials: None,
            uid_index: 0,
        };
        let found = external(&v, false);
        let names: Vec<_> = found.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["alpha", "shared", "zeta"]);
        assert_eq!(found[1].program, b.join("extensions/shared"));
        let found = external(&v, true);
        assert_eq!(found[0].program, Path::new("/opt/extensions/alpha"));
        let env = extension_env(&[
            ("_HANDLER".into(), "x".into()),
            ("AWS_REGION".into(), "r".into()),
        ]);
        assert_eq!(env, [("AWS_REGION".to_owned(), "r".to_owned())]);
    }
}
