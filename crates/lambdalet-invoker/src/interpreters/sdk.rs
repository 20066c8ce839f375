//! The AWS SDK a runtime provides, as Lambda's runtimes include one: boto3 for Python, the AWS
//! SDK for JavaScript v3 (`@aws-sdk/*`) for Node.js 18 and later. `lambdalet runtimes
//! install-sdk` puts them under `<data-dir>/sdk/` (`python/<X.Y>/` per Python version, with
//! pip's `--target` layout; `node/v3/node_modules/`); a sandbox finds them after the
//! function's code and layers (a function's own copy wins, as on Lambda). Without an installed
//! SDK a Python function finds the host interpreter's own boto3, if it has one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lambdalet_core::{LanguageVersion, Runtime, RuntimeFamily};

use super::Interpreter;

/// The `@aws-sdk` packages `install-sdk node` fetches: the clients of the services lambdalet
/// serves and the ones functions use most, with the helpers Lambda's Node.js runtimes bundle
/// alongside them (Lambda's own runtimes carry every client).
pub const NODE_PACKAGES: &[&str] = &[
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-scheduler",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-sts",
    "@aws-sdk/client-iot-data-plane",
    "@aws-sdk/credential-providers",
    "@aws-sdk/s3-request-presigner",
    "@aws-sdk/lib-storage",
];

/// The PyPI package `install-sdk python` fetches (with botocore, s3transfer and their
/// dependencies).
pub const PYTHON_PACKAGE: &str = "boto3";

/// The oldest Node.js whose Lambda runtime bundles the v3 SDK (nodejs16.x and older bundled
/// v2, which lambdalet does not provide).
pub const NODE_SDK_V3_SINCE: u32 = 18;

/// A file in a finished installation; a directory without it is ignored.
pub(crate) const COMPLETE: &str = ".lambdalet-complete";

/// Where an SDK comes from, for `lambdalet runtimes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// lambdalet's SDK directory.
    Lambdalet {
        dir: PathBuf,
        version: String,
    },
    /// The interpreter's own installation (a boto3 in its site-packages).
    Host {
        version: String,
    },
    None,
}

/// `<data-dir>/sdk`.
#[derive(Debug, Clone)]
pub struct SdkStore {
    root: PathBuf,
}

impl SdkStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("sdk"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where boto3 for Python `version` is installed (or goes).
    pub(crate) fn python_path(&self, version: &LanguageVersion) -> PathBuf {
        self.root.join("python").join(version.to_string())
    }

    /// Where the v3 SDK for Node.js is installed (or goes); its packages are in
    /// `node_modules/` under it.
    pub(crate) fn node_path(&self) -> PathBuf {
        self.root.join("node").join("v3")
    }

    /// The installed SDK directory a sandbox of `runtime` on `interpreter` gets, if any.
    pub fn dir_for(&self, runtime: &Runtime, interpreter: &Interpreter) -> Option<PathBuf> {
        let dir = match runtime.family() {
            RuntimeFamily::Python => self.python_path(&interpreter.version),
            RuntimeFamily::Node => {
                let asked = runtime.language_version()?;
                if asked.major < NODE_SDK_V3_SINCE {
                    return None;
                }
                self.node_path()
            }
            RuntimeFamily::Provided => return None,
        };
        dir.join(COMPLETE).exists().then_some(dir)
    }

    /// The version of the SDK installed in `dir` (boto3's, or `@aws-sdk/client-lambda`'s).
    pub fn version_in(family: RuntimeFamily, dir: &Path) -> Option<String> {
        match family {
            RuntimeFamily::Python => std::fs::read_dir(dir).ok()?.find_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let rest = name.strip_prefix("boto3-")?;
                rest.strip_suffix(".dist-info").map(str::to_owned)
            }),
            RuntimeFamily::Node => {
                let json = dir.join("node_modules/@aws-sdk/client-lambda/package.json");
                let text = std::fs::read_to_string(json).ok()?;
                let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                v["version"].as_str().map(str::to_owned)
            }
            RuntimeFamily::Provided => None,
        }
    }

    /// Which SDK `runtime` on `interpreter` provides, and from where.
    pub async fn source(&self, runtime: &Runtime, interpreter: &Interpreter) -> SdkSource {
        if let Some(dir) = self.dir_for(runtime, interpreter)
            && let Some(version) = Self::version_in(runtime.family(), &dir)
        {
            return SdkSource::Lambdalet { dir, version };
        }
        match host_sdk(runtime.family(), &interpreter.exe).await {
            Some(version) => SdkSource::Host { version },
            None => SdkSource::None,
        }
    }
}

/// The SDK version the interpreter finds by itself: boto3 in a Python's site-packages, the
/// v3 Lambda client in Node.js's global folders.
async fn host_sdk(family: RuntimeFamily, exe: &Path) -> Option<String> {
    let args: &[&str] = match family {
        RuntimeFamily::Python => &[
            "-E",
            "-c",
            "try:\n from importlib.metadata import version\n print(version('boto3'))\nexcept Exception:\n pass\n",
        ],
        RuntimeFamily::Node => &[
            "-e",
            "try { console.log(require('@aws-sdk/client-lambda/package.json').version) } catch (e) {}",
        ],
        RuntimeFamily::Provided => return None,
    };
    let run = tokio::process::Command::new(exe)
        .args(args)
        .env_remove("NODE_PATH")
        .env_remove("PYTHONPATH")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .ok()?
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty() && !v.contains('\n')).then_some(v)
}
