//! Where this process's cgroups are: parses `/proc/self/mountinfo` (which cgroup file systems
//! are mounted where, with which v1 controllers, showing which part of the tree) and
//! `/proc/self/cgroup` (which cgroup the process is in, per hierarchy), and joins the two into
//! the directory of the process's own cgroup.
//!
//! Parsing only: this module reads no file itself and does not decide which hierarchy to use.

use std::path::PathBuf;

/// v1 controllers that can appear in a cgroup mount's super options.
const V1_CONTROLLERS: &str = "cpuset cpu cpuacct blkio io memory devices freezer net_cls \
                              perf_event net_prio hugetlb pids rdma misc";

/// A mounted cgroup file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point, as a path from the cgroup namespace's root
    /// (`/` unless the tree was bind-mounted from inside).
    pub root: String,
    /// v1: the controllers bound to this hierarchy (`name=...` for named ones); v2: empty.
    pub controllers: Vec<String>,
    pub v2: bool,
}

/// The process's cgroups, from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SelfCgroups {
    /// The v2 path (`0::/path`), if the line is there.
    pub v2: Option<String>,
    /// Each v1 hierarchy's controllers and path.
    pub v1: Vec<(Vec<String>, String)>,
}

/// A hierarchy the process is in: where it is mounted and the directory of the process's own
/// cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub mount_point: PathBuf,
    pub own: PathBuf,
    /// The v1 controllers bound to the hierarchy (several when co-mounted, e.g. `cpu,cpuacct`).
    pub controllers: Vec<String>,
}

/// The cgroup mounts in a `/proc/self/mountinfo` text, in order.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines().filter_map(parse_mount_line).collect()
}

