//! Parsing the headers section of a frame.
//!
//! Runs only on a frame whose lengths and CRCs have been checked. Every read is bounds-checked
//! against the section, the header count is capped at [`MAX_HEADERS`] before each header is
//! allocated, and `byte_buf` values are zero-copy slices of the frame.

use std::ops::Range;

use bytes::Bytes;

use super::{
    FrameError, Header, HeaderValue, MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_HEADERS,
};

/// The headers in `frame[section]`.
pub(super) fn read_headers(
    frame: &Bytes,
    section: Range<usize>,
) -> Result<Vec<Header>, FrameError> {
    HeaderReader {
        frame,
        pos: section.start,
        end: section.end,
        index: 0,
    }
    .read_all()
}

/// Walks the headers section of one frame.
struct HeaderReader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
    index: usize,
}

impl HeaderReader<'_> {
    fn read_all(mut self) -> Result<Vec<Header>, FrameError> {
        let mut headers = Vec::new();
        while self.pos < self.end {
            if headers.len() == MAX_HEADERS {
                return Err(FrameError::TooManyHeaders { limit: MAX_HEADERS });
            }
            self.index = headers.len();
            headers.push(self.read_header()?);
        }
        Ok(headers)
    }

    /// The next `n` bytes of the headers section, as a range of the frame.
    fn take(&mut self, n: usize, part: &'static str) -> Result<Range<usize>, FrameError> {
        let remaining = self.end - self.pos;
        if n > remaining {
            return Err(FrameError::HeaderTruncated {
                index: self.index,
                part,
                needed: n,
                remaining,
            });
        }
        let range = self.pos..self.pos + n;
        self.pos += n;
        Ok(range)
    }

    fn array<const N: usize>(&mut self, part: &'static str) -> Result<[u8; N], FrameError> {
        let range = self.take(N, part)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.frame[range]);
        Ok(out)
    }

    fn read_header(&mut self) -> Result<Header, FrameError> {
        let [name_len] = self.array::<1>("name length")?;
        let name_len = usize::from(name_len);
        if name_len > MAX_HEADER_NAME_LEN {
            let shown = name_len.min(self.end - self.pos).min(32);
            let start = &self.frame[self.pos..self.pos + shown];
            return Err(FrameError::HeaderNameTooLong {
                len: name_len,
                prefix: String::from_utf8_lossy(start).into_owned(),
            });
        }
        let name_range = self.take(name_len, "name")?;
        let name_bytes = &self.frame[name_range];
        let name = match std::str::from_utf8(name_bytes) {
            Ok(name) => name.to_owned(),
            Err(_) => {
                return Err(FrameError::HeaderNameNotUtf8 {
                    index: self.index,
                    lossy: String::from_utf8_lossy(name_bytes).into_owned(),
                });
            }
        };
        let [type_code] = self.array::<1>("type")?;
        let value = self.read_value(&name, type_code)?;
        Ok(Header { name, value })
    }

    fn read_value(&mut self, name: &str, type_code: u8) -> Result<HeaderValue, FrameError> {
        Ok(match type_code {
            0 => HeaderValue::BoolTrue,
            1 => HeaderValue::BoolFalse,
            2 => HeaderValue::Byte(i8::from_be_bytes(self.array("value")?)),
            3 => HeaderValue::Int16(i16::from_be_bytes(self.array("value")?)),
            4 => HeaderValue::Int32(i32::from_be_bytes(self.array("value")?)),
            5 => HeaderValue::Int64(i64::from_be_bytes(self.array("value")?)),
            6 => HeaderValue::ByteBuf(self.frame.slice(self.variable(name)?)),
            7 => {
                let range = self.variable(name)?;
                match std::str::from_utf8(&self.frame[range]) {
                    Ok(s) => HeaderValue::String(s.to_owned()),
                    Err(_) => {
                        return Err(FrameError::StringValueNotUtf8 {
                            name: name.to_owned(),
                        });
                    }
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(self.array("value")?)),
            9 => HeaderValue::Uuid(self.array("value")?),
            _ => {
                return Err(FrameError::UnknownHeaderType {
                    name: name.to_owned(),
                    type_code,
                });
            }
        })
    }

    /// A `u16`-length-prefixed value, as a range of the frame.
    fn variable(&mut self, name: &str) -> Result<Range<usize>, FrameError> {
        let len = usize::from(u16::from_be_bytes(self.array("value length")?));
        if len > MAX_HEADER_VALUE_LEN {
            return Err(FrameError::HeaderValueTooLong {
                name: name.to_owned(),
                len,
            });
        }
        self.take(len, "value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(section: &[u8]) -> Result<Vec<Header>, FrameError> {
        read_headers(&Bytes::copy_from_slice(section), 0..section.len())
    }

    #[test]
    fn empty_section_has_no_headers() {
        assert_eq!(read(&[]).unwrap(), vec![]);
    }

    #[test]
    fn unknown_type_code() {
        let err = read(&[1, b'x', 10]).unwrap_err();
        assert!(
            matches!(err, FrameError::UnknownHeaderType { type_code: 10, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("\"x\" has unknown value type 10"));
    }

    #[test]
    fn non_utf8_name() {
        let err = read(&[2, 0xc3, 0x28, 0]).unwrap_err();
        assert!(
            matches!(err, FrameError::HeaderNameNotUtf8 { index: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn non_utf8_string_value() {
        let err = read(&[1, b's', 7, 0, 1, 0xff]).unwrap_err();
        assert!(
            matches!(err, FrameError::StringValueNotUtf8 { .. }),
            "{err}"
        );
        // The same bytes as byte_buf are fine.
        let headers = read(&[1, b's', 6, 0, 1, 0xff]).unwrap();
        assert_eq!(
            headers[0].value,
            HeaderValue::ByteBuf(Bytes::from_static(&[0xff]))
        );
    }

    #[test]
    fn header_name_over_127_bytes() {
        let mut headers = vec![128];
        headers.extend(std::iter::repeat_n(b'n', 128));
        headers.push(0);
        let err = read(&headers).unwrap_err();
        assert!(
            matches!(err, FrameError::HeaderNameTooLong { len: 128, .. }),
            "{err}"
        );
    }

    #[test]
    fn header_value_over_32767_bytes() {
        for type_code in [6u8, 7] {
            let mut headers = vec![1, b'v', type_code, 0x80, 0x00];
            headers.extend(std::iter::repeat_n(b'a', 0x8000));
            let err = read(&headers).unwrap_err();
            assert!(
                matches!(err, FrameError::HeaderValueTooLong { len: 32768, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn header_cut_off_by_headers_length() {
        // An int32 header whose value runs past the end of the section into the payload.
        let frame = Bytes::from_static(&[1, b'i', 4, 0, 0, 0, 1]);
        let err = read_headers(&frame, 0..5).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::HeaderTruncated {
                    index: 0,
                    part: "value",
                    needed: 4,
                    remaining: 2
                }
            ),
            "{err}"
        );
        for cut in [
            &[5u8, b'a'][..],
            &[1, b'a'],
            &[1, b'a', 7, 0],
            &[1, b'a', 7, 0, 9, b'x'],
        ] {
            let err = read(cut).unwrap_err();
            assert!(
                matches!(err, FrameError::HeaderTruncated { .. }),
                "{cut:?}: {err}"
            );
        }
    }

    #[test]
    fn too_many_headers() {
        let headers: Vec<u8> = std::iter::repeat_n([0u8, 0u8], MAX_HEADERS + 1)
            .flatten()
            .collect();
        let err = read(&headers).unwrap_err();
        assert!(
            matches!(err, FrameError::TooManyHeaders { limit: 1024 }),
            "{err}"
        );
        let ok: Vec<u8> = std::iter::repeat_n([0u8, 0u8], MAX_HEADERS)
            .flatten()
            .collect();
        assert_eq!(read(&ok).unwrap().len(), MAX_HEADERS);
    }
}
