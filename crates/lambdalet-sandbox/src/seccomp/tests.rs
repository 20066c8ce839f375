use super::*;
use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// Runs `program` on a call the way the kernel does: (return value, instructions executed).
fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
    let mut data = [0u8; std::mem::size_of::<seccomp_data>()];
    data[offset_of!(seccomp_data, nr)..][..4].copy_from_slice(&nr.to_ne_bytes());
    data[offset_of!(seccomp_data, arch)..][..4].copy_from_slice(&arch.to_ne_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[offset_of!(seccomp_data, args) + 8 * i..][..8].copy_from_slice(&arg.to_ne_bytes());
    }
    let (mut a, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let insn = program[pc];
        steps += 1;
        let code = u32::from(insn.code);
        match code & 0x07 {
            libc::BPF_LD => {
                assert_eq!(code, libc::BPF_LD | libc::BPF_W | libc::BPF_ABS);
                let at = insn.k as usize;
                a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
                pc += 1;
            }
            libc::BPF_JMP => {
                let taken = match code & 0xf0 {
                    libc::BPF_JEQ => a == insn.k,
                    libc::BPF_JGE => a >= insn.k,
                    libc::BPF_JSET => a & insn.k != 0,
                    other => panic!("unexpected jump {other:#x}"),
                };
                pc += 1 + usize::from(if taken { insn.jt } else { insn.jf });
            }
            libc::BPF_RET => return (insn.k, steps),
            other => panic!("unexpected instruction class {other:#x}"),
        }
    }
}

fn decide(filter: &Filter, nr: c_long, flags: u64) -> u32 {
    run(
        &filter.program,
        AUDIT_ARCH,
        nr as u32,
        [flags, 0, 0, 0, 0, 0],
    )
    .0
}

const NAMESPACES: [(&str, libc::c_int); 8] = [
    ("newns", libc::CLONE_NEWNS),
    ("newcgroup", libc::CLONE_NEWCGROUP),
    ("newuts", libc::CLONE_NEWUTS),
    ("newipc", libc::CLONE_NEWIPC),
    ("newuser", libc::CLONE_NEWUSER),
    ("newpid", libc::CLONE_NEWPID),
    ("newnet", libc::CLONE_NEWNET),
    ("newtime", libc::CLONE_NEWTIME),
];

