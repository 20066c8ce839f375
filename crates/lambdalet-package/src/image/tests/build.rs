//! Test images built in memory: layer tars (hostile ones too, with names written byte for
//! byte), compressed or not, packed as a legacy `docker save`, a Docker ≥ 25 save or an OCI
//! image layout.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use serde_json::json;
use tar::{EntryType, Header};

use crate::image::digest::sha256_hex;

/// One layer entry. Names and link targets go into the header verbatim.
#[derive(Debug, Clone)]
pub(crate) enum T<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str, u32),
    Symlink(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str),
    Fifo(&'a str),
}

fn header(name: &str, link: &str, kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().expect("a gnu header");
        assert!(name.len() <= gnu.name.len() && link.len() <= gnu.linkname.len());
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

/// A plain layer tar holding `entries` in order.
pub(crate) fn layer(entries: &[T<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for entry in entries {
        let (h, data): (Header, &[u8]) = match entry {
            T::File(n, d, m) => (header(n, "", EntryType::Regular, *m, d.len() as u64), d),
            T::Dir(n, m) => (header(n, "", EntryType::Directory, *m, 0), b""),
            T::Symlink(n, t) => (header(n, t, EntryType::Symlink, 0o777, 0), b""),
            T::Hard(n, t) => (header(n, t, EntryType::Link, 0o644, 0), b""),
            T::Char(n) => (header(n, "", EntryType::Char, 0o666, 0), b""),
            T::Fifo(n) => (header(n, "", EntryType::Fifo, 0o644, 0), b""),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A tar whose one file `name` comes after a PAX header of `pax_bytes` bytes, which a tar
/// reader buffers whole.
pub(crate) fn giant_pax(name: &str, pax_bytes: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let pax = vec![b'a'; pax_bytes];
    b.append(
        &header("pax", "", EntryType::XHeader, 0o644, pax.len() as u64),
        &pax[..],
    )
    .unwrap();
    b.append(&header(name, "", EntryType::Regular, 0o644, 2), &b"[]"[..])
        .unwrap();
    b.into_inner().unwrap()
}

/// A layer with one file of `size` zero bytes, gzip-compressed: tiny, and huge unpacked.
pub(crate) fn zero_bomb(size: u64) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Level::fast());
    {
        let mut b = tar::Builder::new(&mut gz);
        let h = header("bomb", "", EntryType::Regular, 0o644, size);
        b.append(&h, std::io::Read::take(std::io::repeat(0), size))
            .unwrap();
        b.finish().unwrap();
    }
    gz.finish().unwrap()
}

pub(crate) fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Level::fast());
    gz.write_all(tar).unwrap();
    gz.finish().unwrap()
}

pub(crate) fn zstd(tar: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(tar, ruzstd::encoding::CompressionLevel::Fastest)
}

/// An image: its layers as plain tars, and each layer's blob as stored (maybe compressed).
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub tars: Vec<Vec<u8>>,
    pub blobs: Vec<Vec<u8>>,
    pub media_types: Vec<&'static str>,
    pub cmd: Vec<&'static str>,
}

impl Image {
    pub(crate) fn plain(tars: Vec<Vec<u8>>) -> Self {
        let n = tars.len();
        Self {
            blobs: tars.clone(),
            tars,
            media_types: vec!["application/vnd.oci.image.layer.v1.tar"; n],
            cmd: vec!["app.handler"],
        }
    }

    pub(crate) fn gzipped(tars: Vec<Vec<u8>>) -> Self {
        let n = tars.len();
        Self {
            blobs: tars.iter().map(|t| gzip(t)).collect(),
            tars,
            media_types: vec!["application/vnd.oci.image.layer.v1.tar+gzip"; n],
            cmd: vec!["app.handler"],
        }
    }

