//! The client's CONNECT handshake: protocol version and auth token.
//!
//! This only reads the message. Resolving the token to a component, and answering with
//! [`super::connect_ack`], is the server's job.

use serde_json::Value;

use super::{MessageType, PROTOCOL_VERSION, RpcError, RpcMessage, VERSION_HEADER};

/// A checked CONNECT: version `0.1.0` and a non-empty auth token.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The `authToken` from the payload: the component's `SVCUID`.
    pub auth_token: String,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential; keep it out of logs.
        f.debug_struct("ConnectRequest")
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

impl ConnectRequest {
    /// Check that `message` is a CONNECT with `:version` `0.1.0` and a JSON object payload with a
    /// non-empty string `authToken`.
    pub fn from_rpc(message: &RpcMessage) -> Result<Self, RpcError> {
        if message.message_type != MessageType::Connect {
            return Err(RpcError::NotConnect {
                found: message.message_type,
            });
        }
        let version = message
            .header(VERSION_HEADER)
            .ok_or(RpcError::MissingHeader {
                name: VERSION_HEADER,
            })?;
        let version = version.as_str().ok_or(RpcError::MistypedHeader {
            name: VERSION_HEADER,
            expected: "string",
            found: version.type_name(),
        })?;
        if version != PROTOCOL_VERSION {
            return Err(RpcError::UnsupportedVersion {
                found: version.chars().take(64).collect(),
            });
        }

        let payload: Value = serde_json::from_slice(&message.payload).map_err(|e| {
            RpcError::ConnectPayloadNotJson {
                reason: e.to_string(),
            }
        })?;
        let Value::Object(fields) = payload else {
            return Err(RpcError::ConnectPayloadNotJson {
                reason: format!("found {}", json_kind(&payload)),
            });
        };
        match fields.get("authToken") {
            Some(Value::String(token)) if !token.is_empty() => Ok(Self {
                auth_token: token.clone(),
            }),
            _ => Err(RpcError::MissingAuthToken),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::frame::{Header, HeaderValue};

    fn connect(version: Option<HeaderValue>, payload: &'static [u8]) -> RpcMessage {
        let mut msg = RpcMessage::new(MessageType::Connect, 0, 0);
        if let Some(v) = version {
            msg.other_headers.push(Header::new(":version", v));
        }
        msg.payload = Bytes::from_static(payload);
        msg
    }

    fn v(s: &str) -> Option<HeaderValue> {
        Some(HeaderValue::String(s.to_owned()))
    }

    #[test]
    fn accepts_what_the_python_sdk_sends() {
        // MessageAmendment.create_static_authtoken_amender: '{"authToken": "%s"}'.
        let req =
            ConnectRequest::from_rpc(&connect(v("0.1.0"), br#"{"authToken": "abc123"}"#)).unwrap();
        assert_eq!(req.auth_token, "abc123");
        assert_eq!(
            format!("{req:?}"),
            r#"ConnectRequest { auth_token: "<redacted>" }"#
        );
    }

    #[test]
    fn ignores_extra_payload_fields() {
        let req = ConnectRequest::from_rpc(&connect(
            v("0.1.0"),
            br#"{"authToken":"t","componentName":"x"}"#,
        ))
        .unwrap();
        assert_eq!(req.auth_token, "t");
    }

    #[test]
    fn version_is_required_checked_and_typed() {
        let body = br#"{"authToken":"t"}"#;
        assert_eq!(
            ConnectRequest::from_rpc(&connect(None, body)),
            Err(RpcError::MissingHeader { name: ":version" })
        );
        assert_eq!(
            ConnectRequest::from_rpc(&connect(v("0.2.0"), body)),
            Err(RpcError::UnsupportedVersion {
                found: "0.2.0".into()
            })
        );
        assert!(matches!(
            ConnectRequest::from_rpc(&connect(Some(HeaderValue::Int32(1)), body)),
            Err(RpcError::MistypedHeader { found: "int32", .. })
        ));
    }

    #[test]
    fn payload_must_hold_a_token() {
        for (payload, want_missing) in [
            (&b""[..], false),
            (&b"not json"[..], false),
            (&b"[]"[..], false),
            (&b"{}"[..], true),
            (&br#"{"authToken":""}"#[..], true),
            (&br#"{"authToken":5}"#[..], true),
        ] {
            let mut msg = connect(v("0.1.0"), b"");
            msg.payload = Bytes::copy_from_slice(payload);
            let err = ConnectRequest::from_rpc(&msg).unwrap_err();
            if want_missing {
                assert_eq!(err, RpcError::MissingAuthToken);
            } else {
                assert!(
                    matches!(err, RpcError::ConnectPayloadNotJson { .. }),
                    "{err}"
                );
            }
        }
        let err = ConnectRequest::from_rpc(&{
            let mut m = connect(v("0.1.0"), b"");
            m.payload = Bytes::from_static(b"[1]");
            m
        })
        .unwrap_err();
        assert!(err.to_string().contains("found an array"), "{err}");
    }

    #[test]
    fn only_connect_messages() {
        let ping = RpcMessage::new(MessageType::Ping, 0, 0);
        assert_eq!(
            ConnectRequest::from_rpc(&ping),
            Err(RpcError::NotConnect {
                found: MessageType::Ping
            })
        );
    }
}
