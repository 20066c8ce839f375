//! The rules of a function's `Layers`: the 250 MB unzipped it shares with its code, at most five
//! layers, each once and existing, and a deleted version kept for the functions that use it,
//! across restarts.

use std::io::{Cursor, Write as _};
use std::path::Path;

use serde_json::json;

use super::{invoke, layer_arn, module_layer, publish, write_tree};
use crate::harness::{Daemon, zip_file};

/// A zip of one file of `mib` MiB of zeros: big unzipped, small to send.
fn zeros_zip(name: &str, mib: usize) -> tempfile::NamedTempFile {
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(name, opts.large_file(false)).expect("start");
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        zip.write_all(&chunk).expect("write");
    }
    let bytes = zip.finish().expect("finish").into_inner();
    let f = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("tempfile");
    std::fs::write(f.path(), bytes).expect("write zip");
    f
}

#[test]
fn code_and_layers_share_250_mb_unzipped() {
    let d = Daemon::start();
    let big = zeros_zip("zeros.bin", 130);
    let arg = format!("fileb://{}", big.path().display());
    let publish_big = |name: &str| {
        d.aws_ok(&[
            "lambda",
            "publish-layer-version",
            "--layer-name",
            name,
            "--zip-file",
            &arg,
        ])
    };
    let (a, b) = (publish_big("big-a"), publish_big("big-b"));
    assert_eq!(a["Content"]["CodeSha256"], b["Content"]["CodeSha256"]);
    let code = std::fs::read_dir(d.data_dir.join("packages/code"))
        .expect("code dir")
        .count();
    assert_eq!(code, 1, "one zip, stored and unpacked once for both layers");

    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app");
    write_tree(&app, &[("app.py", "def handler(e, c):\n    return 1\n")]);
    let fn_size = lambdalet_package::inspect_zip(&crate::harness::zip_bytes(&app))
        .expect("zip")
        .unzipped_bytes;
    d.create(
        "fits",
        &app,
        "python3.11",
        "app.handler",
        &["--layers", &layer_arn("big-a", 1)],
    );
    let expected = format!(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is {} bytes.",
        fn_size + 2 * 130 * 1024 * 1024
    );
    let check = |out: std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success() && err.contains("InvalidParameterValueException"),
            "{err}"
        );
        assert!(err.contains(&expected), "{err}");
        assert!(
            err.contains(&format!("{} 136314880", layer_arn("big-b", 1))),
            "names each size: {err}"
        );
    };
    let zip = zip_file(&app);
    let zip_arg = format!("fileb://{}", zip.path().display());
    let both = [layer_arn("big-a", 1), layer_arn("big-b", 1)];
    check(d.aws(&[
        "lambda",
        "create-function",
        "--function-name",
        "over",
        "--runtime",
        "python3.11",
        "--handler",
        "app.handler",
        "--role",
        "r",
        "--zip-file",
        &zip_arg,
        "--layers",
        &both[0],
        &both[1],
    ]));
    check(d.aws(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "fits",
        "--layers",
        &both[0],
        &both[1],
    ]));
    let cfg = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "fits",
    ]);
    assert_eq!(cfg["Layers"].as_array().map(Vec::len), Some(1), "unchanged");

    // New code must fit beside the layers the function has.
    let big_code = zeros_zip("app.py", 125);
    let big_arg = format!("fileb://{}", big_code.path().display());
    let out = d.aws(&[
        "lambda",
        "update-function-code",
        "--function-name",
        "fits",
        "--zip-file",
        &big_arg,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Function code combined with layers exceeds"),
        "{err}"
    );
    let after = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "fits",
    ]);
    assert_eq!(after["CodeSha256"], cfg["CodeSha256"]);
    assert_eq!(invoke(&d, "fits"), json!(1));
}

