//! The Greengrass IPC server: a Unix socket speaking the AWS event-stream RPC protocol
//! (`lambdalet-ipc`), so code written for Greengrass with the AWS IoT Device SDK v2
//! (`awsiot.greengrasscoreipc`) publishes and subscribes unmodified.
//!
//! Every sandbox gets the socket's path in `AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`
//! and its function's token in `SVCUID`. A connection must start with CONNECT carrying a known
//! token; then each stream carries one operation: `PublishToTopic`, `SubscribeToTopic`,
//! `PublishToIoTCore`, `SubscribeToIoTCore`. A function's `accessControl` policies are enforced
//! when it has some.

mod auth;
mod connection;
mod ops;

pub use auth::{MQTT_PROXY, PUBSUB, allowed};
pub use ops::{PUBLISH_TO_IOT_CORE, PUBLISH_TO_TOPIC, SUBSCRIBE_TO_IOT_CORE, SUBSCRIBE_TO_TOPIC};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lambdalet_core::Tokens;
use tokio::net::UnixListener;

use crate::router::EventRouter;

/// What connections need.
pub(crate) struct Context {
    pub router: Arc<EventRouter>,
    pub tokens: Arc<Tokens>,
    /// Largest frame a client may send.
    pub max_frame: usize,
    pub stats: Arc<IpcStats>,
}

/// Counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct IpcStats {
    pub connections: AtomicU64,
    pub refused_tokens: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub unauthorized: AtomicU64,
    pub operations: AtomicU64,
}

/// A listening IPC socket; stops accepting when dropped.
pub struct IpcServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    pub stats: Arc<IpcStats>,
}

impl IpcServer {
    /// Lets the members of `group` connect (the group every container sandbox has).
    pub fn grant(&self, group: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(&self.path, None, Some(group))?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o660))
    }

    /// Listens on `path` (a stale socket file from an earlier run is replaced).
    pub fn start(
        path: &Path,
        router: Arc<EventRouter>,
        tokens: Arc<Tokens>,
    ) -> std::io::Result<Self> {
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let listener = UnixListener::bind(path)?;
        // Its owner's only until the daemon gives the sandboxes' group access (`grant`); what a
        // connection may do is then decided by the token (SVCUID) it presents.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        // Frames carry base64 payloads (4/3 of the bytes) and headers.
        let max_frame = router.bus.max_message() / 3 * 4 + 16 * 1024;
        let stats = Arc::new(IpcStats::default());
        let ctx = Arc::new(Context {
            router,
            tokens,
            max_frame,
            stats: stats.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        ctx.stats.connections.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(connection::serve(stream, ctx.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("IPC accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        tracing::info!(path = %path.display(), "Greengrass IPC listening");
        Ok(Self {
            path: path.to_owned(),
            task,
            stats,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for IpcServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}
