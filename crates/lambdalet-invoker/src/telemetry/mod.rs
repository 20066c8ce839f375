//! The Telemetry API (2022-07-01) and the Logs API (2020-08-15) of one sandbox: extensions
//! subscribe during init, and the platform's events, the function's and the extensions' log
//! lines are batched (`maxItems`, `maxBytes`, `timeoutMs`) and POSTed as JSON arrays to the
//! extension's listener at `sandbox.localdomain`.
//!
//! Events from before a subscription (the init's) are kept and delivered to it first, as
//! Lambda does. A batch goes only to a port on which a process of this very sandbox listens:
//! the daemon never becomes a way for a function to reach other local services.

mod deliver;
pub mod subscription;

use std::sync::Arc;
use std::time::SystemTime;

use lambdalet_core::timefmt;
use lambdalet_sandbox::Sandbox;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

pub use subscription::{Api, Invalid, Subscription};

/// Events kept for subscribers that come later in init.
const BACKLOG: usize = 1_000;
/// Events waiting for one subscriber's delivery; beyond it events are dropped (a listener
/// that does not take its batches cannot grow the daemon's memory).
const QUEUE: usize = 20_000;

/// One event: its `type` and the whole envelope.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub kind: String,
    pub json: Value,
    pub bytes: usize,
}

pub(crate) enum Msg {
    Item(Arc<Item>),
    Flush(oneshot::Sender<()>),
}

struct Sub {
    sub: Subscription,
    tx: mpsc::Sender<Msg>,
}

impl Sub {
    fn wants(&self, kind: &str) -> bool {
        let s = &self.sub;
        match kind {
            "function" => s.function,
            "extension" => s.extension,
            k => {
                if !s.platform {
                    return false;
                }
                match s.api {
                    Api::Telemetry => !matches!(k, "platform.end" | "platform.logsSubscription"),
                    Api::Logs(runtime_done) => match k {
                        "platform.runtimeDone" => runtime_done,
                        "platform.start"
                        | "platform.end"
                        | "platform.report"
                        | "platform.extension"
                        | "platform.logsSubscription"
                        | "platform.fault"
                        | "platform.logsDropped" => true,
                        _ => false,
                    },
                }
            }
        }
    }
}

#[derive(Default)]
struct State {
    subs: Vec<Sub>,
    backlog: Vec<Arc<Item>>,
    closed: bool,
}

/// One sandbox's subscribers.
pub struct Telemetry {
    st: Mutex<State>,
    sandbox: Mutex<Option<Arc<dyn Sandbox>>>,
    /// Why batches cannot reach this sandbox's listeners, if they cannot.
    unreachable: Option<String>,
}

impl Telemetry {
    /// `unreachable`: why subscriptions must be refused here (a sandbox whose loopback the
    /// daemon does not share).
    pub fn new(unreachable: Option<String>) -> Self {
        Self {
            st: Mutex::new(State::default()),
            sandbox: Mutex::new(None),
            unreachable,
        }
    }

    /// The sandbox whose listeners may receive batches.
    pub fn set_sandbox(&self, sandbox: Arc<dyn Sandbox>) {
        *self.sandbox.lock() = Some(sandbox);
    }

    /// Adds a subscriber (`name`: the extension's); starts its delivery and sends it what
    /// init has produced so far. Refused once init is over (`closed`).
    pub fn subscribe(&self, name: &str, sub: Subscription) -> Result<(), Invalid> {
        if let Some(why) = &self.unreachable {
            return Err(Invalid(why.clone()));
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let sandbox = self.sandbox.lock().clone();
        tokio::spawn(deliver::run(rx, sub.clone(), sandbox));
        let (kind, record) = match sub.api {
            Api::Telemetry => (
                "platform.telemetrySubscription",
                json!({ "name": name, "state": "Subscribed", "types": sub.types }),
            ),
            Api::Logs(_) => (
                "platform.logsSubscription",
                json!({ "name": name, "state": "Subscribed", "types": sub.types }),
            ),
        };
        {
            let mut st = self.st.lock();
            let new = Sub { sub, tx };
            for item in st.backlog.iter().filter(|i| new.wants(&i.kind)) {
                let _ = new.tx.try_send(Msg::Item(item.clone()));
            }
            st.subs.push(new);
        }
        self.emit(kind, record);
        Ok(())
    }

    /// Init is over: the backlog is no longer needed.
    pub fn close_init(&self) {
        let mut st = self.st.lock();
        st.closed = true;
        st.backlog = Vec::new();
    }

    /// Whether any extension subscribed.
    pub fn active(&self) -> bool {
        !self.st.lock().subs.is_empty()
    }

    /// Whether an event would go anywhere: a subscriber, or the backlog kept during init.
    /// Warm invocations of a function without subscribers build no events at all.
    pub fn listening(&self) -> bool {
        let st = self.st.lock();
        !st.closed || !st.subs.is_empty()
    }

    /// Sends `{"time", "type", "record"}` to every subscriber of its type.
    pub fn emit(&self, kind: &str, record: Value) {
        let json = json!({
            "time": timefmt::rfc3339_millis(SystemTime::now()),
            "type": kind,
            "record": record,
        });
        let bytes = json.to_string().len();
        let item = Arc::new(Item {
            kind: kind.to_owned(),
            json,
            bytes,
        });
        let mut st = self.st.lock();
        if !st.closed && st.backlog.len() < BACKLOG {
            st.backlog.push(item.clone());
        }
        for s in st.subs.iter().filter(|s| s.wants(kind)) {
            if s.tx.try_send(Msg::Item(item.clone())).is_err() {
                tracing::debug!(port = s.sub.port, "telemetry.event_dropped");
            }
        }
    }

    /// Log lines of the function (`function`) or of extensions (`extension`): one event per
    /// line, a JSON object line as the object (JSON log format).
    pub fn emit_lines(&self, kind: &str, text: &str) {
        if !self.listening() {
            return;
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record = match serde_json::from_str::<Value>(line) {
                Ok(v @ Value::Object(_)) => v,
                _ => Value::String(line.to_owned()),
            };
            self.emit(kind, record);
        }
    }

    /// Sends every subscriber's buffered events now and waits (a little) until they are sent.
    pub async fn flush(&self) {
        let acks: Vec<_> = {
            let st = self.st.lock();
            st.subs
                .iter()
                .filter_map(|s| {
                    let (tx, rx) = oneshot::channel();
                    s.tx.try_send(Msg::Flush(tx)).ok().map(|()| rx)
                })
                .collect()
        };
        for ack in acks {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(1_500), ack).await;
        }
    }
}
