//! The AWS event-stream binary frame (`application/vnd.amazon.eventstream`).
//!
//! A frame is self-delimiting and checksummed twice:
//!
//! ```text
//! | total_len u32 BE | headers_len u32 BE | prelude_crc u32 BE | headers | payload | message_crc u32 BE |
//! ```
//!
//! `prelude_crc` is the CRC32 (IEEE, as zlib) of the first 8 bytes; `message_crc` is the CRC32
//! of every byte before it. A header is `name_len u8 | name (UTF-8) | type u8 | value`, with the
//! ten value types of [`HeaderValue`].
//!
//! This module only turns bytes into [`Message`]s and back. It knows nothing about the RPC
//! meaning of headers (that is [`crate::rpc`]) and does no I/O: [`Decoder`] consumes a
//! `BytesMut` the caller fills from its socket.
//!
//! Limits, and where they come from (awslabs/aws-c-event-stream, the C library inside every
//! Greengrass IPC client through aws-crt; `include/aws/event-stream/event_stream.h`,
//! `source/event_stream.c` `aws_event_stream_read_headers_from_buffer`):
//! - a whole message is at most 24 MiB (`AWS_EVENT_STREAM_MAX_MESSAGE_SIZE`), and at least the
//!   16 bytes of prelude and trailer;
//! - a header name is at most 127 bytes (`AWS_EVENT_STREAM_HEADER_NAME_LEN_MAX = INT8_MAX`). The
//!   wire's `u8` length would allow 255, and other SDKs (Ruby) accept 255, but the C decoder
//!   rejects longer names, so lambdalet neither sends nor accepts them: a frame this module
//!   accepts is exactly one an aws-crt client accepts;
//! - a `byte_buf` or `string` value is at most 32767 bytes (`INT16_MAX`);
//! - at most [`MAX_HEADERS`] headers: lambdalet's own bound, so a frame of two-byte headers cannot
//!   make the decoder allocate far more memory than the frame's size.

mod decode;
mod encode;
mod error;
mod headers;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod vectors;

use bytes::Bytes;

pub use decode::{Decoder, decode};
pub use encode::{encode, encode_into, encoded_len};
pub use error::FrameError;

/// Prelude length: total length, headers length, prelude CRC (`AWS_EVENT_STREAM_PRELUDE_LENGTH`).
pub const PRELUDE_LEN: usize = 12;
/// Trailer length: the message CRC (`AWS_EVENT_STREAM_TRAILER_LENGTH`).
pub const TRAILER_LEN: usize = 4;
/// Bytes of every frame that are neither headers nor payload.
pub const OVERHEAD: usize = PRELUDE_LEN + TRAILER_LEN;
/// Largest frame the protocol allows (`AWS_EVENT_STREAM_MAX_MESSAGE_SIZE`, 24 MiB).
pub const MAX_MESSAGE_SIZE: usize = 24 * 1024 * 1024;
/// Longest header name in bytes (`AWS_EVENT_STREAM_HEADER_NAME_LEN_MAX`).
pub const MAX_HEADER_NAME_LEN: usize = 127;
/// Longest `byte_buf` or `string` header value in bytes (`INT16_MAX`).
pub const MAX_HEADER_VALUE_LEN: usize = 32767;
/// Most headers lambdalet accepts or sends in one frame.
pub const MAX_HEADERS: usize = 1024;

/// One event-stream message: ordered headers and an opaque payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Headers in wire order. Names may repeat; the frame layer does not interpret them.
    pub headers: Vec<Header>,
    /// The payload bytes (for Greengrass IPC, usually JSON).
    pub payload: Bytes,
}

impl Message {
    /// A message with these headers and payload.
    pub fn new(headers: Vec<Header>, payload: impl Into<Bytes>) -> Self {
        Self {
            headers,
            payload: payload.into(),
        }
    }

    /// The first header named `name`, compared ASCII case-insensitively as aws-c-event-stream
    /// compares RPC header names.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }
}

/// One named header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name, at most [`MAX_HEADER_NAME_LEN`] bytes of UTF-8.
    pub name: String,
    /// Typed value.
    pub value: HeaderValue,
}

impl Header {
    /// A header from a name and a value.
    pub fn new(name: impl Into<String>, value: HeaderValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }

