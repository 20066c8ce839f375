//! What a sandbox's cgroup limits are, and how they are spelled in the kernel's files. Plain
//! data and formatting: nothing here touches the file system.

/// Which cgroup interface the manager uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl CgroupVersion {
    pub(crate) fn label(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "cgroup v1",
            CgroupVersion::V2 => "cgroup v2",
        }
    }
}

/// What one sandbox may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Memory (resident and page cache) the sandbox's processes may use together; swap is not
    /// allowed beyond it.
    pub memory_bytes: u64,
    /// Processes and threads the sandbox may have at once.
    pub pids: u32,
    /// On cgroup v2's `cpu.weight` scale (1..=10000, 100 = a default process; values outside
    /// are clamped); v1 writes `cpu.shares` = weight * 1024 / 100 (at least 2).
    pub cpu_weight: u32,
    /// Device allow-list, enforced by the cgroup v1 `devices` controller (deny `a`, then allow
    /// each rule). `None`: device access stays as inherited.
    ///
    /// cgroup v2 has no file interface for devices (it needs a BPF program attached to the
    /// cgroup), so on v2 this is ignored: confine devices there with a mount namespace and a
    /// minimal `/dev` instead.
    pub devices: Option<Vec<DeviceRule>>,
}

/// A character or block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Char,
    Block,
}

/// One device a sandbox may use, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub kind: DeviceKind,
    pub major: u32,
    /// `None`: every minor number of `major` (ptys).
    pub minor: Option<u32>,
    pub read: bool,
    pub write: bool,
    pub mknod: bool,
}

impl DeviceRule {
    /// The line for v1's `devices.allow`, e.g. `c 1:3 rwm`; `None` when the rule allows nothing.
    pub(crate) fn v1_line(&self) -> Option<String> {
        let access: String = [(self.read, 'r'), (self.write, 'w'), (self.mknod, 'm')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
        if access.is_empty() {
            return None;
        }
        let kind = match self.kind {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        };
        let minor = self.minor.map_or_else(|| "*".to_owned(), |m| m.to_string());
        Some(format!("{kind} {}:{minor} {access}", self.major))
    }
}

impl CgroupLimits {
    /// `cpu.weight` for v2, clamped to the kernel's range.
    pub(crate) fn v2_cpu_weight(&self) -> u32 {
        self.cpu_weight.clamp(1, 10_000)
    }

    /// `cpu.shares` for v1: the weight rescaled so that 100 becomes the default 1024.
    pub(crate) fn v1_cpu_shares(&self) -> u64 {
        (u64::from(self.v2_cpu_weight()) * 1024 / 100).max(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cpu_weight: u32) -> CgroupLimits {
        CgroupLimits {
            memory_bytes: 1 << 20,
            pids: 10,
            cpu_weight,
            devices: None,
        }
    }

    #[test]
    fn cpu_weight_maps_to_shares() {
        assert_eq!(limits(100).v1_cpu_shares(), 1024);
        assert_eq!(limits(50).v1_cpu_shares(), 512);
        assert_eq!(limits(1).v1_cpu_shares(), 10);
        assert_eq!(limits(0).v1_cpu_shares(), 10, "0 is clamped to 1");
        assert_eq!(limits(10_000).v1_cpu_shares(), 102_400);
        assert_eq!(limits(20_000).v2_cpu_weight(), 10_000);
    }

    #[test]
    fn device_rules_format_as_v1_lines() {
        let null = DeviceRule {
            kind: DeviceKind::Char,
            major: 1,
            minor: Some(3),
            read: true,
            write: true,
            mknod: true,
        };
        assert_eq!(null.v1_line().as_deref(), Some("c 1:3 rwm"));
        let disk = DeviceRule {
            kind: DeviceKind::Block,
            major: 8,
            minor: Some(0),
            write: false,
            mknod: false,
            ..null
        };
        assert_eq!(disk.v1_line().as_deref(), Some("b 8:0 r"));
        let nothing = DeviceRule {
            read: false,
            ..disk
        };
        assert_eq!(nothing.v1_line(), None);
    }
}
