//! Where a runtime finds its function's layers.
//!
//! In a container the layers are merged at `/opt`, and the search paths are Lambda's own
//! (`/opt/bin` on `PATH`, `/opt/lib` on `LD_LIBRARY_PATH`, `/opt/nodejs/...` on `NODE_PATH`,
//! `/opt/python...` on `sys.path`). A process sandbox sees the host's `/opt`, not the layers, so
//! each `/opt` entry becomes one entry per layer directory, the last layer first: a file of a
//! later layer wins, as it does at `/opt` (per directory on the search path, not per file; see
//! docs/layers.md). Paths in the function's own environment variables are left as they are.

use std::path::PathBuf;

use lambdalet_core::Runtime;

/// The environment variable that tells our Python bootstrap where the layers are when they are
/// not at `/opt`: their directories in the function's order, `:`-separated (empty: none).
pub(crate) const LAYERS_ENV: &str = "LAMBDALET_LAYERS";

/// The environment variable that tells our Python bootstrap where the installed AWS SDK
/// (boto3) is: on `sys.path` after the code and the layers, where Lambda's runtime has it.
pub(crate) const SDK_ENV: &str = "LAMBDALET_SDK";

/// The places a runtime looks for layer content instead of `/opt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerRoots {
    /// The layers are merged at `/opt` (a container).
    Opt,
    /// Each layer's own directory, last layer first (a process sandbox).
    Dirs(Vec<String>),
}

impl LayerRoots {
    pub(crate) fn new(container: bool, layers: &[PathBuf]) -> Self {
        if container {
            Self::Opt
        } else {
            Self::Dirs(
                layers
                    .iter()
                    .rev()
                    .map(|d| d.display().to_string())
                    .collect(),
            )
        }
    }

    /// `list` (`:`-separated) with its `/opt/<sub>` entry in place for these roots (removed for
    /// a process sandbox without layers).
    pub(crate) fn expand(&self, list: &str, sub: &str) -> String {
        let opt = format!("/opt/{sub}");
        list.split(':')
            .flat_map(|entry| {
                if entry.trim_end_matches('/') == opt {
                    self.under(sub)
                } else {
                    vec![entry.to_owned()]
                }
            })
            .collect::<Vec<_>>()
            .join(":")
    }

    fn under(&self, sub: &str) -> Vec<String> {
        match self {
            Self::Opt => vec![format!("/opt/{sub}")],
            Self::Dirs(dirs) => dirs.iter().map(|d| format!("{d}/{sub}")).collect(),
        }
    }

    /// `NODE_PATH` as Lambda's Node.js runtimes set it: the layers' `nodejs/nodeNN/node_modules`
    /// and `nodejs/node_modules`, then the SDK's `node_modules` (Lambda has it in the runtime's
    /// own `node_modules`), the runtime's and the function's directories.
    pub(crate) fn node_path(
        &self,
        runtime: &Runtime,
        runtime_dir: &str,
        task_root: &str,
        sdk: Option<&str>,
    ) -> String {
        let major = runtime
            .id()
            .trim_start_matches("nodejs")
            .trim_end_matches(".x");
        let versioned = format!("nodejs/node{major}/node_modules");
        let mut parts = Vec::new();
        let roots = match self {
            Self::Opt => vec!["/opt".to_owned()],
            Self::Dirs(dirs) => dirs.clone(),
        };
        for root in &roots {
            parts.push(format!("{root}/{versioned}"));
            parts.push(format!("{root}/nodejs/node_modules"));
        }
        if let Some(sdk) = sdk {
            parts.push(format!("{sdk}/node_modules"));
        }
        parts.push(format!("{runtime_dir}/node_modules"));
        parts.push(runtime_dir.to_owned());
        parts.push(task_root.to_owned());
        parts.join(":")
    }

    /// [`LAYERS_ENV`] for the Python bootstrap: `None` when the layers are at `/opt`, where it
    /// looks by default.
    pub(crate) fn python_env(&self, layers: &[PathBuf]) -> Option<String> {
        match self {
            Self::Opt => None,
            Self::Dirs(_) => Some(
                layers
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<PathBuf> {
        vec!["/d/code/aaa".into(), "/d/code/bbb".into()]
    }

    #[test]
    fn a_container_uses_lambdas_own_paths() {
        let r = LayerRoots::new(true, &layers());
        let path = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
        assert_eq!(r.expand(path, "bin"), path);
        let node = Runtime::parse("nodejs18.x").expect("runtime");
        assert_eq!(
            r.node_path(&node, "/var/runtime", "/var/task", None),
            "/opt/nodejs/node18/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
            "as the Lambda Node.js 18 runtime sets it"
        );
        assert_eq!(
            r.node_path(&node, "/var/runtime", "/var/task", Some("/var/sdk")),
            "/opt/nodejs/node18/node_modules:/opt/nodejs/node_modules:/var/sdk/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
            "the SDK after the layers, where Lambda's runtime has it"
        );
        assert_eq!(r.python_env(&layers()), None, "the bootstrap looks in /opt");
    }

    #[test]
    fn a_process_searches_each_layer_last_first() {
        let r = LayerRoots::new(false, &layers());
        assert_eq!(
            r.expand("/usr/local/bin:/usr/bin/:/bin:/opt/bin", "bin"),
            "/usr/local/bin:/usr/bin/:/bin:/d/code/bbb/bin:/d/code/aaa/bin"
        );
        assert_eq!(
            r.expand("/lib64:/t:/t/lib:/opt/lib", "lib"),
            "/lib64:/t:/t/lib:/d/code/bbb/lib:/d/code/aaa/lib"
        );
        let node = Runtime::parse("nodejs20.x").expect("runtime");
        assert_eq!(
            r.node_path(&node, "/rt", "/task", None),
            "/d/code/bbb/nodejs/node20/node_modules:/d/code/bbb/nodejs/node_modules:\
             /d/code/aaa/nodejs/node20/node_modules:/d/code/aaa/nodejs/node_modules:\
             /rt/node_modules:/rt:/task"
        );
        assert_eq!(
            r.python_env(&layers()).as_deref(),
            Some("/d/code/aaa:/d/code/bbb"),
            "in the function's order; the bootstrap reverses it"
        );
    }

    #[test]
    fn a_process_without_layers_searches_no_opt() {
        let r = LayerRoots::new(false, &[]);
        assert_eq!(r.expand("/usr/bin:/opt/bin", "bin"), "/usr/bin");
        assert_eq!(r.python_env(&[]).as_deref(), Some(""));
    }
}
