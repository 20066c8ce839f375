//! How a function is contained: Greengrass's `containerMode` and `containerParams` (memory,
//! `mountROSysfs`, volumes, devices) and lambdalet's `network` setting, under their Greengrass
//! names, with the validation Greengrass applies (spec digest §4.3).
//!
//! Only the shape is checked here (absolute paths, forbidden places, lengths); whether a volume
//! source or a device exists on this host is checked by the sandbox crate at deploy.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;

/// Where a function runs: in a container sandbox, or as a plain process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContainerMode {
    /// Namespaces, a private root filesystem and `/tmp`, an unprivileged user, seccomp.
    GreengrassContainer,
    /// A child process of the daemon (trusted code, smallest devices).
    NoContainer,
}

impl ContainerMode {
    /// Greengrass's names (any case), or lambdalet's `container` / `process`.
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s.to_ascii_lowercase().as_str() {
            "greengrasscontainer" | "container" => Ok(Self::GreengrassContainer),
            "nocontainer" | "process" => Ok(Self::NoContainer),
            _ => Err(LambdaError::invalid(format!(
                "containerMode {s:?} is not valid: use GreengrassContainer (or container) or NoContainer (or process)"
            ))),
        }
    }

    /// The sandbox backend's name: `container` or `process`.
    pub fn backend(self) -> &'static str {
        match self {
            Self::GreengrassContainer => "container",
            Self::NoContainer => "process",
        }
    }
}

/// Whether a container sandbox shares the host's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network namespace, as Greengrass runs Lambda functions.
    #[default]
    Host,
    /// A network namespace of its own with only loopback: no network at all.
    None,
}

impl NetworkMode {
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s.to_ascii_lowercase().as_str() {
            "host" => Ok(Self::Host),
            "none" => Ok(Self::None),
            _ => Err(LambdaError::invalid(format!(
                "network {s:?} is not valid: use host or none"
            ))),
        }
    }

    pub fn is_host(&self) -> bool {
        *self == Self::Host
    }
}

/// `ro` or `rw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    #[default]
    Ro,
    Rw,
}

impl Permission {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ro" => Ok(Self::Ro),
            "rw" => Ok(Self::Rw),
            _ => Err(format!("permission {s:?} is not valid: use ro or rw")),
        }
    }

    pub fn writable(self) -> bool {
        self == Self::Rw
    }
}

/// A host directory or file made visible inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    #[serde(alias = "source")]
    pub source_path: String,
    #[serde(alias = "destination")]
    pub destination_path: String,
    #[serde(default)]
    pub permission: Permission,
    /// Add the group that owns the source to the function's groups (Greengrass V1's
    /// `AutoAddGroupOwner`), so group permissions on it apply to the function.
    #[serde(default)]
    pub add_group_owner: bool,
}

/// A host device node made available inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceMount {
    pub path: String,
    #[serde(default)]
    pub permission: Permission,
    #[serde(default)]
    pub add_group_owner: bool,
}

/// Greengrass's `containerParams`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerParams {
    /// The memory limit in KB, as Greengrass gives it; `None`: the function's `MemorySize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<u64>,
    #[serde(rename = "mountROSysfs")]
    pub mount_ro_sysfs: bool,
    pub volumes: Vec<VolumeMount>,
    pub devices: Vec<DeviceMount>,
}

/// Smallest container memory Greengrass accepts, in KB.
pub const MIN_CONTAINER_MEMORY_KB: u64 = 2048;
/// Longest path Greengrass accepts, and longest component.
const MAX_PATH_LEN: usize = 4096;
const MAX_NAME_LEN: usize = 255;

/// Where a volume may not go: the sandbox's own structure.
const RESERVED_DESTINATIONS: &[&str] = &[
    "/proc",
    "/dev",
    "/sys",
    "/var/task",
    "/var/runtime",
    "/lambda",
];

