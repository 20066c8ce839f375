//! The MQTT clients of the mqtt benchmark (rumqttc, MQTT 3.1.1, TCP_NODELAY): a probe that
//! subscribes to a reply filter and publishes numbered messages, timing each until the reply
//! carrying its number arrives, and an echo client that republishes what it receives (the
//! baseline's stand-in for the function). Every figure of the benchmark, lambdalet's and the
//! baselines', goes through the same probe code.
//!
//! A message's payload is `{"seq":N}`; a reply is recognised by the first `"seq"` key in its
//! payload, so the echo (the same bytes), a function that re-serialises the event
//! (`{"seq": N}`) and an async destination record (`"requestPayload":{"seq":N}`) all work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::stats::percentile;

/// Requests a client may queue before `publish` waits (more than a burst).
const CHANNEL: usize = 16_384;

/// `{"seq":N}`.
pub fn payload(seq: u64) -> Bytes {
    Bytes::from(format!("{{\"seq\":{seq}}}"))
}

/// The number after the first `"seq"` key of a JSON payload (spaces allowed around `:`).
pub fn seq_of(payload: &[u8]) -> Option<u64> {
    let key = b"\"seq\"";
    let at = payload.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &payload[at..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b":")?;
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits = rest[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&rest[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

pub fn qos_name(qos: QoS) -> &'static str {
    match qos {
        QoS::AtMostOnce => "QoS 0",
        QoS::AtLeastOnce => "QoS 1",
        QoS::ExactlyOnce => "QoS 2",
    }
}

/// Connects and waits for the CONNACK.
async fn connect(broker: SocketAddr, id: &str) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
    options.set_keep_alive(Duration::from_secs(60));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(options, CHANNEL);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    events.set_network_options(net);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return Ok((client, events)),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("MQTT client {id} cannot connect to {broker}: {e}"),
            Err(_) => bail!("MQTT client {id}: no CONNACK from {broker} within 10 s"),
        }
    }
}

/// Subscribes and waits for the SUBACK (messages that arrive meanwhile are dropped).
async fn subscribe(
    client: &AsyncClient,
    events: &mut EventLoop,
    filter: &str,
    qos: QoS,
) -> anyhow::Result<()> {
    client.subscribe(filter, qos).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("subscribing to {filter}: {e}"),
            Err(_) => bail!("no SUBACK for {filter} within 10 s"),
        }
    }
}

enum Got {
    /// A message arrived: its sequence number (if it had one) and when.
    Message(Option<u64>, Instant),
    Closed(String),
}

/// Subscribed to a reply filter; publishes numbered messages and times their replies.
pub struct Probe {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Got>,
    task: JoinHandle<()>,
    next_seq: u64,
    qos: QoS,
    /// Messages received without a sequence number.
    pub unnumbered: u64,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One message at a time: latencies of the replies.
pub struct Serial {
    pub lat_us: Vec<f64>,
    /// Messages whose reply did not come within the per-message limit.
    pub lost: u64,
    /// Replies to earlier messages that arrived late (after their limit).
    pub stale: u64,
    pub elapsed: Duration,
}

impl Serial {
    pub fn p(&self, p: f64) -> Option<f64> {
        percentile(&mut self.lat_us.clone(), p)
    }

    pub fn rate(&self) -> f64 {
        self.lat_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// All messages at once: how fast the replies came back.
pub struct Burst {
    pub sent: usize,
    pub received: usize,
    pub duplicates: usize,
    /// Replies that came after a reply to a later message.
    pub out_of_order: usize,
    /// The most messages a reply came late by: (the latest message answered before it) − it.
    pub max_displacement: usize,
    /// From the first publish to the first reply.
    pub first_reply: Option<Duration>,
    /// From the first publish to the last one handed to the client.
    pub publish_time: Duration,
    /// From the first publish to the last reply.
    pub elapsed: Duration,
    /// Per reply: from its message's publish to its arrival, µs.
    pub lat_us: Vec<f64>,
}

impl Burst {
    /// Replies per second, first publish to last reply.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p(&self, p: f64) -> Option<f64> {
        percentile(&mut self.lat_us.clone(), p)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} of {} replies ({} duplicates, {} out of order, by up to {} messages) in {:.0} ms, the first after {:.1} ms, publishing took {:.0} ms; per message p50 {:.1} ms, p99 {:.1} ms",
            self.received,
            self.sent,
            self.duplicates,
            self.out_of_order,
            self.max_displacement,
            self.elapsed.as_secs_f64() * 1e3,
            self.first_reply.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            self.publish_time.as_secs_f64() * 1e3,
            self.p(50.0).unwrap_or(f64::NAN) / 1e3,
            self.p(99.0).unwrap_or(f64::NAN) / 1e3,
        )
    }
}

