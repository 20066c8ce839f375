//! A manifest's `Artifacts`: where each file comes from, how to check it, whether to unzip
//! it and which mode it gets (GG2 component-recipe-reference.md; NUC `ArtifactDownloader`,
//! `models/Permission.java`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::error::{Checked, Fault, describe, index, quote};
use super::fields::{Fields, choice, string};
use super::uri::parse_uri;

pub use super::uri::ArtifactUri;

/// One artifact of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    #[serde(rename = "Uri")]
    pub uri: ArtifactUri,
    /// Standard base64 of the file's digest; `None` means the file is not checked (a
    /// local recipe's artifacts, as in the nucleus).
    #[serde(rename = "Digest", skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Always `Some` when `digest` is: a digest without `Algorithm` is taken as SHA-256.
    #[serde(rename = "Algorithm", skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<DigestAlgorithm>,
    #[serde(rename = "Unarchive")]
    pub unarchive: Unarchive,
    #[serde(rename = "Permission")]
    pub permission: Permission,
}

impl Artifact {
    /// The directory a ZIP artifact unpacks to under `{artifacts:decompressedPath}`: its
    /// file name minus the last extension (`lambda-artifact.zip` → `lambda-artifact`). A
    /// name that is all extension (`.zip`) keeps its whole name rather than unpacking into
    /// the shared directory itself.
    pub fn unarchived_dir_name(&self) -> &str {
        let name = self.uri.file_name();
        match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => name,
        }
    }
}

