//! Digests, and readers that hash or cap what flows through them.
//!
//! A layer is read once: the raw blob is hashed on its way into the decompressor and the
//! decompressed tar on its way into the tar reader, so the blob digest and the diff id are
//! both checked without a second pass. The [`Allowance`] keeps the tar reader's own reads
//! (headers, long names, PAX records, which it buffers in memory) small.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

use sha2::{Digest as _, Sha256};

use super::ImageError;

/// A SHA-256 digest as 64 lowercase hex digits (no `sha256:` prefix).
pub(crate) type Hex = String;

/// Whether `s` is 64 lowercase hex digits: a SHA-256, and safe as a file name.
pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses `sha256:<hex>`; other algorithms are refused rather than skipped, so nothing is
/// ever loaded unverified.
pub(crate) fn parse_digest(digest: &str) -> Result<Hex, ImageError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if is_hex64(hex) => Ok(hex.to_owned()),
        Some((algorithm, _)) if algorithm != "sha256" => Err(ImageError::Unsupported {
            what: "digest algorithm",
            value: algorithm.to_owned(),
            hint: "lambdalet verifies sha256 digests only; save the image with a tool that uses them",
        }),
        _ => Err(ImageError::bad_json(
            "a manifest",
            format_args!("{digest:?} is not a sha256 digest"),
        )),
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> Hex {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes seen by a [`Tee`], and their hash when one is wanted.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    hasher: Option<Sha256>,
    bytes: u64,
}

impl Tally {
    pub(crate) fn hashing() -> Rc<RefCell<Tally>> {
        Rc::new(RefCell::new(Tally {
            hasher: Some(Sha256::new()),
            bytes: 0,
        }))
    }

    /// A hashing tally that has already seen `prefix`.
    pub(crate) fn hashing_from(prefix: &[u8]) -> Rc<RefCell<Tally>> {
        let mut hasher = Sha256::new();
        hasher.update(prefix);
        Rc::new(RefCell::new(Tally {
            hasher: Some(hasher),
            bytes: prefix.len() as u64,
        }))
    }

    pub(crate) fn counting() -> Rc<RefCell<Tally>> {
        Rc::default()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The hash so far (`None` for a counting tally).
    pub(crate) fn hex(&self) -> Option<Hex> {
        self.hasher.clone().map(|h| hex::encode(h.finalize()))
    }
}

/// Passes reads through, recording them in a shared [`Tally`] that outlives the reader
/// (which ends up deep inside a decompressor and a tar reader).
pub(crate) struct Tee<R> {
    pub(crate) inner: R,
    pub(crate) tally: Rc<RefCell<Tally>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut tally = self.tally.borrow_mut();
        tally.bytes += n as u64;
        if let Some(hasher) = &mut tally.hasher {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// How many more bytes the reader below may hand out before it fails. The layer code grants
/// a small allowance before asking the tar reader for the next entry, and an unlimited one
/// while it copies an entry's data itself (counting it against the image limits).
#[derive(Debug, Clone)]
pub(crate) struct Allowance(Rc<Cell<u64>>);

impl Allowance {
    pub(crate) fn new() -> Self {
        Self(Rc::new(Cell::new(u64::MAX)))
    }

    pub(crate) fn set(&self, bytes: u64) {
        self.0.set(bytes);
    }

    /// Wraps `inner` so its reads draw on this allowance.
    pub(crate) fn guard<R: Read>(&self, inner: R) -> Guarded<R> {
        Guarded {
            inner,
            allowance: self.clone(),
        }
    }
}

/// The error a [`Guarded`] reader fails with when its allowance runs out.
#[derive(Debug)]
pub(crate) struct AllowanceSpent;

impl fmt::Display for AllowanceSpent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("more tar header data than any real entry has")
    }
}

impl std::error::Error for AllowanceSpent {}

/// Whether `error` is a [`Guarded`] reader running out.
pub(crate) fn is_allowance_spent(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<AllowanceSpent>())
}

pub(crate) struct Guarded<R> {
    inner: R,
    allowance: Allowance,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.allowance.0.get();
        if left == 0 && !buf.is_empty() {
            return Err(io::Error::other(AllowanceSpent));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.allowance.0.set(left - n as u64);
        Ok(n)
    }
}

/// Seeking costs no allowance: the tar reader seeks over member data it does not read.
impl<R: Seek> Seek for Guarded<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_only() {
        let hex = "a".repeat(64);
        assert_eq!(parse_digest(&format!("sha256:{hex}")).unwrap(), hex);
        assert!(matches!(
            parse_digest(&format!("sha512:{hex}")),
            Err(ImageError::Unsupported { .. })
        ));
        assert!(parse_digest("sha256:ABC").is_err());
        assert!(parse_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(parse_digest("nonsense").is_err());
    }

    #[test]
    fn a_tee_hashes_what_passes() {
        let tally = Tally::hashing();
        let mut tee = Tee {
            inner: &b"abc"[..],
            tally: tally.clone(),
        };
        io::copy(&mut tee, &mut io::sink()).unwrap();
        assert_eq!(tally.borrow().bytes(), 3);
        assert_eq!(tally.borrow().hex().unwrap(), sha256_hex(b"abc"));
    }

    #[test]
    fn a_guarded_reader_stops_when_the_allowance_is_spent() {
        let allowance = Allowance::new();
        allowance.set(4);
        let mut reader = allowance.guard(&b"0123456789"[..]);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert!(is_allowance_spent(&err));
        assert_eq!(out, b"0123");
        allowance.set(u64::MAX);
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123456789");
    }
}
