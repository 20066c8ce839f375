//! Wiring the embedded S3 endpoint (`--s3-listen`): its listener, its `--auth` rule, and the
//! server loop with each connection's origin.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use lambdalet_api::{Server, ServerConfig};
use lambdalet_control::Control;
use lambdalet_invoker::AsyncQueue;
use lambdalet_s3::{Mode, Origin, S3Config};
use lambdalet_store::Store;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// Binds `--s3-listen` (before the sandboxes are set up: they get its address), or `None`
/// with `off`.
pub async fn bind(args: &ServeArgs) -> anyhow::Result<Option<TcpListener>> {
    if args.s3_listen == "off" {
        return Ok(None);
    }
    let addr: SocketAddr = args.s3_listen.parse().with_context(|| {
        format!(
            "--s3-listen {:?} is not an address (HOST:PORT) or off",
            args.s3_listen
        )
    })?;
    let l = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for S3 (pick another --s3-listen, or off)")
    })?;
    Ok(Some(l))
}

/// The S3 endpoint's `--auth` rule: as the Lambda API's, for its own address.
fn mode(
    args: &ServeArgs,
    addr: SocketAddr,
    control: &Control,
    data_dir: &Path,
) -> anyhow::Result<Mode> {
    let loopback = addr.ip().is_loopback();
    let mode = match args.auth.as_deref() {
        Some("none") => Mode::None,
        Some(_) => Mode::SigV4,
        None if loopback => Mode::None,
        None => Mode::SigV4,
    };
    match mode {
        Mode::SigV4 if !control.has_admin_key() => bail!(
            "--s3-listen {addr} needs signed requests, and this data directory has no access key yet: run `lambdalet keys create --data-dir {}` first (or --auth none, which lets anyone who reaches the port read and write every bucket)",
            data_dir.display()
        ),
        Mode::None if !loopback => tracing::warn!(
            "--auth none on the S3 endpoint {addr}: anyone who reaches it can read and write every bucket"
        ),
        _ => {}
    }
    Ok(mode)
}

/// Serves S3 on `listener` until `stop` turns true.
#[allow(
    clippy::too_many_arguments,
    reason = "the daemon's parts the endpoint uses, each once"
)]
pub fn start(
    listener: TcpListener,
    args: &ServeArgs,
    data_dir: &Path,
    store: &Store,
    queue: &Arc<AsyncQueue>,
    control: &Arc<Control>,
    server: ServerConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr = listener.local_addr()?;
    let mode = mode(args, addr, control, data_dir)?;
    let config = S3Config {
        root: data_dir.join("s3"),
        domain: args.s3_domain.clone(),
        mode,
        require_permission: !args.trust_services,
    };
    let app = lambdalet_s3::router(config, store.clone(), queue.clone(), control.clone())?;
    tracing::info!("s3 listening on http://{addr}");
    let hook: lambdalet_api::ConnectionHook = Arc::new(|stream: &tokio::net::TcpStream| {
        let mut ext = http::Extensions::new();
        if let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) {
            ext.insert(Origin::new(local, peer));
        }
        ext
    });
    Ok(tokio::spawn(async move {
        Server::new(listener, app, server)
            .on_connection(hook)
            .serve(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    }))
}
