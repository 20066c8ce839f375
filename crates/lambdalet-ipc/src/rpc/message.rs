//! [`RpcMessage`]: a frame with its RPC headers pulled out and checked.

use bytes::Bytes;

use super::{
    CONTENT_TYPE_HEADER, MESSAGE_FLAGS_HEADER, MESSAGE_TYPE_HEADER, MessageType, OPERATION_HEADER,
    RpcError, SERVICE_MODEL_TYPE_HEADER, STREAM_ID_HEADER, TERMINATE_STREAM,
};
use crate::frame::{Header, HeaderValue, Message};

/// A typed view of one RPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcMessage {
    /// `:message-type`.
    pub message_type: MessageType,
    /// `:message-flags`: [`super::CONNECTION_ACCEPTED`], [`super::TERMINATE_STREAM`].
    pub flags: i32,
    /// `:stream-id`: 0 for connection-level messages, above 0 for a stream.
    pub stream_id: i32,
    /// `operation`, on the first message of a stream, e.g. `aws.greengrass#PublishToTopic`.
    pub operation: Option<String>,
    /// `:content-type`, e.g. `application/json`.
    pub content_type: Option<String>,
    /// `service-model-type`, the Smithy shape id of the payload.
    pub service_model_type: Option<String>,
    /// Every other header, in wire order (for example `:version` on CONNECT).
    pub other_headers: Vec<Header>,
    /// The payload.
    pub payload: Bytes,
}

impl RpcMessage {
    /// A message with the three required headers set and nothing else.
    pub fn new(message_type: MessageType, flags: i32, stream_id: i32) -> Self {
        Self {
            message_type,
            flags,
            stream_id,
            operation: None,
            content_type: None,
            service_model_type: None,
            other_headers: Vec::new(),
            payload: Bytes::new(),
        }
    }

    /// Pull the RPC headers out of `message` and check them.
    ///
    /// Names are matched ASCII case-insensitively, as aws-c-event-stream does. The three
    /// `int32` headers are required; `operation`, `:content-type` and `service-model-type` must
    /// be strings when present; none may repeat. The stream id must be 0 for connection-level
    /// types and above 0 for application messages and errors.
    pub fn from_message(message: Message) -> Result<Self, RpcError> {
        let mut message_type = None;
        let mut flags = None;
        let mut stream_id = None;
        let mut operation = None;
        let mut content_type = None;
        let mut service_model_type = None;
        let mut other_headers = Vec::new();
        for header in message.headers {
            let name = header.name.as_str();
            if name.eq_ignore_ascii_case(MESSAGE_TYPE_HEADER) {
                set_int32(&mut message_type, MESSAGE_TYPE_HEADER, header.value)?;
            } else if name.eq_ignore_ascii_case(MESSAGE_FLAGS_HEADER) {
                set_int32(&mut flags, MESSAGE_FLAGS_HEADER, header.value)?;
            } else if name.eq_ignore_ascii_case(STREAM_ID_HEADER) {
                set_int32(&mut stream_id, STREAM_ID_HEADER, header.value)?;
            } else if name.eq_ignore_ascii_case(OPERATION_HEADER) {
                set_string(&mut operation, OPERATION_HEADER, header.value)?;
            } else if name.eq_ignore_ascii_case(CONTENT_TYPE_HEADER) {
                set_string(&mut content_type, CONTENT_TYPE_HEADER, header.value)?;
            } else if name.eq_ignore_ascii_case(SERVICE_MODEL_TYPE_HEADER) {
                set_string(
                    &mut service_model_type,
                    SERVICE_MODEL_TYPE_HEADER,
                    header.value,
                )?;
            } else {
                other_headers.push(header);
            }
        }

        let type_value = required(message_type, MESSAGE_TYPE_HEADER)?;
        let message_type = MessageType::from_i32(type_value)
            .ok_or(RpcError::UnknownMessageType { value: type_value })?;
        let flags = required(flags, MESSAGE_FLAGS_HEADER)?;
        let stream_id = required(stream_id, STREAM_ID_HEADER)?;
        if stream_id < 0 {
            return Err(RpcError::NegativeStreamId { stream_id });
        }
        match (message_type.is_stream_message(), stream_id) {
            (true, 0) => return Err(RpcError::StreamMessageOnStreamZero { message_type }),
            (false, id) if id != 0 => {
                return Err(RpcError::ConnectionMessageOnStream {
                    message_type,
                    stream_id,
                });
            }
            _ => {}
        }

        Ok(Self {
            message_type,
            flags,
            stream_id,
            operation,
            content_type,
            service_model_type,
            other_headers,
            payload: message.payload,
        })
    }

