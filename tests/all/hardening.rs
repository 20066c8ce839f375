//! The API under hostile or heavy use: a big zip being unpacked does not hold up other
//! functions' management calls, and code changes of one function keep their order.

use std::io::{Cursor, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::harness::{Daemon, HttpResponse, fixture};

const APP: &[u8] = b"def handler(event, context):\n    return {}\n";

/// `app.py` and `files` one-byte files, a thousand per directory; `salt` makes its hash its own.
fn many_files_zip(files: usize, salt: &str) -> Vec<u8> {
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("app.py", opts).expect("start");
    zip.write_all(APP).expect("write");
    zip.start_file("salt.txt", opts).expect("start");
    zip.write_all(salt.as_bytes()).expect("write");
    for i in 0..files {
        zip.start_file(format!("d{:03}/f{i:05}", i / 1000), opts)
            .expect("start");
        zip.write_all(b"x").expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn update_code(d: &Daemon, name: &str, zip: &[u8]) -> HttpResponse {
    let body = json!({ "ZipFile": b64(zip) }).to_string();
    d.http(
        "PUT",
        &format!("/2015-03-31/functions/{name}/code"),
        Some(body.as_bytes()),
        &[],
    )
}

/// Whether the package store is unpacking something now (its work happens in `tmp/`).
fn unpacking(d: &Daemon) -> bool {
    std::fs::read_dir(d.data_dir.join("packages/tmp")).is_ok_and(|mut r| r.next().is_some())
}

fn wait_for_unpacking(d: &Daemon, done: &AtomicBool) {
    let start = Instant::now();
    while !unpacking(d) {
        assert!(
            !done.load(Ordering::SeqCst),
            "the update ended before it was seen unpacking"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no unpacking seen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn stored(d: &Daemon, zip: &[u8]) -> bool {
    let (hex, _) = lambdalet_package::sha256(zip);
    let packages = d.data_dir.join("packages");
    packages.join("code").join(&hex).exists()
        || packages.join("blobs").join(format!("{hex}.zip")).exists()
}

/// A daemon whose data directory is in memory where that is possible: these tests write tens of
/// thousands of files, which a disk makes slow to write and slower to delete.
fn daemon_in_memory() -> Daemon {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return Daemon::start();
    }
    let tmp = tempfile::tempdir_in(shm).expect("tempdir in /dev/shm");
    let mut d = Daemon::start_in(tmp.path());
    d.keep(tmp);
    d
}

#[test]
fn a_big_zip_being_unpacked_does_not_hold_up_other_functions() {
    let d = daemon_in_memory();
    d.create(
        "other",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = tmp.path().join("big.zip");
    std::fs::write(&big, many_files_zip(60_000, "first")).expect("write zip");

    let done = AtomicBool::new(false);
    let (deploy_took, waits) = std::thread::scope(|s| {
        let deploy = s.spawn(|| {
            let start = Instant::now();
            let big = big.to_str().expect("utf-8");
            let out = d.cli(&[
                "deploy",
                big,
                "--name",
                "big",
                "--runtime",
                "python3.11",
                "--handler",
                "app.handler",
            ]);
            done.store(true, Ordering::SeqCst);
            assert!(
                out.status.success(),
                "deploy: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                d.log()
            );
            start.elapsed()
        });
        wait_for_unpacking(&d, &done);
        // Management calls on another function while the big one unpacks: each one's wait.
        let mut waits = Vec::new();
        let mut n = 0;
        while unpacking(&d) && !done.load(Ordering::SeqCst) {
            n += 1;
            let start = Instant::now();
            let r = d.http("GET", "/2015-03-31/functions/other", None, &[]);
            assert_eq!(r.status, 200, "{}", r.text());
            let body = json!({ "Description": format!("call {n}") }).to_string();
            let r = d.http(
                "PUT",
                "/2015-03-31/functions/other/configuration",
                Some(body.as_bytes()),
                &[],
            );
            assert_eq!(r.status, 200, "{}", r.text());
            waits.push(start.elapsed());
        }
        (deploy.join().expect("deploy thread"), waits)
    });
    let longest = waits.iter().max().copied().unwrap_or_default();
    eprintln!(
        "deploy of 60,000 files: {deploy_took:?}; {} GetFunction + UpdateFunctionConfiguration pairs meanwhile, the longest {longest:?}",
        waits.len()
    );
    assert!(
        waits.len() >= 3,
        "too few calls during the unpacking to tell: {waits:?}"
    );
    assert!(
        longest * 4 < deploy_took,
        "a pair of calls waited {longest:?} during a deploy of {deploy_took:?}"
    );
    let got = d
        .http("GET", "/2015-03-31/functions/other", None, &[])
        .json();
    assert_eq!(
        got["Configuration"]["Description"],
        format!("call {}", waits.len())
    );
}

#[test]
fn code_changes_of_one_function_keep_their_order_and_a_delete_wins() {
    let d = daemon_in_memory();
    d.create("f", &fixture("py-basic"), "python3.11", "app.handler", &[]);
    // A big update, then a small one sent while the big one unpacks: the small one lands last.
    let (slow, quick) = (many_files_zip(20_000, "slow"), many_files_zip(0, "quick"));
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            let r = update_code(&d, "f", &slow);
            done.store(true, Ordering::SeqCst);
            assert_eq!(r.status, 200, "{}", r.text());
        });
        wait_for_unpacking(&d, &done);
        let r = update_code(&d, "f", &quick);
        assert_eq!(r.status, 200, "{}", r.text());
        first.join().expect("first update");
    });
    let got = d.http("GET", "/2015-03-31/functions/f", None, &[]).json();
    assert_eq!(
        got["Configuration"]["CodeSha256"],
        lambdalet_package::sha256(&quick).1
    );

    // A delete during an update's unpacking: the update is refused and leaves nothing.
    let late = many_files_zip(20_000, "late");
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let update = s.spawn(|| {
            let r = update_code(&d, "f", &late);
            done.store(true, Ordering::SeqCst);
            r
        });
        wait_for_unpacking(&d, &done);
        let r = d.http("DELETE", "/2015-03-31/functions/f", None, &[]);
        assert_eq!(r.status, 204, "{}", r.text());
        let r = update.join().expect("update");
        assert_eq!(r.status, 404, "{}", r.text());
        assert_eq!(r.error_type(), "ResourceNotFoundException");
    });
    assert!(!stored(&d, &late), "the refused update's code is gone");

    // A create refused after its upload (a provided runtime without bootstrap) leaves nothing.
    let lone = many_files_zip(1, "lone");
    let body = json!({
        "FunctionName": "nobootstrap", "Runtime": "provided.al2023", "Handler": "x", "Role": "r",
        "Code": { "ZipFile": b64(&lone) },
    });
    let r = d.http(
        "POST",
        "/2015-03-31/functions",
        Some(body.to_string().as_bytes()),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!stored(&d, &lone), "the refused create's code is gone");
}