#[test]
fn five_layers_at_most_each_once_and_existing() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut arns = Vec::new();
    for i in 0..6 {
        let name = format!("l{i}");
        publish(
            &d,
            &name,
            &module_layer(tmp.path(), &format!("m{i}"), &name),
            &[],
        );
        arns.push(layer_arn(&name, 1));
    }
    let app = tmp.path().join("app");
    write_tree(
        &app,
        &[(
            "app.py",
            "def handler(e, c):\n    import m0, m4\n    return [m0.WHO, m4.WHO]\n",
        )],
    );
    let zip = zip_file(&app);
    let zip_arg = format!("fileb://{}", zip.path().display());
    let create = |name: &str, layers: &[String]| {
        let mut args = vec![
            "lambda",
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--role",
            "r",
            "--zip-file",
            &zip_arg,
            "--layers",
        ];
        args.extend(layers.iter().map(String::as_str));
        d.aws(&args)
    };
    let refused = |out: std::process::Output, needle: &str| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success()
                && err.contains("InvalidParameterValueException")
                && err.contains(needle),
            "{err}"
        );
    };
    refused(create("six", &arns), "Cannot reference more than 5 layers.");
    refused(
        create("twice", &[layer_arn("l0", 1), layer_arn("l0", 1)]),
        "Two different versions of the same layer",
    );
    refused(
        create("missing", &[layer_arn("l0", 2)]),
        &format!("Layer version {} does not exist.", layer_arn("l0", 2)),
    );
    let five = create("five", &arns[..5]);
    assert!(
        five.status.success(),
        "{}",
        String::from_utf8_lossy(&five.stderr)
    );
    let layers = d.aws_ok(&["lambda", "get-function", "--function-name", "five"])["Configuration"]
        ["Layers"]
        .clone();
    let listed: Vec<&str> = layers
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| l["Arn"].as_str().expect("Arn"))
        .collect();
    assert_eq!(
        listed,
        arns[..5].iter().map(String::as_str).collect::<Vec<_>>(),
        "in the order given"
    );
    assert!(layers[0]["CodeSize"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(invoke(&d, "five"), json!(["l0", "l4"]));
    let list = d.aws_ok(&["lambda", "list-functions"]);
    assert_eq!(
        list["Functions"].as_array().map(Vec::len),
        Some(1),
        "nothing refused was created"
    );
}

#[test]
fn a_deleted_layer_version_stays_with_its_functions_across_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut d = Daemon::start_in(&data);
    let one = module_layer(tmp.path(), "kept", "v1");
    publish(&d, "keep", &one, &[]);
    let app = tmp.path().join("app");
    write_tree(
        &app,
        &[(
            "app.py",
            "def handler(e, c):\n    import kept\n    return kept.WHO\n",
        )],
    );
    d.create(
        "user",
        &app,
        "python3.11",
        "app.handler",
        &["--layers", &layer_arn("keep", 1)],
    );
    assert_eq!(invoke(&d, "user"), json!("v1"));
    let sha1 = hex_sha(&one);

    d.aws_ok(&[
        "lambda",
        "delete-layer-version",
        "--layer-name",
        "keep",
        "--version-number",
        "1",
    ]);
    assert_eq!(
        invoke(&d, "user"),
        json!("v1"),
        "a deleted version keeps working"
    );
    let zip = zip_file(&app);
    let zip_arg = format!("fileb://{}", zip.path().display());
    let out = d.aws(&[
        "lambda",
        "create-function",
        "--function-name",
        "late",
        "--runtime",
        "python3.11",
        "--handler",
        "app.handler",
        "--role",
        "r",
        "--zip-file",
        &zip_arg,
        "--layers",
        &layer_arn("keep", 1),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("does not exist") && err.contains("deleted"),
        "{err}"
    );
    // A new revision of the function starts a new sandbox with the deleted layer.
    d.aws_ok(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "user",
        "--memory-size",
        "256",
    ]);
    assert_eq!(invoke(&d, "user"), json!("v1"));
    let v2 = publish(&d, "keep", &module_layer(tmp.path(), "kept", "v2"), &[]);
    assert_eq!(v2["Version"], 2, "numbers are never given twice");

    d.stop();
    let mut d = Daemon::start_in(&data);
    assert_eq!(invoke(&d, "user"), json!("v1"), "after a restart too");
    let cfg = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "user",
    ]);
    assert_eq!(cfg["Layers"][0]["Arn"], layer_arn("keep", 1));
    let versions = d.aws_ok(&["lambda", "list-layer-versions", "--layer-name", "keep"]);
    assert_eq!(versions["LayerVersions"].as_array().map(Vec::len), Some(1));
    assert_eq!(versions["LayerVersions"][0]["Version"], 2);
    assert!(data.join("packages/code").join(&sha1).is_dir());

    // Once no function uses it, its code goes at the next start; the live version's stays.
    d.aws_ok(&["lambda", "delete-function", "--function-name", "user"]);
    d.stop();
    let d = Daemon::start_in(&data);
    assert!(
        !data.join("packages/code").join(&sha1).exists(),
        "{}",
        d.log()
    );
    let v2 = d.aws_ok(&[
        "lambda",
        "get-layer-version",
        "--layer-name",
        "keep",
        "--version-number",
        "2",
    ]);
    let location = v2["Content"]["Location"].as_str().expect("Location");
    assert_eq!(crate::harness::curl("GET", location, None, &[]).status, 200);
}

fn hex_sha(dir: &Path) -> String {
    lambdalet_package::sha256(&crate::harness::zip_bytes(dir)).0
}
