//! lambdalet's event endpoints: publish and subscribe from a terminal (`lambdalet publish`,
//! `lambdalet subscribe`), the legacy subscriptions, and the endpoint the Greengrass V1 SDK's
//! IPC client (shipped to Python functions) calls.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use lambdalet_control::TopicAccess;
use lambdalet_core::{ErrorCode, FunctionRef, Principal};
use lambdalet_events::Source;
use lambdalet_events::legacy::SubscriptionsDoc;
use lambdalet_events::mqtt::Qos;
use lambdalet_events::topic::TopicFilter;
use lambdalet_invoker::{AsyncRequest, Invocation};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params.get(key).is_some_and(|v| v == "true" || v == "1")
}

/// `POST /lambdalet/v1/publish?topic=T[&mqtt=true][&qos=0]`: publishes the body.
pub(crate) async fn publish(
    State(s): State<ApiState>,
    Query(params): Params,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let topic = params
        .get("topic")
        .ok_or_else(|| ApiError::invalid("topic is required: ?topic=sensors/t1"))?;
    let mqtt = flag(&params, "mqtt");
    s.control
        .authorize_topic(&who, TopicAccess::Publish { mqtt }, topic)?;
    let delivered = if flag(&params, "mqtt") {
        let qos = if params.get("qos").map(String::as_str) == Some("0") {
            Qos::AtMostOnce
        } else {
            Qos::AtLeastOnce
        };
        s.router.publish_mqtt(topic, body, qos)?;
        None
    } else {
        let json = serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
        Some(s.router.publish_local(topic, body, json, Source::Api)?)
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "topic": topic, "delivered": delivered }),
    ))
}

/// `GET /lambdalet/v1/subscribe?filter=F[&mqtt=true]`: a stream of JSON lines, one per message
/// (`{"topic": ..., "payload": text or null, "payloadBase64": ...}`), until the client leaves.
pub(crate) async fn subscribe(
    State(s): State<ApiState>,
    Query(params): Params,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    let filter = params
        .get("filter")
        .ok_or_else(|| ApiError::invalid("filter is required: ?filter=sensors/#"))?;
    let mqtt = flag(&params, "mqtt");
    s.control
        .authorize_topic(&who, TopicAccess::Subscribe { mqtt }, filter)?;
    let filter = TopicFilter::new(filter.clone()).map_err(|e| ApiError::invalid(e.to_string()))?;
    let (tx, rx) = mpsc::channel::<(String, Bytes)>(1024);
    let guard: Box<dyn Send> = if flag(&params, "mqtt") {
        let (mtx, mut mrx) = mpsc::channel(1024);
        let sub = s.router.subscribe_mqtt(&filter, mtx)?;
        let tx2 = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = mrx.recv().await {
                if tx2.send((m.topic, m.payload)).await.is_err() {
                    break;
                }
            }
        });
        Box::new(sub)
    } else {
        let (btx, mut brx) = mpsc::channel(1024);
        let sub = s.router.bus.subscribe(
            &filter,
            None,
            lambdalet_events::ReceiveMode::All,
            lambdalet_events::bus::Sink::Channel(btx),
        );
        let tx2 = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = brx.recv().await {
                if tx2.send((m.topic.to_string(), m.payload)).await.is_err() {
                    break;
                }
            }
        });
        Box::new(sub)
    };
    drop(tx);
    let lines = ReceiverStream::new(rx).map(move |(topic, payload)| {
        let _keep = &guard;
        let text = std::str::from_utf8(&payload).ok().map(str::to_owned);
        let line = json!({
            "topic": topic,
            "payload": text,
            "payloadBase64": base64::engine::general_purpose::STANDARD.encode(&payload),
        });
        Ok::<_, std::convert::Infallible>(format!("{line}\n"))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}

/// `GET /lambdalet/v1/subscriptions`.
pub(crate) async fn get_subscriptions(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let doc = s.control.legacy_subscriptions().await?;
    Ok(json_response(StatusCode::OK, &doc))
}

/// `PUT /lambdalet/v1/subscriptions` with Greengrass's `{"subscriptions": {...}}`.
pub(crate) async fn put_subscriptions(
    State(s): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let doc: SubscriptionsDoc = parse_json(&body, "subscriptions")?;
    let n = s.control.put_legacy_subscriptions(doc).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "subscriptions": n }),
    ))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `POST /lambdalet/v1/greengrass/invocations`: what `greengrasssdk`'s `Lambda.invoke` and
/// `IoTDataPlane.publish` send (through lambdalet's `greengrass_ipc_python_sdk`). The caller is
/// the function whose token is in `Authorization`.
pub(crate) async fn greengrass_invoke(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = header(&headers, "authorization").unwrap_or("");
    let identity = s.tokens.function_of(token).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            "unknown or missing token: only lambdalet's functions may call this endpoint",
        )
    })?;
    let (caller, caller_version) = identity
        .rsplit_once(':')
        .unwrap_or((identity.as_str(), "$LATEST"));
    let target = header(&headers, "x-lambdalet-function-arn")
        .ok_or_else(|| ApiError::invalid("X-Lambdalet-Function-Arn is required"))?;
    let invocation_type = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let client_context = header(&headers, "x-amz-client-context")
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
        .transpose()
        .map_err(|e| ApiError::invalid(format!("X-Amz-Client-Context is not base64: {e}")))?
        .map(|b| String::from_utf8_lossy(&b).into_owned());

    if target.ends_with(":function:GGRouter") {
        let ctx: serde_json::Value = client_context
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let subject = ctx["custom"]["subject"].as_str().ok_or_else(|| {
            ApiError::invalid("publish needs custom.subject (the topic) in the client context")
        })?;
        let arn = s.control.account().qualified_arn(caller, caller_version);
        s.router
            .publish_legacy(caller, caller_version, &arn, subject, body)?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let r = FunctionRef::parse(target)?;
    let caller_name = lambdalet_core::FunctionName::new(caller)?;
    s.control
        .authorize_invoke(&Principal::Function(caller_name), r.name.as_str())?;
    let resolved = s.control.resolve(&r)?;
    if invocation_type == "Event" {
        let id = s
            .queue
            .accept(AsyncRequest {
                function: r.name.to_string(),
                qualifier: r.qualifier.as_ref().map(ToString::to_string),
                payload: body,
                client_context,
            })
            .await?;
        let mut resp = StatusCode::ACCEPTED.into_response();
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-amzn-requestid", v);
        }
        return Ok(resp);
    }
    let result = s
        .invoker
        .invoke(Invocation {
            target: resolved.version,
            invoked_arn: resolved.invoked_arn,
            payload: body,
            client_context,
            trace_id: None,
            want_log_tail: false,
            request_id: None,
        })
        .await?;
    let mut resp = Response::new(Body::from(result.payload));
    if let Ok(v) = HeaderValue::from_str(&result.request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    if result.function_error {
        resp.headers_mut().insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    Ok(resp)
}
