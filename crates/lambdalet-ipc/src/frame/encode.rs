//! Serialising a [`Message`] into one frame.
//!
//! Encoding checks the same limits decoding enforces, so lambdalet never sends a frame that an
//! aws-crt client (or lambdalet itself) would reject.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    FrameError, Header, HeaderValue, MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_HEADERS,
    MAX_MESSAGE_SIZE, Message, OVERHEAD,
};

/// Encode `message` into a new buffer holding exactly one frame.
pub fn encode(message: &Message) -> Result<Bytes, FrameError> {
    let mut buf = BytesMut::new();
    encode_into(message, &mut buf)?;
    Ok(buf.freeze())
}

/// Append the frame for `message` to `buf`. On error `buf` is left unchanged.
pub fn encode_into(message: &Message, buf: &mut BytesMut) -> Result<(), FrameError> {
    let (total_len, headers_len) = lengths(message)?;
    buf.reserve(total_len);
    let start = buf.len();

    // The lengths were checked against MAX_MESSAGE_SIZE, far below u32::MAX.
    buf.put_u32(u32::try_from(total_len).expect("total length was checked to fit 24 MiB"));
    buf.put_u32(u32::try_from(headers_len).expect("headers length is below the total length"));
    let prelude_crc = crc32fast::hash(&buf[start..start + 8]);
    buf.put_u32(prelude_crc);
    for header in &message.headers {
        put_header(buf, header);
    }
    buf.put_slice(&message.payload);
    let message_crc = crc32fast::hash(&buf[start..]);
    buf.put_u32(message_crc);
    debug_assert_eq!(buf.len() - start, total_len);
    Ok(())
}

/// The length of the frame `message` encodes to, after checking every limit.
pub fn encoded_len(message: &Message) -> Result<usize, FrameError> {
    lengths(message).map(|(total, _)| total)
}

/// `(total_len, headers_len)` for `message`, or the first limit it breaks.
fn lengths(message: &Message) -> Result<(usize, usize), FrameError> {
    if message.headers.len() > MAX_HEADERS {
        return Err(FrameError::TooManyHeaders { limit: MAX_HEADERS });
    }
    let mut headers_len = 0usize;
    for header in &message.headers {
        check_header(header)?;
        headers_len += 1 + header.name.len() + 1 + header.value.wire_len();
    }
    let total_len = OVERHEAD + headers_len + message.payload.len();
    if total_len > MAX_MESSAGE_SIZE {
        return Err(FrameError::MessageTooLarge {
            total_len: u64::try_from(total_len).unwrap_or(u64::MAX),
            limit: MAX_MESSAGE_SIZE,
        });
    }
    Ok((total_len, headers_len))
}

fn check_header(header: &Header) -> Result<(), FrameError> {
    if header.name.len() > MAX_HEADER_NAME_LEN {
        return Err(FrameError::HeaderNameTooLong {
            len: header.name.len(),
            prefix: header.name.chars().take(32).collect(),
        });
    }
    let variable_len = match &header.value {
        HeaderValue::ByteBuf(b) => b.len(),
        HeaderValue::String(s) => s.len(),
        _ => 0,
    };
    if variable_len > MAX_HEADER_VALUE_LEN {
        return Err(FrameError::HeaderValueTooLong {
            name: header.name.clone(),
            len: variable_len,
        });
    }
    Ok(())
}

/// Write one header; its lengths were checked by [`check_header`].
fn put_header(buf: &mut BytesMut, header: &Header) {
    buf.put_u8(u8::try_from(header.name.len()).expect("name length was checked to be <= 127"));
    buf.put_slice(header.name.as_bytes());
    buf.put_u8(header.value.type_code());
    match &header.value {
        HeaderValue::BoolTrue | HeaderValue::BoolFalse => {}
        HeaderValue::Byte(v) => buf.put_i8(*v),
        HeaderValue::Int16(v) => buf.put_i16(*v),
        HeaderValue::Int32(v) => buf.put_i32(*v),
        HeaderValue::Int64(v) | HeaderValue::Timestamp(v) => buf.put_i64(*v),
        HeaderValue::ByteBuf(b) => put_variable(buf, b),
        HeaderValue::String(s) => put_variable(buf, s.as_bytes()),
        HeaderValue::Uuid(u) => buf.put_slice(u),
    }
}

fn put_variable(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_u16(u16::try_from(bytes.len()).expect("value length was checked to be <= 32767"));
    buf.put_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_message_is_sixteen_bytes() {
        let bytes = encode(&Message::default()).unwrap();
        assert_eq!(bytes.len(), 16);
        assert_eq!(encoded_len(&Message::default()).unwrap(), 16);
    }

    #[test]
    fn appends_after_existing_bytes() {
        let mut buf = BytesMut::from(&b"xyz"[..]);
        encode_into(&Message::new(vec![], &b"hi"[..]), &mut buf).unwrap();
        assert_eq!(&buf[..3], b"xyz");
        assert_eq!(buf.len(), 3 + 18);
        assert_eq!(&buf[3..7], &18u32.to_be_bytes());
    }

    #[test]
    fn rejects_long_header_name() {
        let msg = Message::new(vec![Header::int32("n".repeat(128), 1)], Bytes::new());
        let err = encode(&msg).unwrap_err();
        assert!(
            matches!(err, FrameError::HeaderNameTooLong { len: 128, .. }),
            "{err}"
        );
        let ok = Message::new(vec![Header::int32("n".repeat(127), 1)], Bytes::new());
        assert!(encode(&ok).is_ok());
    }

    #[test]
    fn rejects_long_string_and_byte_buf_values() {
        let long = "v".repeat(MAX_HEADER_VALUE_LEN + 1);
        let msg = Message::new(vec![Header::string("s", long.clone())], Bytes::new());
        assert!(matches!(
            encode(&msg),
            Err(FrameError::HeaderValueTooLong { len: 32768, .. })
        ));
        let msg = Message::new(
            vec![Header::new("b", HeaderValue::ByteBuf(Bytes::from(long)))],
            Bytes::new(),
        );
        assert!(matches!(
            encode(&msg),
            Err(FrameError::HeaderValueTooLong { .. })
        ));
        let max = "v".repeat(MAX_HEADER_VALUE_LEN);
        assert!(encode(&Message::new(vec![Header::string("s", max)], Bytes::new())).is_ok());
    }

    #[test]
    fn rejects_too_many_headers() {
        let headers = (0..=MAX_HEADERS)
            .map(|_| Header::new("", HeaderValue::BoolTrue))
            .collect();
        let err = encode(&Message::new(headers, Bytes::new())).unwrap_err();
        assert!(
            matches!(err, FrameError::TooManyHeaders { limit: 1024 }),
            "{err}"
        );
    }

    #[test]
    fn rejects_oversized_payload() {
        let payload = Bytes::from(vec![0u8; MAX_MESSAGE_SIZE - OVERHEAD + 1]);
        let err = encode(&Message::new(vec![], payload)).unwrap_err();
        assert!(matches!(err, FrameError::MessageTooLarge { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("larger than the 25165824-byte limit")
        );
    }

    #[test]
    fn error_leaves_buffer_untouched() {
        let mut buf = BytesMut::from(&b"keep"[..]);
        let msg = Message::new(vec![Header::int32("n".repeat(200), 1)], Bytes::new());
        assert!(encode_into(&msg, &mut buf).is_err());
        assert_eq!(&buf[..], b"keep");
    }
}
