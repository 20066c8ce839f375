//! Sends invocation traces to an OpenTelemetry collector: OTLP over HTTP with the JSON encoding
//! (`POST <endpoint>/v1/traces`, `Content-Type: application/json`), which every collector
//! (the OpenTelemetry Collector, Jaeger, Tempo, ...) takes on its OTLP/HTTP port (4318).
//!
//! The invoker hands finished spans to [`OtlpSink`] without waiting: they queue (at most
//! [`QUEUE`]; beyond that they are dropped and counted) and a background task sends them in
//! batches of up to [`BATCH`], at least once a second. A collector that is down costs a
//! warning a minute and the spans of that time, never an invocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use lambdalet_invoker::traces::{Attr, Span, SpanKind, SpanSink};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Spans waiting to be sent, at most.
const QUEUE: usize = 8192;
/// Spans in one request, at most.
const BATCH: usize = 512;
/// How long a span may wait for a batch to fill.
const LINGER: Duration = Duration::from_secs(1);

/// The invoker's span sink: queues spans for the sender task.
pub struct OtlpSink {
    tx: mpsc::Sender<Span>,
    dropped: AtomicU64,
}

impl SpanSink for OtlpSink {
    fn export(&self, spans: Vec<Span>) {
        for s in spans {
            if self.tx.try_send(s).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The traces URL of a collector given as `http://host:4318` (or already as `.../v1/traces`).
pub fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let e = endpoint.trim().trim_end_matches('/');
    if e.starts_with("https://") {
        bail!(
            "--otlp-endpoint {e}: lambdalet sends OTLP over plain HTTP; run a collector on the device or the local network (http://host:4318) and let it forward over TLS"
        );
    }
    if !e.starts_with("http://") || e.len() <= "http://".len() {
        bail!(
            "--otlp-endpoint {e:?} is not a URL: give the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318"
        );
    }
    Ok(if e.ends_with("/v1/traces") {
        e.to_owned()
    } else {
        format!("{e}/v1/traces")
    })
}

/// The invoker's span sink for `serve`'s flags: off unless a collector is given (the flag, or
/// the OpenTelemetry SDK's standard environment variables).
pub fn spans(args: &crate::cli::ServeArgs) -> anyhow::Result<lambdalet_invoker::traces::Spans> {
    let endpoint = args.otlp_endpoint.clone().or_else(|| {
        [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
    });
    Ok(match endpoint {
        Some(e) => lambdalet_invoker::traces::Spans(Some(start(&e, &args.otlp_service_name)?)),
        None => lambdalet_invoker::traces::Spans::default(),
    })
}

/// Starts the sender and returns the sink to give the invoker.
pub fn start(endpoint: &str, service_name: &str) -> anyhow::Result<Arc<OtlpSink>> {
    let url = traces_url(endpoint)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the OTLP client")?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let sink = Arc::new(OtlpSink {
        tx,
        dropped: AtomicU64::new(0),
    });
    let resource = resource(service_name);
    tokio::spawn(send_loop(rx, http, url.clone(), resource, sink.clone()));
    tracing::info!(url = %url, "traces go to an OpenTelemetry collector");
    Ok(sink)
}

async fn send_loop(
    mut rx: mpsc::Receiver<Span>,
    http: reqwest::Client,
    url: String,
    resource: Value,
    sink: Arc<OtlpSink>,
) {
    let mut last_warning: Option<Instant> = None;
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => batch.push(s),
                Ok(None) | Err(_) => break,
            }
        }
        let body = encode(&batch, &resource);
        let result = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let problem = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("the collector answered {}", r.status())),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem
            && last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60))
        {
            last_warning = Some(Instant::now());
            tracing::warn!(url = %url, spans = batch.len(), dropped_before = sink.dropped.load(Ordering::Relaxed), "cannot send traces to the collector (its spans are lost; this warning repeats at most once a minute): {problem}");
        }
    }
}

fn resource(service_name: &str) -> Value {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    json!({
        "attributes": [
            attr("service.name", &Attr::Str(service_name.to_owned())),
            attr("service.version", &Attr::Str(env!("CARGO_PKG_VERSION").to_owned())),
            attr("host.name", &Attr::Str(host)),
            attr("faas.instance", &Attr::Str(format!("lambdalet-{}", std::process::id()))),
        ]
    })
}

fn attr(key: &str, v: &Attr) -> Value {
    let value = match v {
        Attr::Str(s) => json!({ "stringValue": s }),
        Attr::Bool(b) => json!({ "boolValue": b }),
        // OTLP/JSON writes 64-bit integers as strings.
        Attr::Int(i) => json!({ "intValue": i.to_string() }),
    };
    json!({ "key": key, "value": value })
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding (ids in hex, 64-bit integers as
/// strings, enums as numbers).
pub fn encode(spans: &[Span], resource: &Value) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut v = json!({
                "traceId": hex::encode(s.trace_id),
                "spanId": hex::encode(s.span_id),
                "name": s.name,
                // SPAN_KIND_INTERNAL = 1, SPAN_KIND_SERVER = 2.
                "kind": match s.kind { SpanKind::Internal => 1, SpanKind::Server => 2 },
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end.max(s.start)),
                "attributes": s.attributes.iter().map(|(k, a)| attr(k, a)).collect::<Vec<_>>(),
                // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2.
                "status": match &s.error {
                    None => json!({ "code": 1 }),
                    Some(m) => json!({ "code": 2, "message": m }),
                },
            });
            if let Some(p) = s.parent {
                v["parentSpanId"] = json!(hex::encode(p));
            }
            v
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": resource,
            "scopeSpans": [{
                "scope": { "name": "lambdalet", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_addresses_become_the_traces_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces/").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert!(
            traces_url("https://c:4318")
                .unwrap_err()
                .to_string()
                .contains("plain HTTP")
        );
        assert!(traces_url("c:4318").is_err());
    }

    #[test]
    fn spans_are_encoded_as_otlp_json() {
        let t = UNIX_EPOCH + Duration::from_secs(1);
        let span = Span {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: Some([3; 8]),
            name: "invoke",
            kind: SpanKind::Server,
            start: t,
            end: t + Duration::from_millis(5),
            attributes: vec![("faas.coldstart", Attr::Bool(true)), ("n", Attr::Int(7))],
            error: Some("boom".into()),
        };
        let v = encode(&[span], &resource("svc"));
        let s = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "01010101010101010101010101010101");
        assert_eq!(s["parentSpanId"], "0303030303030303");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["startTimeUnixNano"], "1000000000");
        assert_eq!(s["endTimeUnixNano"], "1005000000");
        assert_eq!(s["status"]["code"], 2);
        assert_eq!(s["attributes"][1]["value"]["intValue"], "7");
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
