//! The embedded broker's front door: every MQTT client connects here, and what it sends is
//! passed on to the broker at no more than a per-connection byte rate (a token bucket). A client
//! that floods is slowed down by TCP back-pressure on its own connection; the others keep their
//! share of the broker.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes per second and burst allowed to each client.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub bytes_per_sec: u64,
    pub burst: u64,
}

/// Accepts clients on `listener` and connects each to the broker at `broker`.
pub(crate) async fn serve(listener: TcpListener, broker: SocketAddr, limit: Option<RateLimit>) {
    broker_listening(broker).await;
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
        tokio::spawn(async move {
            let upstream = match TcpStream::connect(broker).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot reach the embedded MQTT broker: {e}");
                    return;
                }
            };
            let _ = upstream.set_nodelay(true);
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut broker_rx, mut broker_tx) = upstream.into_split();
            let inbound = async move {
                let mut bucket = limit.map(Bucket::new);
                let mut buf = vec![0u8; 16 * 1024];
                let mut warned = false;
                loop {
                    let n = match client_rx.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if let Some(b) = bucket.as_mut() {
                        let wait = b.take(n as u64);
                        if !wait.is_zero() {
                            if !warned {
                                tracing::warn!(client = %peer, "MQTT client exceeds its rate limit; slowing it down");
                                warned = true;
                            }
                            tokio::time::sleep(wait).await;
                        }
                    }
                    if broker_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = broker_tx.shutdown().await;
            };
            let outbound = async move {
                let _ = tokio::io::copy(&mut broker_rx, &mut client_tx).await;
                let _ = client_tx.shutdown().await;
            };
            tokio::join!(inbound, outbound);
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

/// A token bucket in bytes.
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tokens: limit.burst as f64,
            last: Instant::now(),
        }
    }

    /// Takes `n` bytes; returns how long to wait before sending them.
    fn take(&mut self, n: u64) -> Duration {
        let now = Instant::now();
        let rate = self.limit.bytes_per_sec as f64;
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate)
            .min(self.limit.burst as f64);
        self.last = now;
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let mut b = Bucket::new(RateLimit {
            bytes_per_sec: 1000,
            burst: 2000,
        });
        assert!(b.take(2000).is_zero());
        let wait = b.take(500);
        assert!(
            wait >= Duration::from_millis(450) && wait <= Duration::from_millis(550),
            "{wait:?}"
        );
    }
}
