//! Known frames, byte for byte.
//!
//! The first three are the valid messages of aws-c-event-stream's
//! `tests/channel_handler_test.c` (`test_channel_handler_multiple_valid_messages_parse`), with
//! the CRCs that test asserts. The CRCs are also recomputed here with a bit-at-a-time CRC32
//! that shares no code with the `crc32fast` crate the codec uses. The last frame is laid out
//! by hand from the specification.

use bytes::Bytes;

use super::{Header, HeaderValue, Message, decode, encode};

/// CRC32 (IEEE 802.3, reflected, polynomial 0xEDB88320), one bit at a time.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Assert both CRC fields of `frame` match the independent CRC.
fn assert_crcs(frame: &[u8]) {
    let prelude_crc = u32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
    assert_eq!(prelude_crc, crc32_bitwise(&frame[..8]), "prelude crc");
    let n = frame.len();
    let message_crc = u32::from_be_bytes([frame[n - 4], frame[n - 3], frame[n - 2], frame[n - 1]]);
    assert_eq!(message_crc, crc32_bitwise(&frame[..n - 4]), "message crc");
}

const EMPTY: [u8; 16] = [
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff,
];

const PAYLOAD_ONLY: [u8; 29] = [
    0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, b'{', b'\'', b'f',
    b'o', b'o', b'\'', b':', b'\'', b'b', b'a', b'r', b'\'', b'}', 0xc3, 0x65, 0x39, 0x36,
];

const WITH_HEADER: [u8; 61] = [
    0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C, b'c', b'o', b'n',
    b't', b'e', b'n', b't', b'-', b't', b'y', b'p', b'e', 0x07, 0x00, 0x10, b'a', b'p', b'p', b'l',
    b'i', b'c', b'a', b't', b'i', b'o', b'n', b'/', b'j', b's', b'o', b'n', b'{', b'\'', b'f',
    b'o', b'o', b'\'', b':', b'\'', b'b', b'a', b'r', b'\'', b'}', 0x8D, 0x9C, 0x08, 0xB1,
];

#[test]
fn bitwise_crc_matches_the_standard_check_value() {
    assert_eq!(crc32_bitwise(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32_bitwise(b""), 0);
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

#[test]
fn aws_c_event_stream_vectors_decode_and_encode_exactly() {
    let foo_bar = Bytes::from_static(b"{'foo':'bar'}");
    let cases: [(&[u8], Message); 3] = [
        (&EMPTY, Message::default()),
        (&PAYLOAD_ONLY, Message::new(vec![], foo_bar.clone())),
        (
            &WITH_HEADER,
            Message::new(
                vec![Header::string("content-type", "application/json")],
                foo_bar,
            ),
        ),
    ];
    for (bytes, message) in cases {
        assert_crcs(bytes);
        assert_eq!(decode(bytes).unwrap(), message);
        assert_eq!(&encode(&message).unwrap()[..], bytes);
    }
}

#[test]
fn hand_laid_frame_with_every_fixed_width_type() {
    // Headers: "t" bool_true, "b" byte -2, "s" int16 0x0102, "i" int32 -1,
    // "l" int64 1, "ts" timestamp 1_700_000_000_000, "u" uuid 0..16, "x" byte_buf [0xAB].
    let mut headers: Vec<u8> = Vec::new();
    headers.extend([1, b't', 0]);
    headers.extend([1, b'b', 2, 0xFE]);
    headers.extend([1, b's', 3, 0x01, 0x02]);
    headers.extend([1, b'i', 4, 0xFF, 0xFF, 0xFF, 0xFF]);
    headers.extend([1, b'l', 5, 0, 0, 0, 0, 0, 0, 0, 1]);
    headers.extend([2, b't', b's', 8]);
    headers.extend(1_700_000_000_000i64.to_be_bytes());
    headers.extend([1, b'u', 9]);
    headers.extend(0u8..16);
    headers.extend([1, b'x', 6, 0x00, 0x01, 0xAB]);
    let payload = b"ok";

    let total = (16 + headers.len() + payload.len()) as u32;
    let mut frame = Vec::new();
    frame.extend(total.to_be_bytes());
    frame.extend((headers.len() as u32).to_be_bytes());
    frame.extend(crc32_bitwise(&frame[..8]).to_be_bytes());
    frame.extend(&headers);
    frame.extend(payload);
    frame.extend(crc32_bitwise(&frame).to_be_bytes());

    let mut uuid = [0u8; 16];
    for (i, b) in uuid.iter_mut().enumerate() {
        *b = i as u8;
    }
    let message = Message::new(
        vec![
            Header::new("t", HeaderValue::BoolTrue),
            Header::new("b", HeaderValue::Byte(-2)),
            Header::new("s", HeaderValue::Int16(0x0102)),
            Header::new("i", HeaderValue::Int32(-1)),
            Header::new("l", HeaderValue::Int64(1)),
            Header::new("ts", HeaderValue::Timestamp(1_700_000_000_000)),
            Header::new("u", HeaderValue::Uuid(uuid)),
            Header::new("x", HeaderValue::ByteBuf(Bytes::from_static(&[0xAB]))),
        ],
        &payload[..],
    );
    assert_eq!(&encode(&message).unwrap()[..], &frame[..]);
    assert_eq!(decode(&frame).unwrap(), message);
}

#[test]
fn every_header_type_round_trips() {
    let values = [
        HeaderValue::BoolTrue,
        HeaderValue::BoolFalse,
        HeaderValue::Byte(i8::MIN),
        HeaderValue::Byte(i8::MAX),
        HeaderValue::Int16(i16::MIN),
        HeaderValue::Int16(i16::MAX),
        HeaderValue::Int32(i32::MIN),
        HeaderValue::Int32(i32::MAX),
        HeaderValue::Int64(i64::MIN),
        HeaderValue::Int64(i64::MAX),
        HeaderValue::ByteBuf(Bytes::new()),
        HeaderValue::ByteBuf(Bytes::from(vec![0xA5; 32767])),
        HeaderValue::String(String::new()),
        HeaderValue::String("héllo ✓".into()),
        HeaderValue::Timestamp(-1),
        HeaderValue::Timestamp(1_717_171_717_171),
        HeaderValue::Uuid([0xFF; 16]),
    ];
    for value in values {
        let message = Message::new(vec![Header::new("h", value)], Bytes::new());
        assert_eq!(decode(&encode(&message).unwrap()).unwrap(), message);
    }
}

#[test]
fn connect_ack_bytes_laid_out_by_hand() {
    // ":message-type" int32 5, ":message-flags" int32 1, ":stream-id" int32 0, no payload.
    let mut headers: Vec<u8> = Vec::new();
    for (name, value) in [
        (&b":message-type"[..], 5i32),
        (b":message-flags", 1),
        (b":stream-id", 0),
    ] {
        headers.push(name.len() as u8);
        headers.extend(name);
        headers.push(4);
        headers.extend(value.to_be_bytes());
    }
    assert_eq!(headers.len(), 3 + 13 + 14 + 10 + 3 * 5);
    let mut frame = Vec::new();
    frame.extend((16 + headers.len() as u32).to_be_bytes());
    frame.extend((headers.len() as u32).to_be_bytes());
    frame.extend(crc32_bitwise(&frame[..8]).to_be_bytes());
    frame.extend(&headers);
    frame.extend(crc32_bitwise(&frame).to_be_bytes());

    let encoded = encode(&crate::rpc::connect_ack(true).into_message()).unwrap();
    assert_eq!(&encoded[..], &frame[..]);
}
