//! `GET /lambdalet/v1/functions/{name}/logs/stream?recent=N`: a function's invocation records
//! as server-sent events, as they are written (the console's live tail, `lambdalet logs
//! --follow`). With `recent`, the last N records come first; the stream is subscribed before
//! they are read, so none falls between the two.
//!
//! Each record is an event `record` whose data is one JSON object (`requestId`, `version`,
//! `startedAt`, `durationMs`, `outcome`, `log`); a comment line every 15 s keeps proxies from
//! closing an idle stream; a tail that fell behind gets an event `lagged` with how many records
//! it missed.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use lambdalet_core::FunctionName;
use lambdalet_store::InvocationRecord;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::state::ApiState;

/// Seconds between keep-alive comments.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Most records `recent` may ask for.
const MAX_RECENT: usize = 100;

fn record_event(r: &InvocationRecord) -> Bytes {
    let mut data = json!({
        "requestId": r.request_id,
        "version": r.version,
        "startedAt": lambdalet_core::timefmt::rfc3339_millis(
            UNIX_EPOCH + Duration::from_millis(r.started_ms)),
        "durationMs": r.duration_ms,
        "outcome": r.outcome.as_str(),
        "log": r.log,
    });
    // A record read from the store has its id; one that comes live does not have it yet.
    if r.id > 0 {
        data["id"] = json!(r.id);
    }
    // JSON has no raw newlines, so the data fits one `data:` line.
    Bytes::from(format!("event: record\ndata: {data}\n\n"))
}

pub(crate) async fn stream(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = FunctionName::new(&name)?;
    let recent = match params.get("recent") {
        None => 0,
        Some(r) => r
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_RECENT)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "recent must be a number from 0 to {MAX_RECENT} (got {r:?})"
                ))
            })?,
    };
    s.control.get_function(name.as_str(), None)?;
    let mut live = s.invoker.live_records();
    let rows = if recent > 0 {
        s.control
            .recent_invocations(name.as_str(), recent, 0)
            .await?
    } else {
        Vec::new()
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let function = name.to_string();
    tokio::spawn(async move {
        let mut sent: HashSet<String> = HashSet::new();
        // Opens the stream at once (a browser shows it connected before the first record).
        if tx.send(Ok(Bytes::from(": live\n\n"))).await.is_err() {
            return;
        }
        for r in &rows {
            sent.insert(r.request_id.clone());
            if tx.send(Ok(record_event(r))).await.is_err() {
                return;
            }
        }
        loop {
            let next = tokio::select! {
                r = live.recv() => r,
                () = tokio::time::sleep(KEEPALIVE) => {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                    let ping = Bytes::from(format!(": keep-alive {}\n\n", now.as_secs()));
                    if tx.send(Ok(ping)).await.is_err() {
                        return;
                    }
                    continue;
                }
                () = tx.closed() => return,
            };
            let frame = match next {
                Ok(r) if r.function == function => {
                    // A record read as recent may also come live.
                    if !sent.is_empty() && sent.remove(&r.request_id) {
                        continue;
                    }
                    record_event(&r)
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    Bytes::from(format!("event: lagged\ndata: {{\"missed\": {n}}}\n\n"))
                }
                Err(RecvError::Closed) => return,
            };
            if tx.send(Ok(frame)).await.is_err() {
                return;
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert("cache-control", http::HeaderValue::from_static("no-cache"));
    Ok(resp)
}
