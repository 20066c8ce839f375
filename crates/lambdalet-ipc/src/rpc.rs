//! The event-stream RPC layer that Greengrass IPC runs on top of frames.
//!
//! Every RPC message is a frame whose headers say what it is ([`RpcMessage`]): a message type,
//! flags and a stream id, all `int32`. Stream 0 carries connection-level messages (CONNECT,
//! PING, errors); a positive stream id is one operation ("continuation"), opened by a client
//! APPLICATION_MESSAGE carrying an `operation` header. This module parses and builds those
//! messages; it does not keep connection or stream state, authenticate, or route operations.
//!
//! What was confirmed, and where (read, not copied):
//! - Header names `:message-type`, `:message-flags`, `:stream-id`, `operation`:
//!   awslabs/aws-c-event-stream `source/event_stream_rpc.c`. Its
//!   `aws_event_stream_rpc_extract_message_metadata` requires the three `int32` headers, takes
//!   `operation` as a `string`, and compares names ASCII case-insensitively; so does
//!   [`RpcMessage::from_message`].
//! - Message types 0 to 7 and flags `CONNECTION_ACCEPTED = 1`, `TERMINATE_STREAM = 2`:
//!   aws-c-event-stream `include/aws/event-stream/event_stream_rpc.h`.
//! - Stream rules: a non-zero stream id only on APPLICATION_MESSAGE / APPLICATION_ERROR, at most
//!   `INT32_MAX`; stream 0 only for the other types:
//!   aws-c-event-stream `source/event_stream_rpc_server.c` `s_route_message_by_type`.
//! - Connection-level errors carry `:content-type: application/json` and a
//!   `{ "message": "..." }` payload: same file, `s_send_connection_level_error`, and
//!   `include/aws/event-stream/private/event_stream_rpc_priv.h`.
//! - `:version` = `"0.1.0"` (string) on CONNECT, `:content-type` = `application/json` and
//!   `service-model-type` = the Smithy shape id (e.g. `aws.greengrass#PublishToTopicRequest`)
//!   on every application message, CONNECT payload `{"authToken": "<SVCUID>"}`:
//!   aws/aws-iot-device-sdk-python-v2 `awsiot/eventstreamrpc.py` (`VERSION_HEADER`,
//!   `SERVICE_MODEL_TYPE_HEADER`, `create_static_authtoken_amender`, `ClientOperation._activate`).
//!   That client rejects a response without `service-model-type` or whose `:content-type` is
//!   not `application/json`, except an empty TERMINATE_STREAM message; and it maps an
//!   APPLICATION_ERROR to an exception by its `service-model-type`.
//! - The nucleus server answers with the same two headers (`OperationContinuationHandler`
//!   `sendMessage` / `sendModeledError`, modeled errors always with TERMINATE_STREAM) and reads
//!   `authToken` from the CONNECT payload (`GreengrassEventStreamConnectMessage`,
//!   `IPCEventStreamService.ipcAuthenticationHandler`): aws-greengrass/aws-greengrass-nucleus.
//!   aws-greengrass/aws-greengrass-lite's IPC server also requires `:version` to be the string
//!   `0.1.0`, stream id 0 and no flags on CONNECT, and a string `authToken`.
//! - Error shape ids such as `aws.greengrass#UnauthorizedError`, `#ServiceError`,
//!   `#InvalidArgumentsError`, `#ResourceNotFoundError`: the generated IPC clients
//!   (`awsiot/greengrasscoreipc/model.py`) and aws-greengrass-lite; their payload is
//!   `{"message": "..."}`.

mod connect;
mod error;
mod message;
mod reply;

pub use connect::ConnectRequest;
pub use error::RpcError;
pub use message::RpcMessage;
pub use reply::{
    application_error, application_message, connect_ack, internal_error, ping_response,
    protocol_error, terminate_stream,
};

/// Header carrying the [`MessageType`] (`int32`).
pub const MESSAGE_TYPE_HEADER: &str = ":message-type";
/// Header carrying the flags (`int32`).
pub const MESSAGE_FLAGS_HEADER: &str = ":message-flags";
/// Header carrying the stream id (`int32`).
pub const STREAM_ID_HEADER: &str = ":stream-id";
/// Header naming the operation on a stream's first message (`string`).
pub const OPERATION_HEADER: &str = "operation";
/// Header with the payload's media type (`string`).
pub const CONTENT_TYPE_HEADER: &str = ":content-type";
/// Header naming the Smithy shape of the payload (`string`).
pub const SERVICE_MODEL_TYPE_HEADER: &str = "service-model-type";
/// Header with the RPC protocol version on CONNECT (`string`).
pub const VERSION_HEADER: &str = ":version";
/// The only protocol version clients send.
pub const PROTOCOL_VERSION: &str = "0.1.0";
/// `:content-type` of JSON payloads.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// `:content-type` the nucleus uses for unmodeled plain-text errors.
pub const CONTENT_TYPE_TEXT: &str = "text/plain";

/// CONNECT_ACK flag: the connection was accepted.
pub const CONNECTION_ACCEPTED: i32 = 1;
/// Flag on a stream message: this is the stream's last message in that direction.
pub const TERMINATE_STREAM: i32 = 2;

/// What an RPC message is (`:message-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Data on a stream: a request, a response, or a stream event.
    ApplicationMessage = 0,
    /// A modeled error on a stream.
    ApplicationError = 1,
    /// Keep-alive probe, stream 0.
    Ping = 2,
    /// Answer to a ping, stream 0.
    PingResponse = 3,
    /// Client handshake, stream 0.
    Connect = 4,
    /// Server handshake answer, stream 0.
    ConnectAck = 5,
    /// The peer broke the protocol; the connection closes. Stream 0.
    ProtocolError = 6,
    /// The peer failed internally; the connection closes. Stream 0.
    InternalError = 7,
}

impl MessageType {
    /// Every type, in wire order.
    pub const ALL: [Self; 8] = [
        Self::ApplicationMessage,
        Self::ApplicationError,
        Self::Ping,
        Self::PingResponse,
        Self::Connect,
        Self::ConnectAck,
        Self::ProtocolError,
        Self::InternalError,
    ];

    /// The type for a wire value, if it is one of the eight.
    pub fn from_i32(value: i32) -> Option<Self> {
        usize::try_from(value)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// The wire value.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// Whether this type travels on a stream (id > 0) rather than on stream 0.
    pub fn is_stream_message(self) -> bool {
        matches!(self, Self::ApplicationMessage | Self::ApplicationError)
    }

    /// The name aws-c-event-stream logs for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ApplicationMessage => "APPLICATION_MESSAGE",
            Self::ApplicationError => "APPLICATION_ERROR",
            Self::Ping => "PING",
            Self::PingResponse => "PING_RESPONSE",
            Self::Connect => "CONNECT",
            Self::ConnectAck => "CONNECT_ACK",
            Self::ProtocolError => "PROTOCOL_ERROR",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_values_match_aws_c_event_stream() {
        for (i, t) in MessageType::ALL.iter().enumerate() {
            assert_eq!(t.as_i32(), i as i32);
            assert_eq!(MessageType::from_i32(i as i32), Some(*t));
        }
        assert_eq!(MessageType::from_i32(8), None);
        assert_eq!(MessageType::from_i32(-1), None);
        assert_eq!(MessageType::Connect.to_string(), "CONNECT");
        assert!(MessageType::ApplicationError.is_stream_message());
        assert!(!MessageType::Ping.is_stream_message());
    }
}
