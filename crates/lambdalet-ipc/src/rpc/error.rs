//! Why a frame is not a valid RPC message, or a CONNECT is not acceptable.
//!
//! A server answers these with [`super::protocol_error`] (whose payload can be this error's
//! message) and closes the connection. Messages never include the auth token.

use super::MessageType;

/// A frame that breaks the event-stream RPC rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// A required header is absent.
    #[error(
        "rpc message has no {name} header; every message needs :message-type, :message-flags and :stream-id (int32)"
    )]
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },

    /// A known header has the wrong value type.
    #[error("rpc header {name} must be {expected} but is {found}")]
    MistypedHeader {
        /// The header's name.
        name: &'static str,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },

    /// A known header appears more than once.
    #[error("rpc header {name} appears more than once; send it once")]
    DuplicateHeader {
        /// The header's name.
        name: &'static str,
    },

    /// `:message-type` is not one of the eight types.
    #[error("rpc :message-type {value} is not a known message type (0 to 7)")]
    UnknownMessageType {
        /// The value found.
        value: i32,
    },

    /// `:stream-id` is negative.
    #[error("rpc :stream-id {stream_id} is negative; stream ids run from 0 to 2147483647")]
    NegativeStreamId {
        /// The value found.
        stream_id: i32,
    },

    /// A connection-level message type on a non-zero stream.
    #[error(
        "rpc {message_type} came on stream {stream_id}, but only APPLICATION_MESSAGE and APPLICATION_ERROR may use a non-zero :stream-id"
    )]
    ConnectionMessageOnStream {
        /// The message's type.
        message_type: MessageType,
        /// The stream it came on.
        stream_id: i32,
    },

    /// An application message on stream 0.
    #[error("rpc {message_type} came on stream 0; application messages need a :stream-id above 0")]
    StreamMessageOnStreamZero {
        /// The message's type.
        message_type: MessageType,
    },

    /// A message other than CONNECT where a CONNECT was expected.
    #[error("expected a CONNECT message to open the connection, got {found}")]
    NotConnect {
        /// The type received.
        found: MessageType,
    },

    /// CONNECT names a protocol version other than 0.1.0.
    #[error("rpc :version {found:?} is not supported; this server speaks 0.1.0")]
    UnsupportedVersion {
        /// The version sent (at most 64 characters of it).
        found: String,
    },

    /// The CONNECT payload is not a JSON object.
    #[error(
        "CONNECT payload is not a JSON object ({reason}); send {{\"authToken\": \"<SVCUID>\"}}"
    )]
    ConnectPayloadNotJson {
        /// What the JSON parser said, or what was found instead of an object.
        reason: String,
    },

    /// The CONNECT payload has no non-empty string `authToken`.
    #[error(
        "CONNECT payload has no authToken string; pass the SVCUID environment variable as authToken"
    )]
    MissingAuthToken,
}
