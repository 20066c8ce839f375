//! The embedded broker: rumqttd, listening for MQTT 3.1.1 clients, with lambdalet itself
//! connected through an in-process link. Clients connect to lambdalet's front door
//! ([`front`]), which checks who they are ([`auth`], [`tls`]) and relays them at their byte
//! rate ([`throttle`]) to rumqttd on a private loopback port.
//!
//! Only in builds with the cargo feature `broker` (a default one): without it lambdalet talks
//! to a remote broker or none.

mod auth;
mod connect;
mod front;
mod nodelay;
mod throttle;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Broker, Config, ConnectionSettings, Notification, RouterConfig, ServerSettings};
use tokio::sync::mpsc;

pub use auth::MqttAuthenticator;
pub use throttle::RateLimit;
pub use tls::BrokerTls;

use super::{Delivery, Incoming, MqttClientStats, MqttError, MqttMessage};

/// How the embedded broker is set up.
#[derive(Clone)]
pub struct EmbeddedSettings {
    pub listen: SocketAddr,
    /// Largest payload a client may publish.
    pub max_payload: usize,
    /// What each client may send, in bytes per second (None: unlimited).
    pub client_rate: Option<RateLimit>,
    /// The check of each client's username and password. None: anonymous clients are let in.
    /// Some: a client without a username and password is refused with CONNACK return code 5
    /// (not authorized), one the check refuses with 4 (bad user name or password).
    pub auth: Option<MqttAuthenticator>,
    /// MQTT over TLS (None: plain MQTT), optionally with client certificates.
    pub tls: Option<BrokerTls>,
    /// Clients served at once, and bytes of messages kept per subscribed filter in each of
    /// the broker's two log segments: scaled down on small devices.
    pub max_connections: usize,
    pub segment_bytes: usize,
}

impl std::fmt::Debug for EmbeddedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSettings")
            .field("listen", &self.listen)
            .field("max_payload", &self.max_payload)
            .field("client_rate", &self.client_rate)
            .field("auth", &self.auth.as_ref().map(|_| "<authenticator>"))
            .field("tls", &self.tls)
            .field("max_connections", &self.max_connections)
            .field("segment_bytes", &self.segment_bytes)
            .finish()
    }
}

/// A running embedded broker and lambdalet's link into it.
pub struct EmbeddedBroker {
    addr: SocketAddr,
    /// `mqtt://ADDR` or `mqtts://ADDR`.
    url: String,
    stats: Arc<MqttClientStats>,
    tx: Mutex<LinkTx>,
    subscribed: Mutex<HashMap<String, usize>>,
}

impl EmbeddedBroker {
    /// Starts the broker (its own threads) and connects lambdalet to it.
    pub fn start(settings: &EmbeddedSettings) -> Result<(Self, Incoming), MqttError> {
        let addr = settings.listen;
        let fail = |reason: String| MqttError::Start {
            addr: addr.to_string(),
            reason,
        };
        let tls = settings.tls.as_ref().map(BrokerTls::acceptor).transpose()?;
        let client_certs = settings.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        // Clients connect to lambdalet's front door (which checks who they are and enforces the
        // per-client rate), and it connects them to rumqttd on a private loopback port.
        let front = std::net::TcpListener::bind(addr).map_err(|e| {
            fail(format!(
                "{e} (is another MQTT broker running? use --mqtt-listen to pick another address, or --mqtt-listen off)"
            ))
        })?;
        let addr = front.local_addr().map_err(|e| fail(e.to_string()))?;
        front
            .set_nonblocking(true)
            .map_err(|e| fail(e.to_string()))?;
        let front = tokio::net::TcpListener::from_std(front).map_err(|e| fail(e.to_string()))?;
        let internal = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| fail(format!("no loopback port for the broker: {e}")))?;
        // rumqttd takes one login, the front door's, made afresh at each start: a local
        // process that finds its port cannot get around the front door's checks.
        let login =
            front_login().map_err(|e| fail(format!("no random login for the broker: {e}")))?;
        let mut broker = Broker::new(config(settings, internal, &login));
        let (mut link_tx, link_rx) = broker.link("lambdalet").map_err(|e| fail(e.to_string()))?;
        link_tx.subscribe("#").map_err(|e| fail(e.to_string()))?;
        std::thread::Builder::new()
            .name("lambdalet-mqtt-broker".to_owned())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!("the embedded MQTT broker stopped: {e}");
                }
            })
            .map_err(|e| fail(e.to_string()))?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("lambdalet-mqtt-link".to_owned())
            .spawn(move || pump(link_rx, tx))
            .map_err(|e| fail(e.to_string()))?;
        let stats = Arc::new(MqttClientStats::default());
        tokio::spawn(front::serve(
            front,
            front::Front {
                broker: internal,
                login,
                auth: settings.auth.clone(),
                tls: tls.map(|t| (t, client_certs)),
                limit: settings.client_rate,
                max_packet: settings.max_payload,
                stats: stats.clone(),
            },
        ));
        let scheme = if settings.tls.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        let url = format!("{scheme}://{addr}");
        let who = if client_certs {
            "clients present a certificate signed by the --mqtt-client-ca CA"
        } else if settings.auth.is_some() {
            "clients log in with a username and password"
        } else {
            "anonymous clients allowed"
        };
        tracing::info!("MQTT broker listening on {url} ({who})");
        Ok((
            Self {
                addr,
                url,
                stats,
                tx: Mutex::new(link_tx),
                subscribed: Mutex::new(HashMap::new()),
            },
            rx,
        ))
    }

    /// The address clients connect to (with the port chosen, if port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters of the clients that connected and were refused.
    pub fn stats(&self) -> &MqttClientStats {
        &self.stats
    }

    /// `mqtt://ADDR`, or `mqtts://ADDR` with TLS.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Lambdalet's link takes every message once (it is subscribed to `#`, and the router
    /// filters): overlapping filters must not deliver a message twice. Only `$`-topics, which
    /// `#` does not match, need their own subscription.
    pub fn subscribe(&self, filter: &str) -> Result<(), MqttError> {
        if !filter.starts_with('$') {
            return Ok(());
        }
        let mut subs = self.subscribed.lock();
        let n = subs.entry(filter.to_owned()).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.tx
                .lock()
                .subscribe(filter)
                .map_err(|e| MqttError::Closed(e.to_string()))?;
        }
        Ok(())
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<(), MqttError> {
        let mut subs = self.subscribed.lock();
        if let Some(n) = subs.get_mut(filter) {
            *n -= 1;
            if *n == 0 {
                subs.remove(filter);
                self.tx
                    .lock()
                    .unsubscribe(filter)
                    .map_err(|e| MqttError::Closed(e.to_string()))?;
            }
        }
        Ok(())
    }

    pub fn publish(&self, topic: &str, payload: Bytes) -> Result<(), MqttError> {
        self.tx
            .lock()
            .publish(topic.to_owned(), payload)
            .map(|_| ())
            .map_err(|e| MqttError::Closed(e.to_string()))
    }
}

