//! The hosts the tests run on, as fakes: this machine's hybrid layout and a pure cgroup v2
//! host under systemd, with their `/proc/self/mountinfo` and `/proc/self/cgroup` texts.

use std::sync::Arc;

use super::FakeOs;
use crate::cgroup::{CgroupError, Cgroups};

/// This host (a Firecracker VM): cgroup v1 controllers, each mounted on its own, plus an
/// empty cgroup2 mount at `unified` (copied from `/proc/self/mountinfo`).
pub(crate) const HYBRID_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// This host's `/proc/self/cgroup`.
pub(crate) const HYBRID_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/395eca2c92b98e573bc69e96149df222
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

/// A pure cgroup v2 host (Debian, Raspberry Pi OS) running the daemon as a systemd service.
pub(crate) const V2_MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
";
pub(crate) const V2_CGROUP: &str = "0::/system.slice/lambdalet.service\n";

/// The daemon's own memory cgroup on this host (see [`HYBRID_CGROUP`]).
pub(crate) const OWN_MEMORY: &str =
    "/sys/fs/cgroup/memory/process_api/395eca2c92b98e573bc69e96149df222";

/// The daemon's own cgroup on the pure v2 host of [`V2_CGROUP`].
pub(crate) const OWN_V2: &str = "/sys/fs/cgroup/system.slice/lambdalet.service";

/// This host's hybrid layout: v1 controllers each on their own, an empty cgroup2 mount.
pub(crate) fn hybrid_fake() -> FakeOs {
    let fake = FakeOs::new();
    for c in [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
    ] {
        fake.mount_v1(&format!("/sys/fs/cgroup/{c}"), &[c]);
    }
    fake.mount_v1("/sys/fs/cgroup/systemd", &["name=systemd"]);
    fake.mount_v2("/sys/fs/cgroup/unified", &[]);
    fake.add_cgroup(OWN_MEMORY);
    fake
}

/// A pure v2 host whose systemd gave the daemon's service the cpu, memory and pids controllers.
pub(crate) fn v2_fake() -> FakeOs {
    let fake = FakeOs::new();
    fake.mount_v2("/sys/fs/cgroup", &["cpuset", "cpu", "io", "memory", "pids"]);
    fake.set_file("/sys/fs/cgroup/cgroup.subtree_control", "cpu memory pids");
    fake.add_cgroup("/sys/fs/cgroup/system.slice");
    fake.set_file(
        "/sys/fs/cgroup/system.slice/cgroup.subtree_control",
        "cpu memory pids",
    );
    fake.add_cgroup(OWN_V2);
    fake
}

/// [`Cgroups::detect_with`] on `fake` with this host's `/proc` files, instance `ab12cd34`.
pub(crate) fn detect_hybrid(fake: &FakeOs) -> Cgroups {
    let os = Arc::new(fake.clone());
    Cgroups::detect_with(os, HYBRID_CGROUP, HYBRID_MOUNTINFO, "ab12cd34").expect("detect")
}

/// [`Cgroups::detect_with`] on `fake` with the v2 host's `/proc` files, instance `ab12cd34`.
pub(crate) fn detect_v2(fake: &FakeOs) -> Result<Cgroups, CgroupError> {
    let os = Arc::new(fake.clone());
    Cgroups::detect_with(os, V2_CGROUP, V2_MOUNTINFO, "ab12cd34")
}
