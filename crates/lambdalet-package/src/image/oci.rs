//! The OCI image layout: `index.json` descriptors, followed (each blob checked against its
//! digest and size before it is parsed) down to image manifests.
//!
//! A descriptor in `index.json` is one image. It may point at an image index (a multi-
//! platform image); then the entry for this machine's architecture is taken, among those
//! whose blobs the archive actually has (a `docker save` of a multi-platform image keeps
//! only the platforms that were pulled). Attestation manifests and other artifacts are
//! skipped.

use std::collections::HashMap;

use serde::Deserialize;

use super::ImageError;
use super::archive::ArchiveIndex;
use super::digest::sha256_hex;
use super::manifest::{BlobRef, Candidate, blob_from_descriptor};

/// How many indexes deep a descriptor may lead before the layout counts as malformed.
const MAX_DEPTH: usize = 4;
const NAME_ANNOTATIONS: [&str; 2] = [
    "io.containerd.image.name",
    "org.opencontainers.image.ref.name",
];
const IMAGE_CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: Option<String>,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: HashMap<String, String>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

/// An index or a manifest: which one it is shows in the fields it has.
#[derive(Deserialize)]
struct Document {
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
}

/// The images of the OCI layout in `archive`.
pub(crate) fn layout(archive: &ArchiveIndex) -> Result<Vec<Candidate>, ImageError> {
    const FILE: &str = "index.json";
    let bytes = archive.read_small(FILE, "the OCI image layout")?;
    let index: Document =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::bad_json(FILE, e))?;
    let mut found = Vec::new();
    for descriptor in index.manifests.unwrap_or_default() {
        let names: Vec<String> = NAME_ANNOTATIONS
            .iter()
            .find_map(|key| descriptor.annotations.get(*key))
            .cloned()
            .into_iter()
            .collect();
        if let Some(mut candidate) = resolve(archive, &descriptor, 0)? {
            candidate.names = names;
            found.push(candidate);
        }
    }
    Ok(found)
}

/// The image a descriptor leads to, or `None` for an artifact that is not an image.
fn resolve(
    archive: &ArchiveIndex,
    descriptor: &Descriptor,
    depth: usize,
) -> Result<Option<Candidate>, ImageError> {
    let blob = blob_from_descriptor(
        &descriptor.digest,
        descriptor.size,
        descriptor.media_type.clone(),
    )?;
    if depth >= MAX_DEPTH {
        return Err(ImageError::bad_json(
            &blob.file,
            "image indexes nest too deeply",
        ));
    }
    let bytes = read_verified(archive, &blob, "index.json")?;
    let document: Document =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::bad_json(&blob.file, e))?;
    if let Some(children) = document.manifests {
        return match pick_platform(archive, &children)? {
            Some(child) => resolve(archive, child, depth + 1),
            None => Ok(None),
        };
    }
    let (Some(config), Some(layers)) = (document.config, document.layers) else {
        return Err(ImageError::bad_json(
            &blob.file,
            "it is neither an image index nor an image manifest",
        ));
    };
    let is_image = config
        .media_type
        .as_deref()
        .is_none_or(|t| IMAGE_CONFIG_TYPES.contains(&t));
    if !is_image {
        return Ok(None);
    }
    Ok(Some(Candidate {
        names: Vec::new(),
        config: blob_from_descriptor(&config.digest, config.size, config.media_type)?,
        layers: layers
            .into_iter()
            .map(|l| blob_from_descriptor(&l.digest, l.size, l.media_type))
            .collect::<Result<_, _>>()?,
    }))
}

/// The entry of a multi-platform index to use on this machine.
fn pick_platform<'a>(
    archive: &ArchiveIndex,
    children: &'a [Descriptor],
) -> Result<Option<&'a Descriptor>, ImageError> {
    let usable: Vec<&Descriptor> = children
        .iter()
        .filter(|c| c.platform.as_ref().is_none_or(|p| p.os == "linux"))
        .filter(|c| !c.annotations.contains_key("vnd.docker.reference.type"))
        .filter(|c| {
            super::digest::parse_digest(&c.digest)
                .is_ok_and(|hex| archive.member(&format!("blobs/sha256/{hex}")).is_some())
        })
        .collect();
    let arch = host_architecture();
    if let Some(native) = usable
        .iter()
        .find(|c| c.platform.as_ref().is_some_and(|p| p.architecture == arch))
    {
        return Ok(Some(native));
    }
    match usable.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only)),
        several => Err(ImageError::Unsupported {
            what: "platforms",
            value: several
                .iter()
                .filter_map(|c| c.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect::<Vec<_>>()
                .join(", "),
            hint: "none is for this machine's architecture; save the image with --platform for it",
        }),
    }
}

/// The architecture name images use for the machine we run on.
pub(crate) fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Reads a small blob and checks it against its descriptor's size and digest.
pub(crate) fn read_verified(
    archive: &ArchiveIndex,
    blob: &BlobRef,
    needed_by: &str,
) -> Result<Vec<u8>, ImageError> {
    let bytes = archive.read_small(&blob.file, needed_by)?;
    if let Some(expected) = blob.size
        && expected != bytes.len() as u64
    {
        return Err(ImageError::SizeMismatch {
            file: blob.file.clone(),
            expected,
            actual: bytes.len() as u64,
        });
    }
    if let Some(expected) = &blob.digest {
        let actual = sha256_hex(&bytes);
        if actual != *expected {
            return Err(ImageError::DigestMismatch {
                file: blob.file.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(bytes)
}
