//! One layer blob, from its raw bytes to its entries applied: decompression chosen by the
//! blob's magic bytes, both digests checked on the way, the tar reader kept on a short leash.
//!
//! The chain is `blob → Tee (blob digest) → decompressor → Tee (diff id) → Guarded → tar`.
//! Entries are applied while they stream in; a digest that does not match is found at the
//! end of the layer and fails the load, and the half-built tree is thrown away with it.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use super::ImageError;
use super::apply::Extractor;
use super::digest::{Allowance, Hex, Tally, Tee};
use super::zstd::ZstdReader;

/// Most bytes the tar reader may read on its own between two entries: headers, GNU long
/// names, PAX records (which it holds in memory) and padding.
const HEADER_ALLOWANCE: u64 = 16 * 1024 * 1024;
/// Most bytes after the tar's end-of-archive blocks (record padding) that are read to
/// finish the diff id.
const TRAILER_ALLOWANCE: u64 = 16 * 1024 * 1024;
const READ_BUFFER: usize = 256 * 1024;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A layer to apply: where it comes from and what it must hash to.
pub(crate) struct LayerBlob<'a> {
    /// Its number in the image, from 1 (the base layer).
    pub index: usize,
    /// Its path in the archive, for messages.
    pub file: &'a str,
    pub media_type: Option<&'a str>,
    /// The blob's own digest, when the manifest gives one (a legacy `docker save` does not).
    pub digest: Option<&'a Hex>,
    /// The digest of the uncompressed tar, from the image config.
    pub diff_id: &'a Hex,
    /// Its size in bytes: the reader must give exactly this many.
    pub size: u64,
}

/// Refuses media types that are not layer tars (an encrypted layer, a Helm chart, ...).
pub(crate) fn check_media_type(media_type: &str) -> Result<(), ImageError> {
    let layer = media_type.contains(".layer.") || media_type.contains(".rootfs.");
    if layer && media_type.contains("tar") && !media_type.contains("encrypted") {
        return Ok(());
    }
    Err(ImageError::Unsupported {
        what: "layer media type",
        value: media_type.to_owned(),
        hint: "a layer must be a tar, plain or compressed with gzip or zstd",
    })
}

/// What the first bytes of a blob say it is.
pub(crate) fn sniff(magic: &[u8]) -> Result<Compression, &'static str> {
    match magic {
        [0x1f, 0x8b, ..] => Ok(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Err("xz"),
        [b'B', b'Z', b'h', ..] => Err("bzip2"),
        _ => Ok(Compression::None),
    }
}

/// Applies the layer read from `raw` (exactly `blob.size` bytes); `progress` hears how many
/// raw bytes have been read after each entry.
pub(crate) fn apply_layer(
    raw: impl Read,
    blob: &LayerBlob<'_>,
    extractor: &mut Extractor,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ImageError> {
    if let Some(media_type) = blob.media_type {
        check_media_type(media_type)?;
    }
    let raw_tally = Tally::counting();
    let mut raw = BufReader::with_capacity(
        READ_BUFFER,
        Tee {
            inner: raw,
            tally: raw_tally.clone(),
        },
    );
    let magic = raw.fill_buf().map_err(|e| extractor.read_error(&e))?;
    let compression = sniff(magic).map_err(|name| ImageError::Unsupported {
        what: "layer compression",
        value: name.to_owned(),
        hint: "lambdalet reads plain, gzip and zstd layers; rebuild or re-push the image with one of those",
    })?;
    // A plain layer is its own diff: hashing it once, below, is enough.
    let raw_tally = if compression == Compression::None {
        raw_tally
    } else {
        // Only the first buffer has been read: it is what the new tally starts from.
        let hashing = Tally::hashing_from(raw.buffer());
        raw.get_mut().tally = hashing.clone();
        hashing
    };
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(ZstdReader::new(raw)),
    };
    let diff_tally = Tally::hashing();
    let allowance = Allowance::new();
    let mut archive = tar::Archive::new(allowance.guard(Tee {
        inner: decoded,
        tally: diff_tally.clone(),
    }));
    {
        let mut entries = archive.entries().map_err(|e| extractor.read_error(&e))?;
        loop {
            allowance.set(HEADER_ALLOWANCE);
            let next = entries.next();
            allowance.set(u64::MAX);
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|e| extractor.read_error(&e))?;
            extractor.apply(&mut entry)?;
            progress(raw_tally.borrow().bytes());
        }
    }
    allowance.set(TRAILER_ALLOWANCE);
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| extractor.read_error(&e))?;
    drop(rest);
    progress(raw_tally.borrow().bytes());
    let read = raw_tally.borrow().bytes();
    if read != blob.size {
        return Err(extractor.corrupt(format_args!(
            "the compressed stream ends after {read} of its {} bytes",
            blob.size
        )));
    }
    let diff = diff_tally.borrow().hex().expect("the diff tally hashes");
    if let Some(expected) = blob.digest {
        let actual = raw_tally.borrow().hex().unwrap_or_else(|| diff.clone());
        if actual != *expected {
            return Err(ImageError::DigestMismatch {
                file: blob.file.to_owned(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    if diff != *blob.diff_id {
        return Err(ImageError::DiffIdMismatch {
            layer: blob.index,
            file: blob.file.to_owned(),
            expected: blob.diff_id.clone(),
            actual: diff,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_told_by_magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Ok(Compression::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Ok(Compression::Zstd));
        assert_eq!(sniff(b"etc/passwd\0"), Ok(Compression::None));
        assert_eq!(sniff(b""), Ok(Compression::None));
        assert_eq!(sniff(b"BZh91AY"), Err("bzip2"));
    }

    #[test]
    fn only_layer_tars_are_accepted() {
        for ok in [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ] {
            check_media_type(ok).unwrap();
        }
        for bad in [
            "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "application/json",
        ] {
            assert!(check_media_type(bad).is_err(), "{bad}");
        }
    }
}
