//! Lambda layers with the AWS CLI and boto3: publishing, looking up, listing and deleting layer
//! versions. Requests refused as AWS refuses them are in `layers/checks.rs`, what functions see
//! of their layers in each sandbox in `layers/run.rs`, the rules of a function's `Layers` (250 MB,
//! five layers, deleted versions, restarts) in `layers/rules.rs`.

mod checks;
mod rules;
mod run;

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Daemon, curl, python_script, zip_bytes, zip_file};

const ACCOUNT: &str = "arn:aws:lambda:us-east-1:000000000000";

/// `arn:aws:lambda:us-east-1:000000000000:layer:NAME:VERSION`.
pub fn layer_arn(name: &str, version: u64) -> String {
    format!("{ACCOUNT}:layer:{name}:{version}")
}

/// Writes `files` under `root`; files under `bin/` are executable.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (rel, content) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        if rel.starts_with("bin/") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
}

/// `aws lambda publish-layer-version --layer-name NAME --zip-file fileb://DIR.zip EXTRA...`.
pub fn publish(d: &Daemon, name: &str, dir: &Path, extra: &[&str]) -> Value {
    let zip = zip_file(dir);
    let arg = format!("fileb://{}", zip.path().display());
    let mut args = vec![
        "lambda",
        "publish-layer-version",
        "--layer-name",
        name,
        "--zip-file",
        &arg,
    ];
    args.extend_from_slice(extra);
    d.aws_ok(&args)
}

/// A directory with one Python module, `python/<module>.py`, holding `WHO = <who>`.
pub fn module_layer(root: &Path, module: &str, who: &str) -> std::path::PathBuf {
    let dir = root.join(format!("{module}-{who}"));
    write_tree(
        &dir,
        &[(&format!("python/{module}.py"), &format!("WHO = {who:?}\n"))],
    );
    dir
}

/// Invokes `name` with `{}` through the Invoke API; it must succeed.
pub fn invoke(d: &Daemon, name: &str) -> Value {
    let r = d.invoke(name, "{}");
    assert_eq!(r.status, 200, "{name}: {}", r.text());
    assert!(
        r.header("x-amz-function-error").is_none(),
        "{name}: {}\n{:#?}",
        r.text(),
        d.logs(name)
    );
    r.json()
}

fn without_location(mut v: Value) -> Value {
    v["Content"]
        .as_object_mut()
        .expect("Content")
        .remove("Location");
    v
}

