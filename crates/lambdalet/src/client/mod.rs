//! The client subcommands: they talk to a running daemon over its HTTP API, the same API the
//! AWS CLI uses, so anything they do can also be done with `aws lambda ...`.

pub mod component;
mod credentials;
pub mod deploy;
pub mod deployment;
pub mod doc;
pub mod events;
pub mod functions;
pub mod image;
pub mod invoke;
pub mod keys;
pub mod layers;
pub mod logs;
pub mod output;
pub mod queue;
pub mod runtimes;
mod sandbox_flags;
pub mod schedule;
pub mod top;
mod top_live;
mod top_model;
mod top_view;
mod upload;

use anyhow::{Context, anyhow};
use reqwest::{Method, Response};

/// A connection to the daemon at `endpoint`, signing requests with the key it finds (see
/// [`credentials`]).
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    key: Option<credentials::Key>,
}

impl Client {
    pub fn new(endpoint: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .build()
            .context("cannot build an HTTP client")?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let key = credentials::for_endpoint(&endpoint)?;
        Ok(Self {
            http,
            endpoint,
            key,
        })
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.endpoint))
    }

    /// Sends a request, signed when there is a key; a connection failure says how to start
    /// the daemon.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Response> {
        let mut req = req.build().context("cannot build the request")?;
        if let Some(key) = &self.key {
            sign(&mut req, key)?;
        }
        self.http.execute(req).await.map_err(|e| {
            if e.is_connect() {
                anyhow!(
                    "cannot reach lambdalet at {} ({e}): start it with `lambdalet serve` or `lambdalet up`, or point --endpoint / LAMBDALET_ENDPOINT at it",
                    self.endpoint
                )
            } else {
                anyhow!("request to {} failed: {e}", self.endpoint)
            }
        })
    }

    /// Sends a request whose body is a stream (an upload from a file): signed, when there is
    /// a key, with `UNSIGNED-PAYLOAD`.
    pub async fn send_streamed(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Response> {
        let mut req = req.build().context("cannot build the request")?;
        if let Some(key) = &self.key {
            sign_with(&mut req, key, Payload::Unsigned)?;
        }
        self.http
            .execute(req)
            .await
            .map_err(|e| anyhow!("request to {} failed: {e}", self.endpoint))
    }

    /// Sends a request and returns its JSON body, turning an API error into its message.
    pub async fn json(&self, req: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
        let body = self.body(req).await?;
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body).context("the daemon sent a response that is not JSON")
    }

    /// [`Self::json`], keeping the keys of objects in the order the daemon sent them (what
    /// `--output json` prints).
    pub async fn doc(&self, req: reqwest::RequestBuilder) -> anyhow::Result<doc::Doc> {
        let body = self.body(req).await?;
        if body.is_empty() {
            return Ok(doc::Doc::Null);
        }
        doc::Doc::parse(&body).context("the daemon sent a response that is not JSON")
    }

    /// Sends a request and returns the body of a successful answer.
    async fn body(&self, req: reqwest::RequestBuilder) -> anyhow::Result<bytes::Bytes> {
        let resp = self.send(req).await?;
        let status = resp.status();
        let body = resp.bytes().await.context("cannot read the response")?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        Ok(body)
    }
}

/// What the signature covers of the body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Its SHA-256 (the body must be in memory).
    Signed,
    /// `UNSIGNED-PAYLOAD`: a body streamed from a file.
    Unsigned,
}

/// Adds SigV4 headers (and `Host`, to sign exactly what is sent).
fn sign(req: &mut reqwest::Request, key: &credentials::Key) -> anyhow::Result<()> {
    sign_with(req, key, Payload::Signed)
}

fn sign_with(
    req: &mut reqwest::Request,
    key: &credentials::Key,
    payload: Payload,
) -> anyhow::Result<()> {
    let url = req.url().clone();
    let mut host = url.host_str().unwrap_or_default().to_owned();
    if let Some(port) = url.port() {
        host = format!("{host}:{port}");
    }
    let body = match (payload, req.body()) {
        (Payload::Unsigned, _) | (_, None) => &[][..],
        (Payload::Signed, Some(b)) => b
            .as_bytes()
            .context("a streamed request body cannot be signed")?,
    };
    let out = lambdalet_auth::Outgoing {
        method: req.method().as_str(),
        host: &host,
        path: url.path(),
        query: url.query().unwrap_or(""),
        body,
    };
    let sign = match payload {
        Payload::Signed => lambdalet_auth::sign,
        Payload::Unsigned => lambdalet_auth::sign_unsigned_payload,
    };
    let headers = sign(
        &out,
        &key.id,
        &key.secret,
        "us-east-1",
        "lambda",
        time::OffsetDateTime::now_utc(),
    );
    let h = req.headers_mut();
    h.insert(reqwest::header::HOST, host.parse()?);
    for (name, value) in headers {
        h.insert(name, value.parse()?);
    }
    Ok(())
}

/// `ResourceNotFoundException: Function not found: ...` from an error response.
pub fn api_error(status: reqwest::StatusCode, body: &[u8]) -> anyhow::Error {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let kind = v["errorType"].as_str().unwrap_or("error");
    let msg = v["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    anyhow!("{kind} ({}): {msg}", status.as_u16())
}

/// Percent-encodes a path segment (function names may be ARNs with ':').
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
