//! A Telemetry API (2022-07-01) or Logs API (2020-08-15) subscription request, checked as
//! Lambda checks it (spec digest 2 §4.3–4.4).

use serde::Deserialize;

/// Why a subscription was refused: 400 `ValidationError` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Which of the two APIs a subscription came through (their event sets differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Telemetry,
    /// The Logs API; `true` for schema 2021-03-18, which adds `platform.runtimeDone`.
    Logs(bool),
}

/// A checked subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub api: Api,
    pub platform: bool,
    pub function: bool,
    pub extension: bool,
    pub types: Vec<String>,
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout_ms: u64,
    /// Where the extension listens (on the sandbox's loopback) and the request path.
    pub port: u16,
    pub path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    schema_version: Option<String>,
    #[serde(default)]
    types: Vec<String>,
    buffering: Option<Buffering>,
    destination: Option<Destination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Buffering {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Destination {
    protocol: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    port: Option<u64>,
}

fn within(name: &str, v: Option<u64>, lo: u64, hi: u64, default: u64) -> Result<u64, Invalid> {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        return Err(Invalid(format!(
            "buffering.{name} must be between {lo} and {hi}, got {v}"
        )));
    }
    Ok(v)
}

/// Parses and checks a `PUT /2022-07-01/telemetry` (`logs` false) or `PUT /2020-08-15/logs`
/// body.
pub fn parse(body: &[u8], logs: bool) -> Result<Subscription, Invalid> {
    let b: Body = serde_json::from_slice(body)
        .map_err(|e| Invalid(format!("the subscription request is not valid JSON: {e}")))?;
    let api = match (logs, b.schema_version.as_deref()) {
        (false, Some("2022-07-01" | "2022-12-13" | "2025-01-29")) => Api::Telemetry,
        (false, v) => {
            return Err(Invalid(format!(
                "schemaVersion must be 2022-07-01, 2022-12-13 or 2025-01-29, got {v:?}"
            )));
        }
        (true, None | Some("2020-08-15")) => Api::Logs(false),
        (true, Some("2021-03-18")) => Api::Logs(true),
        (true, Some(v)) => {
            return Err(Invalid(format!(
                "schemaVersion must be 2020-08-15 or 2021-03-18, got {v:?}"
            )));
        }
    };
    if b.types.is_empty() {
        return Err(Invalid(
            "types must name at least one of platform, function, extension".to_owned(),
        ));
    }
    let (mut platform, mut function, mut extension) = (false, false, false);
    for t in &b.types {
        match t.as_str() {
            "platform" => platform = true,
            "function" => function = true,
            "extension" => extension = true,
            other => {
                return Err(Invalid(format!(
                    "type {other:?} is not one of platform, function, extension"
                )));
            }
        }
    }
    let buf = b.buffering.unwrap_or(Buffering {
        max_items: None,
        max_bytes: None,
        timeout_ms: None,
    });
    let max_items = within("maxItems", buf.max_items, 1_000, 10_000, 10_000)?;
    let max_bytes = within("maxBytes", buf.max_bytes, 262_144, 1_048_576, 262_144)?;
    let timeout_ms = within("timeoutMs", buf.timeout_ms, 25, 30_000, 1_000)?;
    let dest = b
        .destination
        .ok_or_else(|| Invalid("destination is required".to_owned()))?;
    match dest.protocol.as_deref() {
        Some("HTTP") => {}
        Some("TCP") => {
            return Err(Invalid(
                "destination protocol TCP is not supported by lambdalet: use HTTP".to_owned(),
            ));
        }
        other => {
            return Err(Invalid(format!(
                "destination.protocol must be HTTP, got {other:?}"
            )));
        }
    }
    let _ = dest.port;
    let uri = dest
        .uri
        .ok_or_else(|| Invalid("destination.URI is required".to_owned()))?;
    let (port, path) = sandbox_uri(&uri)?;
    Ok(Subscription {
        api,
        platform,
        function,
        extension,
        types: b.types,
        max_items: max_items as usize,
        max_bytes: max_bytes as usize,
        timeout_ms,
        port,
        path,
    })
}

/// `http://sandbox.localdomain:PORT/path` → (PORT, `/path`).
fn sandbox_uri(uri: &str) -> Result<(u16, String), Invalid> {
    let bad = || {
        Invalid(format!(
            "destination.URI {uri:?} must be http://sandbox.localdomain:PORT[/path]: the listener of an extension in this sandbox"
        ))
    };
    let rest = uri.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if !matches!(host, "sandbox.localdomain" | "sandbox") {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || port == 9001 {
        return Err(Invalid(format!(
            "destination.URI port {port} is not allowed (9001 is the Runtime API's)"
        )));
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad());
    }
    Ok((port, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telemetry_subscription_as_the_docs_show_it() {
        let s = parse(
            br#"{"schemaVersion":"2022-12-13","types":["platform","function"],
                "buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100},
                "destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}"#,
            false,
        )
        .expect("valid");
        assert_eq!(s.api, Api::Telemetry);
        assert!(s.platform && s.function && !s.extension);
        assert_eq!((s.max_items, s.timeout_ms), (1000, 100));
        assert_eq!((s.port, s.path.as_str()), (4243, "/telemetry"));
    }

    #[test]
    fn defaults_and_refusals() {
        let s = parse(
            br#"{"types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox:8080"}}"#,
            true,
        )
        .expect("logs API defaults");
        assert_eq!(s.api, Api::Logs(false));
        assert_eq!(
            (s.max_items, s.max_bytes, s.timeout_ms),
            (10_000, 262_144, 1_000)
        );
        assert_eq!(s.path, "/");
        for bad in [
            r#"{"schemaVersion":"2019-01-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":[],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"buffering":{"timeoutMs":5},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:8080"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9001"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["nope"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}}"#,
        ] {
            assert!(parse(bad.as_bytes(), false).is_err(), "{bad}");
        }
    }
}