/// `Algorithm`: a name Java's `MessageDigest` knows, limited to the SHA-2 family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Bytes in a digest.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// `SHA-256`, `sha256`, …: any case, with or without the dash.
    pub fn parse(name: &str) -> Option<Self> {
        let bare = name.to_ascii_uppercase().replace('-', "");
        match bare.as_str() {
            "SHA256" => Some(Self::Sha256),
            "SHA384" => Some(Self::Sha384),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest of `bytes` in standard base64, the form `Digest` holds.
    pub fn digest_base64(self, bytes: &[u8]) -> String {
        let engine = base64::engine::general_purpose::STANDARD;
        match self {
            Self::Sha256 => engine.encode(Sha256::digest(bytes)),
            Self::Sha384 => engine.encode(Sha384::digest(bytes)),
            Self::Sha512 => engine.encode(Sha512::digest(bytes)),
        }
    }
}

impl Serialize for DigestAlgorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `Unarchive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Unarchive {
    #[default]
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "ZIP")]
    Zip,
}

/// `Permission`: who may read and run the file. There is no write: artifacts are
/// read-only to every component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Permission {
    /// `Read`, default `OWNER`.
    #[serde(rename = "Read")]
    pub read: Access,
    /// `Execute`, default `NONE`. Execute implies read for the same users.
    #[serde(rename = "Execute")]
    pub execute: Access,
}

impl Default for Permission {
    fn default() -> Self {
        Self {
            read: Access::Owner,
            execute: Access::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Access {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "OWNER")]
    Owner,
    #[serde(rename = "ALL")]
    All,
}

impl Permission {
    /// The file's mode. The owner can always read (the nucleus's
    /// `Permission.toFileSystemPermission` sets owner-read whatever `Read` says, so the
    /// component's user can read what it runs), `ALL` adds group and other, and no one
    /// may write. Unlike the nucleus, `Execute: ALL` also grants read to everyone, as the
    /// recipe reference documents ("Execute implies Read"): a script others may run but
    /// not read would not run.
    pub fn file_mode(&self) -> u32 {
        let mut mode = 0o400;
        if self.read == Access::All || self.execute == Access::All {
            mode |= 0o044;
        }
        match self.execute {
            Access::None => {}
            Access::Owner => mode |= 0o100,
            Access::All => mode |= 0o111,
        }
        mode
    }
}

const ARTIFACT_KEYS: &[&str] = &["Uri", "Digest", "Algorithm", "Unarchive", "Permission"];
const ACCESS: &[&str] = &["NONE", "OWNER", "ALL"];

/// Reads a manifest's `Artifacts` list and checks that its file names (and the
/// directories its ZIPs unpack to) do not collide.
pub(crate) fn parse_artifacts(v: Option<&Value>, path: &str) -> Checked<Vec<Artifact>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let items = v.as_array().ok_or_else(|| {
        Fault::new(
            path,
            format!("expected a list of artifacts, got {}", describe(v)),
        )
    })?;
    let mut artifacts = Vec::with_capacity(items.len());
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = index(path, i);
        let artifact = parse_artifact(item, &at)?;
        let name = artifact.uri.file_name().to_string();
        if let Some(first) = names.insert(name.clone(), i) {
            return Err(Fault::new(
                format!("{at}.Uri"),
                format!(
                    "file name {} is already used by {}; artifacts of one manifest need distinct file names",
                    quote(&name),
                    index(path, first)
                ),
            ));
        }
        if artifact.unarchive == Unarchive::Zip {
            let dir = artifact.unarchived_dir_name().to_string();
            if let Some(first) = dirs.insert(dir.clone(), i) {
                return Err(Fault::new(
                    format!("{at}.Unarchive"),
                    format!(
                        "unpacks to the directory {} that {} unpacks to as well; rename one archive",
                        quote(&dir),
                        index(path, first)
                    ),
                ));
            }
        }
        artifacts.push(artifact);
    }
    Ok(artifacts)
}

fn parse_artifact(v: &Value, path: &str) -> Checked<Artifact> {
    let f = Fields::of(v, path, "an artifact", ARTIFACT_KEYS)?;
    let uri = match f.get("Uri") {
        Some(u) => parse_uri(&string(u, &f.path("Uri"))?, &f.path("Uri"))?,
        None => {
            return Err(Fault::new(
                f.path("Uri"),
                "missing, expected the artifact's URI (greengrass:NAME, s3://bucket/key, https://…, file:PATH)",
            ));
        }
    };
    let algorithm = match f.get("Algorithm") {
        Some(a) => {
            let name = string(a, &f.path("Algorithm"))?;
            let found = DigestAlgorithm::parse(&name).ok_or_else(|| {
                Fault::new(
                    f.path("Algorithm"),
                    format!(
                        "unknown digest algorithm {}; accepted: SHA-256, SHA-384, SHA-512",
                        quote(&name)
                    ),
                )
            })?;
            Some(found)
        }
        None => None,
    };
    let digest = f
        .get("Digest")
        .map(|d| string(d, &f.path("Digest")))
        .transpose()?;
    let algorithm = match (&digest, algorithm) {
        (Some(d), algorithm) => {
            let algorithm = algorithm.unwrap_or(DigestAlgorithm::Sha256);
            check_digest(d, algorithm, &f.path("Digest"))?;
            Some(algorithm)
        }
        (None, algorithm) => algorithm,
    };
    let unarchive = match f.get("Unarchive") {
        Some(u) if choice(u, &f.path("Unarchive"), &["NONE", "ZIP"])? == "ZIP" => Unarchive::Zip,
        _ => Unarchive::None,
    };
    let permission = match f.get("Permission") {
        Some(p) => parse_permission(p, &f.path("Permission"))?,
        None => Permission::default(),
    };
    Ok(Artifact {
        uri,
        digest,
        algorithm,
        unarchive,
        permission,
    })
}

fn check_digest(digest: &str, algorithm: DigestAlgorithm, path: &str) -> Checked<()> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(digest);
    if decoded.is_ok_and(|bytes| bytes.len() == algorithm.digest_len()) {
        return Ok(());
    }
    Err(Fault::new(
        path,
        format!(
            "expected base64 of a {}-byte {} digest, got {} ({} characters)",
            algorithm.digest_len(),
            algorithm.as_str(),
            quote(digest),
            digest.chars().count()
        ),
    ))
}

fn parse_permission(v: &Value, path: &str) -> Checked<Permission> {
    let f = Fields::of(v, path, "a permission", &["Read", "Execute"])?;
    let access = |name: &str, default: Access| -> Checked<Access> {
        Ok(match f.get(name) {
            None => default,
            Some(v) => match choice(v, &f.path(name), ACCESS)? {
                "NONE" => Access::None,
                "OWNER" => Access::Owner,
                _ => Access::All,
            },
        })
    };
    Ok(Permission {
        read: access("Read", Access::Owner)?,
        execute: access("Execute", Access::None)?,
    })
}

#[cfg(test)]
mod tests;
