//! Tests of the process backend.

use super::*;
use std::time::Duration;

fn spec(script: &str) -> SandboxSpec {
    SandboxSpec {
        id: "test".into(),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![("GREETING".into(), "hi".into())],
        cwd: std::env::temp_dir(),
        limits: crate::spec::Limits::lambda(128 << 20),
        container: None,
        extensions: Vec::new(),
        extension_env: Vec::new(),
        runtime_channel: None,
        zygote: None,
    }
}

async fn exit_of(sandbox: &dyn Sandbox) -> ExitInfo {
    sandbox
        .exited()
        .wait_for(Option::is_some)
        .await
        .expect("exit")
        .expect("some")
}

async fn read_all(out: &mut OutputReader) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = out.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn runs_with_only_the_given_environment_and_merges_output() {
    let Launched {
        sandbox,
        mut output,
        ..
    } = ProcessBackend::default()
        .launch(spec(
            "echo out $GREETING ${HOME:-nohome}; echo err >&2; ulimit -n; exit 3",
        ))
        .await
        .expect("launch");
    let text = read_all(&mut output).await;
    assert!(text.contains("out hi nohome"), "{text}");
    assert!(text.contains("err"), "{text}");
    assert!(text.contains("1024"), "open files limited: {text}");
    let info = exit_of(sandbox.as_ref()).await;
    assert_eq!(info.code, Some(3));
}

#[tokio::test]
async fn kill_stops_the_whole_group() {
    let Launched {
        sandbox,
        mut output,
        ..
    } = ProcessBackend::default()
        .launch(spec("sleep 30 & sleep 30; echo never"))
        .await
        .expect("launch");
    assert!(sandbox.max_memory_used_bytes().is_some());
    sandbox.kill();
    let text = tokio::time::timeout(Duration::from_secs(5), read_all(&mut output))
        .await
        .expect("pipe closes when every process in the group is gone");
    assert!(!text.contains("never"));
    let info = exit_of(sandbox.as_ref()).await;
    assert_eq!(info.to_string(), "signal: killed");
}

/// What a runtime must find, however it was started: Lambda's limits, a process group of
/// its own, default signal dispositions (the test binary ignores SIGPIPE, as Rust programs
/// do), the daemon's death signal, its code directory, and its exit status reported.
async fn check_confinement(launched: Launched, cwd: &std::path::Path) {
    let Launched {
        sandbox,
        mut output,
        ..
    } = launched;
    let text = read_all(&mut output).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(lines[0], "1024", "open files: {text}");
    assert_eq!(lines[1], "0", "core dumps: {text}");
    let pid = sandbox.pid().expect("pid").to_string();
    assert_eq!(lines[2], pid, "its own process group: {text}");
    assert_eq!(lines[3], pid, "the shell is the started process: {text}");
    let ignored = u64::from_str_radix(lines[4].trim_start_matches("SigIgn:").trim(), 16)
        .expect("SigIgn mask");
    assert_eq!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE not ignored: {text}"
    );
    assert_eq!(lines[5], cwd.display().to_string());
    assert_eq!(lines[6], "pdeathsig 9", "dies with the daemon: {text}");
    let info = exit_of(sandbox.as_ref()).await;
    assert_eq!(info.code, Some(7));
}

fn confinement_spec() -> SandboxSpec {
    let mut s = spec(concat!(
        "ulimit -n; ulimit -c; cut -d' ' -f5 /proc/$$/stat; echo $$; ",
        "grep SigIgn /proc/$$/status; pwd; ",
        "exec python3 -c 'import ctypes, sys; s = ctypes.c_int(); ",
        "ctypes.CDLL(None).prctl(2, ctypes.byref(s)); print(\"pdeathsig\", s.value); sys.exit(7)'",
    ));
    s.env.push(("PATH".into(), "/usr/bin:/bin".into()));
    s
}

