//! Function packages built in memory.

use std::io::{Cursor, Write as _};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A deflated zip of `(name, contents, unix mode)` entries.
pub fn build(files: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
    let base = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, mode) in files {
        zip.start_file(*name, base.unix_permissions(*mode))?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// The no-op Python function of the warm benchmark (handler `noop.handler`).
pub const NOOP_PY: &str = "def handler(event, context):\n    return {}\n";

/// The no-op Python function of the scaling, pinned, async and memory benchmarks (handler
/// `sleepy.handler`): returns `{}` at once for the `{}` event the load runs send; an event
/// `{"sleep": S}` makes it sleep S seconds first, which the warm-ups use to hold sandboxes busy
/// so that the daemon starts one per concurrent request.
pub const SLEEPY_PY: &str = "import time\n\n\ndef handler(event, context):\n    if isinstance(event, dict) and event.get(\"sleep\"):\n        time.sleep(event[\"sleep\"])\n    return {}\n";

/// The Node.js counterpart of [`SLEEPY_PY`] (handler `sleepy.handler`).
pub const SLEEPY_JS: &str = "exports.handler = async (event) => {\n  if (event && event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));\n  return {};\n};\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_readable_zip_with_modes() {
        let z = build(&[("bootstrap", b"#!/bin/sh\n", 0o755)]).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(z)).unwrap();
        let f = archive.by_index(0).unwrap();
        assert_eq!(f.name().unwrap(), "bootstrap");
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o755));
    }
}
