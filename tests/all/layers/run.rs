//! What functions get of their layers, in both sandboxes: packages their runtime finds (Python
//! and Node.js, as AWS's runtimes find them), files merged at `/opt` with the later layer on top,
//! programs on `PATH`.

use std::path::Path;

use serde_json::json;

use super::{invoke, layer_arn, publish, write_tree};
use crate::containment::containers_unavailable;
use crate::harness::{Daemon, copy_into, pip_cache};

/// The sandboxes this host can run: a process always, a container where the kernel allows.
fn sandboxes(d: &Daemon) -> Vec<&'static str> {
    match containers_unavailable(d) {
        None => vec!["process", "container"],
        Some(why) => {
            eprintln!("container part skipped: container sandboxes are unavailable here: {why}");
            vec!["process"]
        }
    }
}

/// `lambdalet deploy DIR --name NAME --runtime RUNTIME --handler H --sandbox S --layer ...`.
fn deploy(
    d: &Daemon,
    dir: &Path,
    name: &str,
    runtime: &str,
    handler: &str,
    sandbox: &str,
    layers: &[String],
) {
    let dir = dir.to_str().expect("utf-8");
    let mut args = vec![
        "deploy",
        dir,
        "--name",
        name,
        "--runtime",
        runtime,
        "--handler",
        handler,
        "--sandbox",
        sandbox,
        "--timeout",
        "30",
    ];
    for l in layers {
        args.extend_from_slice(&["--layer", l]);
    }
    let o = d.cli(&args);
    assert!(
        o.status.success(),
        "deploy {name}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
}

const PY_APP: &str = r#"
import os, subprocess, sys

def requests_info(event, context):
    import requests
    return {"file": requests.__file__, "version": requests.__version__}

def layered(event, context):
    import shared, only_first
    out = {"who": shared.WHO, "first": only_first.WHO,
           "program": subprocess.run(["layer-hello"], capture_output=True, text=True).stdout.strip()}
    if os.path.isdir("/opt/python"):
        out["opt"] = open("/opt/note.txt").read().strip()
        out["listing"] = sorted(os.listdir("/opt"))
    return out
"#;

#[test]
fn python_imports_requests_from_a_layer_in_both_sandboxes() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("requests-layer");
    copy_into(&pip_cache("requests"), &layer.join("python"));
    publish(
        &d,
        "requests",
        &layer,
        &["--compatible-runtimes", "python3.11"],
    );
    let app = tmp.path().join("app");
    write_tree(&app, &[("app.py", PY_APP)]);
    for sandbox in sandboxes(&d) {
        let name = format!("req-{sandbox}");
        deploy(
            &d,
            &app,
            &name,
            "python3.11",
            "app.requests_info",
            sandbox,
            &[layer_arn("requests", 1)],
        );
        let out = invoke(&d, &name);
        let file = out["file"].as_str().expect("requests.__file__");
        // The host has its own requests: the one imported must be the layer's.
        let expected = match sandbox {
            "container" => "/opt/python/requests/__init__.py".to_owned(),
            _ => format!("{}/packages/code/", d.data_dir.display()),
        };
        assert!(
            file.starts_with(&expected) && file.ends_with("python/requests/__init__.py"),
            "{sandbox}: {file}"
        );
    }
}

#[test]
fn node_requires_packages_from_a_layer_in_both_sandboxes() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("node-layer");
    write_tree(
        &layer,
        &[
            (
                "nodejs/node_modules/greet/index.js",
                "exports.hello = (n) => `hello ${n}`;\n",
            ),
            (
                "nodejs/node_modules/greet/package.json",
                "{\"name\": \"greet\", \"main\": \"index.js\"}\n",
            ),
            (
                "nodejs/node20/node_modules/pinned/index.js",
                "module.exports = 'for node 20';\n",
            ),
        ],
    );
    publish(&d, "node-deps", &layer, &[]);
    let app = tmp.path().join("app");
    write_tree(
        &app,
        &[(
            "index.js",
            "exports.handler = async () => ({ greeting: require('greet').hello('layer'), pinned: require('pinned') });\n",
        )],
    );
    for sandbox in sandboxes(&d) {
        let name = format!("node-{sandbox}");
        deploy(
            &d,
            &app,
            &name,
            "nodejs20.x",
            "index.handler",
            sandbox,
            &[layer_arn("node-deps", 1)],
        );
        let out = invoke(&d, &name);
        assert_eq!(
            out,
            json!({"greeting": "hello layer", "pinned": "for node 20"}),
            "{sandbox}"
        );
    }
}

#[test]
fn the_later_layer_wins_and_its_programs_are_on_path() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("first");
    write_tree(
        &first,
        &[
            ("python/shared.py", "WHO = 'first'\n"),
            ("python/only_first.py", "WHO = 'only in first'\n"),
            ("bin/layer-hello", "#!/bin/sh\necho hello from a layer\n"),
            ("note.txt", "first\n"),
        ],
    );
    let second = tmp.path().join("second");
    write_tree(
        &second,
        &[
            ("python/shared.py", "WHO = 'second'\n"),
            ("note.txt", "second\n"),
        ],
    );
    publish(&d, "first", &first, &[]);
    publish(&d, "second", &second, &[]);
    let app = tmp.path().join("app");
    write_tree(&app, &[("app.py", PY_APP)]);
    let layers = [layer_arn("first", 1), layer_arn("second", 1)];
    for sandbox in sandboxes(&d) {
        let name = format!("merge-{sandbox}");
        deploy(
            &d,
            &app,
            &name,
            "python3.11",
            "app.layered",
            sandbox,
            &layers,
        );
        let out = invoke(&d, &name);
        assert_eq!(out["who"], "second", "{sandbox}: the later layer's module");
        assert_eq!(
            out["first"], "only in first",
            "{sandbox}: the earlier layer's other files stay"
        );
        assert_eq!(
            out["program"], "hello from a layer",
            "{sandbox}: /opt/bin is on PATH"
        );
        if sandbox == "container" {
            assert_eq!(out["opt"], "second", "the later layer's file at /opt");
            assert_eq!(
                out["listing"],
                json!(["bin", "note.txt", "python"]),
                "merged at /opt"
            );
        }
    }
    // The order is the function's: reversed, the first layer wins.
    let cfg = json!({"Layers": [layer_arn("second", 1), layer_arn("first", 1)]});
    let r = d.http(
        "PUT",
        "/2015-03-31/functions/merge-process/configuration",
        Some(cfg.to_string().as_bytes()),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(invoke(&d, "merge-process")["who"], "first");
}