    /// A `string` header.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, HeaderValue::String(value.into()))
    }

    /// An `int32` header.
    pub fn int32(name: impl Into<String>, value: i32) -> Self {
        Self::new(name, HeaderValue::Int32(value))
    }
}

/// A header value; the variant order is the wire type code (0 to 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Type 0, no value bytes.
    BoolTrue,
    /// Type 1, no value bytes.
    BoolFalse,
    /// Type 2, one byte.
    Byte(i8),
    /// Type 3, two bytes big-endian.
    Int16(i16),
    /// Type 4, four bytes big-endian.
    Int32(i32),
    /// Type 5, eight bytes big-endian.
    Int64(i64),
    /// Type 6, `u16` big-endian length then that many bytes.
    ByteBuf(Bytes),
    /// Type 7, `u16` big-endian length then that many bytes of UTF-8.
    String(String),
    /// Type 8, milliseconds since the Unix epoch, eight bytes big-endian.
    Timestamp(i64),
    /// Type 9, sixteen bytes.
    Uuid([u8; 16]),
}

impl HeaderValue {
    /// The wire type code.
    pub fn type_code(&self) -> u8 {
        match self {
            Self::BoolTrue => 0,
            Self::BoolFalse => 1,
            Self::Byte(_) => 2,
            Self::Int16(_) => 3,
            Self::Int32(_) => 4,
            Self::Int64(_) => 5,
            Self::ByteBuf(_) => 6,
            Self::String(_) => 7,
            Self::Timestamp(_) => 8,
            Self::Uuid(_) => 9,
        }
    }

    /// The type's name as the event-stream specification spells it, for error messages.
    pub fn type_name(&self) -> &'static str {
        type_name(self.type_code())
    }

    /// A `bool` header's value, whichever of the two type codes carries it.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::BoolTrue => Some(true),
            Self::BoolFalse => Some(false),
            _ => None,
        }
    }

    /// An `int32` header's value.
    pub fn as_int32(&self) -> Option<i32> {
        match self {
            Self::Int32(v) => Some(*v),
            _ => None,
        }
    }

    /// A `string` header's value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Bytes this value takes on the wire after the type byte.
    pub(crate) fn wire_len(&self) -> usize {
        match self {
            Self::BoolTrue | Self::BoolFalse => 0,
            Self::Byte(_) => 1,
            Self::Int16(_) => 2,
            Self::Int32(_) => 4,
            Self::Int64(_) | Self::Timestamp(_) => 8,
            Self::ByteBuf(b) => 2 + b.len(),
            Self::String(s) => 2 + s.len(),
            Self::Uuid(_) => 16,
        }
    }
}

/// The specification's name for a type code; `"unknown"` past 9.
pub fn type_name(code: u8) -> &'static str {
    match code {
        0 => "bool_true",
        1 => "bool_false",
        2 => "byte",
        3 => "int16",
        4 => "int32",
        5 => "int64",
        6 => "byte_buf",
        7 => "string",
        8 => "timestamp",
        9 => "uuid",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_follow_variant_order() {
        let values = [
            HeaderValue::BoolTrue,
            HeaderValue::BoolFalse,
            HeaderValue::Byte(0),
            HeaderValue::Int16(0),
            HeaderValue::Int32(0),
            HeaderValue::Int64(0),
            HeaderValue::ByteBuf(Bytes::new()),
            HeaderValue::String(String::new()),
            HeaderValue::Timestamp(0),
            HeaderValue::Uuid([0; 16]),
        ];
        for (code, value) in values.iter().enumerate() {
            assert_eq!(usize::from(value.type_code()), code);
            assert_ne!(value.type_name(), "unknown");
        }
        assert_eq!(type_name(10), "unknown");
    }

    #[test]
    fn header_lookup_ignores_ascii_case() {
        let msg = Message::new(vec![Header::int32(":Message-Type", 4)], Bytes::new());
        assert_eq!(
            msg.header(":message-type").and_then(HeaderValue::as_int32),
            Some(4)
        );
        assert!(msg.header(":stream-id").is_none());
    }

    #[test]
    fn accessors_reject_other_types() {
        assert_eq!(HeaderValue::BoolFalse.as_bool(), Some(false));
        assert_eq!(HeaderValue::Int64(1).as_int32(), None);
        assert_eq!(HeaderValue::Int32(1).as_str(), None);
        assert_eq!(HeaderValue::String("x".into()).as_bool(), None);
    }
}
