//! `deploy`'s sandbox flags (`--sandbox`, `--volume`, `--device`, `--network`,
//! `--mount-ro-sysfs`, `--container-memory`) as the Greengrass settings the API takes
//! (`containerMode`, `containerParams`, `network`).

use anyhow::bail;
use serde_json::{Map, Value, json};

use crate::cli::DeployArgs;

/// The `LambdaletConfig` entries the flags ask for (none when no flag is given).
pub fn settings(args: &DeployArgs) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(s) = &args.sandbox {
        let mode = if s == "container" {
            "GreengrassContainer"
        } else {
            "NoContainer"
        };
        out.insert("containerMode".into(), json!(mode));
    }
    if let Some(n) = &args.network {
        out.insert("network".into(), json!(n));
    }
    let mut params = Map::new();
    if !args.volume.is_empty() {
        let volumes = args
            .volume
            .iter()
            .map(|v| volume(v))
            .collect::<anyhow::Result<Vec<_>>>()?;
        params.insert("volumes".into(), Value::Array(volumes));
    }
    if !args.device.is_empty() {
        let devices = args
            .device
            .iter()
            .map(|d| device(d))
            .collect::<anyhow::Result<Vec<_>>>()?;
        params.insert("devices".into(), Value::Array(devices));
    }
    if let Some(ro) = args.mount_ro_sysfs {
        params.insert("mountROSysfs".into(), json!(ro));
    }
    if let Some(kb) = args.container_memory {
        params.insert("memorySize".into(), json!(kb));
    }
    if !params.is_empty() {
        out.insert("containerParams".into(), Value::Object(params));
    }
    Ok(out)
}

/// `ro`/`rw` and `group` options after the paths.
fn options(spec: &str, flag: &str, rest: &[&str]) -> anyhow::Result<(&'static str, bool)> {
    let (mut permission, mut group) = ("ro", false);
    for opt in rest {
        match *opt {
            "ro" => permission = "ro",
            "rw" => permission = "rw",
            "group" => group = true,
            other => bail!(
                "--{flag} {spec}: unknown option {other:?} (use ro, rw or group, e.g. --{flag} {}:rw)",
                spec.split(':').next().unwrap_or(spec)
            ),
        }
    }
    Ok((permission, group))
}

fn volume(spec: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
        bail!("--volume {spec}: give SRC:DST[:ro|rw], e.g. --volume /srv/data:/data:rw");
    }
    let (permission, group) = options(spec, "volume", &parts[2..])?;
    Ok(json!({
        "sourcePath": parts[0],
        "destinationPath": parts[1],
        "permission": permission,
        "addGroupOwner": group,
    }))
}

fn device(spec: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts[0].is_empty() {
        bail!("--device {spec}: give PATH[:ro|rw], e.g. --device /dev/ttyUSB0:rw");
    }
    let (permission, group) = options(spec, "device", &parts[1..])?;
    Ok(json!({ "path": parts[0], "permission": permission, "addGroupOwner": group }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_and_devices_read_like_docker() {
        assert_eq!(
            volume("/srv/data:/data:rw:group").expect("valid"),
            json!({"sourcePath": "/srv/data", "destinationPath": "/data", "permission": "rw", "addGroupOwner": true})
        );
        assert_eq!(volume("/a:/b").expect("valid")["permission"], "ro");
        assert!(volume("/a").is_err());
        assert!(
            volume("/a:/b:rwx")
                .expect_err("bad option")
                .to_string()
                .contains("unknown option")
        );
        assert_eq!(
            device("/dev/ttyUSB0:rw").expect("valid"),
            json!({"path": "/dev/ttyUSB0", "permission": "rw", "addGroupOwner": false})
        );
    }
}
