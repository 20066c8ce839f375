//! A new client's CONNECT packet as the front door sees it: read before anything reaches the
//! broker, checked, and passed on to rumqttd with the client's login replaced by the front
//! door's own (so rumqttd, which only the front door can log in to, never sees a client's
//! secret).
//!
//! Only MQTT 3.1.1 (protocol level 4): the one version rumqttd's listener takes. This module
//! must not decide who may connect; [`super::auth`] does.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A CONNECT packet (MQTT 3.1.1).
#[derive(Debug)]
pub(crate) struct Connect {
    /// The variable header and payload as received.
    body: Vec<u8>,
    /// Where in `body` the username begins (or would begin).
    login_at: usize,
    /// The client identifier, for logs (invalid UTF-8 replaced).
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// Why a connection did not start with a usable CONNECT.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("it closed the connection before sending CONNECT")]
    Closed,
    #[error("its first packet is not CONNECT (packet type {0})")]
    NotConnect(u8),
    #[error("its CONNECT is {0} bytes, over the --max-message-size limit")]
    TooLarge(usize),
    #[error("its CONNECT is malformed ({0})")]
    Malformed(&'static str),
    /// Another protocol or version (MQTT 3.1 is `MQIsdp` level 3, MQTT 5 is level 5).
    #[error(
        "it speaks {name} protocol level {level}; the embedded broker takes MQTT 3.1.1 (level 4)"
    )]
    Version { name: String, level: u8 },
}

impl ConnectError {
    /// The CONNACK return code to answer with, if any (3.1.1: 1 is "unacceptable protocol
    /// version"); other failures just close the connection, as the specification asks.
    pub(crate) fn connack_code(&self) -> Option<u8> {
        matches!(self, Self::Version { .. }).then_some(1)
    }
}

/// The CONNACK packet with `code` (0 accepted, 1 bad version, 4 bad user name or password, 5
/// not authorized), no session present.
pub(crate) fn connack(code: u8) -> [u8; 4] {
    [0x20, 0x02, 0x00, code]
}

/// Reads what `client` sends next onto `buf`; the end of the stream is `Closed`.
async fn read_more<R: AsyncRead + Unpin>(
    client: &mut R,
    buf: &mut Vec<u8>,
    chunk: &mut [u8; 4096],
) -> Result<(), ConnectError> {
    let n = client.read(chunk).await.map_err(|_| ConnectError::Closed)?;
    if n == 0 {
        return Err(ConnectError::Closed);
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Reads the first packet from `client`, which must be a CONNECT of at most `max` bytes of
/// body. Returns it with whatever the client sent after it.
pub(crate) async fn read<R: AsyncRead + Unpin>(
    client: &mut R,
    max: usize,
) -> Result<(Connect, Vec<u8>), ConnectError> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    let (start, len) = loop {
        if let Some(header) = fixed_header(&buf)? {
            break header;
        }
        read_more(client, &mut buf, &mut chunk).await?;
    };
    if buf[0] != 0x10 {
        return Err(ConnectError::NotConnect(buf[0] >> 4));
    }
    if len > max {
        return Err(ConnectError::TooLarge(len));
    }
    while buf.len() < start + len {
        read_more(client, &mut buf, &mut chunk).await?;
    }
    let rest = buf.split_off(start + len);
    let body = buf.split_off(start);
    Ok((Connect::parse(body)?, rest))
}

/// The length of the fixed header and the remaining length, once `buf` holds them.
fn fixed_header(buf: &[u8]) -> Result<Option<(usize, usize)>, ConnectError> {
    let mut len = 0usize;
    for (i, b) in buf.iter().enumerate().skip(1).take(4) {
        len |= usize::from(b & 0x7f) << (7 * (i - 1));
        if b & 0x80 == 0 {
            return Ok(Some((i + 1, len)));
        }
    }
    if buf.len() >= 5 {
        return Err(ConnectError::Malformed("remaining length over 4 bytes"));
    }
    Ok(None)
}

impl Connect {
    fn parse(body: Vec<u8>) -> Result<Self, ConnectError> {
        let mut r = Reader { buf: &body, at: 0 };
        let name = r.bytes()?;
        let name = String::from_utf8_lossy(name).into_owned();
        let level = r.u8()?;
        if name != "MQTT" || level != 4 {
            return Err(ConnectError::Version { name, level });
        }
        let flags = r.u8()?;
        if flags & 0x01 != 0 {
            return Err(ConnectError::Malformed("reserved flag set"));
        }
        r.u16()?; // keep alive
        let client_id = String::from_utf8_lossy(r.bytes()?).into_owned();
        if flags & 0x04 != 0 {
            r.bytes()?; // will topic
            r.bytes()?; // will message
        }
        let login_at = r.at;
        let username = if flags & 0x80 != 0 {
            let u = std::str::from_utf8(r.bytes()?)
                .map_err(|_| ConnectError::Malformed("the username is not UTF-8"))?;
            Some(u.to_owned())
        } else {
            None
        };
        let password = if flags & 0x40 != 0 {
            if username.is_none() {
                return Err(ConnectError::Malformed("a password without a username"));
            }
            Some(r.bytes()?.to_vec())
        } else {
            None
        };
        if r.at != body.len() {
            return Err(ConnectError::Malformed("bytes after the payload"));
        }
        Ok(Self {
            body,
            login_at,
            client_id,
            username,
            password,
        })
    }

    /// The packet to send to the broker: this CONNECT with `username` and `password` instead
    /// of the client's login (if any).
    pub(crate) fn with_login(&self, username: &str, password: &str) -> Vec<u8> {
        let mut body = self.body[..self.login_at].to_vec();
        // The flags follow the protocol name ("MQTT": 2 + 4 bytes) and the level.
        body[7] = (body[7] & 0x3f) | 0xc0;
        for s in [username, password] {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s.as_bytes());
        }
        let mut packet = vec![0x10];
        let mut n = body.len();
        loop {
            let b = (n % 128) as u8;
            n /= 128;
            packet.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                break;
            }
        }
        packet.extend_from_slice(&body);
        packet
    }
}