/// Forwards what the broker routes to lambdalet's link into the incoming channel.
fn pump(mut link_rx: LinkRx, tx: mpsc::Sender<Delivery>) {
    loop {
        match link_rx.recv() {
            Ok(Some(Notification::Forward(f))) => {
                let Ok(topic) = String::from_utf8(f.publish.topic.to_vec()) else {
                    continue;
                };
                // The in-process link is QoS 0: nothing to acknowledge.
                let msg = Delivery {
                    message: MqttMessage {
                        topic,
                        payload: f.publish.payload,
                    },
                    ack: None,
                };
                if tx.blocking_send(msg).is_err() {
                    return;
                }
            }
            // The router parks a link whose buffer filled up; having taken the batch, ask to
            // be scheduled again.
            Ok(Some(Notification::Unschedule)) => {
                if link_rx.ready().is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("lambdalet's link to the embedded MQTT broker closed: {e}");
                return;
            }
        }
    }
}

/// The front door's login at rumqttd: a fixed username and 256 random bits.
fn front_login() -> Result<(String, String), getrandom::Error> {
    use base64::Engine;
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret)?;
    Ok((
        "lambdalet-front-door".to_owned(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
    ))
}

fn config(settings: &EmbeddedSettings, listen: SocketAddr, login: &(String, String)) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        // Room for the front door's login (67 bytes) in place of a client's, so that a CONNECT
        // as large as a client may send gets through. PUBLISH packets over the limit never
        // reach the broker (the relay stops them).
        max_payload_size: settings.max_payload + 256,
        max_inflight_count: 100,
        auth: Some(HashMap::from([login.clone()])),
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "lambdalet-v4".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: settings.max_connections,
            max_outgoing_packet_count: 200,
            // The broker keeps a log per subscribed filter, bounded by the bytes of topics and
            // payloads it holds; a small message costs about 270 bytes of memory, ten times
            // what it counts, so 4 x 1 MB came to 50-60 MB per filter. 2 x 256 KB (plus the
            // active segment; a server's default, 64 KB below 1 GB of memory) keeps the last
            // 17 000-26 000 small messages per filter: a
            // subscriber that falls further behind loses the oldest (lambdalet's own link
            // drains it at once).
            max_segment_size: settings.segment_bytes,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rumqttd's private port takes the front door's login and nothing else, so a local
    /// process that finds it cannot get around the front door.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_private_port_takes_only_the_front_doors_login() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let settings = EmbeddedSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            max_payload: 1024,
            client_rate: None,
            auth: None,
            tls: None,
            max_connections: 1024,
            segment_bytes: 256 * 1024,
        };
        let login = front_login().expect("random");
        let mut broker = Broker::new(config(&settings, port, &login));
        std::thread::spawn(move || {
            let _ = broker.start();
        });
        let try_login = |login: Option<(String, String)>| async move {
            let mut o = rumqttc::MqttOptions::new("c", "127.0.0.1", port.port());
            if let Some((u, p)) = login {
                o.set_credentials(u, p);
            }
            let (_client, mut events) = rumqttc::AsyncClient::new(o, 4);
            for _ in 0..100 {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a))) => {
                        return a.code == rumqttc::ConnectReturnCode::Success;
                    }
                    Ok(_) => {}
                    // Not listening yet: retry; refused: the broker closed the connection.
                    Err(rumqttc::ConnectionError::Io(e))
                        if e.kind() == std::io::ErrorKind::ConnectionRefused =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(_) => return false,
                }
            }
            panic!("the broker never listened");
        };
        assert!(!try_login(None).await, "anonymous");
        assert!(
            !try_login(Some((login.0.clone(), "guess".to_owned()))).await,
            "a wrong password"
        );
        assert!(try_login(Some(login)).await, "the front door's login");
    }
}
