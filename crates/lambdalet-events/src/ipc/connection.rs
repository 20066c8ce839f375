//! One IPC client connection: CONNECT with a token, then one operation per stream. Bad frames,
//! unknown tokens and protocol violations get the protocol's own error and close the
//! connection; nothing a client sends can take the daemon down.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use lambdalet_ipc::frame::encode;
use lambdalet_ipc::rpc::{connect_ack, ping_response, protocol_error};
use lambdalet_ipc::{ConnectRequest, Decoder, MessageType, RpcMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::Context;
use super::ops::{self, StreamHandle};

/// Who is connected: the function and version its token was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub function: String,
    pub version: String,
}

pub(crate) async fn serve(stream: UnixStream, ctx: Arc<Context>) {
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<RpcMessage>(1024);
    let writer_task = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            let bytes = match encode(&msg.into_message()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("cannot encode an IPC message: {e}");
                    continue;
                }
            };
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });

    let mut decoder = Decoder::with_max_message(ctx.max_frame);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut peer: Option<Peer> = None;
    let mut streams: HashMap<i32, StreamHandle> = HashMap::new();
    loop {
        let frame = match decoder.decode(&mut buf) {
            Ok(Some(frame)) => frame,
            Ok(None) => match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            },
            Err(e) => {
                ctx.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = ?peer, "IPC connection closed: malformed frame: {e}");
                let _ = out_tx
                    .send(protocol_error(&format!("malformed frame: {e}")))
                    .await;
                break;
            }
        };
        let msg = match RpcMessage::from_message(frame) {
            Ok(m) => m,
            Err(e) => {
                ctx.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = ?peer, "IPC connection closed: invalid RPC message: {e}");
                let _ = out_tx
                    .send(protocol_error(&format!("invalid message: {e}")))
                    .await;
                break;
            }
        };
        let Some(who) = &peer else {
            match connect(&ctx, &msg) {
                Ok(p) => {
                    tracing::debug!(function = %p.function, "ipc.connect");
                    let _ = out_tx.send(connect_ack(true)).await;
                    peer = Some(p);
                    continue;
                }
                Err(why) => {
                    tracing::warn!("IPC connection refused: {why}");
                    let _ = out_tx.send(connect_ack(false)).await;
                    break;
                }
            }
        };
        match msg.message_type {
            MessageType::Ping => {
                let _ = out_tx.send(ping_response(&msg)).await;
            }
            MessageType::ApplicationMessage | MessageType::ApplicationError => {
                if streams.contains_key(&msg.stream_id) {
                    // The client closes a subscription by terminating its stream.
                    if msg.is_terminate_stream() {
                        streams.remove(&msg.stream_id);
                    }
                    continue;
                }
                if let Some(handle) = ops::handle(&ctx, who, msg, out_tx.clone()).await {
                    streams.insert(handle.stream_id, handle);
                }
            }
            MessageType::Connect => {
                ctx.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                let _ = out_tx.send(protocol_error("already connected")).await;
                break;
            }
            other => {
                ctx.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                let _ = out_tx
                    .send(protocol_error(&format!(
                        "unexpected {} message",
                        other.name()
                    )))
                    .await;
                break;
            }
        }
    }
    drop(streams);
    drop(out_tx);
    let _ = writer_task.await;
}

fn connect(ctx: &Context, msg: &RpcMessage) -> Result<Peer, String> {
    if msg.message_type != MessageType::Connect {
        ctx.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        return Err(format!(
            "the first message was {}, not CONNECT",
            msg.message_type.name()
        ));
    }
    let request = ConnectRequest::from_rpc(msg).map_err(|e| e.to_string())?;
    let identity = ctx.tokens.function_of(&request.auth_token).ok_or_else(|| {
        ctx.stats.refused_tokens.fetch_add(1, Ordering::Relaxed);
        "unknown authToken (SVCUID): only lambdalet's sandboxes get valid tokens".to_owned()
    })?;
    let (function, version) = identity
        .rsplit_once(':')
        .unwrap_or((identity.as_str(), "$LATEST"));
    Ok(Peer {
        function: function.to_owned(),
        version: version.to_owned(),
    })
}
