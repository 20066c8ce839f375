//! Daemon logs on stderr, filtered with `RUST_LOG`: human-readable lines, or one JSON object
//! per line (`--log-format json`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, dynamic_filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// `serve --log-format`: the form of the daemon's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, coloured at a terminal.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`),
    /// and the spans the event happened in.
    Json,
}

/// The spans in which the embedded broker (rumqttd) reports on one client connection.
const BROKER_CONNECTION_SPANS: [&str; 3] = ["remote_link", "[>] incoming", "[<] outgoing"];

/// Colour only for a person at a terminal (and never with `NO_COLOR` set); one line per event,
/// text or JSON as `format` says.
///
/// Without `RUST_LOG`, the embedded broker's reports on single client connections are left
/// out: it logs every client that goes away without a DISCONNECT as an ERROR. lambdalet's front
/// door logs what a person needs instead (a client over the message size limit, a client the
/// broker dropped); `RUST_LOG=info,rumqttd=debug` shows the broker's own lines.
pub fn init(format: LogFormat) {
    // An empty RUST_LOG means the default, as an unset one does.
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok());
    let quiet_connections = from_env.is_none();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new("info,rumqttd=warn"));
    let connections = dynamic_filter_fn(move |meta, cx| {
        if !quiet_connections || !meta.is_event() || !meta.target().starts_with("rumqttd") {
            return true;
        }
        !cx.lookup_current().is_some_and(|span| {
            span.scope()
                .any(|s| BROKER_CONNECTION_SPANS.contains(&s.name()))
        })
    });
    let filter = filter.and(connections);
    let layer = match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            fmt::layer()
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(filter)
                .boxed()
        }
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
