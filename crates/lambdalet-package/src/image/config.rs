//! The image config blob: the settings a function runs with, and the diff ids that bind the
//! layers to the image id.
//!
//! The image id is the config's sha256, so the config is the image's identity; its
//! `rootfs.diff_ids` name the uncompressed layers, and checking every layer against them
//! is what makes "same id, same tree" true. Lambda uses `ENTRYPOINT`, `CMD`, `WORKDIR` and
//! `ENV` (spec §3); `USER`, the architecture and the os are kept for the sandbox to check.

use serde::{Deserialize, Serialize};

use super::ImageError;
use super::digest::{Hex, parse_digest};

/// What an image says about how to run it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    /// `ENV` in order; a variable without `=` has an empty value.
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
}

/// A parsed config and the diff ids of its layers, base layer first.
#[derive(Debug)]
pub(crate) struct ParsedConfig {
    pub config: ImageConfig,
    pub diff_ids: Vec<Hex>,
}

#[derive(Deserialize)]
struct RawConfig {
    architecture: Option<String>,
    os: Option<String>,
    config: Option<RawRun>,
    rootfs: RawRootfs,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRun {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
    env: Option<Vec<String>>,
    user: Option<String>,
}

#[derive(Deserialize)]
struct RawRootfs {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Vec<String>,
}

/// Parses the config blob read from `file`.
pub(crate) fn parse_config(bytes: &[u8], file: &str) -> Result<ParsedConfig, ImageError> {
    let raw: RawConfig =
        serde_json::from_slice(bytes).map_err(|e| ImageError::bad_json(file, e))?;
    if raw.rootfs.kind != "layers" {
        return Err(ImageError::bad_json(
            file,
            format_args!("rootfs.type is {:?}, not \"layers\"", raw.rootfs.kind),
        ));
    }
    let diff_ids = raw
        .rootfs
        .diff_ids
        .iter()
        .map(|d| parse_digest(d))
        .collect::<Result<_, _>>()?;
    let run = raw.config.unwrap_or(RawRun {
        entrypoint: None,
        cmd: None,
        working_dir: None,
        env: None,
        user: None,
    });
    let env = run
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair, String::new()),
        })
        .collect();
    let config = ImageConfig {
        entrypoint: run.entrypoint.unwrap_or_default(),
        cmd: run.cmd.unwrap_or_default(),
        working_dir: run.working_dir.filter(|d| !d.is_empty()),
        env,
        user: run.user.filter(|u| !u.is_empty()),
        architecture: raw.architecture.filter(|a| !a.is_empty()),
        os: raw.os.filter(|o| !o.is_empty()),
    };
    Ok(ParsedConfig { config, diff_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_base_image_config_is_read() {
        let d = "a".repeat(64);
        let json = format!(
            r#"{{"architecture":"arm64","os":"linux","config":{{
                "Entrypoint":["/lambda-entrypoint.sh"],"Cmd":["app.handler"],
                "WorkingDir":"/var/task","User":"",
                "Env":["PATH=/usr/bin:/bin","LAMBDA_TASK_ROOT=/var/task","EMPTY=","BARE"]}},
              "rootfs":{{"type":"layers","diff_ids":["sha256:{d}"]}},"history":[]}}"#
        );
        let parsed = parse_config(json.as_bytes(), "config.json").unwrap();
        let c = parsed.config;
        assert_eq!(c.entrypoint, ["/lambda-entrypoint.sh"]);
        assert_eq!(c.cmd, ["app.handler"]);
        assert_eq!(c.working_dir.as_deref(), Some("/var/task"));
        assert_eq!(c.user, None);
        assert_eq!(c.architecture.as_deref(), Some("arm64"));
        assert_eq!(
            c.env,
            [
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
                ("EMPTY".into(), String::new()),
                ("BARE".into(), String::new()),
            ]
        );
        assert_eq!(parsed.diff_ids, [d]);
    }

    #[test]
    fn null_settings_are_empty() {
        let json =
            r#"{"config":{"Entrypoint":null,"Cmd":null},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let c = parse_config(json.as_bytes(), "c").unwrap().config;
        assert!(c.entrypoint.is_empty() && c.cmd.is_empty() && c.env.is_empty());
    }

    #[test]
    fn a_config_without_layers_is_refused() {
        let err = parse_config(br#"{"config":{}}"#, "c.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c.json in the image archive is not valid"),
            "{err}"
        );
    }
}
