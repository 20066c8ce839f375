//! Wiring the embedded S3 endpoint (`--s3-listen`): its listener, its `--auth` rule, and the
//! server loop with each connection's origin.
//!
//! Built with the cargo feature `s3` (a default one); `s3_absent.rs` stands in without it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use lambdalet_api::{Server, ServerConfig};
use lambdalet_control::Control;
use lambdalet_core::TriggerSources;
use lambdalet_invoker::AsyncQueue;
use lambdalet_s3::{Mode, Origin, S3Config};
use lambdalet_store::Store;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// `--s3-listen`'s default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9002";

/// Why there is no S3 endpoint, when there is none.
pub const OFF: &str = "--s3-listen is off";

/// The principal of bucket notifications in resource-based policies.
pub const PRINCIPAL: &str = lambdalet_s3::notify::S3_PRINCIPAL;

/// The endpoint's bound address, until it serves.
pub struct Listener(TcpListener);

/// Binds `--s3-listen` (before the sandboxes are set up: they get its address), or `None`
/// with `off`.
pub async fn bind(args: &ServeArgs) -> anyhow::Result<Option<Listener>> {
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
    Ok(Some(Listener(l)))
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

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// Lets the API show which functions the buckets' notifications invoke.
    pub fn add_triggers(&self, triggers: &TriggerSources, store: &Store, data_dir: &Path) {
        triggers.add(Arc::new(lambdalet_s3::triggers::BucketTriggers::new(
            store.clone(),
            data_dir.join("s3"),
        )));
    }

    /// Serves S3 until `stop` turns true.
    #[allow(
        clippy::too_many_arguments,
        reason = "the daemon's parts the endpoint uses, each once"
    )]
    pub fn start(
        self,
        args: &ServeArgs,
        data_dir: &Path,
        store: &Store,
        queue: &Arc<AsyncQueue>,
        control: &Arc<Control>,
        server: ServerConfig,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let addr = self.0.local_addr()?;
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
            Server::new(self.0, app, server)
                .on_connection(hook)
                .serve(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }))
    }
}

/// Stores the notification of `bucket` (its directory under the endpoint's root `root`, made
/// if missing) that invokes `function` for objects created under `prefix`, as `aws s3 mb` and
/// `put-bucket-notification-configuration` would make them.
pub fn notify_on_upload(
    store: &Store,
    control: &Control,
    root: &Path,
    bucket: &str,
    function: &str,
    prefix: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(root.join(bucket))?;
    let rule = lambdalet_s3::rules::Rule {
        id: function.to_owned(),
        function_arn: control.account().function_arn(function),
        function: function.to_owned(),
        qualifier: None,
        events: vec!["s3:ObjectCreated:*".to_owned()],
        prefix: Some(prefix.to_owned()),
        suffix: None,
    };
    store.put_setting(
        &format!("{}{bucket}", lambdalet_s3::notify::SETTING),
        &serde_json::to_string(&[rule])?,
    )?;
    Ok(())
}
