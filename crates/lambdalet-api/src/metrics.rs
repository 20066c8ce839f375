//! `GET /metrics`: counters and gauges in Prometheus's text format.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lambdalet_events::mqtt::Mqtt;

use crate::metrics_lambda::escape;
use crate::state::ApiState;

pub(crate) async fn metrics(State(s): State<ApiState>) -> Response {
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    let r = &s.router.stats;
    counter(
        "lambdalet_mqtt_messages_received_total",
        "MQTT messages routed from the broker",
        r.mqtt_received.load(Ordering::Relaxed),
    );
    counter(
        "lambdalet_mqtt_messages_published_total",
        "messages lambdalet published to the broker",
        r.mqtt_published.load(Ordering::Relaxed),
    );
    counter(
        "lambdalet_event_invocations_total",
        "invocations queued for topic messages",
        r.invocations.load(Ordering::Relaxed),
    );
    counter(
        "lambdalet_event_rejected_not_json_total",
        "messages not delivered to json functions because they were not JSON",
        r.rejected_not_json.load(Ordering::Relaxed),
    );
    if let Some(m) = s.router.mqtt().and_then(Mqtt::client_stats) {
        counter(
            "lambdalet_mqtt_clients_admitted_total",
            "clients the embedded MQTT broker let in",
            m.admitted.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_mqtt_clients_refused_credentials_total",
            "MQTT clients refused for their credentials (username and password, client certificate)",
            m.refused_credentials.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_mqtt_clients_refused_protocol_total",
            "MQTT connections closed before a login (another MQTT version, a malformed CONNECT, a failed TLS handshake)",
            m.refused_protocol.load(Ordering::Relaxed),
        );
    }
    let b = &s.router.bus.stats;
    counter(
        "lambdalet_bus_messages_published_total",
        "messages published on the local bus",
        b.published.load(Ordering::Relaxed),
    );
    counter(
        "lambdalet_bus_deliveries_total",
        "local bus deliveries to subscribers",
        b.delivered.load(Ordering::Relaxed),
    );
    counter(
        "lambdalet_bus_dropped_total",
        "local bus messages dropped for slow subscribers",
        b.dropped_slow_subscriber.load(Ordering::Relaxed),
    );
    if let Some(ipc) = &s.ipc_stats {
        counter(
            "lambdalet_ipc_connections_total",
            "Greengrass IPC connections",
            ipc.connections.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_ipc_refused_tokens_total",
            "IPC connections refused for an unknown token",
            ipc.refused_tokens.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_ipc_protocol_errors_total",
            "IPC connections closed for a protocol error",
            ipc.protocol_errors.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_ipc_unauthorized_total",
            "IPC operations refused by accessControl",
            ipc.unauthorized.load(Ordering::Relaxed),
        );
        counter(
            "lambdalet_ipc_operations_total",
            "IPC operations",
            ipc.operations.load(Ordering::Relaxed),
        );
    }
    counter(
        "lambdalet_log_records_dropped_total",
        "invocation log records dropped because the writer was behind",
        s.records.dropped(),
    );
    let c = &s.connections;
    counter(
        "lambdalet_api_connections_refused_total",
        "API connections closed at once because --max-connections were open",
        c.refused(),
    );
    let _ = writeln!(
        out,
        "# HELP lambdalet_api_connections_timed_out_total API connections closed for a request head that came too slowly (head) or for sitting idle (idle)\n# TYPE lambdalet_api_connections_timed_out_total counter\nlambdalet_api_connections_timed_out_total{{phase=\"head\"}} {}\nlambdalet_api_connections_timed_out_total{{phase=\"idle\"}} {}",
        c.head_timeouts(),
        c.idle_closed()
    );
    let _ = writeln!(
        out,
        "# HELP lambdalet_api_connections API connections open now\n# TYPE lambdalet_api_connections gauge\nlambdalet_api_connections {}",
        c.open()
    );
    let _ = writeln!(
        out,
        "# HELP lambdalet_invocations_in_flight invocations running now\n# TYPE lambdalet_invocations_in_flight gauge\nlambdalet_invocations_in_flight {}",
        s.invoker.in_flight()
    );
    let stats = s.invoker.all_stats();
    let _ = writeln!(
        out,
        "# HELP lambdalet_sandboxes sandboxes by function, version and state\n# TYPE lambdalet_sandboxes gauge"
    );
    for ((function, version), st) in &stats {
        let (function, version) = (escape(function), escape(version));
        for (state, n) in [
            ("idle", st.idle),
            ("busy", st.busy),
            ("starting", st.starting),
        ] {
            let _ = writeln!(
                out,
                "lambdalet_sandboxes{{function=\"{function}\",version=\"{version}\",state=\"{state}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP lambdalet_queued_invocations invocations waiting for a sandbox, by function and version\n# TYPE lambdalet_queued_invocations gauge"
    );
    for ((function, version), st) in &stats {
        let _ = writeln!(
            out,
            "lambdalet_queued_invocations{{function=\"{}\",version=\"{}\"}} {}",
            escape(function),
            escape(version),
            st.queued
        );
    }
    crate::metrics_lambda::render(&s, &mut out);
    sandbox_metrics(&s, &mut out);
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}

/// Whether container sandboxes work here, and, when they do not, why (as a label, repeated
/// on every scrape so a dashboard shows the fallback).
fn sandbox_metrics(s: &ApiState, out: &mut String) {
    let unavailable = s.invoker.container_unavailable();
    let _ = writeln!(
        out,
        "# HELP lambdalet_sandbox_container_available 1 when this host can run container sandboxes\n# TYPE lambdalet_sandbox_container_available gauge\nlambdalet_sandbox_container_available {}",
        u8::from(unavailable.is_none())
    );
    let _ = writeln!(
        out,
        "# HELP lambdalet_sandbox_default_info the --sandbox default\n# TYPE lambdalet_sandbox_default_info gauge\nlambdalet_sandbox_default_info{{mode=\"{}\"}} 1",
        s.invoker.default_sandbox().backend()
    );
    if let Some(reason) = unavailable {
        let reason = escape(&reason.replace('\n', " "));
        let _ = writeln!(
            out,
            "# HELP lambdalet_sandbox_fallback_info container sandboxes are unavailable: functions that ask for one run in the process sandbox\n# TYPE lambdalet_sandbox_fallback_info gauge\nlambdalet_sandbox_fallback_info{{reason=\"{reason}\"}} 1"
        );
    }
}