/// Reads MQTT's big-endian integers and length-prefixed strings.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConnectError> {
        let s = self
            .buf
            .get(self.at..self.at + n)
            .ok_or(ConnectError::Malformed("shorter than its fields"))?;
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ConnectError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ConnectError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ConnectError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONNECT as a client would send it.
    fn packet(level: u8, will: bool, login: Option<(&str, Option<&str>)>) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 60];
        let s = |body: &mut Vec<u8>, s: &str| {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s.as_bytes());
        };
        s(&mut body, "sensor-1");
        if will {
            body[7] |= 0x04 | 0x08;
            s(&mut body, "will/topic");
            s(&mut body, "gone");
        }
        if let Some((u, p)) = login {
            body[7] |= 0x80;
            s(&mut body, u);
            if let Some(p) = p {
                body[7] |= 0x40;
                s(&mut body, p);
            }
        }
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        p
    }

    async fn read_all(data: &[u8]) -> Result<(Connect, Vec<u8>), ConnectError> {
        read(&mut &data[..], 1000).await
    }

    #[tokio::test]
    async fn the_login_is_read_and_replaced_and_what_follows_is_kept() {
        let mut stream = packet(4, true, Some(("LKIAEXAMPLE", Some("secret"))));
        let subscribe = [0x82, 0x06, 0, 1, 0, 1, b'#', 0];
        stream.extend_from_slice(&subscribe);
        let (c, rest) = read_all(&stream).await.expect("valid");
        assert_eq!(c.client_id, "sensor-1");
        assert_eq!(c.username.as_deref(), Some("LKIAEXAMPLE"));
        assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
        assert_eq!(rest, subscribe);
        // The rewritten packet is the client's, will included, with the other login.
        let rewritten = c.with_login("front", "token");
        let expected = packet(4, true, Some(("front", Some("token"))));
        assert_eq!(rewritten, expected);
        let (again, _) = read_all(&rewritten).await.expect("valid");
        assert_eq!(again.username.as_deref(), Some("front"));
    }

    #[tokio::test]
    async fn a_connect_without_login_gets_one() {
        let (c, rest) = read_all(&packet(4, false, None)).await.expect("valid");
        assert!(c.username.is_none() && c.password.is_none() && rest.is_empty());
        assert_eq!(
            c.with_login("front", "token"),
            packet(4, false, Some(("front", Some("token"))))
        );
        let (c, _) = read_all(&packet(4, false, Some(("user", None))))
            .await
            .expect("valid");
        assert_eq!(c.username.as_deref(), Some("user"));
        assert!(c.password.is_none());
    }

    #[tokio::test]
    async fn other_versions_and_packets_are_refused() {
        let e = read_all(&packet(5, false, None)).await.expect_err("MQTT 5");
        assert!(matches!(e, ConnectError::Version { level: 5, .. }), "{e}");
        assert_eq!(e.connack_code(), Some(1));
        let e = read_all(&[0x30, 0x03, 0, 1, b'a'])
            .await
            .expect_err("PUBLISH");
        assert!(matches!(e, ConnectError::NotConnect(3)), "{e}");
        assert_eq!(e.connack_code(), None);
        let e = read_all(&[0x10, 0xff, 0xff, 0x7f]).await.expect_err("size");
        assert!(matches!(e, ConnectError::TooLarge(_)), "{e}");
        let e = read_all(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01])
            .await
            .expect_err("length");
        assert!(matches!(e, ConnectError::Malformed(_)), "{e}");
        let e = read_all(&packet(4, false, None)[..8])
            .await
            .expect_err("short");
        assert!(matches!(e, ConnectError::Closed), "{e}");
    }

    #[tokio::test]
    async fn malformed_connects_are_refused_at_every_truncation() {
        let full = packet(4, true, Some(("u", Some("p"))));
        for cut in 3..full.len() - 1 {
            let mut p = full[..cut].to_vec();
            p[1] = (cut - 2) as u8;
            assert!(
                matches!(read_all(&p).await, Err(ConnectError::Malformed(_))),
                "cut {cut}"
            );
        }
        let mut no_user = packet(4, false, Some(("u", Some("p"))));
        no_user[9] &= !0x80;
        assert!(matches!(
            read_all(&no_user).await,
            Err(ConnectError::Malformed(_))
        ));
    }
}
