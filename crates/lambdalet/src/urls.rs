//! Wiring the function URL listener (`--url-listen`): its socket, and the server loop with
//! each connection's peer address (the event's `sourceIp`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use lambdalet_api::{Server, ServerConfig};
use lambdalet_control::Control;
use lambdalet_invoker::Invoker;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// Binds `--url-listen`, or `None` with `off`.
pub async fn bind(args: &ServeArgs) -> anyhow::Result<Option<TcpListener>> {
    if args.url_listen == "off" {
        return Ok(None);
    }
    let addr: SocketAddr = args.url_listen.parse().with_context(|| {
        format!(
            "--url-listen {:?} is not an address (HOST:PORT) or off",
            args.url_listen
        )
    })?;
    let l = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for function URLs (pick another --url-listen, or off)")
    })?;
    Ok(Some(l))
}

/// Serves function URLs on `listener` until `stop` turns true, and tells `control` the port
/// the URLs it hands out name.
pub fn start(
    listener: TcpListener,
    control: &Arc<Control>,
    invoker: &Arc<Invoker>,
    server: ServerConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr = listener.local_addr()?;
    control.set_url_port(addr.port());
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "function URLs are served on {addr}: anyone who reaches it can call every URL whose AuthType is NONE (use AWS_IAM for URLs that must be signed)"
        );
    }
    tracing::info!(
        "function URLs on http://{addr} (http://<url-id>.lambda-url.{}.localhost:{}/ or http://{addr}/url/<url-id>/)",
        control.account().region,
        addr.port()
    );
    let app = lambdalet_api::url_router(control.clone(), invoker.clone());
    Ok(tokio::spawn(async move {
        Server::new(listener, app, server)
            .serve(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    }))
}
