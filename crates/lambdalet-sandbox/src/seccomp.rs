//! The seccomp-BPF filter of a sandbox: a deny-list of the system calls a function never needs
//! and that reach past its sandbox (mounts, namespaces, kernel modules, keyrings, the clock,
//! other processes' memory), compiled by hand into a classic BPF program.
//!
//! Its list follows what Docker's default profile refuses, but it is a deny-list: every call not
//! named here is allowed, so runtimes and their native extensions keep working without a list of
//! what each one needs (and a call added to a newer kernel is allowed until it is listed here).
//! It is one layer, not the wall: namespaces, dropped capabilities and cgroups do the confining, and this only shrinks the kernel a function can reach. Classic BPF sees the
//! six register arguments and never memory, so it must not be trusted to inspect a call whose
//! flags are in memory: `clone3` is made to look absent (`ENOSYS`) so that the C library falls
//! back to `clone`, whose flags it can check.
//!
//! [`Filter::sandbox`] builds the program and may allocate; [`Filter::install`] runs in a child
//! between fork and exec and must stay async-signal-safe: no allocation, no locks, no logging.

use std::io;
use std::mem::offset_of;

use libc::{c_long, seccomp_data, sock_filter};

#[cfg(test)]
mod tests;

/// `AUDIT_ARCH_*` of this build. The kernel puts it in `seccomp_data.arch`, so the filter can
/// tell this architecture's calls from a compat ABI's (a 64-bit process can still make 32-bit
/// calls, e.g. `int 0x80` on x86_64, which number their calls differently).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "arm")]
const AUDIT_ARCH: u32 = 0x4000_0028;
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: u32 = 0xC000_00F3;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64"
)))]
compile_error!(
    "the seccomp filter knows x86_64, aarch64, arm and riscv64: add this architecture's \
     AUDIT_ARCH and check its system call list"
);

/// x32 calls arrive with x86_64's `AUDIT_ARCH` and this bit set in the number.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The flags that make `clone` create namespaces. All are in the low 32 bits of the argument.
/// `CLONE_NEWTIME` (0x80) only works with `clone3` and `unshare`: for `clone` that bit is part
/// of the exit signal, where it would name a signal above 127, which does not exist; refusing it
/// costs nothing.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWTIME) as u32;

/// System call numbers: libc's, and the few it does not name on some targets (local items
/// shadow the glob import).
#[allow(
    non_upper_case_globals,
    reason = "named like the libc SYS_* constants they complete"
)]
mod nr {
    pub(super) use libc::*;

    /// Linux 6.15. Calls added since 5.1 have one number on every architecture.
    pub(super) const SYS_open_tree_attr: c_long = 467;
    /// The 64-bit-time variants that 32-bit ARM's C library calls first.
    #[cfg(target_arch = "arm")]
    pub(super) const SYS_clock_settime64: c_long = 404;
    #[cfg(target_arch = "arm")]
    pub(super) const SYS_clock_adjtime64: c_long = 405;
    /// The generic number (asm-generic/unistd.h), which libc does not name for riscv64 nor
    /// for aarch64 with musl.
    #[cfg(any(
        target_arch = "riscv64",
        all(target_arch = "aarch64", target_env = "musl")
    ))]
    pub(super) const SYS_kexec_file_load: c_long = 294;
}

