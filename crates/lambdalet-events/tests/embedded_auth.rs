//! The embedded broker's authentication, with a real MQTT client (rumqttc) against a real
//! broker on a free port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambdalet_events::mqtt::{EmbeddedBroker, EmbeddedSettings, Incoming, MqttAuthenticator};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY_ID: &str = "LKIAEXAMPLEKEY000001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn settings(auth: Option<MqttAuthenticator>) -> EmbeddedSettings {
    EmbeddedSettings {
        listen: "127.0.0.1:0".parse().expect("address"),
        max_payload: 128 * 1024,
        client_rate: None,
        auth,
    }
}

/// An authenticator that knows one key.
fn one_key() -> MqttAuthenticator {
    Arc::new(|id, secret| id == KEY_ID && secret == SECRET)
}

fn start(auth: Option<MqttAuthenticator>) -> (EmbeddedBroker, Incoming) {
    EmbeddedBroker::start(&settings(auth)).expect("broker starts")
}

fn options(addr: SocketAddr, id: &str, login: Option<(&str, &str)>) -> MqttOptions {
    let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    if let Some((u, p)) = login {
        o.set_credentials(u, p);
    }
    o
}

/// Connects and returns the client once the broker has answered CONNACK 0, or the error the
/// connection ended with.
async fn connect(options: MqttOptions) -> Result<(AsyncClient, EventLoop), ConnectionError> {
    let (client, mut events) = AsyncClient::new(options, 16);
    let first = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .expect("the broker answers within 10 s")?;
    match first {
        Event::Incoming(Packet::ConnAck(ack)) if ack.code == ConnectReturnCode::Success => {
            Ok((client, events))
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn refused_with(r: Result<(AsyncClient, EventLoop), ConnectionError>, code: ConnectReturnCode) {
    match r {
        Err(ConnectionError::ConnectionRefused(c)) => assert_eq!(c, code),
        Err(e) => panic!("expected CONNACK {code:?}, the connection ended with {e}"),
        Ok(_) => panic!("expected CONNACK {code:?}, the client was let in"),
    }
}

/// Subscribes to `t/#`, publishes on `t/1` and returns what came back to the same client.
async fn round_trip(client: &AsyncClient, events: &mut EventLoop, payload: &str) -> String {
    client
        .subscribe("t/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let mut published = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("the message comes back within 10 s")
            .expect("connection stays up");
        match event {
            Event::Incoming(Packet::SubAck(_)) if !published => {
                client
                    .publish("t/1", QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
                    .await
                    .expect("publish");
                published = true;
            }
            Event::Incoming(Packet::Publish(p)) => {
                return String::from_utf8_lossy(&p.payload).into_owned();
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authentication_anyone_connects() {
    let (broker, mut incoming) = start(None);
    let (client, mut events) = connect(options(broker.addr(), "anon", None))
        .await
        .expect("anonymous client let in");
    assert_eq!(round_trip(&client, &mut events, "hi").await, "hi");
    let got = tokio::time::timeout(Duration::from_secs(5), incoming.recv())
        .await
        .expect("lambdalet's link gets the message")
        .expect("open");
    assert_eq!(got.message.topic, "t/1");
    // A login is not checked when none is required.
    connect(options(broker.addr(), "any", Some(("someone", "anything"))))
        .await
        .expect("a client with any login let in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_are_refused_when_authentication_is_required() {
    let (broker, _incoming) = start(Some(one_key()));
    refused_with(
        connect(options(broker.addr(), "anon", None)).await,
        ConnectReturnCode::NotAuthorized,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_unknown_key_is_refused() {
    let (broker, _incoming) = start(Some(one_key()));
    refused_with(
        connect(options(broker.addr(), "c1", Some((KEY_ID, "wrong")))).await,
        ConnectReturnCode::BadUserNamePassword,
    );
    refused_with(
        connect(options(broker.addr(), "c2", Some(("LKIAUNKNOWN", SECRET)))).await,
        ConnectReturnCode::BadUserNamePassword,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_key_publishes_and_subscribes() {
    let (broker, mut incoming) = start(Some(one_key()));
    let (client, mut events) = connect(options(broker.addr(), "device", Some((KEY_ID, SECRET))))
        .await
        .expect("the key's owner is let in");
    assert_eq!(round_trip(&client, &mut events, "22.5").await, "22.5");
    let got = tokio::time::timeout(Duration::from_secs(5), incoming.recv())
        .await
        .expect("lambdalet's link gets the message")
        .expect("open");
    assert_eq!(got.message.payload, Bytes::from_static(b"22.5"));
    // And lambdalet's own publishes reach it.
    broker
        .publish("t/from-lambdalet", Bytes::from_static(b"x"))
        .expect("publish");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("lambdalet's message arrives")
            .expect("connection up");
        if let Event::Incoming(Packet::Publish(p)) = event
            && p.topic == "t/from-lambdalet"
        {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_5_client_gets_unacceptable_protocol_version() {
    let (broker, _incoming) = start(None);
    let mut s = tokio::net::TcpStream::connect(broker.addr())
        .await
        .expect("connect");
    // CONNECT, protocol level 5, clean start, keep alive 60, no properties, client id "v5".
    let connect = [
        0x10, 0x0f, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, 2, b'v', b'5',
    ];
    s.write_all(&connect).await.expect("write");
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut ack))
        .await
        .expect("answered")
        .expect("CONNACK");
    assert_eq!(ack, [0x20, 0x02, 0x00, 0x01]);
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("closed")
        .expect("read");
    assert_eq!(n, 0, "the connection is closed after the CONNACK");
}