#[tokio::test]
async fn a_runtime_is_confined_the_same_with_or_without_fork() {
    let cwd = std::env::temp_dir().canonicalize().expect("tmp");
    let launched = ProcessBackend::default()
        .launch(confinement_spec())
        .await
        .expect("launch");
    check_confinement(launched, &cwd).await;

    // The fork path, used where clone(CLONE_PIDFD) is not available.
    let spec = confinement_spec();
    let (tx, rx) = pipe::pipe().expect("pipe");
    let (pid, waitable) = spawn_forked(
        &spec,
        tx.into_blocking_fd().expect("fd"),
        "/bin/sh",
        Vec::new(),
    )
    .expect("spawn");
    let launched = Launched {
        sandbox: Arc::new(ProcessSandbox::adopt(spec.id.clone(), pid, waitable)),
        output: OutputReader::new(rx),
        runtime_api: None,
        extension_output: None,
    };
    check_confinement(launched, &cwd).await;
}

#[tokio::test]
async fn start_failures_say_which_step_failed() {
    let mut missing = spec("true");
    missing.program = "/nonexistent/bootstrap".into();
    let Err(e) = ProcessBackend::default().launch(missing).await else {
        panic!("a missing program cannot start");
    };
    let text = e.to_string();
    assert!(
        text.contains("/nonexistent/bootstrap")
            && text.contains("cannot exec")
            && text.contains("No such file"),
        "{text}"
    );
    let mut no_dir = spec("true");
    no_dir.cwd = "/nonexistent/code".into();
    let Err(e) = ProcessBackend::default().launch(no_dir).await else {
        panic!("a missing code directory cannot be entered");
    };
    assert!(
        e.to_string()
            .contains("cannot change to the code directory"),
        "{e}"
    );
}

#[tokio::test]
async fn drain_now_returns_buffered_output_without_waiting() {
    let Launched {
        sandbox, output, ..
    } = ProcessBackend::default()
        .launch(spec("echo ready; sleep 30"))
        .await
        .expect("launch");
    let mut buf = Vec::new();
    for _ in 0..100 {
        output.drain_now(&mut buf).expect("drain");
        if !buf.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(buf, b"ready\n");
    sandbox.kill();
}

#[tokio::test]
async fn extensions_start_first_and_outlive_the_runtimes_sigterm() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let ext = dir.path().join("ext");
    std::fs::write(
        &ext,
        "#!/bin/sh\necho ext up $GREETING ${SECRET:-none}\ntrap 'echo ext got term' TERM\nwhile :; do sleep 0.05; done\n",
    )
    .expect("write");
    std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let marker = dir.path().join("runtime-ran");
    let mut s = spec(&format!(
        // The trap is set before "runtime" is printed: the test sends SIGTERM once it reads it.
        "trap 'exit 0' TERM; touch {}; echo runtime; while :; do sleep 0.05; done",
        marker.display()
    ));
    s.env.push(("SECRET".into(), "runtime-only".into()));
    s.extensions = vec![ext.clone()];
    s.extension_env = vec![("GREETING".into(), "hello".into())];
    let Launched {
        sandbox,
        mut output,
        extension_output,
        ..
    } = ProcessBackend::default().launch(s).await.expect("launch");
    let mut ext_out = extension_output.expect("extensions have their own output");
    let mut buf = [0u8; 256];
    let n = ext_out.read(&mut buf).await.expect("read");
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        "ext up hello none\n",
        "the extension's own environment"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!marker.exists(), "the runtime waits for start_runtime");
    assert!(sandbox.pid().is_none());
    sandbox
        .start_runtime()
        .await
        .expect("answer")
        .expect("started");
    let n = output.read(&mut buf).await.expect("read");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), "runtime\n");
    sandbox.terminate();
    let info = exit_of(sandbox.as_ref()).await;
    assert_eq!(info.code, Some(0), "the runtime stopped on SIGTERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sandbox.extension_exits().borrow().is_empty(),
        "the extension did not get the runtime's SIGTERM"
    );
    sandbox.kill();
    let mut exits = sandbox.extension_exits();
    let exits = exits
        .wait_for(|v| !v.is_empty())
        .await
        .expect("extension exit")
        .clone();
    assert_eq!(exits[0].0, 0);
    assert_eq!(exits[0].1.signal, Some(libc::SIGKILL));
}
