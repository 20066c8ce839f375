//! The embedded broker's authentication (keys as username and password, TLS, client
//! certificates), with a real MQTT client (rumqttc) against a real broker on a free port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lambdalet_events::mqtt::{
    BrokerTls, EmbeddedBroker, EmbeddedSettings, Incoming, MqttAuthenticator,
};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
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
        tls: None,
        max_connections: 64,
        segment_bytes: 64 * 1024,
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
    let stats = broker.stats();
    assert_eq!(stats.refused_credentials.load(Ordering::Relaxed), 1);
    assert_eq!(stats.admitted.load(Ordering::Relaxed), 0);
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
    assert_eq!(broker.stats().admitted.load(Ordering::Relaxed), 1);
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
async fn a_connect_as_large_as_the_message_limit_gets_through() {
    let mut s = settings(Some(one_key()));
    s.max_payload = 1024;
    let (broker, _incoming) = EmbeddedBroker::start(&s).expect("broker starts");
    // CONNECT's body: 10 bytes of header, the client id (5), the will topic (8) and message
    // (2 + 935), the username (22) and password (42): 1024 bytes, the limit. The front door's
    // login, which replaces the client's, is 3 bytes longer.
    let mut o = options(broker.addr(), "big", Some((KEY_ID, SECRET)));
    o.set_last_will(rumqttc::LastWill::new(
        "t/will",
        vec![b'w'; 935],
        QoS::AtMostOnce,
        false,
    ));
    connect(o).await.expect("let in");
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
    assert_eq!(broker.stats().refused_protocol.load(Ordering::Relaxed), 1);
}

/// Waits (5 s at most) until `counter` reaches `n`: the broker counts a failed TLS handshake
/// after the client has seen it fail.
async fn eventually(counter: &AtomicU64, n: u64) {
    for _ in 0..100 {
        if counter.load(Ordering::Relaxed) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the counter is {}, not {n}",
        counter.load(Ordering::Relaxed)
    );
}

/// PEM files: a CA, a server certificate for 127.0.0.1 and a client certificate it signed,
/// and a client certificate signed by another CA.
struct Certificates {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    client: (rcgen::Certificate, rcgen::KeyPair),
    stranger: (rcgen::Certificate, rcgen::KeyPair),
}

impl Certificates {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_for = |name: &str| {
            let mut p = CertificateParams::new(Vec::new()).expect("params");
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().expect("key");
            let cert = p.self_signed(&key).expect("CA");
            (cert, Issuer::new(p, key))
        };
        let leaf = |names: Vec<String>, issuer: &Issuer<'static, KeyPair>| {
            let key = KeyPair::generate().expect("key");
            let p = CertificateParams::new(names).expect("params");
            (p.signed_by(&key, issuer).expect("sign"), key)
        };
        let (ca, issuer) = ca_for("lambdalet test CA");
        let (_, other) = ca_for("another CA");
        let server = leaf(vec!["127.0.0.1".to_owned()], &issuer);
        let client = leaf(vec!["device-1".to_owned()], &issuer);
        let stranger = leaf(vec!["device-2".to_owned()], &other);
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem);
        write("ca.crt", ca.pem()).expect("write");
        write("server.crt", server.0.pem()).expect("write");
        write("server.key", server.1.serialize_pem()).expect("write");
        Self {
            dir,
            ca,
            client,
            stranger,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn broker_tls(&self, client_ca: bool) -> BrokerTls {
        BrokerTls {
            cert: self.path("server.crt"),
            key: self.path("server.key"),
            client_ca: client_ca.then(|| self.path("ca.crt")),
        }
    }

    /// A client's TLS: trusting the test CA, presenting `cert` if given.
    fn transport(&self, cert: Option<&(rcgen::Certificate, rcgen::KeyPair)>) -> Transport {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).expect("CA");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match cert {
            None => builder.with_no_client_auth(),
            Some((c, k)) => {
                let key =
                    rustls::pki_types::PrivateKeyDer::try_from(k.serialize_der()).expect("key");
                builder
                    .with_client_auth_cert(vec![c.der().clone()], key)
                    .expect("client certificate")
            }
        };
        Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(config)))
    }
}

