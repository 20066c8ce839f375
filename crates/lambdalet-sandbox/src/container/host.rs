//! The host facts a container plan needs, read from the real filesystem, and the deploy-time
//! check that a function's volumes and devices exist here.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use lambdalet_core::ContainerParams;

use super::plan::{DeviceNode, HostEntry, HostView};

/// `lstat` of the live filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RealHost;

impl HostView for RealHost {
    fn text(&self, path: &Path) -> Option<String> {
        let m = std::fs::metadata(path).ok()?;
        if !m.is_file() || m.len() > 256 * 1024 {
            return None;
        }
        std::fs::read_to_string(path).ok()
    }

    fn entry(&self, path: &Path) -> Option<HostEntry> {
        let m = std::fs::symlink_metadata(path).ok()?;
        let t = m.file_type();
        Some(if t.is_symlink() {
            HostEntry::Symlink(std::fs::read_link(path).ok()?)
        } else if t.is_dir() {
            HostEntry::Dir { gid: m.gid() }
        } else if t.is_file() {
            HostEntry::File { gid: m.gid() }
        } else if t.is_char_device() || t.is_block_device() {
            let rdev = m.rdev();
            HostEntry::Device(DeviceNode {
                char: t.is_char_device(),
                major: libc::major(rdev),
                minor: libc::minor(rdev),
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
            })
        } else {
            HostEntry::Other
        })
    }
}

/// Checks at deploy that every volume source and device of `params` exists on this host (a
/// volume source must be a directory or a file, a device a device node), following symbolic
/// links as the mount will. The message names the entry and says what to do.
pub fn check_container_params(params: &ContainerParams) -> Result<(), String> {
    for (i, v) in params.volumes.iter().enumerate() {
        match std::fs::metadata(&v.source_path) {
            Ok(m) if m.is_dir() || m.is_file() => {}
            Ok(_) => {
                return Err(format!(
                    "containerParams.volumes[{i}].sourcePath {} is not a directory or a file",
                    v.source_path
                ));
            }
            Err(e) => {
                return Err(format!(
                    "containerParams.volumes[{i}].sourcePath {} cannot be used: {e}; create it on this host first",
                    v.source_path
                ));
            }
        }
    }
    for (i, d) in params.devices.iter().enumerate() {
        match std::fs::metadata(&d.path) {
            Ok(m) if m.file_type().is_char_device() || m.file_type().is_block_device() => {}
            Ok(_) => {
                return Err(format!(
                    "containerParams.devices[{i}].path {} is not a device node",
                    d.path
                ));
            }
            Err(e) => {
                return Err(format!(
                    "containerParams.devices[{i}].path {} cannot be used: {e}; is the device plugged in?",
                    d.path
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambdalet_core::{DeviceMount, Permission, VolumeMount};

    #[test]
    fn reads_the_kinds_a_plan_needs() {
        let h = RealHost;
        assert!(matches!(
            h.entry(Path::new("/usr")),
            Some(HostEntry::Dir { .. })
        ));
        assert!(matches!(
            h.entry(Path::new("/dev/null")),
            Some(HostEntry::Device(DeviceNode {
                char: true,
                major: 1,
                minor: 3,
                ..
            }))
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(h.entry(&dir.path().join("missing")), None);
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("target", &link).expect("symlink");
        assert_eq!(h.entry(&link), Some(HostEntry::Symlink("target".into())));
    }

    #[test]
    fn missing_volumes_and_devices_are_named() {
        let mut p = ContainerParams::default();
        p.volumes.push(VolumeMount {
            source_path: "/nonexistent/data".into(),
            destination_path: "/data".into(),
            permission: Permission::Rw,
            add_group_owner: false,
        });
        let e = check_container_params(&p).expect_err("missing");
        assert!(
            e.contains("volumes[0].sourcePath /nonexistent/data") && e.contains("create it"),
            "{e}"
        );
        p.volumes.clear();
        p.devices.push(DeviceMount {
            path: "/dev/shm".into(),
            permission: Permission::Ro,
            add_group_owner: false,
        });
        let e = check_container_params(&p).expect_err("not a device");
        assert!(e.contains("not a device node"), "{e}");
        p.devices[0].path = "/dev/null".into();
        check_container_params(&p).expect("a device");
    }
}