    /// The frame-level message: the RPC headers first, then `other_headers`, then the payload.
    pub fn into_message(self) -> Message {
        let mut headers = Vec::with_capacity(6 + self.other_headers.len());
        headers.push(Header::int32(
            MESSAGE_TYPE_HEADER,
            self.message_type.as_i32(),
        ));
        headers.push(Header::int32(MESSAGE_FLAGS_HEADER, self.flags));
        headers.push(Header::int32(STREAM_ID_HEADER, self.stream_id));
        let optional = [
            (OPERATION_HEADER, self.operation),
            (CONTENT_TYPE_HEADER, self.content_type),
            (SERVICE_MODEL_TYPE_HEADER, self.service_model_type),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                headers.push(Header::string(name, value));
            }
        }
        headers.extend(self.other_headers);
        Message {
            headers,
            payload: self.payload,
        }
    }

    /// Whether the sender will send nothing more on this stream.
    pub fn is_terminate_stream(&self) -> bool {
        self.flags & TERMINATE_STREAM != 0
    }

    /// The first of `other_headers` named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.other_headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }
}

impl TryFrom<Message> for RpcMessage {
    type Error = RpcError;

    fn try_from(message: Message) -> Result<Self, RpcError> {
        Self::from_message(message)
    }
}

impl From<RpcMessage> for Message {
    fn from(message: RpcMessage) -> Self {
        message.into_message()
    }
}

fn required(value: Option<i32>, name: &'static str) -> Result<i32, RpcError> {
    value.ok_or(RpcError::MissingHeader { name })
}

fn set_int32(
    slot: &mut Option<i32>,
    name: &'static str,
    value: HeaderValue,
) -> Result<(), RpcError> {
    let HeaderValue::Int32(v) = value else {
        return Err(mistyped(name, "int32", &value));
    };
    if slot.replace(v).is_some() {
        return Err(RpcError::DuplicateHeader { name });
    }
    Ok(())
}

fn set_string(
    slot: &mut Option<String>,
    name: &'static str,
    value: HeaderValue,
) -> Result<(), RpcError> {
    let HeaderValue::String(s) = value else {
        return Err(mistyped(name, "string", &value));
    };
    if slot.replace(s).is_some() {
        return Err(RpcError::DuplicateHeader { name });
    }
    Ok(())
}

