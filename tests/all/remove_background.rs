//! The seed's background-removal service end to end, as `lambdalet up` deploys it: an image
//! uploaded to `s3://images/uploads/` comes back from `processed/` as a PNG whose background is
//! transparent and whose subject is kept. The OpenCV layer is built by the example's own script
//! (from PyPI, once; cached under target/test-cache). The same function packaged as a container
//! image (the example's build-image.sh: Debian's Python, awslambdaric and the wheels, no
//! Docker) runs the same way as an image function.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Daemon, eventually, free_port, repo};
use crate::s3::{grant_bucket, s3, s3_ok};

/// The example's build directory (`layer.zip` and the unpacked `layer/python`), built once.
fn layer_build() -> PathBuf {
    let cache = repo().join("target/test-cache/remove-background");
    if !cache.join(".complete").exists() {
        let script = repo().join("examples/remove-background/build-layer.sh");
        let out = Command::new(&script).output().expect("run build-layer.sh");
        assert!(
            out.status.success(),
            "build-layer.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).expect("mkdir");
        let built = repo().join("examples/remove-background/build");
        // Only the layer: the build directory may also hold the image's files.
        let status = Command::new("cp")
            .arg("-a")
            .arg(built.join("layer.zip"))
            .arg(built.join("layer"))
            .arg(&cache)
            .status()
            .expect("cp");
        assert!(status.success());
        std::fs::write(cache.join(".complete"), "").expect("marker");
    }
    cache
}

/// Runs Python with the layer's OpenCV and NumPy.
fn python_cv(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .env("PYTHONPATH", layer_build().join("layer/python"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const MAKE_IMAGE: &str = "import sys, numpy as np, cv2\nrng = np.random.default_rng(7)\nimg = np.full((120, 160, 3), (200, 170, 140), np.uint8)\nimg = (img.astype(int) + rng.integers(-12, 12, img.shape)).clip(0, 255).astype(np.uint8)\ncv2.circle(img, (80, 60), 32, (30, 30, 220), -1)\ncv2.circle(img, (80, 60), 10, (20, 120, 240), -1)\ncv2.imwrite(sys.argv[1], img)\n";

const CHECK_CUTOUT: &str = "import sys, cv2\nimg = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)\nh, w = img.shape[:2]\nfg = int((img[:, :, 3] == 255).sum())\nprint(img.shape[2], img[60, 80, 3], img[2, 2, 3], img[h - 3, w - 3, 3], fg)\n";

#[test]
fn an_uploaded_photo_comes_back_without_its_background() {
    let layer = layer_build().join("layer.zip");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(
        tmp.path(),
        "up",
        &[
            "--s3-listen",
            &listen,
            "--example-layer",
            layer.to_str().expect("utf-8"),
        ],
    );
    eventually(
        Duration::from_secs(120),
        "up to deploy remove-background",
        || {
            d.log().contains("function=remove-background") && d.log().contains("example deployed")
                || d.log().contains("example not deployed")
        },
    );
    assert!(
        !d.log().contains("remove-background\" example not deployed")
            && !d
                .log()
                .contains("function=remove-background example not deployed"),
        "{}",
        d.log()
    );
    upload_and_check(&url, tmp.path());
}

/// The README's three commands (upload, wait, download) and the cut-out's checks.
fn upload_and_check(url: &str, tmp: &std::path::Path) {
    let url = url.to_owned();
    let photo = tmp.join("red flower.jpg");
    python_cv(MAKE_IMAGE, &[photo.to_str().expect("utf-8")]);
    // The README's three commands: upload, wait, download.
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            photo.to_str().expect("utf-8"),
            "s3://images/uploads/red flower.jpg",
        ],
    );
    eventually(Duration::from_secs(120), "the cut-out", || {
        s3(&url, &["s3", "ls", "s3://images/processed/"])
            .stdout
            .windows(14)
            .any(|w| w == b"red flower.png")
    });
    let out = tmp.join("cutout.png");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            "s3://images/processed/red flower.png",
            out.to_str().expect("utf-8"),
        ],
    );
    let got = python_cv(CHECK_CUTOUT, &[out.to_str().expect("utf-8")]);
    let v: Vec<u64> = got
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(v[0], 4, "a PNG with an alpha channel: {got}");
    assert_eq!(v[1], 255, "the subject is kept: {got}");
    assert_eq!((v[2], v[3]), (0, 0), "the background is transparent: {got}");
    let disc = 3216.0;
    assert!(
        (v[4] as f64 - disc).abs() / disc < 0.1,
        "the foreground is the subject's size: {got}"
    );
    let head = s3_ok(
        &url,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "images",
            "--key",
            "processed/red flower.png",
        ],
    );
    assert!(
        head.contains("opencv-grabcut"),
        "the method is in the metadata: {head}"
    );
}

/// The example as a container image (`build/image.tar`), built once by its script.
fn image_build() -> PathBuf {
    let cache = repo().join("target/test-cache/remove-background-image");
    let tar = cache.join("image.tar");
    if !tar.exists() {
        let script = repo().join("examples/remove-background/build-image.sh");
        let out = Command::new(&script).output().expect("run build-image.sh");
        assert!(
            out.status.success(),
            "build-image.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::create_dir_all(&cache).expect("mkdir");
        let built = repo().join("examples/remove-background/build/image.tar");
        let part = cache.join("image.tar.part");
        std::fs::copy(&built, &part).expect("copy image.tar");
        std::fs::rename(&part, &tar).expect("rename");
    }
    tar
}

#[test]
fn the_example_packaged_as_a_container_image_does_the_same() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let Some(d) = crate::containment::container_daemon(&["--s3-listen", &listen]) else {
        return;
    };
    let image = image_build();
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = d.cli(&[
        "deploy",
        "--image",
        image.to_str().expect("utf-8"),
        "--name",
        "remove-background-image",
        "--timeout",
        "60",
        "--memory",
        "1024",
    ]);
    assert!(
        o.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
    s3_ok(&url, &["s3", "mb", "s3://images"]);
    grant_bucket(&d, "remove-background-image", "images");
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:remove-background-image";
    let config = format!(
        r#"{{"LambdaFunctionConfigurations":[{{"LambdaFunctionArn":"{arn}","Events":["s3:ObjectCreated:*"],"Filter":{{"Key":{{"FilterRules":[{{"Name":"prefix","Value":"uploads/"}}]}}}}}}]}}"#
    );
    s3_ok(
        &url,
        &[
            "s3api",
            "put-bucket-notification-configuration",
            "--bucket",
            "images",
            "--notification-configuration",
            &config,
        ],
    );
    upload_and_check(&url, tmp.path());
}
