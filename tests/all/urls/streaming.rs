//! `RESPONSE_STREAM` URLs: the body reaches the client while the function still writes it,
//! with the status, headers and cookies of Node's `awslambda.HttpResponseStream` prelude; a
//! failure before the first byte is a 502, one after it cuts the connection; a buffered
//! handler's result is sent as it is, as on AWS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{create_url, url_daemon, url_id};
use crate::harness::{Daemon, eventually};

const NODE_APP: &str = r#"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.page = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 206,
    headers: { 'content-type': 'text/plain', 'x-kind': 'stream' },
    cookies: ['s=1; Path=/'],
  });
  s.write('first;');
  await sleep(3000);
  s.write('second;');
  s.end();
});

exports.csv = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/csv');
  responseStream.write('a,b\n');
  responseStream.end('1,2\n');
});

exports.cut = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200 });
  s.write('partial;');
  await sleep(300);
  throw new Error('went wrong mid-stream');
});

exports.early = awslambda.streamifyResponse(async () => {
  throw new Error('went wrong before a byte');
});

exports.buffered = async () => ({ statusCode: 201, body: 'mapped only when buffered' });
"#;

/// Each handler of [`NODE_APP`] as a function with a public `RESPONSE_STREAM` URL; the url
/// ids by handler.
fn deploy_all(d: &Daemon) -> Vec<(&'static str, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.js"), NODE_APP).expect("write");
    ["page", "csv", "cut", "early", "buffered"]
        .into_iter()
        .map(|h| {
            d.create(
                h,
                dir.path(),
                "nodejs20.x",
                &format!("index.{h}"),
                &["--timeout", "20"],
            );
            let made = create_url(
                d,
                h,
                &["--auth-type", "NONE", "--invoke-mode", "RESPONSE_STREAM"],
            );
            (h, url_id(made["FunctionUrl"].as_str().expect("url")))
        })
        .collect()
}

/// A GET of `/url/<id>/` on a raw connection.
fn connect(port: u16, id: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET /url/{id}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    s
}

/// Reads until `needle` has come (or the connection ends); everything read so far.
fn read_until(s: &mut TcpStream, got: &mut Vec<u8>, needle: &str) {
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(got).contains(needle) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(got)),
        }
    }
}

/// Everything until the server closes the connection.
fn read_all(s: &mut TcpStream, got: &mut Vec<u8>) {
    let _ = s.read_to_end(got);
}

#[test]
fn a_response_stream_url_streams_with_the_prelude_s_status_and_headers() {
    let (d, port) = url_daemon();
    let ids = deploy_all(&d);
    let id = |h: &str| {
        ids.iter()
            .find(|(n, _)| *n == h)
            .expect("handler")
            .1
            .clone()
    };

    // The first part comes while the function still sleeps before the second.
    let mut s = connect(port, &id("page"));
    let mut got = Vec::new();
    read_until(&mut s, &mut got, "first;");
    let early = String::from_utf8_lossy(&got).into_owned();
    assert!(early.starts_with("HTTP/1.1 206"), "{early}\n{}", d.log());
    let lower = early.to_ascii_lowercase();
    for h in [
        "content-type: text/plain",
        "x-kind: stream",
        "set-cookie: s=1; path=/",
        "transfer-encoding: chunked",
    ] {
        assert!(lower.contains(h), "{h} in {early}");
    }
    assert!(early.contains("first;"), "{early}");
    assert!(
        !early.contains("second;"),
        "the first part waited for the second: {early}"
    );
    read_all(&mut s, &mut got);
    let all = String::from_utf8_lossy(&got).into_owned();
    assert!(
        all.contains("second;") && all.ends_with("0\r\n\r\n"),
        "{all}"
    );

    // No prelude: a 200 with the content type the function set.
    let mut s = connect(port, &id("csv"));
    let mut got = Vec::new();
    read_all(&mut s, &mut got);
    let csv = String::from_utf8_lossy(&got).into_owned();
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    assert!(
        csv.to_ascii_lowercase().contains("content-type: text/csv"),
        "{csv}"
    );
    assert!(csv.contains("a,b\n") && csv.contains("1,2\n"), "{csv}");

    // A buffered handler behind a streaming URL: its result as it is (no mapping).
    let mut s = connect(port, &id("buffered"));
    let mut got = Vec::new();
    read_all(&mut s, &mut got);
    let raw = String::from_utf8_lossy(&got).into_owned();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.contains(r#""statusCode":201"#) && raw.contains("mapped only when buffered"),
        "{raw}"
    );
}

#[test]
fn a_stream_that_fails_is_a_502_before_its_first_byte_and_cut_after() {
    let (d, port) = url_daemon();
    let ids = deploy_all(&d);
    let id = |h: &str| {
        ids.iter()
            .find(|(n, _)| *n == h)
            .expect("handler")
            .1
            .clone()
    };

    let mut s = connect(port, &id("early"));
    let mut got = Vec::new();
    read_all(&mut s, &mut got);
    let early = String::from_utf8_lossy(&got).into_owned();
    assert!(early.starts_with("HTTP/1.1 502"), "{early}\n{}", d.log());

    let mut s = connect(port, &id("cut"));
    let mut got = Vec::new();
    read_all(&mut s, &mut got);
    let cut = String::from_utf8_lossy(&got).into_owned();
    assert!(cut.starts_with("HTTP/1.1 200"), "{cut}");
    assert!(cut.contains("partial;"), "{cut}");
    assert!(
        !cut.ends_with("0\r\n\r\n"),
        "a failed stream must not end as a whole one: {cut}"
    );
    // The daemon logs the cut before it closes the connection, but its log reaches this test
    // through a reader thread: wait for the line instead of racing it.
    eventually(
        Duration::from_secs(5),
        "url.stream_cut in the daemon's log",
        || d.log().contains("url.stream_cut"),
    );
}
