//! The Extensions API's state (2020-01-01, spec digest 2 §4.1–4.2): who registered, for which
//! events, who has called `next` since its last event, and the events not yet taken.
//!
//! External extensions are the programs the sandbox started from `/opt/extensions`; any other
//! name that registers is an internal one (a thread or child of the runtime). Registration is
//! open during init only. An event handed to an extension is owed a `next` back: the invoke
//! phase (and the shutdown) ends when nothing is owed.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

/// Lambda's limit of registered extensions per execution environment.
pub const MAX_EXTENSIONS: usize = 10;

/// What the register response tells an extension about its function.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    pub account_id: String,
}

/// Why the Extensions API refused a call: status, error type, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtRefusal {
    pub status: u16,
    pub error_type: &'static str,
    pub message: String,
}

fn forbidden(error_type: &'static str, message: impl Into<String>) -> ExtRefusal {
    ExtRefusal {
        status: 403,
        error_type,
        message: message.into(),
    }
}

/// What `next` gets: an event now, or one later.
pub enum ExtNext {
    Now(Bytes),
    Later(oneshot::Receiver<Bytes>),
}

/// An extension's failure as it reported it (`init/error`, `exit/error`) or as it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtFailure {
    pub name: String,
    pub error_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Ready,
    Shutdown,
}

struct Ext {
    id: String,
    name: String,
    internal: bool,
    invoke: bool,
    shutdown: bool,
    /// Has called `next` at least once (its init is done).
    ready: bool,
    /// Was handed an event and has not called `next` since.
    owes_next: bool,
    waiter: Option<oneshot::Sender<Bytes>>,
    pending: VecDeque<Bytes>,
    errored: bool,
}

impl Ext {
    fn give(&mut self, event: Bytes) {
        self.owes_next = true;
        match self.waiter.take() {
            Some(w) => {
                if let Err(back) = w.send(event) {
                    self.pending.push_back(back);
                }
            }
            None => self.pending.push_back(event),
        }
    }

    fn settled(&self) -> bool {
        self.errored || (!self.owes_next && self.pending.is_empty())
    }
}

struct State {
    phase: Phase,
    /// The external extensions the sandbox started, by name.
    external: Vec<String>,
    exts: Vec<Ext>,
    failure: Option<ExtFailure>,
}

/// One sandbox's extensions, shared by its Runtime API server and the invoker.
pub struct Extensions {
    st: Mutex<State>,
    changed: watch::Sender<u64>,
    pub meta: Meta,
}

/// A registered extension, as the invoker reports it (`platform.extension`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub name: String,
    pub internal: bool,
    pub events: Vec<&'static str>,
}

impl Extensions {
    pub fn new(meta: Meta, external: Vec<String>) -> Self {
        Self {
            st: Mutex::new(State {
                phase: Phase::Init,
                external,
                exts: Vec::new(),
                failure: None,
            }),
            changed: watch::channel(0).0,
            meta,
        }
    }

    /// Wakes whoever waits for a change.
    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every change of state.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// `POST /extension/register`: the new extension's identifier.
    pub fn register(&self, name: &str, events: &[String]) -> Result<String, ExtRefusal> {
        if name.is_empty() {
            return Err(forbidden(
                "Extension.InvalidExtensionName",
                "Empty extension name",
            ));
        }
        let mut st = self.st.lock();
        let internal = !st.external.iter().any(|e| e == name);
        let (mut invoke, mut shutdown) = (false, false);
        for e in events {
            match e.as_str() {
                "INVOKE" => invoke = true,
                "SHUTDOWN" if !internal => shutdown = true,
                "SHUTDOWN" => {
                    return Err(forbidden(
                        "Extension.InvalidEventType",
                        "SHUTDOWN: internal extensions (registered by the runtime's process) cannot subscribe to SHUTDOWN",
                    ));
                }
                other => {
                    return Err(forbidden(
                        "Extension.InvalidEventType",
                        format!("{other}: the events are INVOKE and SHUTDOWN"),
                    ));
                }
            }
        }
        if st.phase != Phase::Init {
            return Err(forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already: extensions register during init, before the runtime's first /runtime/invocation/next",
            ));
        }
        if st.exts.iter().any(|e| e.name == name) {
            return Err(forbidden(
                "Extension.InvalidExtensionState",
                format!("Extension with this name already registered: {name}"),
            ));
        }
        if st.exts.len() >= MAX_EXTENSIONS {
            return Err(forbidden(
                "Extension.TooManyExtensions",
                format!("Extension limit ({MAX_EXTENSIONS}) reached"),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        st.exts.push(Ext {
            id: id.clone(),
            name: name.to_owned(),
            internal,
            invoke,
            shutdown,
            ready: false,
            owes_next: false,
            waiter: None,
            pending: VecDeque::new(),
            errored: false,
        });
        drop(st);
        self.bump();
        Ok(id)
    }

    fn find<'a>(st: &'a mut State, id: &str) -> Result<&'a mut Ext, ExtRefusal> {
        st.exts.iter_mut().find(|e| e.id == id).ok_or_else(|| {
            forbidden(
                "Extension.UnknownExtensionIdentifier",
                format!("Unknown extension {id}"),
            )
        })
    }

