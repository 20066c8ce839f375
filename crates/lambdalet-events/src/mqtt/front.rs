//! The embedded broker's front door: every MQTT client connects here, not to rumqttd, which
//! listens on a private loopback port. Each connection is passed to the relay
//! ([`super::throttle`]), which carries it to the broker at the client's byte rate.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::RateLimit;

/// What the front door does with each client.
pub(crate) struct Front {
    /// rumqttd's private address.
    pub broker: SocketAddr,
    pub limit: Option<RateLimit>,
    /// Largest packet a client may send (`--max-message-size`).
    pub max_packet: usize,
}

/// Accepts clients on `listener` and connects each to the broker.
pub(crate) async fn serve(listener: TcpListener, front: Front) {
    broker_listening(front.broker).await;
    let front = std::sync::Arc::new(front);
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("MQTT accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let front = front.clone();
        tokio::spawn(async move {
            let upstream = match TcpStream::connect(front.broker).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot reach the embedded MQTT broker: {e}");
                    return;
                }
            };
            let _ = upstream.set_nodelay(true);
            tracing::debug!(client = %peer, "MQTT client connected");
            super::throttle::relay(
                client,
                upstream,
                peer,
                front.limit,
                front.max_packet,
                Vec::new(),
            )
            .await;
            tracing::debug!(client = %peer, "MQTT client gone");
        });
    }
}

/// Waits (a few seconds at most) until rumqttd, starting on its own thread, listens on
/// `broker`, and turns Nagle's algorithm off for the connections it will accept. Clients
/// that connect meanwhile wait in the front door's backlog.
async fn broker_listening(broker: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match super::nodelay::set_on_listener(broker) {
            Ok(true) => return,
            Ok(false) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(false) => {
                tracing::warn!(
                    "the embedded MQTT broker is not listening on {broker} after 5 s; QoS 1 replies may be delayed by Nagle's algorithm"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    "cannot set TCP_NODELAY on the embedded MQTT broker's listener ({e}); QoS 1 replies may be delayed by Nagle's algorithm"
                );
                return;
            }
        }
    }
}
