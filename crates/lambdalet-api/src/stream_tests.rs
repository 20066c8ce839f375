//! The `InvokeWithResponseStream` framing, checked against frames built by hand here (byte by
//! byte, from the format's definition) and read back with the event-stream decoder. The
//! integration tests read the same frames with botocore's decoder.

use bytes::{BufMut, Bytes, BytesMut};
use lambdalet_invoker::{StreamEnd, StreamError};
use lambdalet_ipc::frame::{Decoder, HeaderValue, Message};

use super::*;

/// A frame of string headers, assembled by hand: `total_len | headers_len | prelude_crc |
/// headers | payload | message_crc`, each header `name_len u8 | name | 7 | len u16 | value`.
fn by_hand(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(u8::try_from(name.len()).expect("short name"));
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(total).expect("small").to_be_bytes());
    out.extend_from_slice(&u32::try_from(h.len()).expect("small").to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode_all(bytes: &[u8]) -> Vec<Message> {
    let mut buf = BytesMut::from(bytes);
    let mut d = Decoder::new();
    let mut out = Vec::new();
    while let Some(m) = d.decode(&mut buf).expect("a valid frame") {
        out.push(m);
    }
    assert!(buf.is_empty(), "bytes left over after the last frame");
    out
}

fn string(m: &Message, name: &str) -> String {
    match m.header(name) {
        Some(HeaderValue::String(s)) => s.clone(),
        other => panic!("header {name}: {other:?}"),
    }
}

#[test]
fn the_crc_is_zlibs_crc32() {
    // The check value of CRC-32/ISO-HDLC, the CRC32 of zlib and of the event-stream format.
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

#[test]
fn a_payload_chunk_is_exactly_the_format() {
    let got = payload_chunks(Bytes::from_static(b"hello, stream"));
    let want = by_hand(
        &[
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ],
        b"hello, stream",
    );
    assert_eq!(&got[..], &want[..]);
    // The prelude: total length, headers length, and the CRC of those 8 bytes.
    let total = u32::from_be_bytes(got[0..4].try_into().expect("4 bytes"));
    assert_eq!(total as usize, got.len());
    let prelude_crc = u32::from_be_bytes(got[8..12].try_into().expect("4 bytes"));
    assert_eq!(prelude_crc, crc32fast::hash(&got[0..8]));
}

#[test]
fn invoke_complete_carries_the_error_and_the_log() {
    let end = StreamEnd {
        error: Some(StreamError {
            error_type: "Sandbox.Timedout".to_owned(),
            message: "Task timed out after 1.00 seconds".to_owned(),
            body: Bytes::new(),
        }),
        log_tail: Some("END RequestId: r\n".to_owned()),
    };
    let got = invoke_complete(&end);
    let json = r#"{"ErrorCode":"Sandbox.Timedout","ErrorDetails":"Task timed out after 1.00 seconds","LogResult":"RU5EIFJlcXVlc3RJZDogcgo="}"#;
    let want = by_hand(
        &[
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        json.as_bytes(),
    );
    assert_eq!(&got[..], &want[..]);

    let ok = decode_all(&invoke_complete(&StreamEnd::default()));
    assert_eq!(&ok[0].payload[..], b"{}");
}

#[test]
fn a_stream_decodes_frame_by_frame_whatever_the_reads() {
    let mut wire = BytesMut::new();
    wire.put(payload_chunks(Bytes::from_static(b"first ")));
    wire.put(payload_chunks(Bytes::new()));
    wire.put(payload_chunks(Bytes::from(vec![0u8, 255, 10, 13])));
    wire.put(invoke_complete(&StreamEnd::default()));
    // Fed in pieces of 7 bytes, as a socket may deliver them.
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for piece in wire.chunks(7) {
        buf.extend_from_slice(piece);
        while let Some(m) = d.decode(&mut buf).expect("valid") {
            got.push(m);
        }
    }
    let kinds: Vec<_> = got.iter().map(|m| string(m, ":event-type")).collect();
    assert_eq!(
        kinds,
        [
            "PayloadChunk",
            "PayloadChunk",
            "PayloadChunk",
            "InvokeComplete"
        ]
    );
    assert!(got.iter().all(|m| string(m, ":message-type") == "event"));
    assert_eq!(&got[0].payload[..], b"first ");
    assert!(got[1].payload.is_empty());
    assert_eq!(&got[2].payload[..], &[0u8, 255, 10, 13]);
}

#[test]
fn a_chunk_over_8_mib_is_split_and_a_6_mb_one_is_not() {
    let six_mb = Bytes::from(vec![b'x'; 6 * 1024 * 1024 + 100]);
    assert_eq!(decode_all(&payload_chunks(six_mb)).len(), 1);
    let big = Bytes::from(vec![b'y'; MAX_CHUNK_BYTES + 10]);
    let msgs = decode_all(&payload_chunks(big));
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].payload.len(), MAX_CHUNK_BYTES);
    assert_eq!(msgs[1].payload.len(), 10);
}

#[test]
fn long_error_details_are_cut_at_a_character_boundary() {
    let end = StreamEnd {
        error: Some(StreamError {
            error_type: "Error".to_owned(),
            message: "é".repeat(MAX_DETAILS_BYTES),
            body: Bytes::new(),
        }),
        log_tail: None,
    };
    let msgs = decode_all(&invoke_complete(&end));
    let v: serde_json::Value = serde_json::from_slice(&msgs[0].payload).expect("JSON");
    let details = v["ErrorDetails"].as_str().expect("details");
    assert!(details.len() <= MAX_DETAILS_BYTES);
    assert!(details.len() > MAX_DETAILS_BYTES - 2);
}