#[test]
fn program_starts_with_the_arch_check_and_is_short() {
    let program = Filter::sandbox().program;
    let ld = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    assert_eq!(program[0].code, ld);
    assert_eq!(program[0].k as usize, offset_of!(seccomp_data, arch));
    assert_eq!(
        program[1].code,
        (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16
    );
    assert_eq!(
        (program[1].k, program[1].jt, program[1].jf),
        (AUDIT_ARCH, 1, 0)
    );
    assert_eq!(program[2].code, (libc::BPF_RET | libc::BPF_K) as u16);
    assert_eq!(program[2].k, KILL);
    assert_eq!(program[3].code, ld);
    assert_eq!(program[3].k as usize, offset_of!(seccomp_data, nr));
    assert!(program.len() < 4096, "{} instructions", program.len());
    eprintln!("sandbox seccomp program: {} instructions", program.len());
}

#[test]
fn names_match_numbers_and_no_call_is_listed_twice() {
    let all: Vec<_> = REFUSED.iter().chain(UNAVAILABLE).collect();
    let names: HashSet<_> = all.iter().map(|(name, _)| *name).collect();
    let numbers: HashSet<_> = all.iter().map(|(_, nr)| *nr).collect();
    assert_eq!(names.len(), all.len());
    assert_eq!(numbers.len(), all.len());
    assert!(!numbers.contains(&libc::SYS_clone));
    let denied: HashMap<_, _> = Filter::denied().iter().copied().collect();
    for (name, nr) in [
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("ptrace", libc::SYS_ptrace),
        ("keyctl", libc::SYS_keyctl),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("bpf", libc::SYS_bpf),
        ("finit_module", libc::SYS_finit_module),
        ("clock_settime", libc::SYS_clock_settime),
        ("open_tree", libc::SYS_open_tree),
    ] {
        assert_eq!(denied.get(name), Some(&nr), "{name}");
    }
    assert!(
        denied
            .keys()
            .all(|n| !n.is_empty() && !n.starts_with("SYS_"))
    );
}

/// The kernel's x86_64 table (arch/x86/entry/syscalls/syscall_64.tbl), for the numbers we
/// define ourselves or that matter most.
#[cfg(target_arch = "x86_64")]
#[test]
fn x86_64_numbers_are_the_kernels() {
    let denied: HashMap<_, _> = REFUSED.iter().chain(UNAVAILABLE).copied().collect();
    for (name, nr) in [
        ("mount", 165),
        ("ptrace", 101),
        ("keyctl", 250),
        ("unshare", 272),
        ("_sysctl", 156),
        ("iopl", 172),
        ("clone3", 435),
        ("io_uring_setup", 425),
        ("open_tree_attr", 467),
    ] {
        assert_eq!(denied.get(name), Some(&nr), "{name}");
    }
}

#[test]
fn filter_decides_every_call_as_the_policy_says() {
    let filter = Filter::sandbox();
    let eperm = errno(libc::EPERM);
    let enosys = errno(libc::ENOSYS);
    let refused: HashSet<_> = REFUSED.iter().map(|(_, nr)| *nr).collect();
    let unavailable: HashSet<_> = UNAVAILABLE.iter().map(|(_, nr)| *nr).collect();
    let mut longest_allowed = 0;
    for nr in 0..2048 {
        let expected = if refused.contains(&nr) {
            eperm
        } else if unavailable.contains(&nr) {
            enosys
        } else {
            ALLOW
        };
        let (got, steps) = run(&filter.program, AUDIT_ARCH, nr as u32, [0; 6]);
        assert_eq!(got, expected, "system call {nr}");
        if got == ALLOW && nr != libc::SYS_clone {
            longest_allowed = longest_allowed.max(steps);
        }
    }
    eprintln!("an allowed call runs at most {longest_allowed} instructions");
    assert!(longest_allowed <= 12, "{longest_allowed} instructions");

    // Threads, fork and vfork (what pthread_create, fork and posix_spawn pass).
    for flags in [0x003d_0f00, 0x0120_0011, 0x4111] {
        assert_eq!(decide(&filter, libc::SYS_clone, flags), ALLOW, "{flags:#x}");
    }
    for (name, flag) in NAMESPACES {
        let flags = flag as u64 | libc::SIGCHLD as u64;
        assert_eq!(decide(&filter, libc::SYS_clone, flags), eperm, "{name}");
    }
    // Only the low half is checked: all the flags are there.
    assert_eq!(decide(&filter, libc::SYS_clone, 1 << 40), ALLOW);

    // Another architecture's calls kill the process, whatever their number.
    for arch in [
        0x4000_0003,
        0xC000_003E,
        0xC000_00B7,
        0x4000_0028,
        0xC000_00F3,
    ] {
        if arch != AUDIT_ARCH {
            let got = run(&filter.program, arch, libc::SYS_getpid as u32, [0; 6]).0;
            assert_eq!(got, KILL, "arch {arch:#x}");
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let x32_getpid = X32_SYSCALL_BIT | libc::SYS_getpid as u32;
        assert_eq!(
            run(&filter.program, AUDIT_ARCH, x32_getpid, [0; 6]).0,
            eperm
        );
        assert_eq!(run(&filter.program, AUDIT_ARCH, u32::MAX, [0; 6]).0, ALLOW);
    }
}

/// Reports, as one JSON line of integers: the seccomp mode from /proc/self/status; with
/// `everyday`, whether fork, a thread and a file read work; and for each probe `[key, number,
/// args]`, 0 if the call succeeded or its errno.
const PROBE: &str = r#"
import ctypes, json, os, sys, threading
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def arg(a):
    return ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a)

out = {}
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("Seccomp:"):
            out["seccomp"] = int(line.split()[1])
if cfg["everyday"]:
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    ids = []
    thread = threading.Thread(target=lambda: ids.append(threading.get_native_id()))
    thread.start()
    thread.join()
    out["thread"] = int(ids != [] and ids[0] != threading.get_native_id())
    with open(sys.executable, "rb") as f:
        out["read"] = int(f.read(4) == b"\x7fELF")
for key, nr, args in cfg["probes"]:
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    out[key] = 0 if r != -1 else ctypes.get_errno()
print(json.dumps(out, separators=(",", ":")), flush=True)
"#;

/// An argument of a probe: a number or a path.
enum Arg {
    Int(i64),
    Str(String),
}

struct Probe {
    key: String,
    nr: c_long,
    args: Vec<Arg>,
}

fn probe(key: impl Into<String>, nr: c_long, args: impl IntoIterator<Item = i64>) -> Probe {
    let args = args.into_iter().map(Arg::Int).collect();
    Probe {
        key: key.into(),
        nr,
        args,
    }
}

fn probe_config(everyday: bool, probes: &[Probe]) -> String {
    let probes: Vec<String> = probes
        .iter()
        .map(|p| {
            let args: Vec<String> = p
                .args
                .iter()
                .map(|a| match a {
                    Arg::Int(i) => i.to_string(),
                    Arg::Str(s) => {
                        assert!(!s.contains(['"', '\\']));
                        format!("\"{s}\"")
                    }
                })
                .collect();
            format!("[\"{}\",{},[{}]]", p.key, p.nr, args.join(","))
        })
        .collect();
    format!(
        "{{\"everyday\":{},\"probes\":[{}]}}",
        if everyday { "true" } else { "false" },
        probes.join(",")
    )
}

/// Runs python3 with `script` and `arg`, under `filter` if given (with no_new_privs and in a
/// session of its own, so a call that should have been refused cannot hang up a terminal).
fn python(script: &str, arg: &str, filter: Option<Filter>) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(arg);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(filter) = filter {
        // SAFETY: the closure runs in the forked child before exec and makes only raw system
        // calls (prctl, setsid, seccomp) on memory built before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                filter.install()
            });
        }
    }
    let mut child = cmd.spawn().expect("python3 starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("python3 did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The probe script's JSON line, as key → integer.
fn results(output: &std::process::Output) -> HashMap<String, i64> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}: {stdout}{stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let body = line
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON line: {stdout}{stderr}"));
    body.split(',')
        .map(|pair| {
            let (key, value) = pair.split_once(':').unwrap();
            (key.trim_matches('"').to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn mount_probe() -> Probe {
    let target = std::env::temp_dir().to_string_lossy().into_owned();
    Probe {
        key: "mount".into(),
        nr: libc::SYS_mount,
        args: vec![
            Arg::Str("/lambdalet-no-such-source".into()),
            Arg::Str(target),
            Arg::Int(0),
            Arg::Int(libc::MS_BIND as i64),
            Arg::Int(0),
        ],
    }
}

/// Clone asking for each namespace, with CLONE_THREAD but not CLONE_SIGHAND: a combination the
/// kernel rejects with EINVAL before doing anything, so a call that gets past the filter still
/// starts no process.
fn clone_probes() -> Vec<Probe> {
    let thread = i64::from(libc::CLONE_THREAD);
    let mut probes: Vec<Probe> = NAMESPACES
        .iter()
        .map(|&(name, flag)| {
            probe(
                format!("clone_{name}"),
                libc::SYS_clone,
                [i64::from(flag) | thread, 0, 0, 0, 0],
            )
        })
        .collect();
    probes.push(probe("clone_plain", libc::SYS_clone, [thread, 0, 0, 0, 0]));
    probes
}

#[test]
fn the_kernel_enforces_the_filter_in_a_child() {
    let mut probes = vec![
        mount_probe(),
        probe(
            "unshare_user",
            libc::SYS_unshare,
            [i64::from(libc::CLONE_NEWUSER)],
        ),
        probe("unshare_nothing", libc::SYS_unshare, [0]),
        probe("clone3", libc::SYS_clone3, [0, 0]),
        probe(
            "ptrace_traceme",
            libc::SYS_ptrace,
            [i64::from(libc::PTRACE_TRACEME), 0, 0, 0],
        ),
        // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
        probe("keyctl", libc::SYS_keyctl, [0, -3, 0]),
        probe("getpid", libc::SYS_getpid, []),
        probe("no_such_call", -1, []),
    ];
    probes.extend(clone_probes());
    #[cfg(target_arch = "x86_64")]
    probes.push(probe(
        "x32_getpid",
        c_long::from(X32_SYSCALL_BIT) | libc::SYS_getpid,
        [],
    ));
    // Every listed call with zero arguments: harmless or invalid even if it got through.
    for (list, _) in [(REFUSED, libc::EPERM), (UNAVAILABLE, libc::ENOSYS)] {
        for &(name, nr) in list {
            probes.push(probe(format!("each_{name}"), nr, [0; 6]));
        }
    }
    let output = python(PROBE, &probe_config(true, &probes), Some(Filter::sandbox()));
    let got = results(&output);
    let eperm = i64::from(libc::EPERM);
    let enosys = i64::from(libc::ENOSYS);

    assert_eq!(got["seccomp"], 2, "Seccomp: in /proc/self/status");
    assert_eq!(got["fork"], 7, "fork works");
    assert_eq!(got["thread"], 1, "threads work");
    assert_eq!(got["read"], 1, "reading a file works");
    assert_eq!(got["mount"], eperm, "mount, even as root");
    assert_eq!(got["unshare_user"], eperm);
    assert_eq!(got["unshare_nothing"], eperm);
    assert_eq!(got["clone3"], enosys);
    assert_eq!(got["ptrace_traceme"], eperm);
    assert_eq!(got["keyctl"], eperm);
    assert_eq!(got["getpid"], 0);
    assert_eq!(got["no_such_call"], enosys);
    for (name, _) in NAMESPACES {
        assert_eq!(got[&format!("clone_{name}")], eperm, "clone with {name}");
    }
    assert_eq!(
        got["clone_plain"],
        i64::from(libc::EINVAL),
        "the kernel saw it"
    );
    #[cfg(target_arch = "x86_64")]
    assert_eq!(got["x32_getpid"], eperm);
    for (list, errno) in [(REFUSED, eperm), (UNAVAILABLE, enosys)] {
        for (name, _) in list {
            assert_eq!(got[&format!("each_{name}")], errno, "{name}");
        }
    }
}

/// The same calls without the filter are not refused, so the filter is what refused them above.
#[test]
fn without_the_filter_the_same_calls_reach_the_kernel() {
    let mut probes = vec![
        mount_probe(),
        probe("unshare_nothing", libc::SYS_unshare, [0]),
        probe("clone3", libc::SYS_clone3, [0, 0]),
    ];
    probes.extend(clone_probes());
    let got = results(&python(PROBE, &probe_config(false, &probes), None));
    assert_eq!(got["seccomp"], 0);
    assert_ne!(got["mount"], i64::from(libc::EPERM));
    if has_cap_sys_admin() {
        assert_eq!(
            got["mount"],
            i64::from(libc::ENOENT),
            "root may mount; no source"
        );
    }
    assert_eq!(got["unshare_nothing"], 0);
    assert_eq!(
        got["clone3"],
        i64::from(libc::EINVAL),
        "clone3 exists; a NULL argument"
    );
    for (name, _) in NAMESPACES {
        assert_eq!(
            got[&format!("clone_{name}")],
            i64::from(libc::EINVAL),
            "{name}"
        );
    }
}

fn has_cap_sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let caps = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    const CAP_SYS_ADMIN: u32 = 21;
    caps & (1 << CAP_SYS_ADMIN) != 0
}

/// A 32-bit call from a 64-bit process (`int 0x80`, i386's getpid) kills the process.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_call_of_another_architecture_kills_the_process() {
    const I386_GETPID: &str = r#"
import ctypes, mmap, os, resource
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no core file
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20; int 0x80; ret
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
getpid = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print(int(getpid() == os.getpid()), flush=True)
"#;
    let control = python(I386_GETPID, "", None);
    if String::from_utf8_lossy(&control.stdout).trim() != "1" {
        eprintln!(
            "skipped: this kernel runs no i386 calls ({})",
            control.status
        );
        return;
    }
    let output = python(I386_GETPID, "", Some(Filter::sandbox()));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSYS),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_zygotes_filter_allows_its_forks_namespaces_and_nothing_else() {
    let zygote = Filter::zygote();
    let sandbox = Filter::sandbox();
    let eperm = errno(libc::EPERM);
    let exact = u64::from(ZYGOTE_UNSHARE);
    assert_eq!(decide(&zygote, libc::SYS_unshare, exact), ALLOW);
    assert_eq!(decide(&sandbox, libc::SYS_unshare, exact), eperm);
    for (name, flag) in NAMESPACES {
        let flag = flag as u64;
        if exact & flag == 0 {
            assert_eq!(
                decide(&zygote, libc::SYS_unshare, exact | flag),
                eperm,
                "unshare with {name} too"
            );
            assert_eq!(decide(&zygote, libc::SYS_unshare, flag), eperm, "{name}");
            assert_eq!(
                decide(
                    &zygote,
                    libc::SYS_clone,
                    flag | u64::from(libc::SIGCHLD as u32)
                ),
                eperm,
                "clone with {name}"
            );
        }
    }
    assert_eq!(
        decide(&zygote, libc::SYS_unshare, exact | (1 << 32)),
        eperm,
        "high bits"
    );
    assert_eq!(
        decide(&zygote, libc::SYS_unshare, libc::CLONE_NEWUSER as u64),
        eperm
    );
    assert_eq!(decide(&zygote, libc::SYS_mount, 0), ALLOW);
    assert_eq!(decide(&sandbox, libc::SYS_mount, 0), eperm);
    for call in [
        "setns",
        "umount2",
        "pivot_root",
        "move_mount",
        "ptrace",
        "bpf",
    ] {
        let nr = REFUSED.iter().find(|(n, _)| *n == call).expect("listed").1;
        assert_eq!(decide(&zygote, nr, 0), eperm, "{call}");
    }
    // What a fork installs is the program itself, byte for byte.
    let bytes = sandbox.to_bytes();
    assert_eq!(bytes.len(), sandbox.program.len() * 8);
    assert_eq!(&bytes[4..8], &sandbox.program[0].k.to_ne_bytes());
}
