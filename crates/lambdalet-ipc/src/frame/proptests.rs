//! Property tests: arbitrary messages round-trip, arbitrary bytes never panic, and any single
//! flipped bit in a frame is caught.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::{Decoder, FrameError, Header, HeaderValue, Message, decode, encode};

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        Just(HeaderValue::BoolTrue),
        Just(HeaderValue::BoolFalse),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Int16),
        any::<i32>().prop_map(HeaderValue::Int32),
        any::<i64>().prop_map(HeaderValue::Int64),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|v| HeaderValue::ByteBuf(v.into())),
        ".{0,40}".prop_map(HeaderValue::String),
        any::<i64>().prop_map(HeaderValue::Timestamp),
        any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
    ]
}

/// Names up to 127 bytes of UTF-8: at most 31 chars of up to 4 bytes each.
fn header() -> impl Strategy<Value = Header> {
    (".{0,31}", header_value()).prop_map(|(name, value)| Header { name, value })
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::collection::vec(header(), 0..12),
        prop::collection::vec(any::<u8>(), 0..256),
    )
        .prop_map(|(headers, payload)| Message::new(headers, Bytes::from(payload)))
}

/// Feed `bytes` through a decoder in chunks; collect frames until it errors or starves.
fn drain(bytes: &[u8], chunk: usize) -> (Vec<Message>, Option<FrameError>) {
    let mut decoder = Decoder::with_max_message(64 * 1024);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

proptest! {
    #[test]
    fn arbitrary_messages_round_trip(msg in message()) {
        let bytes = encode(&msg).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn streams_decode_the_same_whatever_the_chunking(
        msgs in prop::collection::vec(message(), 1..4),
        chunk in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(&encode(m).unwrap());
        }
        let (got, err) = drain(&stream, chunk);
        prop_assert!(err.is_none());
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn byte_soup_never_panics(soup in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..40) {
        let _ = drain(&soup, chunk);
        let _ = decode(&soup);
    }

    #[test]
    fn soup_behind_a_valid_prelude_never_panics(
        headers_len in 0u32..200,
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        // Valid prelude and message CRCs, so the header parser sees the arbitrary bytes.
        let total = 16 + body.len() as u32;
        let mut frame = Vec::new();
        frame.extend(total.to_be_bytes());
        frame.extend(headers_len.to_be_bytes());
        frame.extend(crc32fast::hash(&frame[..8]).to_be_bytes());
        frame.extend(&body);
        frame.extend(crc32fast::hash(&frame).to_be_bytes());
        if let Ok(msg) = decode(&frame) {
            // What decodes re-encodes to the same bytes.
            prop_assert_eq!(&encode(&msg).unwrap()[..], &frame[..]);
        }
    }

    #[test]
    fn any_single_bit_flip_is_rejected(msg in message(), bit in any::<prop::sample::Index>()) {
        let mut bytes = encode(&msg).unwrap().to_vec();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let mut buf = BytesMut::from(&bytes[..]);
        let result = Decoder::new().decode(&mut buf);
        prop_assert!(result.is_err(), "flipped bit {} decoded: {:?}", bit, result);
    }
}
