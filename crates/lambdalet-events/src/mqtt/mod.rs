//! The MQTT side of lambdalet (Greengrass's "AWS IoT Core MQTT" event source): either the
//! embedded broker, which local devices connect to (`mosquitto_pub -t sensors/t1 ...`), or a
//! connection to a remote broker (`--mqtt-remote mqtts://host:8883`), the way Greengrass
//! bridges to IoT Core. Both look the same to the router: subscribe to filters, publish, and
//! a stream of incoming messages.
//!
//! The embedded broker is built only with the cargo feature `broker` (a default one); the
//! remote connection always is.

#[cfg(feature = "broker")]
mod embedded;
mod remote;

use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use tokio::sync::mpsc;

#[cfg(feature = "broker")]
pub use embedded::{BrokerTls, EmbeddedBroker, EmbeddedSettings, MqttAuthenticator, RateLimit};
pub use remote::{PendingAck, RemoteBroker, RemoteSettings, RemoteTls};

/// A message that arrived from MQTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttMessage {
    pub topic: String,
    pub payload: Bytes,
}

/// Quality of service of a publish or subscription (MQTT's 0 and 1; 2 is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// Failures of the MQTT side.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("cannot start the embedded MQTT broker on {addr}: {reason}")]
    Start { addr: String, reason: String },
    #[error("the MQTT connection is closed: {0}")]
    Closed(String),
    #[error("{0}")]
    Config(String),
}

/// Counters of the embedded broker's clients, for `/metrics`.
#[derive(Debug, Default)]
pub struct MqttClientStats {
    /// Clients let in.
    pub admitted: AtomicU64,
    /// Clients refused for their credentials: no or a wrong username and password, no client
    /// certificate or one the client CA did not sign.
    pub refused_credentials: AtomicU64,
    /// Connections closed before a login: another MQTT version, a first packet that is no
    /// CONNECT or a malformed one, another failed TLS handshake.
    pub refused_protocol: AtomicU64,
}

/// The broker lambdalet uses, whichever it is.
pub enum Mqtt {
    #[cfg(feature = "broker")]
    Embedded(EmbeddedBroker),
    Remote(RemoteBroker),
}

impl Mqtt {
    /// Subscribes lambdalet's connection to `filter` (idempotent per filter).
    pub fn subscribe(&self, filter: &str) -> Result<(), MqttError> {
        match self {
            #[cfg(feature = "broker")]
            Self::Embedded(b) => b.subscribe(filter),
            Self::Remote(b) => b.subscribe(filter),
        }
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<(), MqttError> {
        match self {
            #[cfg(feature = "broker")]
            Self::Embedded(b) => b.unsubscribe(filter),
            Self::Remote(b) => b.unsubscribe(filter),
        }
    }

    pub fn publish(&self, topic: &str, payload: Bytes, qos: Qos) -> Result<(), MqttError> {
        match self {
            #[cfg(feature = "broker")]
            Self::Embedded(b) => b.publish(topic, payload),
            Self::Remote(b) => b.publish(topic, payload, qos),
        }
    }

    /// A short description for logs and `lambdalet up`'s banner.
    pub fn describe(&self) -> String {
        match self {
            #[cfg(feature = "broker")]
            Self::Embedded(b) => format!("embedded broker on {}", b.url()),
            Self::Remote(b) => format!("remote broker {}", b.url()),
        }
    }

    /// The embedded broker's counters of its clients (None for a remote broker).
    pub fn client_stats(&self) -> Option<&MqttClientStats> {
        match self {
            #[cfg(feature = "broker")]
            Self::Embedded(b) => Some(b.stats()),
            Self::Remote(_) => None,
        }
    }
}

/// Whether every topic `b` matches is also matched by `a` (both MQTT filters).
pub(crate) fn covers(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('/'), b.split('/'));
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(l)) if l != "#" => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The filters to subscribe at a broker so that each message arrives once: those not covered
/// by another (`a/+/c` is dropped when `a/#` is there). Partial overlaps (`a/+/c` with
/// `a/b/#`) remain.
pub(crate) fn minimal(filters: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let covered = filters
            .iter()
            .enumerate()
            .any(|(j, g)| j != i && covers(g, f) && (!covers(f, g) || j < i));
        if !covered {
            out.push(f.clone());
        }
    }
    out
}

/// A message as it comes off the connection. A QoS 1 message from a remote broker carries
/// the acknowledgement to send once lambdalet has taken it durably (queued its invocations):
/// until then the broker keeps it, and sends it again if the connection drops.
#[derive(Debug)]
pub struct Delivery {
    pub message: MqttMessage,
    pub ack: Option<PendingAck>,
}

/// Where incoming messages go.
pub type Incoming = mpsc::Receiver<Delivery>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover() {
        assert!(covers("a/#", "a/b/c") && covers("a/#", "a/#") && covers("#", "x"));
        assert!(covers("a/+/c", "a/b/c") && !covers("a/b/c", "a/+/c") && !covers("a/+", "a/#"));
        let m = minimal(&["a/+/c".into(), "a/#".into(), "b".into(), "a/#".into()]);
        assert_eq!(m, ["a/#", "b"]);
    }
}
