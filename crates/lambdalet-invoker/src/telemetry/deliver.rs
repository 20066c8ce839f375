//! Delivery to one subscriber: events are gathered until `maxItems` or `maxBytes` is reached or
//! `timeoutMs` has passed since the first, then POSTed as one JSON array to the extension's
//! listener; a failed POST is tried again a few times, then the batch is dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use lambdalet_sandbox::Sandbox;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Item, Msg, Subscription};

/// Attempts per batch, and the wait before the second (doubling).
const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(100);
/// Longest a listener may take to answer.
const POST_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn run(
    mut rx: mpsc::Receiver<Msg>,
    sub: Subscription,
    sandbox: Option<Arc<dyn Sandbox>>,
) {
    let mut batch: Vec<Arc<Item>> = Vec::new();
    let mut bytes = 0;
    let mut due: Option<Instant> = None;
    loop {
        let msg = match due {
            Some(at) => tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(at) => {
                    send(&sub, sandbox.as_deref(), std::mem::take(&mut batch)).await;
                    (bytes, due) = (0, None);
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match msg {
            Some(Msg::Item(item)) => {
                bytes += item.bytes;
                batch.push(item);
                due.get_or_insert_with(|| Instant::now() + Duration::from_millis(sub.timeout_ms));
                if batch.len() >= sub.max_items || bytes >= sub.max_bytes {
                    send(&sub, sandbox.as_deref(), std::mem::take(&mut batch)).await;
                    (bytes, due) = (0, None);
                }
            }
            Some(Msg::Flush(ack)) => {
                send(&sub, sandbox.as_deref(), std::mem::take(&mut batch)).await;
                (bytes, due) = (0, None);
                let _ = ack.send(());
            }
            None => {
                send(&sub, sandbox.as_deref(), batch).await;
                return;
            }
        }
    }
}

async fn send(sub: &Subscription, sandbox: Option<&dyn Sandbox>, batch: Vec<Arc<Item>>) {
    if batch.is_empty() {
        return;
    }
    let body: Vec<&serde_json::Value> = batch.iter().map(|i| &i.json).collect();
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let mut wait = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match post(sub, sandbox, body.clone()).await {
            Ok(()) => return,
            Err(e) if attempt == ATTEMPTS => {
                tracing::debug!(port = sub.port, error = %e, events = batch.len(), "telemetry.dropped");
            }
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

async fn post(
    sub: &Subscription,
    sandbox: Option<&dyn Sandbox>,
    body: Bytes,
) -> Result<(), String> {
    let Some(sandbox) = sandbox else {
        return Err("the sandbox is not known yet".to_owned());
    };
    if !listens_here(sandbox, sub.port).await {
        return Err(format!(
            "no process of the sandbox listens on port {}",
            sub.port
        ));
    }
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", sub.port))
        .await
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let (mut tx, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = http::Request::post(sub.path.as_str())
            .header("host", format!("sandbox.localdomain:{}", sub.port))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(resp.status())
    };
    let status = tokio::time::timeout(POST_TIMEOUT, exchange)
        .await
        .map_err(|_| "the listener did not answer in time".to_owned())??;
    if status.is_server_error() {
        return Err(format!("the listener answered {status}"));
    }
    Ok(())
}

/// Whether a process of `sandbox` holds a listening TCP socket on `port` of loopback (or of
/// every address).
async fn listens_here(sandbox: &dyn Sandbox, port: u16) -> bool {
    let inodes = tokio::task::spawn_blocking(move || listening_inodes(port))
        .await
        .unwrap_or_default();
    inodes.into_iter().any(|inode| sandbox.holds_socket(inode))
}

/// The inodes of the listening sockets on `port` at a loopback or wildcard address, from
/// `/proc/net/tcp` and `/proc/net/tcp6`.
fn listening_inodes(port: u16) -> Vec<u64> {
    let port_hex = format!("{port:04X}");
    let local = [
        "0100007F",
        "00000000",
        "00000000000000000000000000000000",
        "00000000000000000000000001000000",
        "0000000000000000FFFF00000100007F",
    ];
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(addr), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let Some((ip, p)) = addr.split_once(':') else {
                continue;
            };
            if *state == "0A"
                && p == port_hex
                && local.contains(&ip)
                && let Ok(inode) = inode.parse()
            {
                out.push(inode);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listener_of_this_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let inodes = listening_inodes(port);
        assert_eq!(inodes.len(), 1, "{inodes:?}");
        let pids = [std::process::id()];
        assert!(lambdalet_sandbox::peer::held_by(inodes[0], &pids));
    }
}