fn start_tls(auth: Option<MqttAuthenticator>, tls: BrokerTls) -> (EmbeddedBroker, Incoming) {
    let mut s = settings(auth);
    s.tls = Some(tls);
    let (broker, incoming) = EmbeddedBroker::start(&s).expect("broker starts");
    assert!(broker.url().starts_with("mqtts://"), "{}", broker.url());
    (broker, incoming)
}

fn over(transport: Transport, mut options: MqttOptions) -> MqttOptions {
    options.set_transport(transport);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_a_client_ca_encrypts_and_keys_still_apply() {
    let certs = Certificates::new();
    let (broker, _incoming) = start_tls(Some(one_key()), certs.broker_tls(false));
    let addr = broker.addr();
    refused_with(
        connect(over(certs.transport(None), options(addr, "anon", None))).await,
        ConnectReturnCode::NotAuthorized,
    );
    let login = Some((KEY_ID, SECRET));
    let (client, mut events) = connect(over(certs.transport(None), options(addr, "d", login)))
        .await
        .expect("the key's owner is let in over TLS");
    assert_eq!(round_trip(&client, &mut events, "tls").await, "tls");
    // Plain MQTT on the TLS port gets nowhere.
    assert!(connect(options(addr, "plain", login)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_signed_by_the_client_ca_is_a_login() {
    let certs = Certificates::new();
    let (broker, _incoming) = start_tls(Some(one_key()), certs.broker_tls(true));
    let addr = broker.addr();
    let transport = certs.transport(Some(&certs.client));
    let (client, mut events) = connect(over(transport, options(addr, "device-1", None)))
        .await
        .expect("a client with a certificate the CA signed is let in without a password");
    assert_eq!(round_trip(&client, &mut events, "cert").await, "cert");
    // No certificate, even with a valid key: refused in the TLS handshake.
    let login = Some((KEY_ID, SECRET));
    let r = connect(over(certs.transport(None), options(addr, "nocert", login))).await;
    assert!(r.is_err(), "a client without a certificate is refused");
    // A certificate another CA signed: refused.
    let transport = certs.transport(Some(&certs.stranger));
    let r = connect(over(transport, options(addr, "device-2", None))).await;
    assert!(r.is_err(), "a certificate of another CA is refused");
    eventually(&broker.stats().refused_credentials, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_files_are_refused_at_start_naming_the_flag() {
    let certs = Certificates::new();
    let error = |tls: BrokerTls| {
        let mut s = settings(None);
        s.tls = Some(tls);
        match EmbeddedBroker::start(&s) {
            Ok(_) => panic!("started with {:?}", s.tls),
            Err(e) => e.to_string(),
        }
    };
    let mut tls = certs.broker_tls(true);
    tls.cert = certs.path("missing.crt");
    let e = error(tls);
    assert!(
        e.contains("--mqtt-tls-cert") && e.contains("missing.crt"),
        "{e}"
    );
    let mut tls = certs.broker_tls(false);
    tls.key = certs.path("ca.crt");
    let e = error(tls);
    assert!(e.contains("--mqtt-tls-key"), "{e}");
    // A key, but not the certificate's.
    std::fs::write(certs.path("other.key"), certs.client.1.serialize_pem()).expect("write");
    let mut tls = certs.broker_tls(false);
    tls.key = certs.path("other.key");
    let e = error(tls);
    assert!(e.contains("not the key of the certificate"), "{e}");
    let mut tls = certs.broker_tls(true);
    tls.client_ca = Some(certs.path("server.key"));
    let e = error(tls);
    assert!(e.contains("--mqtt-client-ca"), "{e}");
}
