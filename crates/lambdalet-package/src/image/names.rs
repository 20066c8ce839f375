//! How an image is named when asked for: by id, id prefix, or repo tag.
//!
//! Names are only ever compared, never used as paths; ids are checked to be hex before they
//! name a file.

use super::ImageError;
use super::digest::is_hex64;

/// The shortest id prefix accepted, as Docker shows ids.
pub const MIN_ID_PREFIX: usize = 12;

/// What a reference given to `get` or `remove` asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    /// A full id.
    Id(String),
    /// At least [`MIN_ID_PREFIX`] hex digits of an id (or, failing that, a name).
    Prefix(String),
    Name(String),
}

pub(crate) fn parse_reference(reference: &str) -> Result<Reference, ImageError> {
    let invalid = || ImageError::InvalidReference {
        reference: reference.to_owned(),
    };
    if reference.is_empty()
        || reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (hex, explicit) = match reference.strip_prefix("sha256:") {
        Some(hex) => (hex, true),
        None => (reference, false),
    };
    let is_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if is_hex64(hex) {
        return Ok(Reference::Id(hex.to_owned()));
    }
    if is_hex && hex.len() >= MIN_ID_PREFIX && hex.len() < 64 {
        return Ok(Reference::Prefix(hex.to_owned()));
    }
    if explicit {
        return Err(invalid());
    }
    Ok(Reference::Name(reference.to_owned()))
}

/// A repo tag in the form it is compared in: Docker Hub's implicit prefixes dropped and
/// `:latest` added when no tag or digest is given, so `alpine`, `alpine:latest` and
/// `docker.io/library/alpine:latest` are one name.
pub(crate) fn normalize_name(name: &str) -> String {
    let short = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    let last = short.rsplit('/').next().unwrap_or(short);
    if last.contains(':') || last.contains('@') {
        short.to_owned()
    } else {
        format!("{short}:latest")
    }
}

/// Whether `reference` (an id, `sha256:` id or id prefix) names the image `id`.
pub(crate) fn id_matches(id: &str, reference: &str) -> bool {
    match parse_reference(reference) {
        Ok(Reference::Id(hex)) => hex == id,
        Ok(Reference::Prefix(hex)) => id.starts_with(&hex),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_ids_prefixes_or_names() {
        let id = "ab".repeat(32);
        assert_eq!(parse_reference(&id).unwrap(), Reference::Id(id.clone()));
        assert_eq!(
            parse_reference(&format!("sha256:{id}")).unwrap(),
            Reference::Id(id.clone())
        );
        assert_eq!(
            parse_reference(&id[..12]).unwrap(),
            Reference::Prefix(id[..12].into())
        );
        assert_eq!(
            parse_reference(&id[..11]).unwrap(),
            Reference::Name(id[..11].into())
        );
        assert_eq!(
            parse_reference("hello:1").unwrap(),
            Reference::Name("hello:1".into())
        );
        assert!(parse_reference("sha256:abc").is_err());
        assert!(parse_reference("").is_err());
        assert!(parse_reference("a b").is_err());
    }

    #[test]
    fn names_compare_in_docker_hub_short_form() {
        assert_eq!(normalize_name("alpine"), "alpine:latest");
        assert_eq!(normalize_name("docker.io/library/alpine:3"), "alpine:3");
        assert_eq!(normalize_name("docker.io/me/app"), "me/app:latest");
        assert_eq!(
            normalize_name("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_name("ecr.example/app@sha256:00"),
            "ecr.example/app@sha256:00"
        );
    }
}