impl ContainerParams {
    /// Applies a `containerParams` object from a request or recipe: fields present replace
    /// this config's (`memorySize: null` goes back to `MemorySize`), others are kept. Volumes
    /// and devices come as lists or as Greengrass's index-keyed maps (`{"0": {...}}`).
    pub fn apply(&self, patch: &serde_json::Value) -> Result<Self, LambdaError> {
        let obj = patch.as_object().ok_or_else(|| {
            LambdaError::invalid(
                "containerParams must be an object: {\"memorySize\": 16384, \"mountROSysfs\": false, \"volumes\": {}, \"devices\": {}}",
            )
        })?;
        let mut c = self.clone();
        for (key, value) in obj {
            match key.as_str() {
                "memorySize" => {
                    c.memory_size = match value {
                        serde_json::Value::Null => None,
                        v => Some(memory_kb(v)?),
                    }
                }
                "mountROSysfs" => {
                    c.mount_ro_sysfs = value.as_bool().ok_or_else(|| {
                        LambdaError::invalid("containerParams.mountROSysfs must be true or false")
                    })?
                }
                "volumes" => c.volumes = entries(value, "volumes")?,
                "devices" => c.devices = entries(value, "devices")?,
                other => {
                    return Err(LambdaError::invalid(format!(
                        "containerParams.{other} is not a known setting: use memorySize, mountROSysfs, volumes or devices"
                    )));
                }
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks every path and the memory size, naming the entry that is wrong.
    pub fn validate(&self) -> Result<(), LambdaError> {
        if let Some(kb) = self.memory_size
            && !(MIN_CONTAINER_MEMORY_KB..=i32::MAX as u64).contains(&kb)
        {
            return Err(LambdaError::invalid(format!(
                "containerParams.memorySize must be between {MIN_CONTAINER_MEMORY_KB} and {} KB (got {kb})",
                i32::MAX
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, v) in self.volumes.iter().enumerate() {
            let field = format!("containerParams.volumes[{i}]");
            check_path(&format!("{field}.sourcePath"), &v.source_path)?;
            check_path(&format!("{field}.destinationPath"), &v.destination_path)?;
            if under(&v.source_path, "/sys") {
                return Err(LambdaError::invalid(format!(
                    "{field}.sourcePath {} is under /sys, which cannot be a volume: set mountROSysfs to see /sys read-only",
                    v.source_path
                )));
            }
            if let Some(r) = RESERVED_DESTINATIONS
                .iter()
                .chain(std::iter::once(&"/"))
                .find(|r| {
                    v.destination_path == **r || (**r != "/" && under(&v.destination_path, r))
                })
            {
                return Err(LambdaError::invalid(format!(
                    "{field}.destinationPath {} is {} the sandbox's own {r}: pick another place, e.g. /data",
                    v.destination_path,
                    if v.destination_path == *r {
                        ""
                    } else {
                        "under"
                    }
                )));
            }
            if !seen.insert(v.destination_path.trim_end_matches('/').to_owned()) {
                return Err(LambdaError::invalid(format!(
                    "{field}.destinationPath {} is used by two volumes",
                    v.destination_path
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let field = format!("containerParams.devices[{i}].path");
            check_path(&field, &d.path)?;
            if !d.path.starts_with("/dev/") {
                return Err(LambdaError::invalid(format!(
                    "{field} {} must be a device under /dev (e.g. /dev/ttyUSB0)",
                    d.path
                )));
            }
            if !seen.insert(d.path.clone()) {
                return Err(LambdaError::invalid(format!(
                    "{field} {} is listed twice",
                    d.path
                )));
            }
        }
        Ok(())
    }
}

fn memory_kb(v: &serde_json::Value) -> Result<u64, LambdaError> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| {
            LambdaError::invalid(format!(
                "containerParams.memorySize must be a number of KB (got {v})"
            ))
        })
}

/// A list, or an index-keyed map whose entries are taken in key order ("2" before "10").
fn entries<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    what: &str,
) -> Result<Vec<T>, LambdaError> {
    let items: Vec<(String, &serde_json::Value)> = match value {
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        serde_json::Value::Object(m) => {
            let mut items: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v)).collect();
            items.sort_by(
                |(a, _), (b, _)| match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => a.cmp(b),
                },
            );
            items
        }
        serde_json::Value::Null => Vec::new(),
        other => {
            return Err(LambdaError::invalid(format!(
                "containerParams.{what} must be a list or a map of entries (got {other})"
            )));
        }
    };
    let example = if what == "volumes" {
        "{\"sourcePath\": \"/srv/data\", \"destinationPath\": \"/data\", \"permission\": \"rw\", \"addGroupOwner\": false}"
    } else {
        "{\"path\": \"/dev/ttyUSB0\", \"permission\": \"rw\", \"addGroupOwner\": true}"
    };
    items
        .into_iter()
        .map(|(key, v)| {
            let mut v = v.clone();
            if let Some(p) = v.get("permission").and_then(|p| p.as_str()) {
                let p = Permission::parse(p).map_err(|e| {
                    LambdaError::invalid(format!("containerParams.{what}.{key}: {e}"))
                })?;
                v["permission"] = serde_json::to_value(p).unwrap_or_default();
            }
            serde_json::from_value(v).map_err(|e| {
                LambdaError::invalid(format!(
                    "containerParams.{what}.{key} is not valid ({e}): expected {example}"
                ))
            })
        })
        .collect()
}

fn check_path(field: &str, path: &str) -> Result<(), LambdaError> {
    if !path.starts_with('/') {
        return Err(LambdaError::invalid(format!(
            "{field} {path:?} must be an absolute path"
        )));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(LambdaError::invalid(format!(
            "{field} is {} characters long; the limit is {MAX_PATH_LEN}",
            path.len()
        )));
    }
    if path.contains('\0') {
        return Err(LambdaError::invalid(format!("{field} contains a NUL byte")));
    }
    for c in Path::new(path).components() {
        match c {
            Component::ParentDir | Component::CurDir => {
                return Err(LambdaError::invalid(format!(
                    "{field} {path:?} must not contain . or .. components: give the real path"
                )));
            }
            Component::Normal(n) if n.len() > MAX_NAME_LEN => {
                return Err(LambdaError::invalid(format!(
                    "{field} has a name longer than {MAX_NAME_LEN} characters"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `path` is `dir` or below it (component-wise).
fn under(path: &str, dir: &str) -> bool {
    Path::new(path).starts_with(dir)
}

/// Greengrass's map form of a list, for showing a config the way a recipe writes it.
pub fn index_keyed<T: Clone>(items: &[T]) -> BTreeMap<String, T> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_parse_in_both_vocabularies() {
        assert_eq!(
            ContainerMode::parse("GreengrassContainer").unwrap(),
            ContainerMode::GreengrassContainer
        );
        assert_eq!(
            ContainerMode::parse("nocontainer").unwrap(),
            ContainerMode::NoContainer
        );
        assert_eq!(
            ContainerMode::parse("process").unwrap(),
            ContainerMode::NoContainer
        );
        assert!(
            ContainerMode::parse("docker")
                .unwrap_err()
                .message
                .contains("GreengrassContainer")
        );
        assert_eq!(NetworkMode::parse("NONE").unwrap(), NetworkMode::None);
    }

    #[test]
    fn recipe_maps_and_api_lists_both_work() {
        let p = ContainerParams::default()
            .apply(&json!({
                "memorySize": 16384,
                "mountROSysfs": true,
                "volumes": {
                    "10": {"sourcePath": "/srv/b", "destinationPath": "/b"},
                    "2": {"source": "/srv/a", "destination": "/a", "permission": "RW", "addGroupOwner": true}
                },
                "devices": [{"path": "/dev/ttyUSB0", "permission": "rw"}]
            }))
            .expect("valid");
        assert_eq!(p.memory_size, Some(16384));
        assert!(p.mount_ro_sysfs);
        assert_eq!(
            p.volumes[0].destination_path, "/a",
            "index order, not string order"
        );
        assert_eq!(p.volumes[0].permission, Permission::Rw);
        assert!(p.volumes[0].add_group_owner);
        assert_eq!(p.volumes[1].permission, Permission::Ro, "ro by default");
        assert_eq!(p.devices[0].path, "/dev/ttyUSB0");
        // A later patch replaces only what it names.
        let q = p.apply(&json!({"memorySize": null})).expect("valid");
        assert_eq!(q.memory_size, None);
        assert_eq!(q.volumes, p.volumes);
    }

    #[test]
    fn bad_entries_name_the_field() {
        let err = |v: serde_json::Value| ContainerParams::default().apply(&v).unwrap_err().message;
        assert!(err(json!({"memorySize": 1024})).contains("memorySize must be between 2048"));
        assert!(
            err(json!({"volumes": [{"sourcePath": "/sys/class", "destinationPath": "/x"}]}))
                .contains("under /sys")
        );
        assert!(
            err(json!({"volumes": [{"sourcePath": "/srv", "destinationPath": "/proc/x"}]}))
                .contains("volumes[0].destinationPath")
        );
        assert!(
            err(json!({"volumes": [{"sourcePath": "/srv", "destinationPath": "/"}]}))
                .contains("destinationPath")
        );
        assert!(
            err(json!({"volumes": [{"sourcePath": "srv", "destinationPath": "/x"}]}))
                .contains("absolute")
        );
        assert!(
            err(json!({"volumes": [{"sourcePath": "/srv/../etc", "destinationPath": "/x"}]}))
                .contains("..")
        );
        assert!(err(json!({"volumes": [{"sourcePath": "/a", "destinationPath": "/x"}, {"sourcePath": "/b", "destinationPath": "/x/"}]})).contains("two volumes"));
        assert!(err(json!({"volumes": [{"sourcePath": "/a", "destinationPath": "/x", "permission": "rwx"}]})).contains("use ro or rw"));
        assert!(err(json!({"volumes": [{"destinationPath": "/x"}]})).contains("expected"));
        assert!(err(json!({"devices": [{"path": "/etc/passwd"}]})).contains("under /dev"));
        assert!(
            err(json!({"devices": [{"path": "/dev/null"}, {"path": "/dev/null"}]}))
                .contains("twice")
        );
        assert!(err(json!({"memorySzie": 1})).contains("not a known setting"));
        let long = format!("/{}", "a".repeat(300));
        assert!(
            err(json!({"devices": [{"path": format!("/dev{long}")}]})).contains("longer than 255")
        );
    }
}