#[test]
fn publish_get_list_delete_layers_with_the_aws_cli() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let deps = module_layer(tmp.path(), "deps_mod", "one");
    let bytes = zip_bytes(&deps);
    let v1 = publish(
        &d,
        "deps",
        &deps,
        &[
            "--description",
            "first",
            "--compatible-runtimes",
            "python3.11",
            "python3.12",
            "--compatible-architectures",
            "x86_64",
            "arm64",
            "--license-info",
            "MIT",
        ],
    );
    let mut keys: Vec<&str> = v1
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "CompatibleArchitectures",
            "CompatibleRuntimes",
            "Content",
            "CreatedDate",
            "Description",
            "LayerArn",
            "LayerVersionArn",
            "LicenseInfo",
            "Version"
        ],
        "{v1}"
    );
    assert_eq!(v1["LayerArn"], format!("{ACCOUNT}:layer:deps"));
    assert_eq!(v1["LayerVersionArn"], layer_arn("deps", 1));
    assert_eq!(v1["Version"], 1);
    assert_eq!(v1["Description"], "first");
    assert_eq!(
        v1["CompatibleRuntimes"],
        json!(["python3.11", "python3.12"])
    );
    assert_eq!(v1["CompatibleArchitectures"], json!(["x86_64", "arm64"]));
    assert_eq!(v1["LicenseInfo"], "MIT");
    let created = v1["CreatedDate"].as_str().expect("CreatedDate");
    assert!(
        created.len() == 28 && created.as_bytes()[10] == b'T' && created.ends_with("+0000"),
        "2018-11-14T23:03:52.894+0000 form: {created}"
    );
    let (_, sha_b64) = lambdalet_package::sha256(&bytes);
    assert_eq!(v1["Content"]["CodeSha256"], sha_b64);
    assert_eq!(v1["Content"]["CodeSize"], bytes.len());
    let location = v1["Content"]["Location"].as_str().expect("Location");
    let download = curl("GET", location, None, &[]);
    assert_eq!(download.status, 200);
    assert_eq!(
        download.body, bytes,
        "Content.Location serves the layer's zip"
    );

    let tools = module_layer(tmp.path(), "tools_mod", "t");
    publish(
        &d,
        "tools",
        &tools,
        &["--compatible-runtimes", "nodejs20.x"],
    );
    let v2 = publish(
        &d,
        "deps",
        &module_layer(tmp.path(), "deps_mod", "two"),
        &[],
    );
    assert_eq!(v2["Version"], 2);
    assert_eq!(v2["Description"], "");
    assert!(v2.get("CompatibleRuntimes").is_none() && v2.get("LicenseInfo").is_none());

    let got = d.aws_ok(&[
        "lambda",
        "get-layer-version",
        "--layer-name",
        "deps",
        "--version-number",
        "1",
    ]);
    assert_eq!(without_location(got), without_location(v1.clone()));
    let by_arn = d.aws_ok(&[
        "lambda",
        "get-layer-version-by-arn",
        "--arn",
        &layer_arn("deps", 2),
    ]);
    assert_eq!(without_location(by_arn), without_location(v2.clone()));
    let by_layer_arn = d.aws_ok(&[
        "lambda",
        "get-layer-version",
        "--layer-name",
        &format!("{ACCOUNT}:layer:deps"),
        "--version-number",
        "2",
    ]);
    assert_eq!(
        by_layer_arn["Version"], 2,
        "a layer ARN names the layer too"
    );

    let all = d.aws_ok(&["lambda", "list-layers"]);
    let layers = all["Layers"].as_array().expect("Layers");
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["LayerName"], "deps");
    assert_eq!(layers[0]["LayerArn"], format!("{ACCOUNT}:layer:deps"));
    let latest = &layers[0]["LatestMatchingVersion"];
    assert_eq!(latest["LayerVersionArn"], layer_arn("deps", 2));
    assert_eq!(latest["Version"], 2);
    assert!(latest.get("Content").is_none() && latest["CreatedDate"].is_string());
    assert_eq!(layers[1]["LayerName"], "tools");
    let py312 = d.aws_ok(&[
        "lambda",
        "list-layers",
        "--compatible-runtime",
        "python3.12",
    ]);
    assert_eq!(py312["Layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        py312["Layers"][0]["LatestMatchingVersion"]["Version"], 1,
        "the newest that matches"
    );
    let arm = d.aws_ok(&[
        "lambda",
        "list-layers",
        "--compatible-architecture",
        "arm64",
    ]);
    assert_eq!(arm["Layers"][0]["LayerName"], "deps");

    let versions = |extra: &[&str]| -> Vec<u64> {
        let mut args = vec!["lambda", "list-layer-versions", "--layer-name", "deps"];
        args.extend_from_slice(extra);
        d.aws_ok(&args)["LayerVersions"]
            .as_array()
            .expect("LayerVersions")
            .iter()
            .map(|v| v["Version"].as_u64().expect("Version"))
            .collect()
    };
    assert_eq!(versions(&[]), [2, 1], "newest first");
    assert_eq!(
        versions(&["--page-size", "1"]),
        [2, 1],
        "one per page, through NextMarker"
    );
    assert_eq!(versions(&["--compatible-runtime", "python3.11"]), [1]);
    let page = d
        .http(
            "GET",
            "/2018-10-31/layers/deps/versions?MaxItems=1",
            None,
            &[],
        )
        .json();
    assert_eq!(page["NextMarker"], "1");
    let next = d
        .http(
            "GET",
            "/2018-10-31/layers/deps/versions?MaxItems=1&Marker=1",
            None,
            &[],
        )
        .json();
    assert_eq!(next["LayerVersions"][0]["Version"], 1);
    assert!(next.get("NextMarker").is_none());

    d.aws_ok(&[
        "lambda",
        "delete-layer-version",
        "--layer-name",
        "deps",
        "--version-number",
        "1",
    ]);
    assert_eq!(versions(&[]), [2]);
    let gone = d.aws(&[
        "lambda",
        "get-layer-version",
        "--layer-name",
        "deps",
        "--version-number",
        "1",
    ]);
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(
        !gone.status.success() && err.contains("ResourceNotFoundException"),
        "{err}"
    );
    d.aws_ok(&[
        "lambda",
        "delete-layer-version",
        "--layer-name",
        "deps",
        "--version-number",
        "1",
    ]);
    d.aws_ok(&[
        "lambda",
        "delete-layer-version",
        "--layer-name",
        "nothing",
        "--version-number",
        "4",
    ]);
}

#[test]
fn boto3_publishes_pages_and_attaches_layers() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = zip_file(&module_layer(tmp.path(), "b3mod", "boto3"));
    let function = tmp.path().join("fn");
    write_tree(
        &function,
        &[(
            "app.py",
            "def handler(e, c):\n    import b3mod\n    return b3mod.WHO\n",
        )],
    );
    let function = zip_file(&function);
    let out = python_script(
        "layers_flow.py",
        &[
            &d.url,
            layer.path().to_str().expect("utf-8"),
            function.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out["versions"], json!([1, 2, 3]));
    assert_eq!(
        out["pages"],
        json!([[3], [2], [1]]),
        "one version per page, newest first"
    );
    assert_eq!(out["by_arn"], layer_arn("b3", 2));
    assert_eq!(
        out["layers"],
        json!([{"Arn": layer_arn("b3", 3), "CodeSize": out["code_size"]}])
    );
    assert_eq!(out["invoked"], "boto3");
    assert_eq!(out["removed"], false, "Layers=[] removes them all");
    assert_eq!(out["six"]["code"], "InvalidParameterValueException");
    assert!(
        out["six"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Cannot reference more than 5 layers."))
    );
    assert_eq!(out["deleted_get"], "ResourceNotFoundException");
}
