//! Artifact URIs: the schemes lambdalet can fetch from, and the file name each one lands
//! under in the component's artifact directory.

use std::fmt;

use serde::{Serialize, Serializer};

use super::error::{Checked, Fault, quote};

/// Where an artifact comes from. `Display` gives the canonical URI (lower-case scheme).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArtifactUri {
    /// `greengrass:NAME`: a file shipped with the component (the Greengrass artifact store;
    /// for a local deployment, the artifact directory given with the recipe).
    Greengrass(String),
    /// `file:PATH` (or `file:///abs/path`): a file already on the device; holds `PATH`.
    File(String),
    /// `s3://bucket/key`.
    S3 { bucket: String, key: String },
    /// `https://host/path`, kept whole.
    Https(String),
}

impl ArtifactUri {
    /// The name the artifact is stored under: the last `/`-separated segment of its path
    /// (for `https`, of the path before any `?` or `#`). Never empty, `.` or `..`.
    pub fn file_name(&self) -> &str {
        let path = match self {
            Self::Greengrass(p) | Self::File(p) => p.as_str(),
            Self::S3 { key, .. } => key.as_str(),
            Self::Https(url) => https_path(url),
        };
        path.rsplit('/').next().unwrap_or(path)
    }
}

/// The path of an `https://host/path?query` URL, without query or fragment.
fn https_path(url: &str) -> &str {
    let rest = url.get("https://".len()..).unwrap_or("");
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    path.split(['?', '#']).next().unwrap_or(path)
}

impl fmt::Display for ArtifactUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Greengrass(name) => write!(f, "greengrass:{name}"),
            Self::File(path) => write!(f, "file:{path}"),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Self::Https(url) => f.write_str(url),
        }
    }
}

impl Serialize for ArtifactUri {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

const SCHEMES: &str = "greengrass:NAME, s3://bucket/key, https://host/path or file:PATH";

/// Parses and checks an artifact URI; the scheme is matched ignoring case.
pub(crate) fn parse_uri(uri: &str, path: &str) -> Checked<ArtifactUri> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(Fault::new(
            path,
            format!("expected a URI ({SCHEMES}), got {}", quote(uri)),
        ));
    };
    let parsed = match scheme.to_ascii_lowercase().as_str() {
        "greengrass" => ArtifactUri::Greengrass(rest.to_string()),
        "file" => {
            let local = rest.strip_prefix("//").unwrap_or(rest);
            ArtifactUri::File(local.to_string())
        }
        "s3" => {
            let parts = rest
                .strip_prefix("//")
                .and_then(|r| r.split_once('/'))
                .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
            let Some((bucket, key)) = parts else {
                return Err(Fault::new(
                    path,
                    format!("expected s3://bucket/key, got {}", quote(uri)),
                ));
            };
            ArtifactUri::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }
        }
        "https" => {
            let host = rest
                .strip_prefix("//")
                .map(|r| r.split(['/', '?', '#']).next());
            if host.flatten().is_none_or(str::is_empty) {
                return Err(Fault::new(
                    path,
                    format!("expected https://host/path, got {}", quote(uri)),
                ));
            }
            ArtifactUri::Https(format!("https:{rest}"))
        }
        _ => {
            return Err(Fault::new(
                path,
                format!(
                    "unsupported URI scheme {} in {}; accepted: {SCHEMES}",
                    quote(scheme),
                    quote(uri)
                ),
            ));
        }
    };
    let name = parsed.file_name();
    if name.is_empty() || name == "." || name == ".." || name.contains(['\\', '\0']) {
        return Err(Fault::new(
            path,
            format!(
                "expected a URI that ends in a file name, got {}",
                quote(uri)
            ),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) -> ArtifactUri {
        parse_uri(uri, "Uri").unwrap()
    }

    fn err(uri: &str) -> String {
        parse_uri(uri, "Uri").err().unwrap().message
    }

    #[test]
    fn each_scheme_gives_its_file_name() {
        let table = [
            (
                "greengrass:lambda-artifact.zip",
                "lambda-artifact.zip",
                "greengrass:lambda-artifact.zip",
            ),
            ("GreenGrass:dir/x.py", "x.py", "greengrass:dir/x.py"),
            (
                "s3://bucket/path/to/model.tar",
                "model.tar",
                "s3://bucket/path/to/model.tar",
            ),
            (
                "https://example.com/a/b.zip?sig=1#f",
                "b.zip",
                "https://example.com/a/b.zip?sig=1#f",
            ),
            ("file:///opt/app/run.sh", "run.sh", "file:/opt/app/run.sh"),
            ("file:run.sh", "run.sh", "file:run.sh"),
        ];
        for (uri, name, shown) in table {
            let parsed = ok(uri);
            assert_eq!(parsed.file_name(), name, "{uri}");
            assert_eq!(parsed.to_string(), shown, "{uri}");
        }
        assert_eq!(
            ok("s3://b/k/x"),
            ArtifactUri::S3 {
                bucket: "b".into(),
                key: "k/x".into()
            }
        );
    }

    #[test]
    fn bad_uris_are_refused() {
        assert_eq!(
            err("ftp://host/x.zip"),
            "unsupported URI scheme \"ftp\" in \"ftp://host/x.zip\"; accepted: greengrass:NAME, s3://bucket/key, https://host/path or file:PATH"
        );
        assert!(err("http://host/x.zip").starts_with("unsupported URI scheme \"http\""));
        assert!(err("x.zip").starts_with("expected a URI (greengrass:NAME"));
        assert_eq!(
            err("s3://bucket"),
            "expected s3://bucket/key, got \"s3://bucket\""
        );
        assert_eq!(
            err("s3:///key"),
            "expected s3://bucket/key, got \"s3:///key\""
        );
        assert_eq!(
            err("https:///x"),
            "expected https://host/path, got \"https:///x\""
        );
        for no_name in [
            "s3://b/dir/",
            "greengrass:",
            "greengrass:a/..",
            "https://host",
            "file:.",
        ] {
            assert_eq!(
                err(no_name),
                format!("expected a URI that ends in a file name, got {no_name:?}")
            );
        }
    }
}
