//! An HTTP request as the event a function URL gives its function: API Gateway's payload
//! format 2.0, as Lambda builds it.
//!
//! - header names lower-cased, repeated headers joined with `,`; `Cookie` moves to `cookies`;
//! - `rawQueryString` as sent (no `?`), `queryStringParameters` decoded, repeated keys joined
//!   with `,`; both `cookies` and `queryStringParameters` left out when there are none;
//! - `body` left out when empty; text (a `text/*`, JSON, XML or JavaScript content type, and
//!   valid UTF-8) as it is, anything else base64 with `isBase64Encoded: true`;
//! - `requestContext.authorizer.iam` only for `AWS_IAM` URLs, `accountId` `anonymous`
//!   for `NONE` ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use base64::Engine as _;
use http::request::Parts;
use lambdalet_core::{AccountInfo, Principal};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// Who signed a request to an `AWS_IAM` URL.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub access_key_id: String,
    pub principal: Principal,
}

/// What the event is made from besides the request itself.
pub(crate) struct EventContext<'a> {
    pub account: &'a AccountInfo,
    pub url_id: &'a str,
    /// The path the function sees (`/url/<id>` taken off).
    pub raw_path: &'a str,
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub peer: SocketAddr,
    /// The URL listener's port, for `x-forwarded-port`.
    pub port: u16,
    pub signer: Option<&'a Signer>,
    pub now: SystemTime,
}

