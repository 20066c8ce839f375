//! The S3 endpoint's place in a build without it (no cargo feature `s3`): `--s3-listen`
//! defaults to `off`, and an address is refused with what is missing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use lambdalet_api::ServerConfig;
use lambdalet_control::Control;
use lambdalet_core::TriggerSources;
use lambdalet_invoker::AsyncQueue;
use lambdalet_store::Store;

use crate::cli::ServeArgs;

/// `--s3-listen`'s default: no endpoint to listen for.
pub const DEFAULT_LISTEN: &str = "off";

/// Why there is no S3 endpoint.
pub const OFF: &str =
    "this lambdalet was built without the embedded S3 endpoint (cargo feature `s3`)";

/// The principal of bucket notifications in resource-based policies.
pub const PRINCIPAL: &str = "s3.amazonaws.com";

/// Never made: there is no endpoint to bind.
pub enum Listener {}

/// `off` gives `None`; an address is an error that says the endpoint is not in this build.
pub async fn bind(args: &ServeArgs) -> anyhow::Result<Option<Listener>> {
    if args.s3_listen == "off" {
        tracing::info!("no S3 endpoint: {OFF}");
        return Ok(None);
    }
    anyhow::bail!("--s3-listen {}: {OFF}; use --s3-listen off", args.s3_listen)
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match *self {}
    }

    pub fn add_triggers(&self, _: &TriggerSources, _: &Store, _: &Path) {
        match *self {}
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the same signature as the endpoint's own"
    )]
    pub fn start(
        self,
        _: &ServeArgs,
        _: &Path,
        _: &Store,
        _: &Arc<AsyncQueue>,
        _: &Arc<Control>,
        _: ServerConfig,
        _: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        match self {}
    }
}

/// A bucket notification needs the endpoint.
pub fn notify_on_upload(
    _: &Store,
    _: &Control,
    _: &Path,
    _: &str,
    _: &str,
    _: &str,
) -> anyhow::Result<()> {
    anyhow::bail!("{OFF}")
}
