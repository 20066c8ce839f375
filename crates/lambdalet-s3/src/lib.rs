//! lambdalet's embedded S3 endpoint (`--s3-listen`, default `127.0.0.1:9002`).
//!
//! The S3 protocol (REST paths, XML, SigV4, multipart, presigned URLs) is the s3s crate's;
//! objects live on disk through s3s-fs under `<data>/s3/`. lambdalet adds: its access keys
//! and `--auth` rule ([`access`]), path-style and virtual-hosted-style addressing ([`host`]),
//! and bucket notifications that invoke functions through the durable async queue
//! ([`notify`]), with S3's event JSON ([`event`]) and filter rules ([`rules`]).
//!
//! The binary serves [`router`] with lambdalet-api's server loop, whose connection hook puts
//! an [`Origin`] in every request, so a sandbox's requests are its function's.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        reason = "a failing unwrap is how a test reports failure"
    )
)]

pub mod access;
pub mod event;
mod host;
pub mod notify;
mod objects;
pub mod rules;
pub mod triggers;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use lambdalet_control::Control;
use lambdalet_invoker::AsyncQueue;
use lambdalet_store::Store;
use s3s::service::{S3Service, S3ServiceBuilder};

pub use access::{Mode, Origin};
pub use host::Domains;
use notify::Notifier;

/// How the endpoint is set up.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Where buckets live (`<data>/s3`).
    pub root: PathBuf,
    /// Virtual-hosted-style addressing under this domain, besides `localhost`.
    pub domain: Option<String>,
    pub mode: Mode,
    /// Whether a notification needs the function's resource-based policy to let
    /// `s3.amazonaws.com` invoke it for the bucket (`--s3-require-permission`).
    pub require_permission: bool,
}

/// Failing to set the endpoint up.
#[derive(Debug, thiserror::Error)]
pub enum S3SetupError {
    #[error("cannot use {path} for the S3 endpoint's buckets: {source}")]
    Root {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the S3 endpoint's storage: {0}")]
    Storage(String),
}

#[derive(Clone)]
struct App {
    service: S3Service,
    control: Arc<Control>,
    mode: Mode,
}

/// The S3 endpoint as an axum router (every path is S3's).
pub fn router(
    config: S3Config,
    store: Store,
    queue: Arc<AsyncQueue>,
    control: Arc<Control>,
) -> Result<axum::Router, S3SetupError> {
    std::fs::create_dir_all(&config.root).map_err(|source| S3SetupError::Root {
        path: config.root.display().to_string(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&config.root, std::fs::Permissions::from_mode(0o700));
    let fs = s3s_fs::FileSystem::new(&config.root)
        .map_err(|e| S3SetupError::Storage(format!("{e:?}")))?;
    let root = config
        .root
        .canonicalize()
        .unwrap_or_else(|_| config.root.clone());
    let notifier = Arc::new(Notifier::new(
        store,
        queue,
        control.clone(),
        root.clone(),
        config.require_permission,
    ));
    let mut b = S3ServiceBuilder::new(objects::Objects { fs, notifier, root });
    b.set_auth(access::Keys(control.clone()));
    b.set_access(access::Rules {
        control: control.clone(),
        mode: config.mode,
    });
    b.set_host(Domains::new(config.domain.as_deref()));
    let app = App {
        service: b.build(),
        control,
        mode: config.mode,
    };
    Ok(axum::Router::new().fallback(serve).with_state(app))
}

async fn serve(State(app): State<App>, mut req: Request) -> Response {
    if app.mode == Mode::None {
        access::strip_unknown_key(&mut req, &app.control);
    }
    let req = req.map(s3s::Body::http_body_unsync);
    match app.service.call(req).await {
        Ok(resp) => resp.map(axum::body::Body::new).into_response(),
        Err(e) => {
            tracing::warn!("s3 request failed: {e:?}");
            (http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