/// One mountinfo line: `id parent major:minor root mount-point options [optional...] - fstype
/// source super-options`.
fn parse_mount_line(line: &str) -> Option<CgroupMount> {
    let (before, after) = line.split_once(" - ")?;
    let before: Vec<&str> = before.split_whitespace().collect();
    let mut after = after.split_whitespace();
    let fstype = after.next()?;
    let super_options = after.nth(1).unwrap_or("");
    let v2 = match fstype {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    let controllers = if v2 {
        Vec::new()
    } else {
        super_options
            .split(',')
            .filter(|o| o.starts_with("name=") || V1_CONTROLLERS.split(' ').any(|c| c == *o))
            .map(str::to_owned)
            .collect()
    };
    Some(CgroupMount {
        root: unescape(before.get(3)?),
        mount_point: PathBuf::from(unescape(before.get(4)?)),
        controllers,
        v2,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/cgroup`: `hierarchy-id:controllers:path` per line.
pub(crate) fn parse_self_cgroup(text: &str) -> SelfCgroups {
    let mut parsed = SelfCgroups::default();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            parsed.v2 = Some(path.to_owned());
        } else {
            let list = controllers.split(',').map(str::to_owned).collect();
            parsed.v1.push((list, path.to_owned()));
        }
    }
    parsed
}

/// The v2 hierarchy, or why there is none usable.
pub(crate) fn locate_v2(mounts: &[CgroupMount], own: &SelfCgroups) -> Result<Located, String> {
    let path = own
        .v2
        .as_deref()
        .ok_or("/proc/self/cgroup has no cgroup v2 line")?;
    let candidates: Vec<&CgroupMount> = mounts.iter().filter(|m| m.v2).collect();
    if candidates.is_empty() {
        return Err("no cgroup2 file system is mounted".to_owned());
    }
    resolve(&candidates, path, "cgroup2")
}

/// The v1 hierarchy with `controller`, or why there is none usable.
pub(crate) fn locate_v1(
    mounts: &[CgroupMount],
    own: &SelfCgroups,
    controller: &str,
) -> Result<Located, String> {
    let has = |list: &[String]| list.iter().any(|c| c == controller);
    let candidates: Vec<&CgroupMount> = mounts
        .iter()
        .filter(|m| !m.v2 && has(&m.controllers))
        .collect();
    if candidates.is_empty() {
        return Err(format!("no cgroup v1 {controller} hierarchy is mounted"));
    }
    let (_, path) =
        own.v1.iter().find(|(list, _)| has(list)).ok_or_else(|| {
            format!("/proc/self/cgroup names no cgroup v1 {controller} hierarchy")
        })?;
    resolve(&candidates, path, controller)
}

/// The first mount that shows the cgroup at `path`, and that cgroup's directory in it.
fn resolve(candidates: &[&CgroupMount], path: &str, what: &str) -> Result<Located, String> {
    for mount in candidates {
        if let Some(relative) = strip_root(&mount.root, path) {
            let own = match relative {
                "" => mount.mount_point.clone(),
                _ => mount.mount_point.join(relative),
            };
            return Ok(Located {
                mount_point: mount.mount_point.clone(),
                own,
                controllers: mount.controllers.clone(),
            });
        }
    }
    let first = candidates[0];
    Err(format!(
        "this process's {what} cgroup {path} is outside the tree mounted at {} (which shows {})",
        first.mount_point.display(),
        first.root
    ))
}

/// `path` relative to the mount's `root`, if the cgroup at `path` is inside the mounted tree.
fn strip_root<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    if path.split('/').any(|c| c == "..") {
        return None;
    }
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::fake::{HYBRID_CGROUP, HYBRID_MOUNTINFO, V2_CGROUP, V2_MOUNTINFO};

    fn located(mount_point: &str, own: &str, controllers: &[&str]) -> Located {
        Located {
            mount_point: PathBuf::from(mount_point),
            own: PathBuf::from(own),
            controllers: controllers.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn hybrid_host_has_separate_v1_hierarchies_and_an_empty_v2_mount() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 10, "only the cgroup mounts: {mounts:?}");
        let own = parse_self_cgroup(HYBRID_CGROUP);
        assert_eq!(own.v2.as_deref(), Some("/"));
        assert_eq!(
            locate_v1(&mounts, &own, "memory"),
            Ok(located(
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/memory/process_api/395eca2c92b98e573bc69e96149df222",
                &["memory"],
            ))
        );
        assert_eq!(
            locate_v1(&mounts, &own, "pids"),
            Ok(located(
                "/sys/fs/cgroup/pids",
                "/sys/fs/cgroup/pids",
                &["pids"]
            ))
        );
        assert_eq!(
            locate_v1(&mounts, &own, "name=systemd").map(|l| l.mount_point),
            Ok(PathBuf::from("/sys/fs/cgroup/systemd"))
        );
        assert_eq!(
            locate_v2(&mounts, &own),
            Ok(located(
                "/sys/fs/cgroup/unified",
                "/sys/fs/cgroup/unified",
                &[]
            ))
        );
    }

    #[test]
    fn pure_v2_host_resolves_the_service_cgroup() {
        let mounts = parse_mountinfo(V2_MOUNTINFO);
        let own = parse_self_cgroup(V2_CGROUP);
        assert_eq!(
            locate_v2(&mounts, &own),
            Ok(located(
                "/sys/fs/cgroup",
                "/sys/fs/cgroup/system.slice/lambdalet.service",
                &[],
            ))
        );
        assert_eq!(
            locate_v1(&mounts, &own, "memory"),
            Err("no cgroup v1 memory hierarchy is mounted".to_owned())
        );
    }

    #[test]
    fn co_mounted_controllers_share_one_hierarchy() {
        let mounts = parse_mountinfo(
            "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 \
             - cgroup cgroup rw,cpu,cpuacct\n",
        );
        let own = parse_self_cgroup("4:cpu,cpuacct:/system.slice/lambdalet.service\n");
        let expected = located(
            "/sys/fs/cgroup/cpu,cpuacct",
            "/sys/fs/cgroup/cpu,cpuacct/system.slice/lambdalet.service",
            &["cpu", "cpuacct"],
        );
        assert_eq!(locate_v1(&mounts, &own, "cpu"), Ok(expected.clone()));
        assert_eq!(locate_v1(&mounts, &own, "cpuacct"), Ok(expected));
    }

    #[test]
    fn a_mount_of_a_subtree_maps_paths_below_its_root() {
        // A container whose cgroup tree was bind-mounted from the host's /docker/0123abcd.
        let mounts = parse_mountinfo(
            "1092 1084 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime \
             master:15 - cgroup cgroup rw,memory\n",
        );
        let at = |path: &str| {
            let own = parse_self_cgroup(&format!("6:memory:{path}\n"));
            locate_v1(&mounts, &own, "memory").map(|l| l.own)
        };
        assert_eq!(
            at("/docker/0123abcd"),
            Ok(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            at("/docker/0123abcd/worker"),
            Ok(PathBuf::from("/sys/fs/cgroup/memory/worker"))
        );
        for outside in ["/docker/0123abcdef", "/", "/docker/0123abcd/../x"] {
            let err = at(outside).expect_err(outside);
            assert!(err.contains("is outside the tree mounted at"), "{err}");
        }
    }

    #[test]
    fn nothing_usable_says_what_is_missing() {
        let mounts = parse_mountinfo("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
        let own = parse_self_cgroup("");
        assert_eq!(
            locate_v2(&mounts, &own),
            Err("/proc/self/cgroup has no cgroup v2 line".to_owned())
        );
        let own = parse_self_cgroup("0::/\n");
        assert_eq!(
            locate_v2(&mounts, &own),
            Err("no cgroup2 file system is mounted".to_owned())
        );
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(
            locate_v1(&mounts, &own, "memory"),
            Err("/proc/self/cgroup names no cgroup v1 memory hierarchy".to_owned())
        );
    }

    #[test]
    fn escaped_mount_points_are_unescaped() {
        let mounts = parse_mountinfo("41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n");
        assert_eq!(mounts[0].mount_point, PathBuf::from("/mnt/my cgroups"));
        assert!(mounts[0].v2);
    }
}
