//! The embedded broker's front door: every MQTT client connects here, not to rumqttd, which
//! listens on a private loopback port. The front door reads each client's CONNECT, decides
//! whether the client may come in ([`super::auth`]), answers a refusal with its CONNACK, and
//! otherwise logs the client in to rumqttd with the front door's own login (rumqttd takes no
//! other, so its private port is no way around the check) and hands the connection to the
//! relay ([`super::throttle`]), which carries it at the client's byte rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::MqttClientStats;
use super::RateLimit;
use super::auth::{self, Admitted, MqttAuthenticator, RefusalLog};
use super::connect::{self, ConnectError};

/// How long a new client has to finish the TLS handshake, and then to send its CONNECT.
const CONNECT_TIME: Duration = Duration::from_secs(20);

/// What the front door does with each client.
pub(crate) struct Front {
    /// rumqttd's private address.
    pub broker: SocketAddr,
    /// The login rumqttd takes (username, password), known only to the front door.
    pub login: (String, String),
    /// The check of a client's username and password (None: anonymous clients are let in).
    pub auth: Option<MqttAuthenticator>,
    /// TLS, and whether it requires a client certificate (which then stands for a login).
    pub tls: Option<(TlsAcceptor, bool)>,
    pub limit: Option<RateLimit>,
    /// Largest packet a client may send (`--max-message-size`).
    pub max_packet: usize,
    pub stats: Arc<MqttClientStats>,
}

/// Accepts clients on `listener` and connects those it lets in to the broker.
pub(crate) async fn serve(listener: TcpListener, front: Front) {
    broker_listening(front.broker).await;
    let front = Arc::new(front);
    let refusals = Arc::new(RefusalLog::new());
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
        let (front, refusals) = (front.clone(), refusals.clone());
        tokio::spawn(async move {
            tracing::debug!(client = %peer, "MQTT client connected");
            match &front.tls {
                None => admit(&front, &refusals, client, peer, false).await,
                Some((acceptor, certified)) => {
                    match tokio::time::timeout(CONNECT_TIME, acceptor.accept(client)).await {
                        Ok(Ok(tls)) => admit(&front, &refusals, tls, peer, *certified).await,
                        Ok(Err(e)) => {
                            let (credentials, why) = super::tls::handshake_failure(&e);
                            let counter = if credentials {
                                &front.stats.refused_credentials
                            } else {
                                &front.stats.refused_protocol
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                            refusals.refused(peer, None, &why);
                        }
                        Err(_) => tracing::debug!(
                            client = %peer,
                            "MQTT client did not finish the TLS handshake within {CONNECT_TIME:?}"
                        ),
                    }
                }
            }
            tracing::debug!(client = %peer, "MQTT client gone");
        });
    }
}

/// Reads the client's CONNECT, decides, and relays the connection if the client is let in.
/// `certified`: the client presented a certificate the operator's CA signed.
async fn admit<C>(
    front: &Front,
    refusals: &RefusalLog,
    mut client: C,
    peer: SocketAddr,
    certified: bool,
) where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let read = tokio::time::timeout(CONNECT_TIME, connect::read(&mut client, front.max_packet));
    let (connect, early) = match read.await {
        Ok(Ok(c)) => c,
        Ok(Err(ConnectError::Closed)) => return,
        Ok(Err(e)) => {
            front.stats.refused_protocol.fetch_add(1, Ordering::Relaxed);
            if let Some(code) = e.connack_code() {
                let _ = client.write_all(&connect::connack(code)).await;
            }
            refusals.refused(peer, None, &e.to_string());
            let _ = client.shutdown().await;
            return;
        }
        Err(_) => {
            tracing::debug!(client = %peer, "MQTT client sent no CONNECT within {CONNECT_TIME:?}");
            return;
        }
    };
    match auth::decide(front.auth.as_ref(), &connect, certified).await {
        Ok(Admitted::Anonymous) => {}
        Ok(Admitted::Certificate) => {
            tracing::debug!(client = %peer, "MQTT client logged in with its certificate");
        }
        Ok(Admitted::Login(username)) => {
            tracing::debug!(client = %peer, username = ?username, "MQTT client logged in");
        }
        Err(refusal) => {
            front
                .stats
                .refused_credentials
                .fetch_add(1, Ordering::Relaxed);
            let _ = client.write_all(&connect::connack(refusal.code)).await;
            let _ = client.shutdown().await;
            let why = format!("{} (CONNACK return code {})", refusal.reason, refusal.code);
            refusals.refused(peer, Some(&connect), &why);
            return;
        }
    }
    front.stats.admitted.fetch_add(1, Ordering::Relaxed);
    let packet = connect.with_login(&front.login.0, &front.login.1);
    let mut upstream = match TcpStream::connect(front.broker).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot reach the embedded MQTT broker: {e}");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    if upstream.write_all(&packet).await.is_err() {
        return;
    }
    super::throttle::relay(client, upstream, peer, front.limit, front.max_packet, early).await;
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
