//! Test helpers: zips built in memory, including malformed and hostile ones.

use std::io::{Cursor, Write as _};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, System, ZipWriter};

/// One entry of a test zip.
pub(crate) enum E<'a> {
    /// A file with unix permission bits.
    File(&'a str, &'a [u8], u32),
    /// A file made on a system without unix modes (MS-DOS attributes only).
    DosFile(&'a str, &'a [u8]),
    Dir(&'a str),
    Link(&'a str, &'a str),
}

/// Builds a zip from `entries`, in order, names taken verbatim.
pub(crate) fn build(entries: &[E<'_>]) -> Vec<u8> {
    let base = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        match entry {
            E::File(name, data, mode) => {
                zip.start_file(*name, base.unix_permissions(*mode)).unwrap();
                zip.write_all(data).unwrap();
            }
            E::DosFile(name, data) => {
                zip.start_file(*name, base.system(System::Dos).external_attributes(0x20))
                    .unwrap();
                zip.write_all(data).unwrap();
            }
            E::Dir(name) => zip.add_directory(*name, base).unwrap(),
            E::Link(name, target) => zip.add_symlink(*name, *target, base).unwrap(),
        }
    }
    zip.finish().unwrap().into_inner()
}

/// A zip with one file.
pub(crate) fn one_file(name: &str, data: &[u8]) -> Vec<u8> {
    build(&[E::File(name, data, 0o644)])
}

/// Rewrites every declared uncompressed size (local headers and central directory) to
/// `declared`, the way a zip bomb lies about how much it holds.
pub(crate) fn lie_about_sizes(zip: &mut [u8], declared: u32) {
    const LOCAL: [u8; 4] = [0x50, 0x4b, 0x03, 0x04];
    const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    let mut i = 0;
    while i + 46 <= zip.len() {
        let offset = match &zip[i..i + 4] {
            sig if sig == LOCAL => Some(22),
            sig if sig == CENTRAL => Some(24),
            _ => None,
        };
        if let Some(offset) = offset {
            zip[i + offset..i + offset + 4].copy_from_slice(&declared.to_le_bytes());
        }
        i += 1;
    }
}

/// Where the data of the `nth` (from 0) local entry starts, to damage it in tests.
pub(crate) fn data_start(zip: &[u8], nth: usize) -> usize {
    let header = zip
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x50, 0x4b, 0x03, 0x04])
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap();
    let len = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    header + 30 + len(header + 26) + len(header + 28)
}
