//! The IPC operations lambdalet serves, with Greengrass's request and response shapes (the
//! Smithy model of `aws.greengrass`, as the AWS IoT Device SDK v2 sends them).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use bytes::Bytes;
use lambdalet_ipc::RpcMessage;
use lambdalet_ipc::rpc::{application_error, application_message};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Context;
use super::auth::{self, MQTT_PROXY, PUBSUB};
use super::connection::Peer;
use crate::bus::{ReceiveMode, Sink, Source, Subscription};
use crate::mqtt::Qos;
use crate::router::MqttSubscription;
use crate::topic::TopicFilter;

pub const PUBLISH_TO_TOPIC: &str = "aws.greengrass#PublishToTopic";
pub const SUBSCRIBE_TO_TOPIC: &str = "aws.greengrass#SubscribeToTopic";
pub const PUBLISH_TO_IOT_CORE: &str = "aws.greengrass#PublishToIoTCore";
pub const SUBSCRIBE_TO_IOT_CORE: &str = "aws.greengrass#SubscribeToIoTCore";

/// A stream that stays open (a subscription); dropping it ends the subscription.
pub(crate) struct StreamHandle {
    pub stream_id: i32,
    _local: Option<Subscription>,
    _mqtt: Option<MqttSubscription>,
    forward: tokio::task::JoinHandle<()>,
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

struct OpError {
    shape: &'static str,
    message: String,
}

fn invalid(message: impl Into<String>) -> OpError {
    OpError {
        shape: "aws.greengrass#InvalidArgumentsError",
        message: message.into(),
    }
}

fn service(message: impl Into<String>) -> OpError {
    OpError {
        shape: "aws.greengrass#ServiceError",
        message: message.into(),
    }
}

/// Runs the first message of a new stream. Subscriptions return their handle.
pub(crate) async fn handle(
    ctx: &Arc<Context>,
    peer: &Peer,
    msg: RpcMessage,
    out: mpsc::Sender<RpcMessage>,
) -> Option<StreamHandle> {
    ctx.stats.operations.fetch_add(1, Ordering::Relaxed);
    let stream_id = msg.stream_id;
    let operation = msg.operation.clone().unwrap_or_default();
    let request: Value = match serde_json::from_slice(&msg.payload) {
        Ok(v) => v,
        Err(e) => {
            let e = invalid(format!("the {operation} request is not JSON: {e}"));
            let _ = out
                .send(application_error(
                    stream_id,
                    e.shape,
                    &json!({ "message": e.message }),
                    true,
                ))
                .await;
            return None;
        }
    };
    let result = match operation.as_str() {
        PUBLISH_TO_TOPIC => publish_to_topic(ctx, peer, &request).map(|()| None),
        SUBSCRIBE_TO_TOPIC => {
            subscribe_to_topic(ctx, peer, &request, stream_id, out.clone()).map(Some)
        }
        PUBLISH_TO_IOT_CORE => publish_to_iot_core(ctx, peer, &request).map(|()| None),
        SUBSCRIBE_TO_IOT_CORE => {
            subscribe_to_iot_core(ctx, peer, &request, stream_id, out.clone()).map(Some)
        }
        "" => Err(invalid(
            "the first message of a stream must name an operation",
        )),
        other => Err(OpError {
            shape: "aws.greengrass#ServiceError",
            message: format!("{other} is an unsupported operation."),
        }),
    };
    match result {
        Ok(handle) => {
            let response = format!("{operation}Response");
            let terminate = handle.is_none();
            let _ = out
                .send(application_message(
                    stream_id,
                    &response,
                    &json!({}),
                    terminate,
                ))
                .await;
            handle
        }
        Err(e) => {
            if e.shape == "aws.greengrass#UnauthorizedError" {
                ctx.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            }
            tracing::warn!(function = %peer.function, operation = %operation, "IPC operation refused: {}", e.message);
            let _ = out
                .send(application_error(
                    stream_id,
                    e.shape,
                    &json!({ "message": e.message }),
                    true,
                ))
                .await;
            None
        }
    }
}

fn authorize(
    ctx: &Context,
    peer: &Peer,
    service_id: &str,
    operation: &str,
    resource: &str,
) -> Result<(), OpError> {
    let policies = ctx.router.access_control(&peer.function);
    if auth::allowed(policies.as_ref(), service_id, operation, resource) {
        Ok(())
    } else {
        Err(OpError {
            shape: "aws.greengrass#UnauthorizedError",
            message: format!(
                "Principal {} is not authorized to perform {service_id}:{operation} on resource {resource}",
                peer.function
            ),
        })
    }
}

fn str_field<'a>(v: &'a Value, key: &str, op: &str) -> Result<&'a str, OpError> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{op}: {key} is required")))
}

fn b64(v: &Value, key: &str, op: &str) -> Result<Bytes, OpError> {
    let text = v.get(key).and_then(Value::as_str).unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(|e| invalid(format!("{op}: {key} is not base64: {e}")))
}

