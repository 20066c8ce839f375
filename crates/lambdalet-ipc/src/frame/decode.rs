//! Incremental decoding of frames from a byte buffer.
//!
//! The decoder validates the 12-byte prelude (its CRC, then the lengths against the limit)
//! before it asks for a single byte more, so a peer that declares a huge frame is refused
//! without lambdalet buffering it. A frame is parsed only once all of it has arrived; until
//! then [`Decoder::decode`] returns `Ok(None)` and leaves the bytes in place. Header values of
//! type `byte_buf` and the payload are zero-copy slices of the received frame.
//!
//! After any error the stream is no longer aligned on frames: drop the decoder and close the
//! connection.

use bytes::{Buf, Bytes, BytesMut};

use super::headers::read_headers;
use super::{FrameError, MAX_MESSAGE_SIZE, Message, OVERHEAD, PRELUDE_LEN, TRAILER_LEN};

/// An incremental frame decoder with a configurable size limit.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_message: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder accepting frames up to [`MAX_MESSAGE_SIZE`].
    pub fn new() -> Self {
        Self {
            max_message: MAX_MESSAGE_SIZE,
        }
    }

    /// A decoder accepting frames of at most `bytes` in total (prelude, headers, payload and
    /// trailer). Values are clamped to 16 ..= [`MAX_MESSAGE_SIZE`].
    pub fn with_max_message(bytes: usize) -> Self {
        Self {
            max_message: bytes.clamp(OVERHEAD, MAX_MESSAGE_SIZE),
        }
    }

    /// The largest frame this decoder accepts.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Take one complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a frame (having reserved room for the
    /// rest, never more than the validated declared length); call again with more bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        let Some(prelude) = buf.get(..PRELUDE_LEN) else {
            return Ok(None);
        };
        let (total_len, headers_len) = check_prelude(prelude, self.max_message)?;
        if buf.len() < total_len {
            buf.reserve(total_len - buf.len());
            return Ok(None);
        }
        let frame = buf.split_to(total_len).freeze();
        parse_frame(frame, headers_len).map(Some)
    }

    /// Like [`Decoder::decode`], for when the peer has closed the stream: leftover bytes that
    /// do not make a whole frame are a [`FrameError::Truncated`] error.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        if buf.is_empty() {
            return Ok(None);
        }
        match self.decode(buf)? {
            Some(message) => Ok(Some(message)),
            None => Err(FrameError::Truncated {
                buffered: buf.len(),
                needed: needed_len(buf),
            }),
        }
    }
}

/// Decode `bytes` as exactly one frame, with the protocol's 24 MiB limit.
pub fn decode(bytes: &[u8]) -> Result<Message, FrameError> {
    let mut buf = BytesMut::from(bytes);
    match Decoder::new().decode_eof(&mut buf)? {
        Some(_) if !buf.is_empty() => Err(FrameError::TrailingBytes { extra: buf.len() }),
        Some(message) => Ok(message),
        // decode_eof only returns None for empty input.
        None => Err(FrameError::Truncated {
            buffered: 0,
            needed: PRELUDE_LEN,
        }),
    }
}

/// Bytes the frame at the front of `buf` needs: the prelude, or the declared total length.
fn needed_len(buf: &[u8]) -> usize {
    match buf.get(..PRELUDE_LEN) {
        Some(mut prelude) => prelude.get_u32() as usize,
        None => PRELUDE_LEN,
    }
}

/// Validate the prelude; returns `(total_len, headers_len)`.
fn check_prelude(mut prelude: &[u8], limit: usize) -> Result<(usize, usize), FrameError> {
    let actual = crc32fast::hash(&prelude[..8]);
    let total_len = prelude.get_u32();
    let headers_len = prelude.get_u32();
    let expected = prelude.get_u32();
    if expected != actual {
        return Err(FrameError::PreludeChecksum { expected, actual });
    }
    if (total_len as usize) < OVERHEAD {
        return Err(FrameError::MessageTooShort { total_len });
    }
    if total_len as usize > limit {
        return Err(FrameError::MessageTooLarge {
            total_len: u64::from(total_len),
            limit,
        });
    }
    // OVERHEAD is 16, and total_len >= 16 was checked above.
    let available = total_len - OVERHEAD as u32;
    if headers_len > available {
        return Err(FrameError::HeadersTooLong {
            headers_len,
            total_len,
            available,
        });
    }
    Ok((total_len as usize, headers_len as usize))
}