    /// `GET /extension/event/next`.
    pub fn next(&self, id: &str) -> Result<ExtNext, ExtRefusal> {
        let mut st = self.st.lock();
        let ext = Self::find(&mut st, id)?;
        if ext.errored {
            return Err(forbidden(
                "Extension.InvalidExtensionState",
                format!(
                    "State transition from ExtensionError to Ready failed for extension {}. Error: the extension reported an error",
                    ext.name
                ),
            ));
        }
        ext.ready = true;
        ext.owes_next = false;
        let out = if let Some(event) = ext.pending.pop_front() {
            ext.owes_next = true;
            ExtNext::Now(event)
        } else {
            let (tx, rx) = oneshot::channel();
            ext.waiter = Some(tx);
            ExtNext::Later(rx)
        };
        drop(st);
        self.bump();
        Ok(out)
    }

    /// `POST /extension/init/error` and `/extension/exit/error`.
    pub fn report_error(&self, id: &str, error_type: &str) -> Result<(), ExtRefusal> {
        let mut st = self.st.lock();
        let ext = Self::find(&mut st, id)?;
        ext.errored = true;
        ext.waiter = None;
        let failure = ExtFailure {
            name: ext.name.clone(),
            error_type: error_type.to_owned(),
        };
        st.failure.get_or_insert(failure);
        drop(st);
        self.bump();
        Ok(())
    }

    /// An external extension's process exited.
    pub fn crashed(&self, name: &str) {
        let mut st = self.st.lock();
        if let Some(ext) = st.exts.iter_mut().find(|e| e.name == name) {
            ext.errored = true;
            ext.waiter = None;
        }
        if st.phase != Phase::Shutdown {
            st.failure.get_or_insert(ExtFailure {
                name: name.to_owned(),
                error_type: "Extension.Crash".to_owned(),
            });
        }
        drop(st);
        self.bump();
    }

    /// The first failure reported or seen, if any.
    pub fn failure(&self) -> Option<ExtFailure> {
        self.st.lock().failure.clone()
    }

    /// Every external extension has registered.
    pub fn all_registered(&self) -> bool {
        let st = self.st.lock();
        st.external
            .iter()
            .all(|n| st.exts.iter().any(|e| &e.name == n))
    }

    /// Every external extension has registered and every registered one has called `next`.
    pub fn init_done(&self) -> bool {
        let st = self.st.lock();
        st.exts.iter().all(|e| e.ready)
            && st
                .external
                .iter()
                .all(|n| st.exts.iter().any(|e| &e.name == n))
    }

    /// Ends init: no more registrations.
    pub fn close_init(&self) {
        let mut st = self.st.lock();
        if st.phase == Phase::Init {
            st.phase = Phase::Ready;
        }
    }

    /// Whether registration (and telemetry subscription) is still open.
    pub fn in_init(&self) -> bool {
        self.st.lock().phase == Phase::Init
    }

    /// The registered extensions.
    pub fn registered(&self) -> Vec<Registered> {
        let st = self.st.lock();
        st.exts
            .iter()
            .map(|e| Registered {
                name: e.name.clone(),
                internal: e.internal,
                events: [(e.invoke, "INVOKE"), (e.shutdown, "SHUTDOWN")]
                    .into_iter()
                    .filter_map(|(on, n)| on.then_some(n))
                    .collect(),
            })
            .collect()
    }

    /// The name of extension `id`, if it is registered.
    pub fn name_of(&self, id: &str) -> Option<String> {
        let st = self.st.lock();
        st.exts.iter().find(|e| e.id == id).map(|e| e.name.clone())
    }

    /// (internal, external) extensions registered.
    pub fn counts(&self) -> (usize, usize) {
        let st = self.st.lock();
        let internal = st.exts.iter().filter(|e| e.internal).count();
        (internal, st.exts.len() - internal)
    }

    /// Hands an INVOKE event to every extension registered for it; how many got it.
    #[cfg(test)]
    pub fn invoke(&self, event: &Bytes) -> usize {
        self.invoke_with(|| event.clone())
    }

    /// [`Self::invoke`] with the event made only if an extension takes it.
    pub fn invoke_with(&self, make: impl FnOnce() -> Bytes) -> usize {
        let mut st = self.st.lock();
        if !st.exts.iter().any(|e| e.invoke && !e.errored) {
            return 0;
        }
        let event = make();
        let mut n = 0;
        for ext in st.exts.iter_mut().filter(|e| e.invoke && !e.errored) {
            ext.give(event.clone());
            n += 1;
        }
        drop(st);
        if n > 0 {
            self.bump();
        }
        n
    }

    /// Hands the SHUTDOWN event to every extension registered for it; how many got it.
    pub fn shutdown(&self, event: &Bytes) -> usize {
        let mut st = self.st.lock();
        st.phase = Phase::Shutdown;
        let mut n = 0;
        for ext in st.exts.iter_mut().filter(|e| e.shutdown && !e.errored) {
            ext.give(event.clone());
            n += 1;
        }
        drop(st);
        self.bump();
        n
    }

    /// No extension owes a `next` for an event it was given (or has failed).
    pub fn settled(&self) -> bool {
        self.st.lock().exts.iter().all(Ext::settled)
    }

    /// Waits until [`Self::settled`] or a failure.
    pub async fn wait_settled(&self) {
        let mut rx = self.changes();
        let _ = rx
            .wait_for(|_| self.settled() || self.failure().is_some())
            .await;
    }
}

#[cfg(test)]
#[path = "extensions_tests.rs"]
mod tests;