/// The event for `parts` and `body`.
pub(crate) fn build(parts: &Parts, body: &[u8], c: &EventContext<'_>) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    headers
        .entry("x-amzn-trace-id".to_owned())
        .or_insert_with(|| c.trace_id.to_owned());
    headers.insert("x-forwarded-for".to_owned(), c.peer.ip().to_string());
    headers.insert("x-forwarded-proto".to_owned(), "http".to_owned());
    headers.insert("x-forwarded-port".to_owned(), c.port.to_string());

    let raw_query = parts.uri.query().unwrap_or("");
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let domain = format!("{}.lambda-url.{}.localhost", c.url_id, c.account.region);
    let mut context = json!({
        "accountId": if c.signer.is_some() { c.account.account_id.as_str() } else { "anonymous" },
        "apiId": c.url_id,
        "domainName": domain,
        "domainPrefix": c.url_id,
        "http": {
            "method": parts.method.as_str(),
            "path": c.raw_path,
            "protocol": protocol(parts.version),
            "sourceIp": c.peer.ip().to_string(),
            "userAgent": user_agent,
        },
        "requestId": c.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": request_time(c.now),
        "timeEpoch": lambdalet_core::timefmt::epoch_millis(c.now),
    });
    if let Some(s) = c.signer {
        context["authorizer"] = authorizer(c.account, s);
    }

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!("$default"));
    event.insert("rawPath".into(), json!(c.raw_path));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !raw_query.is_empty() {
        event.insert(
            "queryStringParameters".into(),
            json!(query_parameters(raw_query)),
        );
    }
    event.insert("requestContext".into(), context);
    let text = is_text(headers.get("content-type").map(String::as_str));
    let as_text = text && std::str::from_utf8(body).is_ok();
    let base64 = !(body.is_empty() || as_text);
    if !body.is_empty() {
        let b = if base64 {
            base64::engine::general_purpose::STANDARD.encode(body)
        } else {
            String::from_utf8_lossy(body).into_owned()
        };
        event.insert("body".into(), json!(b));
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

/// `requestContext.authorizer` of a signed request: the signer as IAM would describe it
/// (an administrator's key as a user of the account, a function's key as its role's session).
fn authorizer(account: &AccountInfo, s: &Signer) -> Value {
    let acct = &account.account_id;
    let (user_arn, user_id) = match &s.principal {
        Principal::Function(f) => (
            format!("arn:aws:sts::{acct}:assumed-role/{f}/{f}"),
            format!("{}:{f}", s.access_key_id),
        ),
        _ => (
            format!("arn:aws:iam::{acct}:user/{}", s.access_key_id),
            s.access_key_id.clone(),
        ),
    };
    json!({"iam": {
        "accessKey": s.access_key_id,
        "accountId": acct,
        "callerId": user_id,
        "cognitoIdentity": null,
        "principalOrgId": null,
        "userArn": user_arn,
        "userId": user_id,
    }})
}

fn protocol(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// `requestContext.time`: `12/Mar/2020:19:03:58 +0000`.
fn request_time(t: SystemTime) -> String {
    let f = format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    OffsetDateTime::from(t)
        .format(&f)
        .unwrap_or_else(|_| "01/Jan/1970:00:00:00 +0000".to_owned())
}

/// `queryStringParameters`: each key's values percent-decoded and joined with `,`.
fn query_parameters(raw: &str) -> BTreeMap<String, String> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        out.entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

/// Whether a body of this content type goes to the function as text.
pub(crate) fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || ["json", "xml", "javascript"]
            .iter()
            .any(|t| mime.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    fn context<'a>(account: &'a AccountInfo, signer: Option<&'a Signer>) -> EventContext<'a> {
        EventContext {
            account,
            url_id: "abc",
            raw_path: "/p/q",
            request_id: "rid",
            trace_id: "Root=1-1-1",
            peer: "127.0.0.2:5555".parse().expect("addr"),
            port: 9003,
            signer,
            now: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_583_348_638_390),
        }
    }

    #[test]
    fn builds_payload_format_2() {
        let account = AccountInfo::default();
        let p = parts(
            "/url/abc/p/q?a=1&a=2&b=x%20y&flag",
            &[
                ("X-Multi", "v1"),
                ("x-multi", "v2"),
                ("Cookie", "c1=v1; c2=v2"),
                ("Content-Type", "application/json"),
                ("User-Agent", "curl/8"),
            ],
        );
        let e = build(&p, br#"{"k":1}"#, &context(&account, None));
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["rawPath"], "/p/q");
        assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y&flag");
        assert_eq!(e["cookies"], json!(["c1=v1", "c2=v2"]));
        assert_eq!(e["headers"]["x-multi"], "v1,v2");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["headers"]["x-forwarded-for"], "127.0.0.2");
        assert_eq!(
            e["queryStringParameters"],
            json!({"a": "1,2", "b": "x y", "flag": ""})
        );
        let rc = &e["requestContext"];
        assert_eq!(rc["accountId"], "anonymous");
        assert!(rc.get("authorizer").is_none());
        assert_eq!(rc["http"]["userAgent"], "curl/8");
        assert_eq!(rc["http"]["sourceIp"], "127.0.0.2");
        assert_eq!(rc["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(rc["timeEpoch"], 1_583_348_638_390u64);
        assert_eq!(rc["domainName"], "abc.lambda-url.us-east-1.localhost");
        assert_eq!(e["body"], r#"{"k":1}"#);
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64_and_empty_ones_absent() {
        let account = AccountInfo::default();
        let signer = Signer {
            access_key_id: "LKIA1".into(),
            principal: Principal::Admin,
        };
        let p = parts("/x", &[("content-type", "image/png")]);
        let e = build(&p, &[0, 159, 146], &context(&account, Some(&signer)));
        assert_eq!(e["body"], "AJ+S");
        assert_eq!(e["isBase64Encoded"], true);
        assert!(e.get("cookies").is_none() && e.get("queryStringParameters").is_none());
        assert_eq!(
            e["requestContext"]["authorizer"]["iam"]["accessKey"],
            "LKIA1"
        );
        assert_eq!(e["requestContext"]["accountId"], account.account_id);
        let none = build(&parts("/x", &[]), b"", &context(&account, None));
        assert!(none.get("body").is_none());
        assert_eq!(none["isBase64Encoded"], false);
        let form = build(
            &parts(
                "/x",
                &[("content-type", "application/x-www-form-urlencoded")],
            ),
            b"a=1",
            &context(&account, None),
        );
        assert_eq!(form["isBase64Encoded"], true);
        assert!(is_text(Some("application/vnd.api+json; charset=utf-8")));
        assert!(!is_text(None));
    }
}
