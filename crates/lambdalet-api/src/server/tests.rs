//! The server loop on real loopback sockets with a small router: the cap, the two deadlines,
//! shutdown and the per-connection hook.

#![allow(
    clippy::unwrap_used,
    reason = "a failing unwrap is how a test reports failure"
)]

use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use axum::Extension;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;

#[derive(Clone)]
struct Marker(u32);

struct Running {
    addr: SocketAddr,
    stats: Arc<ConnectionStats>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn start(config: ServerConfig, hook: Option<ConnectionHook>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app =
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/peer",
                get(
                    |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                     Extension(m): Extension<Marker>| async move {
                        format!("{peer} {}", m.0)
                    },
                ),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "slow"
                }),
            );
    let stats = Arc::new(ConnectionStats::default());
    let mut server = Server::new(listener, app, config).with_stats(Arc::clone(&stats));
    if let Some(hook) = hook {
        server = server.on_connection(hook);
    }
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stats,
        stop: Some(stop),
        task,
    }
}

fn config(max: usize, head_ms: u64, keepalive_ms: u64) -> ServerConfig {
    ServerConfig {
        max_connections: max,
        header_timeout: Duration::from_millis(head_ms),
        keepalive_timeout: Duration::from_millis(keepalive_ms),
    }
}

/// Sends `GET path` and returns the response's body.
async fn get_body(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response ended");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            if body.len() >= len {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                return body.to_owned();
            }
        }
    }
}

/// Whether the server closes `stream` within `limit` (reading and dropping what comes).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn every_request_carries_the_peer_and_what_the_hook_found() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let hook: ConnectionHook = Arc::new(move |_stream: &TcpStream| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut found = Extensions::new();
        found.insert(Marker(7));
        found
    });
    let server = start(ServerConfig::default(), Some(hook)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let me = stream.local_addr().unwrap();
    for _ in 0..2 {
        assert_eq!(get_body(&mut stream, "/peer").await, format!("{me} 7"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "once per connection");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_until_one_goes() {
    let server = start(config(2, 5_000, 5_000), None).await;
    let mut a = TcpStream::connect(server.addr).await.unwrap();
    let mut b = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_body(&mut a, "/").await, "ok");
    assert_eq!(get_body(&mut b, "/").await, "ok");
    assert_eq!(server.stats.open(), 2);

    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut c, Duration::from_secs(2)).await);
    assert!(started.elapsed() < Duration::from_millis(500), "at once");
    assert_eq!(server.stats.refused(), 1);

    drop(a);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.stats.open() > 1 {
        assert!(
            Instant::now() < deadline,
            "the closed connection was not let go"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut d = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_body(&mut d, "/").await, "ok");
    assert_eq!(get_body(&mut b, "/").await, "ok");
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_while_others_are_served() {
    let server = start(config(8, 300, 5_000), None).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        for byte in b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ".iter().cycle() {
            if slow.write_all(&[*byte]).await.is_err() {
                return (slow, true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > Duration::from_secs(3) {
                return (slow, false);
            }
        }
        unreachable!("the cycle does not end")
    });
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_body(&mut other, "/").await, "ok");
    let (mut slow, refused) = writer.await.unwrap();
    let cut = refused || closed_within(&mut slow, Duration::from_millis(100)).await;
    assert!(cut, "the slow head was not cut off in 3 s");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.stats.head_timeouts(), 1);

    // A connection that never sends anything gets the header timeout too.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await);
    assert_eq!(server.stats.head_timeouts(), 2);
}

#[tokio::test]
async fn between_requests_the_keepalive_timeout_applies_not_the_header_timeout() {
    let server = start(config(8, 200, 1_000), None).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_body(&mut stream, "/").await, "ok");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get_body(&mut stream, "/").await,
        "ok",
        "kept past the header timeout"
    );
    let idle = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
    assert!(
        idle.elapsed() >= Duration::from_millis(900),
        "{:?}",
        idle.elapsed()
    );
    assert_eq!(server.stats.idle_closed(), 1);
    assert_eq!(server.stats.head_timeouts(), 0);
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_and_closes_idle_connections() {
    let mut server = start(ServerConfig::default(), None).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_body(&mut idle, "/").await, "ok");
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    let in_flight = tokio::spawn(async move { get_body(&mut busy, "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await);
    assert_eq!(in_flight.await.unwrap(), "slow");
    tokio::time::timeout(Duration::from_secs(2), &mut server.task)
        .await
        .expect("serve returns once the last request is done")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}