fn publish_to_topic(ctx: &Context, peer: &Peer, req: &Value) -> Result<(), OpError> {
    let topic = str_field(req, "topic", "PublishToTopic")?;
    authorize(ctx, peer, PUBSUB, PUBLISH_TO_TOPIC, topic)?;
    let message = req
        .get("publishMessage")
        .ok_or_else(|| invalid("PublishToTopic: publishMessage is required"))?;
    let (payload, json) = if let Some(j) = message.get("jsonMessage") {
        let body = j.get("message").cloned().unwrap_or(Value::Null);
        (Bytes::from(body.to_string()), true)
    } else if let Some(b) = message.get("binaryMessage") {
        (b64(b, "message", "PublishToTopic")?, false)
    } else {
        return Err(invalid(
            "PublishToTopic: publishMessage needs jsonMessage or binaryMessage",
        ));
    };
    let source = Source::Function {
        name: peer.function.clone(),
        version: peer.version.clone(),
    };
    ctx.router
        .publish_local(topic, payload, json, source)
        .map(|_| ())
        .map_err(|e| invalid(e.to_string()))
}

fn subscribe_to_topic(
    ctx: &Arc<Context>,
    peer: &Peer,
    req: &Value,
    stream_id: i32,
    out: mpsc::Sender<RpcMessage>,
) -> Result<StreamHandle, OpError> {
    let topic = str_field(req, "topic", "SubscribeToTopic")?;
    let filter = TopicFilter::new(topic.to_owned()).map_err(|e| invalid(e.to_string()))?;
    authorize(ctx, peer, PUBSUB, SUBSCRIBE_TO_TOPIC, topic)?;
    let mode = match req.get("receiveMode").and_then(Value::as_str) {
        Some("RECEIVE_ALL_MESSAGES") => ReceiveMode::All,
        Some("RECEIVE_MESSAGES_FROM_OTHERS") => ReceiveMode::FromOthers,
        None => {
            if filter.is_wildcard() {
                ReceiveMode::FromOthers
            } else {
                ReceiveMode::All
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "SubscribeToTopic: receiveMode {other:?} is not RECEIVE_ALL_MESSAGES or RECEIVE_MESSAGES_FROM_OTHERS"
            )));
        }
    };
    let (tx, mut rx) = mpsc::channel(256);
    let sub = ctx.router.bus.subscribe(
        &filter,
        Some(peer.function.clone()),
        mode,
        Sink::Channel(tx),
    );
    let forward = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let context = json!({ "topic": m.topic.as_str() });
            let body = if m.json {
                let message: Value = serde_json::from_slice(&m.payload).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&m.payload).into_owned())
                });
                json!({ "jsonMessage": { "message": message, "context": context } })
            } else {
                let message = base64::engine::general_purpose::STANDARD.encode(&m.payload);
                json!({ "binaryMessage": { "message": message, "context": context } })
            };
            let event = application_message(
                stream_id,
                "aws.greengrass#SubscriptionResponseMessage",
                &body,
                false,
            );
            if out.send(event).await.is_err() {
                break;
            }
        }
    });
    Ok(StreamHandle {
        stream_id,
        _local: Some(sub),
        _mqtt: None,
        forward,
    })
}

fn qos(req: &Value) -> Qos {
    match req.get("qos").and_then(Value::as_str) {
        Some("0") => Qos::AtMostOnce,
        _ => Qos::AtLeastOnce,
    }
}

fn publish_to_iot_core(ctx: &Context, peer: &Peer, req: &Value) -> Result<(), OpError> {
    let topic = str_field(req, "topicName", "PublishToIoTCore")?;
    authorize(ctx, peer, MQTT_PROXY, PUBLISH_TO_IOT_CORE, topic)?;
    let payload = b64(req, "payload", "PublishToIoTCore")?;
    ctx.router
        .publish_mqtt(topic, payload, qos(req))
        .map_err(|e| match e {
            crate::router::RouteError::Publish(p) => invalid(p.to_string()),
            other => service(other.to_string()),
        })
}

fn subscribe_to_iot_core(
    ctx: &Arc<Context>,
    peer: &Peer,
    req: &Value,
    stream_id: i32,
    out: mpsc::Sender<RpcMessage>,
) -> Result<StreamHandle, OpError> {
    let topic = str_field(req, "topicName", "SubscribeToIoTCore")?;
    let filter = TopicFilter::new(topic.to_owned()).map_err(|e| invalid(e.to_string()))?;
    authorize(ctx, peer, MQTT_PROXY, SUBSCRIBE_TO_IOT_CORE, topic)?;
    let (tx, mut rx) = mpsc::channel(256);
    let sub = ctx
        .router
        .subscribe_mqtt(&filter, tx)
        .map_err(|e| service(e.to_string()))?;
    let forward = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let body = json!({ "message": {
                "topicName": m.topic,
                "payload": base64::engine::general_purpose::STANDARD.encode(&m.payload),
            }});
            let event =
                application_message(stream_id, "aws.greengrass#IoTCoreMessage", &body, false);
            if out.send(event).await.is_err() {
                break;
            }
        }
    });
    Ok(StreamHandle {
        stream_id,
        _local: None,
        _mqtt: Some(sub),
        forward,
    })
}