    pub(crate) fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self
            .tars
            .iter()
            .map(|t| format!("sha256:{}", sha256_hex(t)))
            .collect();
        serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": ["/lambda-entrypoint.sh"],
                "Cmd": self.cmd,
                "WorkingDir": "/var/task",
                "Env": ["PATH=/usr/local/bin:/usr/bin", "LAMBDA_TASK_ROOT=/var/task"],
            },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        }))
        .unwrap()
    }

    pub(crate) fn id(&self) -> String {
        sha256_hex(&self.config())
    }

    fn descriptor(media_type: &str, blob: &[u8]) -> serde_json::Value {
        json!({ "mediaType": media_type, "digest": format!("sha256:{}", sha256_hex(blob)), "size": blob.len() })
    }

    /// The OCI image manifest for this image.
    pub(crate) fn manifest(&self) -> Vec<u8> {
        let layers: Vec<_> = self
            .blobs
            .iter()
            .zip(&self.media_types)
            .map(|(b, t)| Self::descriptor(t, b))
            .collect();
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": Self::descriptor("application/vnd.oci.image.config.v1+json", &self.config()),
            "layers": layers,
        }))
        .unwrap()
    }
}

/// Members of an outer archive, in order.
pub(crate) struct Archive(Vec<(String, Vec<u8>)>);

impl Archive {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn add(&mut self, name: &str, bytes: Vec<u8>) -> &mut Self {
        if !self.0.iter().any(|(n, _)| n == name) {
            self.0.push((name.to_owned(), bytes));
        }
        self
    }

    pub(crate) fn blob(&mut self, bytes: Vec<u8>) -> &mut Self {
        let name = format!("blobs/sha256/{}", sha256_hex(&bytes));
        self.add(&name, bytes)
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = (&str, &Vec<u8>)> {
        self.0.iter().map(|(n, b)| (n.as_str(), b))
    }

    /// Writes the archive as `dir/name` and returns its path.
    pub(crate) fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let mut b = tar::Builder::new(Vec::new());
        for (member, bytes) in &self.0 {
            let mut h = Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(bytes.len() as u64);
            b.append_data(&mut h, member, &bytes[..]).unwrap();
        }
        let path = dir.join(name);
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        path
    }
}

/// A `docker save` from Docker 24 or older: `<hex>.json`, `<id>/layer.tar`, `manifest.json`.
pub(crate) fn legacy_save(images: &[(&Image, &[&str])]) -> Archive {
    let mut archive = Archive::new();
    let mut manifest = Vec::new();
    for (image, tags) in images {
        let config = format!("{}.json", image.id());
        archive.add(&config, image.config());
        let mut layers = Vec::new();
        for (i, tar) in image.tars.iter().enumerate() {
            let id = sha256_hex(format!("{}-{i}", image.id()).as_bytes());
            archive.add(&format!("{id}/VERSION"), b"1.0".to_vec());
            archive.add(&format!("{id}/layer.tar"), tar.clone());
            layers.push(format!("{id}/layer.tar"));
        }
        manifest.push(json!({ "Config": config, "RepoTags": tags, "Layers": layers }));
    }
    archive.add("manifest.json", serde_json::to_vec(&manifest).unwrap());
    archive
}

/// An OCI image layout, one index entry per (image, reference name).
pub(crate) fn oci_layout(images: &[(&Image, &[&str])]) -> Archive {
    let mut archive = Archive::new();
    archive.add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
    let mut manifests = Vec::new();
    for (image, names) in images {
        archive.blob(image.config());
        for blob in &image.blobs {
            archive.blob(blob.clone());
        }
        let manifest = image.manifest();
        for name in *names {
            let mut d = Image::descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
            d["annotations"] = json!({ "io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest" });
            manifests.push(d);
        }
        archive.blob(manifest);
    }
    let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests });
    archive.add("index.json", serde_json::to_vec(&index).unwrap());
    archive
}

/// A `docker save` from Docker 25 or newer: an OCI layout plus a `manifest.json` naming blobs.
pub(crate) fn docker25_save(image: &Image, tags: &[&str]) -> Archive {
    let mut archive = oci_layout(&[(image, tags)]);
    let layers: Vec<String> = image
        .blobs
        .iter()
        .map(|b| format!("blobs/sha256/{}", sha256_hex(b)))
        .collect();
    let manifest = json!([{ "Config": format!("blobs/sha256/{}", image.id()), "RepoTags": tags, "Layers": layers }]);
    archive.add("manifest.json", serde_json::to_vec(&manifest).unwrap());
    archive
}
