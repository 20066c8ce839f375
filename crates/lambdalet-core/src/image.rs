//! Container-image functions (`PackageType: Image`): which image a function runs, the
//! `ImageConfig` that overrides the image's own settings, and the command that results.
//!
//! Lambda runs an image's `ENTRYPOINT` with its `CMD` as arguments, in its `WORKDIR`, with its
//! `ENV`; `ImageConfig.EntryPoint`, `Command` and `WorkingDirectory` replace each of those on
//! their own (spec digest 2 §3). An image function has no `Runtime`, `Handler` or `Layers`.

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;

/// `PackageType`: a zip with a runtime, or a container image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PackageType {
    #[default]
    Zip,
    Image,
}

impl PackageType {
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s {
            "Zip" => Ok(Self::Zip),
            "Image" => Ok(Self::Image),
            other => Err(LambdaError::invalid(format!(
                "PackageType {other:?} is not valid: use Zip or Image"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "Zip",
            Self::Image => "Image",
        }
    }
}

/// Refuses the settings that do not belong to a function of `package_type`, as Lambda does.
pub(crate) fn check_patch(
    package_type: PackageType,
    patch: &crate::config::FunctionConfigPatch,
) -> Result<(), LambdaError> {
    match package_type {
        PackageType::Image => {
            let wrong = [
                ("Runtime", patch.runtime.is_some()),
                ("Handler", patch.handler.is_some()),
                (
                    "Layers",
                    patch.layers.as_ref().is_some_and(|l| !l.is_empty()),
                ),
            ];
            if let Some((field, _)) = wrong.iter().find(|(_, set)| *set) {
                return Err(LambdaError::invalid(format!(
                    "{field} is not supported for a function of PackageType Image: the image's ENTRYPOINT and CMD (or ImageConfig) say what runs, and its files are in the image"
                )));
            }
        }
        PackageType::Zip => {
            if patch.image_config.is_some() {
                return Err(LambdaError::invalid(
                    "ImageConfig is only for functions of PackageType Image; a zip function runs its Runtime with its Handler",
                ));
            }
        }
    }
    Ok(())
}

/// Lambda's limits on `ImageConfig`.
pub const MAX_IMAGE_CONFIG_ITEMS: usize = 1500;
pub const MAX_WORKING_DIRECTORY_LEN: usize = 1000;

/// `ImageConfig`: what replaces the image's `ENTRYPOINT`, `CMD` and `WORKDIR`. A field that is
/// absent keeps the image's setting; an empty list is a setting (no entrypoint, no arguments).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

impl ImageOverrides {
    pub fn is_empty(&self) -> bool {
        self.entry_point.is_none() && self.command.is_none() && self.working_directory.is_none()
    }

    /// Lambda's limits: at most 1500 items per list, a working directory of at most 1000
    /// characters that is an absolute path; no NUL anywhere (no process could receive it).
    pub fn validate(&self) -> Result<(), LambdaError> {
        for (field, list) in [
            ("ImageConfig.EntryPoint", &self.entry_point),
            ("ImageConfig.Command", &self.command),
        ] {
            let Some(list) = list else { continue };
            if list.len() > MAX_IMAGE_CONFIG_ITEMS {
                return Err(LambdaError::invalid(format!(
                    "{field} has {} items; the limit is {MAX_IMAGE_CONFIG_ITEMS}",
                    list.len()
                )));
            }
            if list.iter().any(|a| a.contains('\0')) {
                return Err(LambdaError::invalid(format!(
                    "{field} contains a NUL byte, which no process can receive"
                )));
            }
        }
        if let Some(dir) = &self.working_directory {
            if dir.is_empty() || dir.len() > MAX_WORKING_DIRECTORY_LEN || dir.contains('\0') {
                return Err(LambdaError::invalid(format!(
                    "ImageConfig.WorkingDirectory must be 1 to {MAX_WORKING_DIRECTORY_LEN} characters without NUL (it has {})",
                    dir.len()
                )));
            }
            if !dir.starts_with('/') {
                return Err(LambdaError::invalid(format!(
                    "ImageConfig.WorkingDirectory {dir:?} must be an absolute path (start with /)"
                )));
            }
        }
        Ok(())
    }
}

/// The image a version runs: what `Code.ImageUri` said, the image id it resolved to when the
/// code was set (a later load under the same name does not change the function, as re-tagging
/// in ECR does not), and the image's own settings, copied from its config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCode {
    pub uri: String,
    /// The image config's sha256 (Docker's image id), 64 hex digits.
    pub id: String,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `ENV`, in order.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

impl ImageCode {
    /// `ResolvedImageUri`: the URI's repository with the image's digest.
    pub fn resolved_uri(&self) -> String {
        let repo = self.uri.split('@').next().unwrap_or(&self.uri);
        // A tag is what follows the last ':' after the last '/' (a registry port is not one).
        let last = repo.rsplit('/').next().unwrap_or(repo);
        let repo = match last.rfind(':') {
            Some(i) => &repo[..repo.len() - last.len() + i],
            None => repo,
        };
        if repo.chars().all(|c| c.is_ascii_hexdigit()) || repo.starts_with("sha256") {
            format!("sha256:{}", self.id)
        } else {
            format!("{repo}@sha256:{}", self.id)
        }
    }

    /// What the sandbox runs: the program and its arguments, and the working directory.
    pub fn run(&self, overrides: Option<&ImageOverrides>) -> ImageRun {
        let o = overrides.cloned().unwrap_or_default();
        let entrypoint = o.entry_point.unwrap_or_else(|| self.entrypoint.clone());
        let cmd = o.command.unwrap_or_else(|| self.cmd.clone());
        let working_dir = o
            .working_directory
            .or_else(|| self.working_dir.clone())
            .unwrap_or_else(|| "/".to_owned());
        ImageRun {
            handler: cmd.first().cloned(),
            argv: entrypoint.into_iter().chain(cmd).collect(),
            working_dir,
        }
    }
}

/// The command an image function's sandbox starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRun {
    /// ENTRYPOINT then CMD; the first word is the program (a bare name is looked up on the
    /// image's `PATH`). Empty when the image and `ImageConfig` name nothing to run.
    pub argv: Vec<String>,
    pub working_dir: String,
    /// `CMD`'s first word, which Lambda's base images take as the handler (`_HANDLER`).
    pub handler: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ImageCode {
        ImageCode {
            uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:latest".into(),
            id: "ab".repeat(32),
            entrypoint: vec!["/lambda-entrypoint.sh".into()],
            cmd: vec!["app.handler".into()],
            working_dir: Some("/var/task".into()),
            env: vec![],
        }
    }

    #[test]
    fn the_image_settings_run_unless_overridden() {
        let run = base().run(None);
        assert_eq!(run.argv, ["/lambda-entrypoint.sh", "app.handler"]);
        assert_eq!(run.working_dir, "/var/task");
        assert_eq!(run.handler.as_deref(), Some("app.handler"));
        let o = ImageOverrides {
            command: Some(vec!["other.handler".into()]),
            working_directory: Some("/srv".into()),
            ..Default::default()
        };
        let run = base().run(Some(&o));
        assert_eq!(run.argv, ["/lambda-entrypoint.sh", "other.handler"]);
        assert_eq!(run.working_dir, "/srv");
        let o = ImageOverrides {
            entry_point: Some(vec!["/bootstrap".into()]),
            command: Some(vec![]),
            ..Default::default()
        };
        let run = base().run(Some(&o));
        assert_eq!(run.argv, ["/bootstrap"]);
        assert_eq!(run.handler, None);
    }

    #[test]
    fn an_image_without_workdir_runs_in_the_root() {
        let mut c = base();
        c.working_dir = None;
        assert_eq!(c.run(None).working_dir, "/");
    }

    #[test]
    fn the_resolved_uri_names_the_repository_and_the_id() {
        let id = "ab".repeat(32);
        assert_eq!(
            base().resolved_uri(),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/hello@sha256:{id}")
        );
        let mut c = base();
        c.uri = "localhost:5000/team/app@sha256:0000".into();
        assert_eq!(
            c.resolved_uri(),
            format!("localhost:5000/team/app@sha256:{id}")
        );
        c.uri = "hello".into();
        assert_eq!(c.resolved_uri(), format!("hello@sha256:{id}"));
        c.uri = format!("sha256:{id}");
        assert_eq!(c.resolved_uri(), format!("sha256:{id}"));
    }

    #[test]
    fn image_config_limits_are_checked() {
        let rel = ImageOverrides {
            working_directory: Some("var/task".into()),
            ..Default::default()
        };
        assert!(rel.validate().unwrap_err().message.contains("absolute"));
        let long = ImageOverrides {
            command: Some(vec![String::new(); 1501]),
            ..Default::default()
        };
        assert!(long.validate().unwrap_err().message.contains("1500"));
        assert!(PackageType::parse("Docker").is_err());
        assert_eq!(PackageType::parse("Image").unwrap(), PackageType::Image);
    }
}