fn mistyped(name: &'static str, expected: &'static str, found: &HeaderValue) -> RpcError {
    RpcError::MistypedHeader {
        name,
        expected,
        found: found.type_name(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{decode, encode};

    fn headers(type_: i32, flags: i32, stream: i32) -> Vec<Header> {
        vec![
            Header::int32(":message-type", type_),
            Header::int32(":message-flags", flags),
            Header::int32(":stream-id", stream),
        ]
    }

    fn parse(headers: Vec<Header>) -> Result<RpcMessage, RpcError> {
        RpcMessage::from_message(Message::new(headers, Bytes::new()))
    }

    #[test]
    fn parses_a_client_request() {
        let mut h = headers(0, 0, 1);
        h.push(Header::string("operation", "aws.greengrass#PublishToTopic"));
        h.push(Header::string(":content-type", "application/json"));
        h.push(Header::string(
            "service-model-type",
            "aws.greengrass#PublishToTopicRequest",
        ));
        h.push(Header::string("x-extra", "kept"));
        let msg = RpcMessage::from_message(Message::new(h, &b"{}"[..])).unwrap();
        assert_eq!(msg.message_type, MessageType::ApplicationMessage);
        assert_eq!((msg.flags, msg.stream_id), (0, 1));
        assert_eq!(
            msg.operation.as_deref(),
            Some("aws.greengrass#PublishToTopic")
        );
        assert_eq!(msg.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            msg.service_model_type.as_deref(),
            Some("aws.greengrass#PublishToTopicRequest")
        );
        assert_eq!(
            msg.header("X-EXTRA").and_then(HeaderValue::as_str),
            Some("kept")
        );
        assert_eq!(msg.other_headers.len(), 1);
        assert_eq!(&msg.payload[..], b"{}");
        assert!(!msg.is_terminate_stream());
    }

    #[test]
    fn names_match_case_insensitively() {
        let msg = parse(vec![
            Header::int32(":MESSAGE-TYPE", 2),
            Header::int32(":Message-Flags", 0),
            Header::int32(":Stream-ID", 0),
        ])
        .unwrap();
        assert_eq!(msg.message_type, MessageType::Ping);
    }

    #[test]
    fn each_required_header_is_required() {
        for missing in [":message-type", ":message-flags", ":stream-id"] {
            let h = headers(4, 0, 0)
                .into_iter()
                .filter(|h| h.name != missing)
                .collect();
            assert_eq!(
                parse(h),
                Err(RpcError::MissingHeader { name: missing }),
                "{missing}"
            );
        }
    }

    #[test]
    fn mistyped_headers_are_named() {
        let mut h = headers(4, 0, 0);
        h[2] = Header::new(":stream-id", HeaderValue::Int64(0));
        assert_eq!(
            parse(h).unwrap_err().to_string(),
            "rpc header :stream-id must be int32 but is int64"
        );
        let mut h = headers(0, 0, 1);
        h.push(Header::int32("operation", 5));
        assert_eq!(
            parse(h),
            Err(RpcError::MistypedHeader {
                name: "operation",
                expected: "string",
                found: "int32"
            })
        );
        let mut h = headers(0, 0, 1);
        h.push(Header::new(
            "service-model-type",
            HeaderValue::ByteBuf(Bytes::from_static(b"x")),
        ));
        assert!(matches!(
            parse(h),
            Err(RpcError::MistypedHeader {
                found: "byte_buf",
                ..
            })
        ));
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut h = headers(0, 0, 1);
        h.push(Header::int32(":Stream-Id", 2));
        assert_eq!(
            parse(h),
            Err(RpcError::DuplicateHeader { name: ":stream-id" })
        );
    }

    #[test]
    fn unknown_type_and_bad_stream_ids() {
        assert_eq!(
            parse(headers(8, 0, 0)),
            Err(RpcError::UnknownMessageType { value: 8 })
        );
        assert_eq!(
            parse(headers(0, 0, -1)),
            Err(RpcError::NegativeStreamId { stream_id: -1 })
        );
        assert_eq!(
            parse(headers(1, 0, 0)),
            Err(RpcError::StreamMessageOnStreamZero {
                message_type: MessageType::ApplicationError
            })
        );
        let err = parse(headers(4, 0, 3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rpc CONNECT came on stream 3, but only APPLICATION_MESSAGE and APPLICATION_ERROR may use a non-zero :stream-id"
        );
    }

    fn rpc_message() -> impl Strategy<Value = RpcMessage> {
        (
            prop::sample::select(MessageType::ALL.to_vec()),
            any::<i32>(),
            1..=i32::MAX,
            prop::option::of("[a-zA-Z#.]{1,40}"),
            prop::option::of("[a-z/]{1,20}"),
            prop::option::of("[a-zA-Z#.]{1,40}"),
            prop::collection::vec(("x-[a-z]{1,10}", ".{0,20}"), 0..3),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, flags, id, op, ct, smt, extra, payload)| RpcMessage {
                message_type: t,
                flags,
                stream_id: if t.is_stream_message() { id } else { 0 },
                operation: op,
                content_type: ct,
                service_model_type: smt,
                other_headers: extra
                    .into_iter()
                    .map(|(n, v)| Header::string(n, v))
                    .collect(),
                payload: payload.into(),
            })
    }

    proptest! {
        #[test]
        fn rpc_messages_round_trip_through_frames(msg in rpc_message()) {
            let bytes = encode(&msg.clone().into_message()).unwrap();
            let back = RpcMessage::try_from(decode(&bytes).unwrap()).unwrap();
            prop_assert_eq!(back, msg);
        }
    }
}
