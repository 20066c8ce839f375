//! Who may use the S3 endpoint: the Lambda API's rule (`--auth`), the same keys, and the same
//! view of where a connection comes from.
//!
//! - Signatures are checked by s3s against lambdalet's access keys ([`Keys`]); a function's
//!   session token, when sent, must be its own.
//! - A connection from a sandbox is that function's, whatever key it carries (an
//!   administrator's key is cut down, another function's refused), as on the Lambda API.
//! - With `--auth none` (the loopback default) unsigned requests, and requests signed with a
//!   key lambdalet does not know, act as an administrator ("any credentials do"): the
//!   signature of an unknown key is removed before s3s sees it ([`strip_unknown_key`]).
//! - A function may use every bucket unless its configuration lists `allowedBuckets`; other
//!   buckets then answer `AccessDenied`.

use std::net::SocketAddr;
use std::sync::Arc;

use lambdalet_control::Control;
use lambdalet_core::Principal;
use lambdalet_invoker::{Caller, Invoker};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// Whether requests must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every request signed with a lambdalet key.
    SigV4,
    /// Unsigned requests and unknown keys act as an administrator.
    None,
}

/// s3s's source of secrets: lambdalet's access keys.
pub struct Keys(pub Arc<Control>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.secret_of(access_key) {
            Some((secret, _)) => Ok(SecretKey::from(secret)),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in lambdalet's keys: make one with `lambdalet keys create`"
            )),
        }
    }
}

/// Where a connection comes from, found once per connection (the server's hook puts it in
/// every request's extensions).
#[derive(Clone)]
pub struct Origin {
    local: SocketAddr,
    peer: SocketAddr,
    caller: Arc<tokio::sync::OnceCell<Caller>>,
}

impl Origin {
    pub fn new(local: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            local,
            peer,
            caller: Arc::default(),
        }
    }

    /// The client's address, as S3 events carry it.
    pub fn peer_ip(&self) -> String {
        self.peer.ip().to_string()
    }

    async fn caller(&self, invoker: &Arc<Invoker>) -> Caller {
        self.caller
            .get_or_init(|| async {
                let (invoker, local, peer) = (invoker.clone(), self.local, self.peer);
                tokio::task::spawn_blocking(move || invoker.caller_of(local, peer))
                    .await
                    .unwrap_or(Caller::UnknownSandbox { uid: u32::MAX })
            })
            .await
            .clone()
    }
}

/// s3s's access check: the principal of each request, and what it may touch.
pub struct Rules {
    pub control: Arc<Control>,
    pub mode: Mode,
}

impl Rules {
    async fn principal(&self, cx: &mut S3AccessContext<'_>) -> S3Result<Principal> {
        let origin = cx.extensions_mut().get::<Origin>().cloned();
        let caller = match origin {
            Some(o) => o.caller(self.control.invoker()).await,
            None => Caller::Host,
        };
        let key = match cx.credentials() {
            Some(c) => {
                let Some((secret, who)) = self.control.secret_of(&c.access_key) else {
                    return Err(s3_error!(InvalidAccessKeyId));
                };
                if let Some(token) = cx
                    .headers()
                    .get("x-amz-security-token")
                    .and_then(|v| v.to_str().ok())
                    && token != lambdalet_auth::session_token(&secret)
                {
                    return Err(s3_error!(
                        InvalidToken,
                        "The provided token is malformed or otherwise invalid"
                    ));
                }
                Some(who)
            }
            None => None,
        };
        match (caller, key) {
            (Caller::UnknownSandbox { .. }, _) => Err(s3_error!(
                AccessDenied,
                "this connection comes from a sandbox that is no longer running"
            )),
            (Caller::Function(f), Some(Principal::Function(g))) if f != g => Err(s3_error!(
                AccessDenied,
                "a sandbox of function {f} may not use function {g}'s credentials"
            )),
            (Caller::Function(f), _) => Ok(Principal::Function(f)),
            (Caller::Host, Some(p)) => Ok(p),
            (Caller::Host, None) if self.mode == Mode::None => Ok(Principal::Admin),
            (Caller::Host, None) => Err(s3_error!(
                AccessDenied,
                "Signature is required: sign requests with a key from `lambdalet keys create` (the AWS CLI and SDKs do)"
            )),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Rules {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let who = self.principal(cx).await?;
        let bucket = cx.s3_path().get_bucket_name().map(str::to_owned);
        if let (Principal::Function(f), Some(bucket)) = (&who, bucket)
            && !self.control.function_may_use_bucket(f.as_str(), &bucket)
        {
            return Err(s3_error!(
                AccessDenied,
                "function {f} may not use bucket {bucket}: its allowedBuckets do not list it"
            ));
        }
        cx.extensions_mut().insert(who);
        Ok(())
    }
}

/// With `--auth none`: a request signed with a key lambdalet does not know loses its
/// signature (SigV4 or SigV2, header or presigned query), so s3s serves it as unsigned.
pub fn strip_unknown_key<B>(req: &mut http::Request<B>, control: &Control) {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(a) = header {
        let id = match a.split("Credential=").nth(1) {
            Some(c) => c.split('/').next().unwrap_or_default().to_owned(),
            // SigV2: `AWS <id>:<signature>`.
            None => a
                .strip_prefix("AWS ")
                .and_then(|r| r.split(':').next())
                .unwrap_or_default()
                .to_owned(),
        };
        if control.secret_of(&id).is_none() {
            req.headers_mut().remove(http::header::AUTHORIZATION);
            req.headers_mut().remove("x-amz-security-token");
        }
        return;
    }
    let Some(query) = req.uri().query() else {
        return;
    };
    let id = query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        match k {
            "X-Amz-Credential" => Some(v.split("%2F").next()?.split('/').next()?.to_owned()),
            "AWSAccessKeyId" => Some(v.to_owned()),
            _ => None,
        }
    });
    let Some(id) = id else {
        return;
    };
    if control.secret_of(&id).is_some() {
        return;
    }
    const SIGNING: &[&str] = &["AWSAccessKeyId", "Signature", "Expires"];
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or_default();
            !k.starts_with("X-Amz-") && !SIGNING.contains(&k)
        })
        .collect();
    let path = req.uri().path().to_owned();
    let uri = if kept.is_empty() {
        path
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    if let Ok(u) = uri.parse() {
        *req.uri_mut() = u;
    }
}
