//! TLS for the embedded broker's listener (`--mqtt-tls-cert`, `--mqtt-tls-key`), and client
//! certificates signed by the operator's CA (`--mqtt-client-ca`) as a way to log in. The
//! front door ends TLS; the broker behind it speaks plain MQTT on loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::MqttError;

/// TLS for the embedded broker.
#[derive(Debug, Clone)]
pub struct BrokerTls {
    /// The broker's certificate, then any intermediate certificates (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// A CA certificate (PEM). When given, every client must present a certificate this CA
    /// signed, and such a client needs no username and password. Without it, TLS only
    /// encrypts and clients log in as they would without TLS.
    pub client_ca: Option<PathBuf>,
}

impl BrokerTls {
    /// Reads and checks the files; the error names the flag and file at fault.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, MqttError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates(&self.cert, "--mqtt-tls-cert")?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            fail(
                "--mqtt-tls-key",
                &self.key,
                format!("no private key read ({e}); give the certificate's key in PEM"),
            )
        })?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| MqttError::Config(format!("TLS for the MQTT broker: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(path, "--mqtt-client-ca")? {
                    roots.add(cert).map_err(|e| {
                        fail(
                            "--mqtt-client-ca",
                            path,
                            format!("not a usable CA certificate: {e}"),
                        )
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| fail("--mqtt-client-ca", path, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            let reason = match e {
                rustls::Error::InconsistentKeys(_) => format!(
                    "not the key of the certificate in --mqtt-tls-cert {}",
                    self.cert.display()
                ),
                e => e.to_string(),
            };
            fail("--mqtt-tls-key", &self.key, reason)
        })?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The certificates in a PEM file (at least one).
fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    std::fs::metadata(path).map_err(|e| fail(flag, path, format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(flag, path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            flag,
            path,
            "holds no certificate (expected -----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(certs)
}

fn fail(flag: &str, path: &Path, reason: String) -> MqttError {
    MqttError::Config(format!("{flag} {}: {reason}", path.display()))
}

/// A readable account of a failed TLS handshake, and whether it failed on the client's
/// certificate (its credentials).
pub(crate) fn handshake_failure(e: &std::io::Error) -> (bool, String) {
    match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::NoCertificatesPresented) => (
            true,
            "it presented no client certificate (--mqtt-client-ca requires one that CA signed)"
                .to_owned(),
        ),
        Some(rustls::Error::InvalidCertificate(c)) => (
            true,
            format!(
                "its client certificate was refused ({c}); it must be signed by the --mqtt-client-ca CA"
            ),
        ),
        Some(rustls::Error::InvalidMessage(m)) => (
            false,
            format!("the TLS handshake failed ({m:?}); is it speaking plain MQTT to the TLS port?"),
        ),
        _ => (false, format!("the TLS handshake failed: {e}")),
    }
}
