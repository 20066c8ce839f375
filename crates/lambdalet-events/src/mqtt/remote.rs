//! A connection to a remote MQTT broker (`--mqtt-remote`), as Greengrass bridges to AWS IoT
//! Core: TLS with a client certificate or username/password, a persistent session (so QoS 1
//! messages published while the link was down arrive after it returns), reconnection with
//! backoff, and lambdalet's subscriptions restored on every connection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, Transport};
use tokio::sync::mpsc;

use super::{Delivery, Incoming, MqttError, MqttMessage, Qos};

/// TLS material for `mqtts://`.
#[derive(Debug, Clone, Default)]
pub struct RemoteTls {
    /// CA certificate(s) to trust (PEM); the host's are used when absent.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM), as IoT Core requires.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// How to reach the remote broker.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: RemoteTls,
    pub max_payload: usize,
}

pub struct RemoteBroker {
    url: String,
    client: AsyncClient,
    /// Filter → number of subscribers.
    subscribed: Arc<Mutex<HashMap<String, usize>>>,
    /// The filters subscribed at the broker (replayed after each reconnection).
    active: Arc<Mutex<Vec<String>>>,
}

impl RemoteBroker {
    /// Connects (in the background, retrying) and returns at once.
    pub fn start(settings: &RemoteSettings) -> Result<(Self, Incoming), MqttError> {
        let (tls, host, port) = parse_url(&settings.url)?;
        let mut options = MqttOptions::new(&settings.client_id, host, port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(false);
        // QoS 1 messages are acknowledged only once their invocations are queued durably.
        options.set_manual_acks(true);
        options.set_max_packet_size(settings.max_payload + 1024, settings.max_payload + 1024);
        if let (Some(u), Some(p)) = (&settings.username, &settings.password) {
            options.set_credentials(u, p);
        }
        if tls {
            options.set_transport(transport(&settings.tls)?);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let subscribed: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let active: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel(4096);
        let (url, subs, resubscribe) = (settings.url.clone(), active.clone(), client.clone());
        let acks = client.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            let mut connected = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        failures = 0;
                        connected = true;
                        tracing::info!(url = %url, session_present = ack.session_present, "connected to the remote MQTT broker");
                        let filters: Vec<String> = subs.lock().clone();
                        for f in filters {
                            let _ = resubscribe.subscribe(f, QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let message = MqttMessage {
                            topic: p.topic.clone(),
                            payload: p.payload.clone(),
                        };
                        let ack = (p.qos != QoS::AtMostOnce).then(|| PendingAck {
                            client: acks.clone(),
                            publish: p,
                        });
                        if tx.send(Delivery { message, ack }).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failures += 1;
                        let wait = Duration::from_millis((250u64 << failures.min(7)).min(30_000));
                        let what = if connected {
                            "MQTT connection lost"
                        } else {
                            "cannot connect to the MQTT broker"
                        };
                        connected = false;
                        let e = e.to_string();
                        tracing::warn!(url = %url, "{what}: {e}{}; retrying in {wait:?}", hint(&e));
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });
        Ok((
            Self {
                url: settings.url.clone(),
                client,
                subscribed,
                active,
            },
            rx,
        ))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Subscribes the connection to `filter`, unless a broader filter already covers it (a
    /// broker sends one copy per matching subscription).
    pub fn subscribe(&self, filter: &str) -> Result<(), MqttError> {
        let mut subs = self.subscribed.lock();
        *subs.entry(filter.to_owned()).or_insert(0) += 1;
        self.resubscribe(&subs)
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<(), MqttError> {
        let mut subs = self.subscribed.lock();
        if let Some(n) = subs.get_mut(filter) {
            *n -= 1;
            if *n == 0 {
                subs.remove(filter);
            }
        }
        self.resubscribe(&subs)
    }

    /// Brings the broker's subscriptions to the minimal cover of what is wanted.
    fn resubscribe(&self, subs: &HashMap<String, usize>) -> Result<(), MqttError> {
        let mut wanted: Vec<String> = subs.keys().cloned().collect();
        wanted.sort();
        let wanted = super::minimal(&wanted);
        let mut active = self.active.lock();
        for f in wanted.iter().filter(|f| !active.contains(*f)) {
            self.client
                .try_subscribe(f, QoS::AtLeastOnce)
                .map_err(|e| MqttError::Closed(e.to_string()))?;
        }
        for f in active.iter().filter(|f| !wanted.contains(*f)) {
            self.client
                .try_unsubscribe(f)
                .map_err(|e| MqttError::Closed(e.to_string()))?;
        }
        *active = wanted;
        Ok(())
    }

    pub fn publish(&self, topic: &str, payload: Bytes, qos: Qos) -> Result<(), MqttError> {
        let qos = match qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        self.client
            .try_publish(topic, qos, false, payload)
            .map_err(|e| MqttError::Closed(format!("cannot queue a publish to {topic}: {e}")))
    }
}

/// What to do about a connection error, for the log.
fn hint(error: &str) -> &'static str {
    if error.contains("CertificateRequired") || error.contains("HandshakeFailure") {
        " (the broker wants a client certificate: pass --mqtt-cert and --mqtt-key)"
    } else if error.contains("UnknownIssuer") {
        " (the broker's certificate is not signed by a CA lambdalet trusts: pass --mqtt-ca FILE)"
    } else if error.contains("NotValidForName") {
        " (the broker's certificate is for another host name: use that name in --mqtt-remote)"
    } else if error.contains("BadUserNamePassword") || error.contains("NotAuthorized") {
        " (check --mqtt-username and --mqtt-password, or the certificate's policy)"
    } else if error.contains("Connection refused") {
        " (is the broker running at that address?)"
    } else {
        ""
    }
}

/// The acknowledgement owed to the remote broker for a QoS 1 message.
pub struct PendingAck {
    client: AsyncClient,
    publish: Publish,
}

impl std::fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAck")
            .field("topic", &self.publish.topic)
            .field("pkid", &self.publish.pkid)
            .finish()
    }
}

impl PendingAck {
    /// Sends the PUBACK: the broker may forget the message.
    pub async fn send(self) {
        if let Err(e) = self.client.ack(&self.publish).await {
            tracing::warn!(topic = %self.publish.topic, "cannot acknowledge an MQTT message (the broker will send it again): {e}");
        }
    }

    pub fn topic(&self) -> &str {
        &self.publish.topic
    }
}

fn parse_url(url: &str) -> Result<(bool, String, u16), MqttError> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        return Err(MqttError::Config(format!(
            "--mqtt-remote {url:?} must start with mqtt:// or mqtts://, e.g. mqtts://example-ats.iot.us-east-1.amazonaws.com:8883"
        )));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => {
            let port = p.parse().map_err(|_| {
                MqttError::Config(format!("--mqtt-remote {url:?}: {p:?} is not a port"))
            })?;
            (h.to_owned(), port)
        }
        None => (rest.to_owned(), if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(MqttError::Config(format!(
            "--mqtt-remote {url:?} names no host"
        )));
    }
    Ok((tls, host, port))
}

fn transport(tls: &RemoteTls) -> Result<Transport, MqttError> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| MqttError::Config(format!("cannot read {}: {e}", p.display())))
    };
    let ca = match &tls.ca {
        Some(p) => read(p)?,
        None => std::fs::read("/etc/ssl/certs/ca-certificates.crt").map_err(|e| {
            MqttError::Config(format!("no --mqtt-ca given and the host's CA bundle cannot be read ({e}): pass --mqtt-ca FILE"))
        })?,
    };
    let client_auth = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        (None, None) => None,
        _ => {
            return Err(MqttError::Config(
                "--mqtt-cert and --mqtt-key go together".to_owned(),
            ));
        }
    };
    Ok(Transport::tls(ca, client_auth, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("mqtts://a.example:8883").expect("valid"),
            (true, "a.example".to_owned(), 8883)
        );
        assert_eq!(
            parse_url("mqtt://localhost").expect("valid"),
            (false, "localhost".to_owned(), 1883)
        );
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("mqtt://:1883").is_err());
    }
}
