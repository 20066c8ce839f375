//! The relay between an MQTT client and the embedded broker: what the client sends is passed
//! on at no more than a per-connection byte rate (a token bucket). A client that floods is
//! slowed down by TCP back-pressure on its own connection; the others keep their share of the
//! broker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes per second and burst allowed to each client.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub bytes_per_sec: u64,
    pub burst: u64,
}

/// Carries one client's connection to the broker (`upstream`, already connected) and back.
/// `early` holds bytes the client sent that were read before the relay started; they are
/// passed on first. A PUBLISH whose packet is larger than `max_packet` costs the client its
/// connection here, with a log line that says so, before the broker reads it.
pub(crate) async fn relay<C>(
    client: C,
    upstream: TcpStream,
    peer: SocketAddr,
    limit: Option<RateLimit>,
    max_packet: usize,
    early: Vec<u8>,
) where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let (mut broker_rx, mut broker_tx) = upstream.into_split();
    let leaving = Arc::new(AtomicBool::new(false));
    let client_leaving = leaving.clone();
    let inbound = async move {
        let mut bucket = limit.map(Bucket::new);
        let mut scanner = PacketScanner::new(max_packet);
        let mut buf = vec![0u8; (16 * 1024).max(early.len())];
        let mut early = Some(early).filter(|e| !e.is_empty());
        let mut warned = false;
        loop {
            let n = if let Some(e) = early.take() {
                buf[..e.len()].copy_from_slice(&e);
                e.len()
            } else {
                match client_rx.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                }
            };
            let mut forward = n;
            let mut oversize = None;
            if let Scan::Oversize { at, len } = scanner.feed(&buf[..n]) {
                forward = at;
                oversize = Some(len);
            }
            if let Some(b) = bucket.as_mut() {
                let wait = b.take(forward as u64);
                if !wait.is_zero() {
                    if !warned {
                        tracing::warn!(client = %peer, "MQTT client exceeds its rate limit; slowing it down");
                        warned = true;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
            if broker_tx.write_all(&buf[..forward]).await.is_err() {
                break;
            }
            if let Some(len) = oversize {
                tracing::warn!(
                    client = %peer,
                    "MQTT client disconnected: it published a {len}-byte message, over the {max_packet}-byte limit (--max-message-size)"
                );
                client_leaving.store(true, Ordering::Relaxed);
                break;
            }
            if scanner.saw_disconnect {
                client_leaving.store(true, Ordering::Relaxed);
            }
        }
        client_leaving.store(true, Ordering::Relaxed);
        let _ = broker_tx.shutdown().await;
    };
    let outbound = async move {
        let _ = tokio::io::copy(&mut broker_rx, &mut client_tx).await;
        if !leaving.load(Ordering::Relaxed) {
            tracing::info!(
                client = %peer,
                "MQTT client disconnected by the broker (a protocol error, a keep-alive timeout, or another connection with its client id; RUST_LOG=info,rumqttd=debug shows why)"
            );
        }
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(inbound, outbound);
}

/// Follows the packet boundaries of what a client sends (MQTT 3.1.1 fixed headers), to stop
/// an oversize PUBLISH before the broker reads it and to notice a DISCONNECT.
struct PacketScanner {
    max: usize,
    state: ScanState,
    saw_disconnect: bool,
}

#[derive(Clone, Copy)]
enum ScanState {
    /// At the first byte of a packet.
    Header,
    /// In the remaining-length field of a packet of type `kind`, whose first byte was at
    /// offset `start` of the current chunk (`None`: an earlier chunk).
    Length {
        kind: u8,
        value: usize,
        shift: u32,
        start: Option<usize>,
    },
    /// This many bytes of the packet's body still to come.
    Body(usize),
    /// A malformed length: the broker will close the connection; stop looking.
    Opaque,
}

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Ok,
    /// A PUBLISH with a `len`-byte body starts at offset `at` of the chunk (0 if its header
    /// began in an earlier chunk); forward only what comes before it.
    Oversize {
        at: usize,
        len: usize,
    },
}

const PUBLISH: u8 = 3;
const DISCONNECT: u8 = 14;

impl PacketScanner {
    fn new(max: usize) -> Self {
        Self {
            max,
            state: ScanState::Header,
            saw_disconnect: false,
        }
    }

    fn feed(&mut self, data: &[u8]) -> Scan {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                ScanState::Header => {
                    self.state = ScanState::Length {
                        kind: data[i] >> 4,
                        value: 0,
                        shift: 0,
                        start: Some(i),
                    };
                    i += 1;
                }
                ScanState::Length {
                    kind,
                    value,
                    shift,
                    start,
                } => {
                    let b = data[i];
                    i += 1;
                    let value = value | (usize::from(b & 0x7f) << shift);
                    if b & 0x80 != 0 {
                        self.state = if shift >= 21 {
                            ScanState::Opaque
                        } else {
                            ScanState::Length {
                                kind,
                                value,
                                shift: shift + 7,
                                start,
                            }
                        };
                        continue;
                    }
                    if kind == DISCONNECT {
                        self.saw_disconnect = true;
                    }
                    if kind == PUBLISH && value > self.max {
                        self.state = ScanState::Opaque;
                        return Scan::Oversize {
                            at: start.unwrap_or(0),
                            len: value,
                        };
                    }
                    self.state = if value == 0 {
                        ScanState::Header
                    } else {
                        ScanState::Body(value)
                    };
                }
                ScanState::Body(left) => {
                    let n = left.min(data.len() - i);
                    i += n;
                    self.state = if n == left {
                        ScanState::Header
                    } else {
                        ScanState::Body(left - n)
                    };
                }
                ScanState::Opaque => return Scan::Ok,
            }
        }
        if let ScanState::Length { start, .. } = &mut self.state {
            *start = None;
        }
        Scan::Ok
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

    /// A PUBLISH packet (QoS 0) with the given topic and body length.
    fn publish(topic: &str, body: usize) -> Vec<u8> {
        let remaining = 2 + topic.len() + body;
        let mut p = vec![0x30];
        let mut n = remaining;
        loop {
            let mut b = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                b |= 0x80;
            }
            p.push(b);
            if n == 0 {
                break;
            }
        }
        p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        p.extend_from_slice(topic.as_bytes());
        p.extend(std::iter::repeat_n(b'x', body));
        p
    }

    #[test]
    fn the_scanner_follows_packets_across_any_split_and_stops_an_oversize_publish() {
        let connect = [0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        let small = publish("a/b", 300);
        let big = publish("big", 2000);
        let mut stream = connect.to_vec();
        stream.extend_from_slice(&small);
        let big_at = stream.len();
        stream.extend_from_slice(&big);
        let header = 3; // the type byte and two length bytes
        let len = big.len() - header;
        // Every way of cutting the stream in two finds the oversize PUBLISH where it starts.
        for cut in 0..=stream.len() {
            let mut s = PacketScanner::new(1000);
            let first = s.feed(&stream[..cut]);
            let expected_first = if cut >= big_at + header {
                Scan::Oversize { at: big_at, len }
            } else {
                Scan::Ok
            };
            assert_eq!(first, expected_first, "cut {cut}, first part");
            if first != Scan::Ok {
                continue;
            }
            let at = big_at.saturating_sub(cut);
            assert_eq!(
                s.feed(&stream[cut..]),
                Scan::Oversize { at, len },
                "cut {cut}, second part"
            );
        }
        let mut s = PacketScanner::new(1000);
        assert_eq!(s.feed(&stream[..big_at]), Scan::Ok);
        assert!(!s.saw_disconnect);
        assert_eq!(s.feed(&[0xe0, 0x00]), Scan::Ok);
        assert!(s.saw_disconnect);
    }

    #[test]
    fn a_malformed_length_is_left_to_the_broker() {
        let mut s = PacketScanner::new(10);
        assert_eq!(
            s.feed(&[0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Scan::Ok
        );
        assert_eq!(s.feed(&publish("t", 100)), Scan::Ok);
    }

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
