//! Finding the images in an archive: their names, config and layers, in either format.
//!
//! A `docker save` tarball has `manifest.json` (legacy: `<hex>.json` and `<id>/layer.tar`;
//! Docker ≥ 25: `blobs/sha256/<hex>` paths inside an OCI layout). It is read first when
//! present, since it is the only place Docker records every tag. Otherwise the archive must
//! be an OCI image layout (`oci-layout`, `index.json`), where each descriptor in the index is
//! an image (or a multi-platform index, narrowed to this machine's platform).

use serde::Deserialize;

use super::ImageError;
use super::archive::ArchiveIndex;
use super::digest::{Hex, is_hex64, parse_digest};
use super::oci;

/// One blob an image needs.
#[derive(Debug, Clone)]
pub(crate) struct BlobRef {
    /// Its member name in the archive.
    pub file: String,
    /// Its digest, when the format records one (a legacy layer's is only in the config).
    pub digest: Option<Hex>,
    /// Its size, when a descriptor gives one.
    pub size: Option<u64>,
    pub media_type: Option<String>,
}

/// An image the archive holds.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Repo tags or reference names, as recorded; may be empty.
    pub names: Vec<String>,
    pub config: BlobRef,
    pub layers: Vec<BlobRef>,
}

impl Candidate {
    /// How to call it in a message: its first name, or its config digest.
    pub(crate) fn label(&self) -> String {
        match (self.names.first(), &self.config.digest) {
            (Some(name), _) => name.clone(),
            (None, Some(hex)) => format!("sha256:{}", &hex[..12]),
            (None, None) => self.config.file.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Every image in the archive, images listed twice (two tags) merged into one.
pub(crate) fn candidates(archive: &ArchiveIndex) -> Result<Vec<Candidate>, ImageError> {
    let found = if archive.member("manifest.json").is_some() {
        docker_save(archive)?
    } else if archive.member("index.json").is_some() {
        oci::layout(archive)?
    } else {
        return Err(ImageError::NotAnArchive {
            path: archive.path().to_path_buf(),
            detail: "it has neither manifest.json nor index.json".into(),
        });
    };
    let mut merged: Vec<Candidate> = Vec::new();
    for candidate in found {
        let same = merged
            .iter_mut()
            .find(|c| c.config.file == candidate.config.file);
        match same {
            Some(existing) => {
                for name in candidate.names {
                    if !existing.names.contains(&name) {
                        existing.names.push(name);
                    }
                }
            }
            None => merged.push(candidate),
        }
    }
    if merged.is_empty() {
        return Err(ImageError::NoImage);
    }
    Ok(merged)
}

/// The one image to load: the only one, or the one called `name`.
pub(crate) fn pick(mut found: Vec<Candidate>, name: Option<&str>) -> Result<Candidate, ImageError> {
    let Some(name) = name else {
        if found.len() == 1 {
            return Ok(found.remove(0));
        }
        return Err(ImageError::SeveralImages {
            names: found.iter().map(Candidate::label).collect(),
        });
    };
    let wanted = super::names::normalize_name(name);
    let position = found.iter().position(|c| {
        c.names
            .iter()
            .any(|n| super::names::normalize_name(n) == wanted)
            || c.config
                .digest
                .as_deref()
                .is_some_and(|d| super::names::id_matches(d, name))
    });
    match position {
        Some(i) => Ok(found.remove(i)),
        None => Err(ImageError::NameNotInArchive {
            name: name.to_owned(),
            available: found.iter().map(Candidate::label).collect(),
        }),
    }
}

fn docker_save(archive: &ArchiveIndex) -> Result<Vec<Candidate>, ImageError> {
    const FILE: &str = "manifest.json";
    let bytes = archive.read_small(FILE, "docker save")?;
    let saved: Vec<SavedImage> =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::bad_json(FILE, e))?;
    Ok(saved
        .into_iter()
        .map(|image| Candidate {
            names: image.repo_tags.unwrap_or_default(),
            config: BlobRef {
                digest: digest_in_name(&image.config, true),
                file: image.config,
                size: None,
                media_type: None,
            },
            layers: image
                .layers
                .into_iter()
                .map(|file| BlobRef {
                    digest: digest_in_name(&file, false),
                    file,
                    size: None,
                    media_type: None,
                })
                .collect(),
        })
        .collect())
}

/// The digest a `docker save` member name carries: `blobs/sha256/<hex>`, or a legacy config's
/// `<hex>.json`. A legacy layer's `<id>/layer.tar` id is not a digest of anything in it.
fn digest_in_name(file: &str, config: bool) -> Option<Hex> {
    let file = file.trim_start_matches("./");
    if let Some(hex) = file.strip_prefix("blobs/sha256/") {
        return is_hex64(hex).then(|| hex.to_owned());
    }
    let hex = file.strip_suffix(".json").filter(|_| config)?;
    is_hex64(hex).then(|| hex.to_owned())
}

/// A descriptor's digest and size, checked.
pub(crate) fn blob_from_descriptor(
    digest: &str,
    size: u64,
    media_type: Option<String>,
) -> Result<BlobRef, ImageError> {
    let hex = parse_digest(digest)?;
    Ok(BlobRef {
        file: format!("blobs/sha256/{hex}"),
        digest: Some(hex),
        size: Some(size),
        media_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_taken_from_blob_and_config_names_only() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            digest_in_name(&format!("blobs/sha256/{hex}"), false),
            Some(hex.clone())
        );
        assert_eq!(
            digest_in_name(&format!("{hex}.json"), true),
            Some(hex.clone())
        );
        assert_eq!(digest_in_name(&format!("{hex}.json"), false), None);
        assert_eq!(digest_in_name(&format!("{hex}/layer.tar"), false), None);
        assert_eq!(digest_in_name("blobs/sha256/short", false), None);
    }
}
