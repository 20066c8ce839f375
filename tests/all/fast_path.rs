//! The warm fast path: lambdalet's own bootstraps speak the framed Runtime API on an inherited
//! socket (descriptor 3) in both sandbox backends, keep what the handler starts away from it,
//! report errors and oversized responses as over HTTP, and go back to HTTP when asked.

use serde_json::Value;

use crate::extensions::sandboxes;
use crate::harness::{Daemon, fixture};

fn deploy(d: &Daemon, name: &str, runtime: &str, handler: &str, sandbox: &str, env: &[&str]) {
    let mut args = vec!["--sandbox", sandbox];
    for e in env {
        args.extend_from_slice(&["--env", e]);
    }
    d.deploy_runtime(&fixture("transport"), name, runtime, handler, &args);
}

fn invoke_ok(d: &Daemon, name: &str, payload: &str) -> Value {
    let r = d.invoke(name, payload);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("x-amz-function-error").is_none(),
        "{name}: {}",
        r.text()
    );
    r.json()
}

const RUNTIMES: [(&str, &str); 2] = [("python3.11", "py"), ("nodejs20.x", "node")];

#[test]
fn our_bootstraps_speak_frames_on_a_socket_only_the_runtime_holds() {
    let d = Daemon::start();
    for sandbox in sandboxes(&d) {
        for (runtime, short) in RUNTIMES {
            let name = format!("frames-{short}-{sandbox}");
            deploy(&d, &name, runtime, "app.handler", sandbox, &[]);
            for i in 0..3 {
                let v = invoke_ok(&d, &name, &format!("{{\"n\": {i}}}"));
                assert_eq!(
                    v["fd3"], "unix",
                    "{name}: the runtime's descriptor 3 is its channel: {v}"
                );
                assert_eq!(v["event"]["n"], i, "{name}: {v}");
                assert_eq!(
                    v["env"],
                    Value::Null,
                    "{name}: the bootstrap takes LAMBDALET_RUNTIME_FD out of the handler's environment: {v}"
                );
                assert_eq!(
                    v["child_sees_fd3"], "False",
                    "{name}: a process the handler starts does not inherit the channel: {v}"
                );
            }
        }
    }
}

#[test]
fn errors_and_oversized_responses_over_frames_answer_as_over_http() {
    let d = Daemon::start();
    for (runtime, short) in RUNTIMES {
        for (transport, env) in [
            ("frames", &[][..]),
            ("http", &["LAMBDALET_RUNTIME_TRANSPORT=http"][..]),
        ] {
            let fail = format!("fail-{short}-{transport}");
            deploy(&d, &fail, runtime, "app.fail", "process", env);
            let r = d.invoke(&fail, "{}");
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(
                r.header("x-amz-function-error"),
                Some("Unhandled"),
                "{fail}"
            );
            let body = r.json();
            assert_eq!(body["errorMessage"], "failed on purpose", "{fail}: {body}");

            let big = format!("big-{short}-{transport}");
            deploy(&d, &big, runtime, "app.big", "process", env);
            let r = d.invoke(&big, r#"{"size": 7000000}"#);
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(
                r.json()["errorType"],
                "Function.ResponseSizeTooLarge",
                "{big}"
            );
            // The environment goes on serving after the refusal.
            let r = d.invoke(&big, r#"{"size": 3}"#);
            assert_eq!(r.text(), "\"xxx\"", "{big}");
        }
    }
}

#[test]
fn lambdalet_runtime_transport_http_keeps_a_function_on_http() {
    let d = Daemon::start();
    for (runtime, short) in RUNTIMES {
        let name = format!("http-{short}");
        deploy(
            &d,
            &name,
            runtime,
            "app.handler",
            "process",
            &["LAMBDALET_RUNTIME_TRANSPORT=http"],
        );
        let v = invoke_ok(&d, &name, "{}");
        assert_ne!(v["fd3"], "unix", "{name}: no channel: {v}");
    }
}

#[test]
fn node_s_heap_is_sized_from_the_function_s_memory_as_on_lambda() {
    let d = Daemon::start();
    d.deploy_runtime(
        &fixture("transport"),
        "heap",
        "nodejs20.x",
        "app.handler",
        &["--sandbox", "process", "--memory", "256"],
    );
    let v = invoke_ok(&d, "heap", "{}");
    let argv: Vec<&str> = v["exec_argv"]
        .as_array()
        .expect("execArgv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // 256 MB: a tenth (25) for the young generation, 12 per semi-space, 231 for the old one.
    for flag in [
        "--max-semi-space-size=12",
        "--max-old-space-size=231",
        "--expose-gc",
    ] {
        assert!(argv.contains(&flag), "{flag} in {argv:?}");
    }
    let limit = v["heap_limit_mb"].as_u64().expect("heap limit");
    assert!(
        (231..=300).contains(&limit),
        "V8's heap limit follows the 256 MB setting: {limit} MB"
    );
}

#[test]
fn the_python_bootstrap_s_bytecode_is_cached_where_containers_read_it() {
    // A container sees the bootstrap's directory read-only and as another user: the daemon
    // writes the bytecode cache beforehand, or every cold start would compile the bootstrap.
    let d = Daemon::start();
    let sandbox = sandboxes(&d).pop().expect("a sandbox kind");
    deploy(&d, "cached", "python3.11", "app.handler", sandbox, &[]);
    invoke_ok(&d, "cached", "{}");
    let caches: Vec<std::path::PathBuf> = walk(&d.data_dir.join("runtimes"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".lambdalet.pyc"))
        .collect();
    assert_eq!(
        caches.len(),
        1,
        "one cache for the one interpreter: {caches:?}"
    );
    let meta = std::fs::metadata(&caches[0]).expect("cache");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o022, 0, "not writable by group or others");
    assert_eq!(
        meta.uid(),
        std::fs::metadata(d.data_dir.join("runtimes"))
            .expect("dir")
            .uid(),
        "owned by the daemon's user, as the bootstrap requires before trusting it"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