/// `("mount", SYS_mount)` from `SYS_mount`, so that a name cannot drift from its number.
macro_rules! calls {
    ($($(#[$cfg:meta])* $sys:ident),* $(,)?) => {
        &[$($(#[$cfg])* (call_name(stringify!($sys)), nr::$sys)),*]
    };
}

/// `"mount"` from `"SYS_mount"`.
const fn call_name(constant: &'static str) -> &'static str {
    constant.split_at("SYS_".len()).1
}

/// Refused with `EPERM`, as a missing privilege would be.
const REFUSED: &[(&str, c_long)] = calls![
    // What the file system looks like: the sandbox decided it.
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_mount_setattr,
    SYS_fsopen,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fspick,
    SYS_move_mount,
    SYS_open_tree,
    SYS_open_tree_attr,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_quotactl,
    SYS_quotactl_fd,
    SYS_swapon,
    SYS_swapoff,
    // Namespaces: likewise.
    SYS_setns,
    SYS_unshare,
    // Other processes.
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    // The kernel: modules, kexec, eBPF, perf, its log and keyrings.
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_userfaultfd,
    SYS_syslog,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_lookup_dcookie,
    SYS_nfsservctl,
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    SYS_uselib,
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    SYS__sysctl,
    // The machine: clock, power, accounting, terminals, I/O ports.
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    #[cfg(target_arch = "arm")]
    SYS_clock_settime64,
    #[cfg(target_arch = "arm")]
    SYS_clock_adjtime64,
    SYS_adjtimex,
    SYS_reboot,
    SYS_acct,
    SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    SYS_ioperm,
];

/// Answered with `ENOSYS`, as an older kernel would: callers fall back to a call the filter
/// can inspect (`clone`) or that a deny-list can reason about (the thread pool instead of
/// io_uring, whose submissions run calls the filter never sees).
const UNAVAILABLE: &[(&str, c_long)] = calls![
    SYS_clone3,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
];

/// What the filter does with one system call number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Allow,
    Refuse,
    Unavailable,
    /// `clone`: refused if it asks for a namespace.
    InspectClone,
    /// `unshare` (a zygote's filter): allowed with exactly [`ZYGOTE_UNSHARE`], else refused.
    InspectUnshare,
}

/// The namespaces a container zygote's fork makes for itself ([`Filter::zygote`]): a user
/// namespace that owns a mount, PID, IPC and UTS namespace. Never a network namespace, whose
/// `CAP_NET_ADMIN` reaches netfilter, nor a cgroup or time namespace.
pub(crate) const ZYGOTE_UNSHARE: u32 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS) as u32;

/// A compiled classic-BPF seccomp program.
pub(crate) struct Filter {
    program: Vec<sock_filter>,
}

impl Filter {
    /// lambdalet's sandbox policy: allow everything except the calls in [`Filter::denied`]
    /// (`EPERM`), `clone3` and io_uring (`ENOSYS`), `clone` with a namespace flag (`EPERM`) and
    /// calls of another architecture (the process is killed).
    ///
    /// The program checks the architecture, then finds the call's number by binary search over
    /// the ranges of numbers that share an action, so an allowed call costs a handful of
    /// instructions whatever the list's length.
    pub(crate) fn sandbox() -> Filter {
        Self::build(false)
    }

    /// The filter of a container zygote (see `zygote`): the sandbox's, but `unshare` with
    /// exactly [`ZYGOTE_UNSHARE`] and `mount` are allowed, so that each fork can make its own
    /// namespaces, `/tmp` and `/proc`. Each fork then installs [`Filter::sandbox`] on top
    /// (filters stack, the strictest answer wins) before it serves.
    pub(crate) fn zygote() -> Filter {
        Self::build(true)
    }

    /// The program as the bytes of its `sock_filter`s, in this machine's order, for a process
    /// that installs it itself (a zygote's fork, in Python).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.program.len() * 8);
        for insn in &self.program {
            out.extend_from_slice(&insn.code.to_ne_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_ne_bytes());
        }
        out
    }

    fn build(zygote: bool) -> Filter {
        let mut asm = Asm::default();
        let targets = Targets {
            allow: asm.label(),
            refuse: asm.label(),
            unavailable: asm.label(),
            clone: asm.label(),
            unshare: asm.label(),
        };
        let (native, kill) = (asm.label(), asm.label());
        asm.load(offset_of!(seccomp_data, arch));
        asm.jump(libc::BPF_JEQ, AUDIT_ARCH, native, kill);
        asm.bind(kill);
        asm.ret(libc::SECCOMP_RET_KILL_PROCESS);
        asm.bind(native);
        asm.load(offset_of!(seccomp_data, nr));
        #[cfg(target_arch = "x86_64")]
        let x32 = {
            let (x32, x86_64) = (asm.label(), asm.label());
            asm.jump(libc::BPF_JGE, X32_SYSCALL_BIT, x32, x86_64);
            asm.bind(x86_64);
            x32
        };
        let ranges = ranges(zygote);
        if let [(_, action)] = ranges[..] {
            // A >= 0 always holds: an unconditional jump.
            let to = targets.of(action);
            asm.jump(libc::BPF_JGE, 0, to, to);
        } else {
            search(&mut asm, &ranges, &targets);
        }

        asm.bind(targets.clone);
        // seccomp_data.args are 64-bit; the namespace flags are all in the low 32 bits.
        let low_half = if cfg!(target_endian = "big") { 4 } else { 0 };
        asm.load(offset_of!(seccomp_data, args) + low_half);
        asm.jump(
            libc::BPF_JSET,
            NAMESPACE_FLAGS,
            targets.refuse,
            targets.allow,
        );
        if zygote {
            // Both halves of the 64-bit flags: exactly ZYGOTE_UNSHARE, nothing more or less.
            asm.bind(targets.unshare);
            let high_half = 4 - low_half;
            let low_ok = asm.label();
            asm.load(offset_of!(seccomp_data, args) + low_half);
            asm.jump(libc::BPF_JEQ, ZYGOTE_UNSHARE, low_ok, targets.refuse);
            asm.bind(low_ok);
            asm.load(offset_of!(seccomp_data, args) + high_half);
            asm.jump(libc::BPF_JEQ, 0, targets.allow, targets.refuse);
        }
        #[cfg(target_arch = "x86_64")]
        {
            // Any x32 call is refused, except -1: tracers set the number to -1 to skip a call,
            // and the kernel must then return what the tracer chose (libseccomp does the same).
            asm.bind(x32);
            asm.jump(libc::BPF_JEQ, u32::MAX, targets.allow, targets.refuse);
        }
        asm.bind(targets.allow);
        asm.ret(libc::SECCOMP_RET_ALLOW);
        asm.bind(targets.refuse);
        asm.ret(errno(libc::EPERM));
        asm.bind(targets.unavailable);
        asm.ret(errno(libc::ENOSYS));

        let program = asm.finish();
        assert!(
            program.len() <= libc::BPF_MAXINSNS as usize,
            "the sandbox's seccomp program has {} instructions, more than the kernel takes",
            program.len()
        );
        Filter { program }
    }

    /// Installs the filter on the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER)`, or
    /// `prctl(PR_SET_SECCOMP)` on kernels without `seccomp` (before 3.17). The thread must have
    /// set `no_new_privs` or hold `CAP_SYS_ADMIN`. Async-signal-safe: it makes one or two
    /// system calls on memory built by [`Filter::sandbox`], so a child may call it between
    /// fork and exec.
    pub(crate) fn install(&self) -> io::Result<()> {
        let prog = libc::sock_fprog {
            // At most BPF_MAXINSNS (4096), checked when built.
            len: self.program.len() as libc::c_ushort,
            // The kernel only reads the program.
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.program`, alive for the call; the kernel copies the
        // program and writes nothing. No memory is allocated and no lock taken.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                0 as libc::c_ulong,
                &raw const prog,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ENOSYS) {
            return Err(error);
        }
        // SAFETY: as above; prctl takes the same program.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &raw const prog,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `(name, number)` of every call refused with `EPERM` on this target.
    #[cfg(test)]
    pub(crate) fn denied() -> &'static [(&'static str, c_long)] {
        REFUSED
    }
}

/// `SECCOMP_RET_ERRNO` with `errno`.
fn errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// The policy as consecutive ranges of call numbers, each `(first number, action)` running to
/// the next one's first number (the last to `u32::MAX`). Neighbouring calls with one action
/// share a range, and numbers no list names are allowed.
fn ranges(zygote: bool) -> Vec<(u32, Action)> {
    let number = |nr: c_long| u32::try_from(nr).expect("system call numbers are small");
    let refused = |nr: c_long| match nr {
        libc::SYS_mount if zygote => Action::Allow,
        libc::SYS_unshare if zygote => Action::InspectUnshare,
        _ => Action::Refuse,
    };
    let mut calls: Vec<(u32, Action)> = REFUSED
        .iter()
        .map(|&(_, nr)| (number(nr), refused(nr)))
        .chain(
            UNAVAILABLE
                .iter()
                .map(|&(_, nr)| (number(nr), Action::Unavailable)),
        )
        .chain([(number(libc::SYS_clone), Action::InspectClone)])
        .collect();
    calls.sort_unstable_by_key(|&(nr, _)| nr);
    let mut ranges: Vec<(u32, Action)> = Vec::new();
    let mut push = |first: u32, action: Action| {
        if ranges.last().is_none_or(|&(_, last)| last != action) {
            ranges.push((first, action));
        }
    };
    let mut next = 0;
    for (nr, action) in calls {
        if nr > next {
            push(next, Action::Allow);
        }
        push(nr, action);
        next = nr + 1;
    }
    push(next, Action::Allow);
    ranges
}

/// Emits a binary search over `ranges` (at least two) that jumps to the found range's action.
/// A node tests `A >= first number of the upper half`; its lower half follows it directly.
fn search(asm: &mut Asm, ranges: &[(u32, Action)], targets: &Targets) {
    let (lower, upper) = ranges.split_at(ranges.len() / 2);
    let mut side = |half: &[(u32, Action)]| match half {
        [(_, action)] => targets.of(*action),
        _ => asm.label(),
    };
    let (below, above) = (side(lower), side(upper));
    asm.jump(libc::BPF_JGE, upper[0].0, above, below);
    for (half, label) in [(lower, below), (upper, above)] {
        if half.len() > 1 {
            asm.bind(label);
            search(asm, half, targets);
        }
    }
}

/// Where each action's instructions are.
struct Targets {
    allow: Label,
    refuse: Label,
    unavailable: Label,
    clone: Label,
    unshare: Label,
}

impl Targets {
    fn of(&self, action: Action) -> Label {
        match action {
            Action::Allow => self.allow,
            Action::Refuse => self.refuse,
            Action::Unavailable => self.unavailable,
            Action::InspectClone => self.clone,
            Action::InspectUnshare => self.unshare,
        }
    }
}

/// A place in the program, bound once; jumps to it are resolved by [`Asm::finish`].
#[derive(Clone, Copy)]
struct Label(usize);

/// A small classic-BPF assembler with forward jumps to labels.
#[derive(Default)]
struct Asm {
    code: Vec<sock_filter>,
    labels: Vec<Option<usize>>,
    /// (instruction, where it goes if true, if false)
    jumps: Vec<(usize, Label, Label)>,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.code.len());
    }

    fn emit(&mut self, code: u32, k: u32) {
        self.code.push(sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        });
    }

    /// `A = seccomp_data[offset]` (32 bits).
    fn load(&mut self, offset: usize) {
        let offset = u32::try_from(offset).expect("seccomp_data is 64 bytes");
        self.emit(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    }

    fn ret(&mut self, value: u32) {
        self.emit(libc::BPF_RET | libc::BPF_K, value);
    }

    /// `if A <op> k goto yes else goto no`, for `op` one of `BPF_JEQ`, `BPF_JGE`, `BPF_JSET`.
    fn jump(&mut self, op: u32, k: u32, yes: Label, no: Label) {
        self.jumps.push((self.code.len(), yes, no));
        self.emit(libc::BPF_JMP | op | libc::BPF_K, k);
    }

    fn finish(mut self) -> Vec<sock_filter> {
        for &(at, yes, no) in &self.jumps {
            let offset = |label: Label| {
                let target = self.labels[label.0].expect("every jump target is bound");
                let skip = target
                    .checked_sub(at + 1)
                    .expect("classic BPF jumps only forward");
                u8::try_from(skip).expect("a conditional jump skips at most 255 instructions")
            };
            (self.code[at].jt, self.code[at].jf) = (offset(yes), offset(no));
        }
        self.code
    }
}