impl Probe {
    /// Connects as `id` and subscribes to `reply_filter` at `qos` (the QoS it also publishes
    /// with).
    pub async fn start(
        broker: SocketAddr,
        id: &str,
        reply_filter: &str,
        qos: QoS,
    ) -> anyhow::Result<Self> {
        let (client, mut events) = connect(broker, id).await?;
        subscribe(&client, &mut events, reply_filter, qos).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let at = Instant::now();
                        if tx.send(Got::Message(seq_of(&p.payload), at)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Got::Closed(e.to_string()));
                        return;
                    }
                }
            }
        });
        Ok(Self {
            client,
            rx,
            task,
            next_seq: 1,
            qos,
            unnumbered: 0,
        })
    }

    /// Publishes one message at a time to `topic` for `dur`, each after the previous one's
    /// reply (or after `limit` without one).
    pub async fn serial(
        &mut self,
        topic: &str,
        dur: Duration,
        limit: Duration,
    ) -> anyhow::Result<Serial> {
        let mut out = Serial {
            lat_us: Vec::new(),
            lost: 0,
            stale: 0,
            elapsed: Duration::ZERO,
        };
        let start = Instant::now();
        while start.elapsed() < dur {
            let seq = self.next_seq;
            self.next_seq += 1;
            let t0 = Instant::now();
            self.client
                .publish(topic, self.qos, false, payload(seq))
                .await
                .context("publishing")?;
            let deadline = tokio::time::Instant::from_std(t0 + limit);
            loop {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(Got::Message(Some(s), at))) if s == seq => {
                        out.lat_us.push((at - t0).as_secs_f64() * 1e6);
                        break;
                    }
                    Ok(Some(Got::Message(Some(_), _))) => out.stale += 1,
                    Ok(Some(Got::Message(None, _))) => self.unnumbered += 1,
                    Ok(Some(Got::Closed(e))) => bail!("the probe's connection closed: {e}"),
                    Ok(None) => bail!("the probe's connection task ended"),
                    Err(_) => {
                        out.lost += 1;
                        break;
                    }
                }
            }
        }
        out.elapsed = start.elapsed();
        Ok(out)
    }

    /// Publishes `n` messages to `topic` as fast as the client takes them, while collecting
    /// the replies; stops when all have come back or none came for `idle`.
    pub async fn burst(&mut self, topic: &str, n: usize, idle: Duration) -> anyhow::Result<Burst> {
        let first = self.next_seq;
        self.next_seq += n as u64;
        let client = self.client.clone();
        let qos = self.qos;
        let start = Instant::now();
        let publisher = async move {
            let mut sent = Vec::with_capacity(n);
            for i in 0..n as u64 {
                sent.push(Instant::now());
                client
                    .publish(topic, qos, false, payload(first + i))
                    .await
                    .context("publishing")?;
            }
            anyhow::Ok((sent, Instant::now()))
        };
        let rx = &mut self.rx;
        let mut unnumbered = 0;
        let collector = async {
            let mut got: Vec<Option<Instant>> = vec![None; n];
            let (mut received, mut duplicates, mut out_of_order, mut displaced) = (0, 0, 0, 0);
            let mut highest: Option<usize> = None;
            while received < n {
                match tokio::time::timeout(idle, rx.recv()).await {
                    Ok(Some(Got::Message(Some(s), at))) if s >= first && s < first + n as u64 => {
                        let i = (s - first) as usize;
                        if got[i].is_some() {
                            duplicates += 1;
                            continue;
                        }
                        got[i] = Some(at);
                        received += 1;
                        if let Some(h) = highest.filter(|h| *h > i) {
                            out_of_order += 1;
                            displaced = displaced.max(h - i);
                        }
                        highest = highest.max(Some(i));
                    }
                    Ok(Some(Got::Message(Some(_), _))) => {}
                    Ok(Some(Got::Message(None, _))) => unnumbered += 1,
                    Ok(Some(Got::Closed(e))) => bail!("the probe's connection closed: {e}"),
                    Ok(None) => bail!("the probe's connection task ended"),
                    Err(_) => break,
                }
            }
            anyhow::Ok((got, received, duplicates, out_of_order, displaced))
        };
        let (published, collected) = tokio::join!(publisher, collector);
        let (sent, published_at) = published?;
        let (got, received, duplicates, out_of_order, max_displacement) = collected?;
        self.unnumbered += unnumbered;
        let last = got.iter().flatten().max().copied().unwrap_or(start);
        let first_reply = got.iter().flatten().min().map(|t| t.duration_since(start));
        let lat_us = got
            .iter()
            .zip(&sent)
            .filter_map(|(g, s)| Some(g.as_ref()?.duration_since(*s).as_secs_f64() * 1e6))
            .collect();
        Ok(Burst {
            sent: n,
            received,
            duplicates,
            out_of_order,
            max_displacement,
            first_reply,
            publish_time: published_at - start,
            elapsed: last.duration_since(start),
            lat_us,
        })
    }
}

/// Republishes every message it gets on `from` to `to`, with the QoS it came with: a plain
/// MQTT client doing the function's job, for the baseline.
pub struct Echo {
    task: JoinHandle<()>,
    pub echoed: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Echo {
    pub async fn start(
        broker: SocketAddr,
        id: &str,
        from: &str,
        to: &str,
        qos: QoS,
    ) -> anyhow::Result<Self> {
        let (client, mut events) = connect(broker, id).await?;
        subscribe(&client, &mut events, from, qos).await?;
        let (echoed, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (e, f) = (echoed.clone(), failed.clone());
        let to = to.to_owned();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        // Not `publish().await`: this task is the one that drains the queue.
                        match client.try_publish(to.as_str(), p.qos, false, p.payload) {
                            Ok(()) => e.fetch_add(1, Ordering::Relaxed),
                            Err(_) => f.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        Ok(Self {
            task,
            echoed,
            failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sequence_number() {
        assert_eq!(seq_of(&payload(42)), Some(42));
        assert_eq!(seq_of(br#"{"seq": 7, "x": 1}"#), Some(7));
        assert_eq!(
            seq_of(br#"{"version":"1.0","requestPayload":{"seq":123},"responsePayload":{}}"#),
            Some(123)
        );
        assert_eq!(seq_of(br#"{"sequence": 1}"#), None);
        assert_eq!(seq_of(b"not json"), None);
    }
}
