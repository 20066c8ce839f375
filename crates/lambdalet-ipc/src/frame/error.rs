//! Why a frame could not be decoded or encoded.
//!
//! Every decoding error means the byte stream can no longer be trusted to be aligned on frame
//! boundaries: the connection must be closed (after a best-effort protocol error reply).

/// A malformed or oversized event-stream frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The CRC32 of the first 8 bytes does not match the prelude CRC field.
    #[error(
        "event-stream prelude checksum mismatch: frame says {expected:#010x}, bytes give {actual:#010x}; the stream is corrupt or not event-stream, close the connection"
    )]
    PreludeChecksum {
        /// The value in the frame.
        expected: u32,
        /// The value computed from the bytes.
        actual: u32,
    },

    /// The CRC32 of the whole frame does not match the trailing message CRC.
    #[error(
        "event-stream message checksum mismatch: frame says {expected:#010x}, bytes give {actual:#010x}; the message was corrupted in transit, close the connection"
    )]
    MessageChecksum {
        /// The value in the frame.
        expected: u32,
        /// The value computed from the bytes.
        actual: u32,
    },

    /// The declared total length cannot even hold the prelude and trailer.
    #[error(
        "event-stream message declares a total length of {total_len} bytes, less than the 16-byte minimum of prelude and trailer"
    )]
    MessageTooShort {
        /// The declared total length.
        total_len: u32,
    },

    /// The declared (or, when encoding, the computed) total length is over the limit.
    #[error(
        "event-stream message of {total_len} bytes is larger than the {limit}-byte limit; send smaller messages"
    )]
    MessageTooLarge {
        /// The total length.
        total_len: u64,
        /// The limit in force.
        limit: usize,
    },

    /// The headers length does not fit between the prelude and the trailer.
    #[error(
        "event-stream message declares {headers_len} bytes of headers but only {available} bytes fit between prelude and trailer of a {total_len}-byte message"
    )]
    HeadersTooLong {
        /// The declared headers length.
        headers_len: u32,
        /// The declared total length.
        total_len: u32,
        /// `total_len - 16`.
        available: u32,
    },

    /// The headers section ends in the middle of a header.
    #[error(
        "event-stream header #{index} is cut off: it needs {needed} more bytes for its {part} but the headers section has {remaining} left"
    )]
    HeaderTruncated {
        /// Zero-based position of the header.
        index: usize,
        /// Which part was being read: "name", "type", or "value".
        part: &'static str,
        /// Bytes the part needs.
        needed: usize,
        /// Bytes left in the headers section.
        remaining: usize,
    },

    /// A header name is longer than aws-c-event-stream allows.
    #[error(
        "event-stream header name of {len} bytes (starting {prefix:?}) exceeds the 127-byte limit; use a shorter header name"
    )]
    HeaderNameTooLong {
        /// Length of the name in bytes.
        len: usize,
        /// The start of the name, for recognising it.
        prefix: String,
    },

    /// A header name is not UTF-8.
    #[error(
        "event-stream header #{index} has a name that is not UTF-8 ({lossy:?}); header names must be UTF-8"
    )]
    HeaderNameNotUtf8 {
        /// Zero-based position of the header.
        index: usize,
        /// The name with invalid sequences replaced, for recognising it.
        lossy: String,
    },

    /// A header carries a type code outside 0..=9.
    #[error(
        "event-stream header {name:?} has unknown value type {type_code}; known types are 0 (bool_true) to 9 (uuid)"
    )]
    UnknownHeaderType {
        /// The header's name.
        name: String,
        /// The type byte found.
        type_code: u8,
    },

    /// A `byte_buf` or `string` value is longer than 32767 bytes.
    #[error(
        "event-stream header {name:?} has a {len}-byte value, more than the 32767-byte limit for byte_buf and string values; put large data in the payload"
    )]
    HeaderValueTooLong {
        /// The header's name.
        name: String,
        /// Length of the value in bytes.
        len: usize,
    },

    /// A `string` value is not UTF-8.
    #[error(
        "event-stream header {name:?} has a string value that is not UTF-8; send binary data as byte_buf"
    )]
    StringValueNotUtf8 {
        /// The header's name.
        name: String,
    },

    /// More headers than lambdalet accepts in one frame.
    #[error("event-stream message has more than {limit} headers; send fewer headers")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },

    /// The input ended before the frame did.
    #[error(
        "event-stream input ended inside a frame: {buffered} bytes buffered but the frame needs {needed}; the peer closed the connection mid-message"
    )]
    Truncated {
        /// Bytes available.
        buffered: usize,
        /// Bytes the frame needs (12 while the prelude is incomplete).
        needed: usize,
    },

    /// A one-shot decode found bytes after the frame.
    #[error(
        "event-stream input has {extra} bytes after the end of the frame; pass exactly one frame"
    )]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },

    /// Reading or writing the transport failed (only through the tokio codec).
    #[error("event-stream transport failed: {0}")]
    Io(#[from] std::io::Error),
}
