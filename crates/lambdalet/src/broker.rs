//! The embedded MQTT broker (`--mqtt-listen`): its settings from the command line, and who may
//! log in to it.
//!
//! Built with the cargo feature `broker` (a default one); `broker_absent.rs` stands in
//! without it.

use std::sync::Arc;

use anyhow::Context;
use lambdalet_control::Control;
use lambdalet_events::mqtt::{
    BrokerTls, EmbeddedBroker, EmbeddedSettings, Incoming, Mqtt, MqttAuthenticator, RateLimit,
};

use crate::cli::{MqttAuth, ServeArgs};
use crate::resources::Budget;

/// `--mqtt-listen`'s default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1883";

/// Starts the embedded broker on `--mqtt-listen`, or none with `off`.
pub fn start(
    args: &ServeArgs,
    budget: &Budget,
    control: &Arc<Control>,
) -> anyhow::Result<Option<(Mqtt, Incoming)>> {
    if args.mqtt_listen == "off" {
        tracing::info!("no MQTT broker (--mqtt-listen off): IOT_CORE topics are unavailable");
        return Ok(None);
    }
    let listen: std::net::SocketAddr = args.mqtt_listen.parse().with_context(|| {
        format!(
            "--mqtt-listen {:?} is not an address like 127.0.0.1:1883 (or off)",
            args.mqtt_listen
        )
    })?;
    let client_rate = (args.mqtt_client_rate > 0).then(|| RateLimit {
        bytes_per_sec: args.mqtt_client_rate,
        burst: args.mqtt_client_rate.max(args.max_message_size as u64 * 2),
    });
    let settings = EmbeddedSettings {
        listen,
        max_payload: args.max_message_size,
        client_rate,
        auth: match auth(args, listen) {
            MqttAuth::Keys => Some(authenticator(control)),
            MqttAuth::None => None,
        },
        tls: args.mqtt_tls_cert.as_ref().map(|cert| BrokerTls {
            cert: cert.clone(),
            key: args.mqtt_tls_key.clone().unwrap_or_default(),
            client_ca: args.mqtt_client_ca.clone(),
        }),
        max_connections: budget.broker_connections,
        segment_bytes: budget.broker_segment_bytes,
    };
    let (broker, incoming) = EmbeddedBroker::start(&settings)?;
    Ok(Some((Mqtt::Embedded(broker), incoming)))
}

/// The check of an MQTT client's username and password as a lambdalet access key (id and
/// secret), for the embedded broker with `--mqtt-auth keys`. Called on a blocking thread.
///
/// Administrators' keys only: the broker has no topic permissions, so a function's own key
/// would let it round its `accessControl` (functions publish and subscribe through the IPC
/// socket, which enforces it).
fn authenticator(control: &Arc<Control>) -> MqttAuthenticator {
    let control = control.clone();
    Arc::new(move |key_id: &str, secret: &str| {
        matches!(
            control.check_secret(key_id, secret),
            Some(lambdalet_core::Principal::Admin)
        )
    })
}

/// `--mqtt-auth`, or its default for the address: `keys` on a network address, `none` on
/// loopback. Warns about the choices that expose the broker or the keys on a network.
fn auth(args: &ServeArgs, listen: std::net::SocketAddr) -> MqttAuth {
    let network = !listen.ip().is_loopback();
    let auth = args.mqtt_auth.unwrap_or(if network {
        MqttAuth::Keys
    } else {
        MqttAuth::None
    });
    if network && auth == MqttAuth::None && args.mqtt_client_ca.is_none() {
        tracing::warn!(
            "the embedded MQTT broker takes anonymous clients on {listen} (--mqtt-auth none): anyone who reaches {listen} can publish and subscribe to any topic, and so invoke the functions subscribed to MQTT topics; use --mqtt-auth keys (the default on a network address) or --mqtt-client-ca"
        );
    }
    if network && auth == MqttAuth::Keys && args.mqtt_tls_cert.is_none() {
        tracing::warn!(
            "MQTT clients on {listen} send their secret access keys unencrypted: add --mqtt-tls-cert and --mqtt-tls-key to serve MQTT over TLS"
        );
    }
    auth
}
