//! lambdalet's access keys, and the sealing of their secrets for storage.
//!
//! SigV4 needs the plain secret to verify, so the store keeps each secret sealed with
//! a master key (ChaCha20-Poly1305) kept apart from the database. This module makes
//! keys and seals; it must not store or log anything, and reads nothing but the OS
//! random source.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::AuthError;

/// The prefix of lambdalet's access key ids (AWS's long-term keys start with `AKIA`).
pub const ACCESS_KEY_PREFIX: &str = "LKIA";
/// RFC 4648 base32's alphabet, the characters of AWS key ids after the prefix.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const NONCE_LEN: usize = 12;

/// Fills `buf` from the OS random source.
fn random(buf: &mut [u8]) {
    // getrandom(2) blocks until the pool is seeded and does not fail afterwards; a
    // system without a random source cannot make keys at all.
    getrandom::getrandom(buf).expect("the OS random source (getrandom(2)) answers");
}

/// A new access key: the id (`LKIA` and 16 base32 characters, 20 in all like AWS's
/// `AKIA…`) and the secret (40 URL-safe base64 characters, 240 random bits).
pub fn new_access_key() -> (String, String) {
    let mut id_bytes = [0u8; 16];
    random(&mut id_bytes);
    let mut id = String::with_capacity(20);
    id.push_str(ACCESS_KEY_PREFIX);
    // 256 is a multiple of 32, so `% 32` has no bias.
    id.extend(
        id_bytes
            .iter()
            .map(|b| char::from(BASE32[usize::from(b % 32)])),
    );
    let mut secret_bytes = [0u8; 30];
    random(&mut secret_bytes);
    (id, URL_SAFE_NO_PAD.encode(secret_bytes))
}

/// The session token that goes with a key's secret (a function gets it as
/// `AWS_SESSION_TOKEN`, as Lambda gives its role's temporary credentials one): an HMAC of
/// the secret, so it needs no storage and proves nothing the secret does not.
pub fn session_token(secret: &str) -> String {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"lambdalet session token");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The proof in a web console session cookie: an HMAC, under the key's secret, of the key id
/// and the session's expiry (seconds since the epoch). It needs no storage, ends at its
/// expiry, and ends with the key (a deleted key's secret is gone).
pub fn console_session_mac(secret: &str, access_key_id: &str, expires: u64) -> String {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("lambdalet console session|{access_key_id}|{expires}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The token of a function's S3 event webhook (`/lambdalet/v1/functions/NAME/s3-events?token=`),
/// for S3-compatible servers that cannot sign requests: an HMAC of the function's secret, so
/// it lives as long as the function and needs no storage.
pub fn webhook_token(secret: &str) -> String {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"lambdalet s3 event webhook");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The key that seals stored secrets. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        random(&mut bytes);
        Self(bytes)
    }

    /// The key from its 32 bytes (as stored by [`MasterKey::to_bytes`]).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's 32 bytes, to store (readable by the daemon's user only).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `plaintext`: base64 of a random 96-bit nonce followed by the ciphertext
    /// and its 16-byte tag. Sealing the same text twice gives different strings.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// Opens what [`MasterKey::seal`] made with this key; refuses anything altered.
    pub fn open(&self, sealed: &str) -> Result<String, AuthError> {
        let bytes = STANDARD
            .decode(sealed.trim())
            .map_err(|_| AuthError::Sealed {
                reason: "not base64",
            })?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(AuthError::Sealed {
                reason: "too short",
            });
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| AuthError::Sealed {
                reason: "authentication failed",
            })?;
        String::from_utf8(plain).map_err(|_| AuthError::Sealed {
            reason: "not UTF-8",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_aws_shape_and_differ() {
        let (id, secret) = new_access_key();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("LKIA"));
        assert!(id[4..].bytes().all(|b| BASE32.contains(&b)), "{id}");
        assert_eq!(secret.len(), 40);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{secret}"
        );
        let (id2, secret2) = new_access_key();
        assert_ne!(id, id2);
        assert_ne!(secret, secret2);
    }

    #[test]
    fn seal_round_trips_and_differs_each_time() {
        let key = MasterKey::generate();
        let a = key.seal("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let b = key.seal("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_ne!(a, b);
        assert!(!a.contains("wJalr"));
        assert_eq!(
            key.open(&a).as_deref(),
            Ok("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        );
        assert_eq!(key.open(&key.seal("")).as_deref(), Ok(""));
        let again = MasterKey::from_bytes(key.to_bytes());
        assert_eq!(
            again.open(&b).as_deref(),
            Ok("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        );
    }

    #[test]
    fn refuses_tampering_and_other_keys() {
        let key = MasterKey::generate();
        let sealed = key.seal("secret");
        let mut bytes = STANDARD.decode(&sealed).expect("base64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let e = key.open(&STANDARD.encode(&bytes));
            assert_eq!(
                e,
                Err(AuthError::Sealed {
                    reason: "authentication failed"
                }),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(MasterKey::generate().open(&sealed).is_err());
        assert_eq!(
            key.open("%%%"),
            Err(AuthError::Sealed {
                reason: "not base64"
            })
        );
        assert_eq!(
            key.open(&STANDARD.encode([0u8; 27])),
            Err(AuthError::Sealed {
                reason: "too short"
            })
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", MasterKey::from_bytes([7; 32])),
            "MasterKey(..)"
        );
    }
}
