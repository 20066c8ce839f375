//! The API under hostile or heavy use: slow and idle clients do not starve it, a big zip being
//! unpacked does not hold up other functions' management calls, and code changes of one
//! function keep their order.

use std::io::{Cursor, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
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

/// A daemon started with `flags` on a fresh data directory.
fn daemon_with(flags: &[&str]) -> Daemon {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_with(tmp.path(), "serve", flags);
    d.keep(tmp);
    d
}

fn addr(d: &Daemon) -> SocketAddr {
    d.url
        .trim_start_matches("http://")
        .parse()
        .expect("the daemon's address")
}

/// Sends `GET /lambdalet/v1/health` on a new connection: the status line's code, or `None` when
/// the server closed the connection without an answer.
fn health(addr: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = "GET /lambdalet/v1/health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return None;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.get(9..12).and_then(|code| code.parse().ok())
}

/// A connection that sent one request and now sits idle (keep-alive).
fn used_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = "GET /lambdalet/v1/health HTTP/1.1\r\nHost: test\r\n\r\n";
    stream.write_all(request.as_bytes()).expect("write");
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).expect("read the answer");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream
}

/// The value of a `/metrics` line that starts with `name`.
fn metric(d: &Daemon, name: &str) -> f64 {
    let text = d.http("GET", "/metrics", None, &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[test]
fn a_client_sending_its_headers_a_byte_a_second_is_cut_off_and_others_are_served() {
    let d = daemon_with(&["--header-timeout", "1"]);
    let addr = addr(&d);
    let mut slow = TcpStream::connect(addr).expect("connect");
    let started = Instant::now();
    let slowloris = std::thread::spawn(move || {
        let head = b"GET /lambdalet/v1/health HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaa";
        for byte in head {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            // Closed by the server: the read sees the end (or a reset) at once.
            slow.set_nonblocking(true).expect("nonblocking");
            let mut buf = [0u8; 64];
            let closed = matches!(slow.read(&mut buf), Ok(0))
                || matches!(slow.read(&mut buf), Err(e) if e.kind() != std::io::ErrorKind::WouldBlock);
            slow.set_nonblocking(false).expect("blocking");
            if closed {
                break;
            }
        }
        started.elapsed()
    });
    // Meanwhile the API answers others at once.
    let mut answered = 0;
    while !slowloris.is_finished() {
        let asked = Instant::now();
        assert_eq!(health(addr), Some(200));
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        answered += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut_after = slowloris.join().expect("slowloris");
    assert!(answered > 3, "{answered}");
    assert!(
        cut_after >= Duration::from_secs(1) && cut_after < Duration::from_secs(5),
        "cut off after {cut_after:?}, having sent a byte a second"
    );
    assert!(
        metric(
            &d,
            "lambdalet_api_connections_timed_out_total{phase=\"head\"}"
        ) >= 1.0
    );
}

#[test]
fn idle_connections_at_the_cap_make_new_ones_close_at_once_until_they_go() {
    let d = daemon_with(&[
        "--max-connections",
        "8",
        "--header-timeout",
        "3",
        "--keepalive-timeout",
        "3",
    ]);
    let addr = addr(&d);
    // Four that never send a request, four that sent one and sit idle.
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    idle.extend((0..4).map(|_| used_connection(addr)));
    std::thread::sleep(Duration::from_millis(200));
    let refused_at = Instant::now();
    assert_eq!(
        health(addr),
        None,
        "a ninth connection is closed without an answer"
    );
    assert!(refused_at.elapsed() < Duration::from_secs(1), "at once");

    // Closing them lets new connections in at once, long before their timeouts.
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(health(addr), Some(200));

    // Left open, they go by their timeouts, and then the API answers again.
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    idle.extend((0..4).map(|_| used_connection(addr)));
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(health(addr), None);
    let mut served = None;
    while opened.elapsed() < Duration::from_secs(10) {
        if health(addr) == Some(200) {
            served = Some(opened.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = served.expect("served once the idle connections timed out");
    assert!(served >= Duration::from_millis(2500), "{served:?}");
    assert!(metric(&d, "lambdalet_api_connections_refused_total") >= 2.0);
    assert!(
        metric(
            &d,
            "lambdalet_api_connections_timed_out_total{phase=\"head\"}"
        ) >= 4.0
    );
    assert!(
        metric(
            &d,
            "lambdalet_api_connections_timed_out_total{phase=\"idle\"}"
        ) >= 4.0
    );
    assert!(metric(&d, "lambdalet_api_connections") >= 1.0);
    drop(idle);
}

/// An answer read off a raw connection.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Asserts AWS's error shape: `x-amzn-ErrorType` and the JSON body agree.
    fn assert_aws(&self, status: u16, error_type: &str) -> String {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(
            self.header("x-amzn-ErrorType"),
            Some(error_type),
            "{}",
            self.head
        );
        let json: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        assert_eq!(json["errorType"], error_type);
        assert_eq!(json["Type"], "User");
        assert_eq!(json["message"], json["errorMessage"]);
        json["message"].as_str().expect("message").to_owned()
    }
}

/// Sends `request` as it is and reads until the server closes the connection.
fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // The server may reset the connection after answering (it did not read everything).
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Raw {
        status: head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[test]
fn malformed_http_gets_aws_shaped_answers_where_lambdalet_answers() {
    let d = Daemon::start();
    let addr = addr(&d);
    let long_path = format!("/2015-03-31/functions/{}", "a".repeat(20 * 1024));
    let r = raw(
        addr,
        format!("GET {long_path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let msg = r.assert_aws(414, "RequestTooLargeException");
    assert!(msg.contains("16384"), "{msg}");

    let big_headers: String = (0..20)
        .map(|i| format!("X-Big-{i}: {}\r\n", "v".repeat(4000)))
        .collect();
    let r = raw(
        addr,
        format!(
            "GET /lambdalet/v1/health HTTP/1.1\r\nHost: t\r\n{big_headers}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    let msg = r.assert_aws(431, "RequestTooLargeException");
    assert!(msg.contains("65536"), "{msg}");

    // A body declared over the limit is refused before a byte of it is read.
    let r = raw(
        addr,
        b"PUT /2015-03-31/functions/x/code HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
    );
    let msg = r.assert_aws(413, "RequestTooLargeException");
    assert!(msg.contains("100000000"), "{msg}");

    // Malformed but parsed by hyper: the router's 400s, in AWS's shape.
    let r = raw(
        addr,
        b"GET /2015-03-31/functions/%FF HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    r.assert_aws(400, "InvalidRequestContentException");
    let r = raw(
        addr,
        b"POST /2015-03-31/functions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-chunk-size\r\n\r\n",
    );
    r.assert_aws(400, "InvalidRequestContentException");

    // What hyper answers itself, before the router: the status, with an empty body (see
    // docs/compatibility.md).
    let r = raw(addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!((r.status, r.body.as_str()), (400, ""), "{}", r.head);
    let many: String = (0..150).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    let r = raw(
        addr,
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!((r.status, r.body.as_str()), (431, ""), "{}", r.head);

    // None of it harmed the daemon.
    assert_eq!(health(addr), Some(200));
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