/// Check the message CRC of a whole frame and split it into headers and payload.
fn parse_frame(frame: Bytes, headers_len: usize) -> Result<Message, FrameError> {
    let body_end = frame.len() - TRAILER_LEN;
    let mut trailer = &frame[body_end..];
    let expected = trailer.get_u32();
    let actual = crc32fast::hash(&frame[..body_end]);
    if expected != actual {
        return Err(FrameError::MessageChecksum { expected, actual });
    }
    let headers_end = PRELUDE_LEN + headers_len;
    let headers = read_headers(&frame, PRELUDE_LEN..headers_end)?;
    Ok(Message {
        headers,
        payload: frame.slice(headers_end..body_end),
    })
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;
    use crate::frame::{Header, HeaderValue, encode};

    /// A frame around raw header bytes, with correct lengths and CRCs.
    fn raw_frame(headers: &[u8], payload: &[u8]) -> BytesMut {
        let total = OVERHEAD + headers.len() + payload.len();
        raw_frame_with_lengths(total as u32, headers.len() as u32, headers, payload)
    }

    /// A frame with the given declared lengths (valid prelude CRC), then `headers`, `payload`
    /// and a message CRC over everything written.
    fn raw_frame_with_lengths(
        total: u32,
        headers_len: u32,
        headers: &[u8],
        payload: &[u8],
    ) -> BytesMut {
        let mut buf = BytesMut::new();
        buf.put_u32(total);
        buf.put_u32(headers_len);
        let crc = crc32fast::hash(&buf[..8]);
        buf.put_u32(crc);
        buf.put_slice(headers);
        buf.put_slice(payload);
        let crc = crc32fast::hash(&buf);
        buf.put_u32(crc);
        buf
    }

    fn decode_all(buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        Decoder::new().decode(buf)
    }

    fn sample() -> Message {
        Message::new(
            vec![
                Header::int32(":message-type", 0),
                Header::string("operation", "aws.greengrass#PublishToTopic"),
                Header::new("bin", HeaderValue::ByteBuf(Bytes::from_static(b"\x00\xff"))),
                Header::new("id", HeaderValue::Uuid([7; 16])),
            ],
            &br#"{"topic":"a/b"}"#[..],
        )
    }

    #[test]
    fn every_split_point_waits_then_decodes() {
        let bytes = encode(&sample()).unwrap();
        for split in 0..bytes.len() {
            let mut decoder = Decoder::new();
            let mut buf = BytesMut::from(&bytes[..split]);
            assert!(
                decoder.decode(&mut buf).unwrap().is_none(),
                "split at {split}"
            );
            assert_eq!(buf.len(), split, "a partial frame is left in place");
            buf.extend_from_slice(&bytes[split..]);
            assert_eq!(decoder.decode(&mut buf).unwrap(), Some(sample()));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn byte_at_a_time_stream_of_several_frames() {
        let msgs = [
            sample(),
            Message::default(),
            Message::new(vec![], &b"x"[..]),
        ];
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(&encode(m).unwrap());
        }
        for chunk in [1, 2, 3, 7, 16, 50, stream.len()] {
            let mut decoder = Decoder::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(m) = decoder.decode(&mut buf).unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "chunk size {chunk}");
        }
    }

    #[test]
    fn bad_prelude_crc() {
        let mut buf = BytesMut::from(&encode(&sample()).unwrap()[..]);
        buf[9] ^= 0x01;
        let err = decode_all(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::PreludeChecksum { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("event-stream prelude checksum mismatch")
        );
    }

    #[test]
    fn bad_message_crc() {
        let mut buf = BytesMut::from(&encode(&sample()).unwrap()[..]);
        let last_payload_byte = buf.len() - 5;
        buf[last_payload_byte] ^= 0x80;
        let err = decode_all(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::MessageChecksum { .. }), "{err}");
    }

    #[test]
    fn total_length_below_sixteen() {
        let mut buf = raw_frame_with_lengths(15, 0, &[], &[]);
        let err = decode_all(&mut buf).unwrap_err();
        assert!(
            matches!(err, FrameError::MessageTooShort { total_len: 15 }),
            "{err}"
        );
    }

    #[test]
    fn oversize_declared_length_rejected_before_buffering() {
        // Only the 12-byte prelude is present; it declares one byte over 24 MiB.
        let mut buf = raw_frame_with_lengths(MAX_MESSAGE_SIZE as u32 + 1, 0, &[], &[]);
        buf.truncate(PRELUDE_LEN);
        let capacity = buf.capacity();
        let err = decode_all(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::MessageTooLarge { .. }), "{err}");
        assert_eq!(
            buf.capacity(),
            capacity,
            "nothing was reserved for the frame"
        );

        // The configured lower limit applies the same way.
        let mut decoder = Decoder::with_max_message(128 * 1024);
        let mut buf = raw_frame_with_lengths(200_000, 0, &[], &[]);
        buf.truncate(PRELUDE_LEN);
        let err = decoder.decode(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event-stream message of 200000 bytes is larger than the 131072-byte limit; send smaller messages"
        );
    }

    #[test]
    fn frame_within_limit_reserves_only_its_length() {
        let mut decoder = Decoder::with_max_message(1 << 20);
        let mut buf = raw_frame_with_lengths(100_000, 0, &[], &[]);
        buf.truncate(PRELUDE_LEN);
        assert!(decoder.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() >= 100_000);
        assert!(buf.capacity() < 1 << 20);
    }

    #[test]
    fn limit_is_clamped() {
        assert_eq!(Decoder::with_max_message(0).max_message(), OVERHEAD);
        assert_eq!(
            Decoder::with_max_message(usize::MAX).max_message(),
            MAX_MESSAGE_SIZE
        );
        assert_eq!(Decoder::default().max_message(), MAX_MESSAGE_SIZE);
    }

    #[test]
    fn headers_length_beyond_total() {
        let mut buf = raw_frame_with_lengths(20, 5, &[0, 0, 0, 0], &[]);
        let err = decode_all(&mut buf).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::HeadersTooLong {
                    headers_len: 5,
                    available: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn header_errors_surface_from_decode() {
        let mut buf = raw_frame(&[1, b'x', 10], &[]);
        let err = decode_all(&mut buf).unwrap_err();
        assert!(
            matches!(err, FrameError::UnknownHeaderType { type_code: 10, .. }),
            "{err}"
        );
        let msg = decode_all(&mut raw_frame(&[1, b't', 0], b"p"))
            .unwrap()
            .unwrap();
        assert_eq!(msg.headers, vec![Header::new("t", HeaderValue::BoolTrue)]);
        assert_eq!(&msg.payload[..], b"p");
    }

    #[test]
    fn truncated_input_at_eof() {
        let bytes = encode(&sample()).unwrap();
        let err = decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { buffered, needed } if buffered == bytes.len() - 1 && needed == bytes.len()),
            "{err}"
        );
        let err = decode(&bytes[..5]).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    buffered: 5,
                    needed: 12
                }
            ),
            "{err}"
        );
        assert!(matches!(
            decode(&[]),
            Err(FrameError::Truncated { buffered: 0, .. })
        ));
        let mut empty = BytesMut::new();
        assert!(Decoder::new().decode_eof(&mut empty).unwrap().is_none());
    }

    #[test]
    fn trailing_bytes_after_one_frame() {
        let mut bytes = encode(&sample()).unwrap().to_vec();
        bytes.push(0);
        assert!(matches!(
            decode(&bytes),
            Err(FrameError::TrailingBytes { extra: 1 })
        ));
    }

    #[test]
    fn one_shot_decode_round_trips() {
        let bytes = encode(&sample()).unwrap();
        let msg = decode(&bytes).unwrap();
        assert_eq!(msg, sample());
    }
}
