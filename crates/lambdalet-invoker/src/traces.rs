//! Traces of invocations, for an OpenTelemetry collector: per invocation a span `invoke` (the
//! whole request), with children `queue` (waiting for a sandbox, when it waited), `init` (a
//! cold start's sandbox and Init phase) and `runtime` (the event handed to the runtime until its
//! answer). The trace is the invocation's X-Ray trace (`X-Amzn-Trace-Id`, `Root=1-...`), and
//! the function gets `_X_AMZN_TRACE_ID` with `Parent` set to the `runtime` span, so the
//! function's own X-Ray or OpenTelemetry SDK continues the same trace under it.
//!
//! The invoker only makes spans; a [`SpanSink`] given in the configuration sends them (the
//! daemon's OTLP exporter). Without one, nothing is made.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: &'static str,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Attr)>,
    /// Set when what the span covers failed.
    pub error: Option<String>,
}

/// OpenTelemetry's span kinds that lambdalet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The invocation as a request served.
    Server,
    /// A step inside it.
    Internal,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Bool(bool),
    Int(i64),
}

/// Where finished spans go.
pub trait SpanSink: Send + Sync {
    fn export(&self, spans: Vec<Span>);
}

/// The invoker's span sink, if traces are exported (`Spans::default()`: off).
#[derive(Clone, Default)]
pub struct Spans(pub Option<Arc<dyn SpanSink>>);

impl fmt::Debug for Spans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Spans(on)"
        } else {
            "Spans(off)"
        })
    }
}

/// The parts of an X-Ray trace header lambdalet uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XrayHeader {
    pub trace_id: [u8; 16],
    pub parent: Option<[u8; 8]>,
    pub sampled: Option<bool>,
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

/// Parses `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
pub(crate) fn parse_xray(header: &str) -> Option<XrayHeader> {
    let (mut root, mut parent, mut sampled) = (None, None, None);
    for part in header.split(';') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Root" => {
                let mut pieces = v.split('-');
                let (one, time, rest) = (pieces.next()?, pieces.next()?, pieces.next()?);
                if one != "1" || time.len() != 8 || rest.len() != 24 || pieces.next().is_some() {
                    return None;
                }
                root = hex_bytes::<16>(&format!("{time}{rest}"));
            }
            "Parent" => parent = hex_bytes::<8>(v),
            "Sampled" => sampled = Some(v == "1"),
            _ => {}
        }
    }
    Some(XrayHeader {
        trace_id: root?,
        parent,
        sampled,
    })
}

/// The X-Ray header of a trace, its parent span and sampling decision.
pub(crate) fn format_xray(trace_id: &[u8; 16], parent: &[u8; 8], sampled: bool) -> String {
    let hex = hex::encode(trace_id);
    format!(
        "Root=1-{}-{};Parent={};Sampled={}",
        &hex[..8],
        &hex[8..],
        hex::encode(parent),
        u8::from(sampled)
    )
}

/// A W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`) as an X-Ray header, for callers
/// instrumented with OpenTelemetry rather than X-Ray.
pub fn xray_from_traceparent(traceparent: &str) -> Option<String> {
    let mut p = traceparent.trim().split('-');
    let (version, trace, parent, flags) = (p.next()?, p.next()?, p.next()?, p.next()?);
    if version != "00" || trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
        return None;
    }
    let trace_id = hex_bytes::<16>(trace)?;
    let parent = hex_bytes::<8>(parent)?;
    if trace_id == [0; 16] || parent == [0; 8] {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    Some(format_xray(&trace_id, &parent, sampled))
}

fn span_id() -> [u8; 8] {
    loop {
        let id = fastrand::u64(..).to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

/// The spans of one invocation, made as it goes and sent when it ends.
pub(crate) struct InvocationTrace {
    sink: Arc<dyn SpanSink>,
    trace_id: [u8; 16],
    invoke: [u8; 8],
    parent: Option<[u8; 8]>,
    pub runtime: [u8; 8],
    start: SystemTime,
    spans: Vec<Span>,
}

impl InvocationTrace {
    /// Starts the trace of an invocation: in the caller's X-Ray trace (`caller`, its `Parent`
    /// the `invoke` span's parent), or a new one. Returns the trace, if its spans are to be
    /// sent, and the X-Ray header the runtime gets (its `Parent` the `runtime` span). Without
    /// a sink, or when the caller did not sample, nothing is traced and the runtime gets the
    /// caller's header, or a new one sampled as the function's `mode` says (`Active`).
    pub fn begin(
        spans: &Spans,
        caller: Option<&str>,
        mode: &str,
        start: SystemTime,
    ) -> (Option<Self>, String) {
        let Some(sink) = &spans.0 else {
            let header = caller.map_or_else(|| crate::platform::new_trace_id(mode), str::to_owned);
            return (None, header);
        };
        let (trace_id, parent) = match caller {
            None => {
                let secs = start
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()) as u32;
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(&secs.to_be_bytes());
                id[4..].copy_from_slice(&fastrand::u128(..).to_be_bytes()[4..]);
                (id, None)
            }
            Some(h) => match parse_xray(h) {
                Some(x) if x.sampled != Some(false) => (x.trace_id, x.parent),
                _ => return (None, h.to_owned()),
            },
        };
        let runtime = span_id();
        let header = format_xray(&trace_id, &runtime, true);
        let t = Self {
            sink: sink.clone(),
            trace_id,
            invoke: span_id(),
            parent,
            runtime,
            start,
            spans: Vec::new(),
        };
        (Some(t), header)
    }

    /// A step of the invocation (`queue`, `init`, `runtime`): the `runtime` span keeps the id
    /// the runtime was told.
    pub fn step(
        &mut self,
        name: &'static str,
        start: SystemTime,
        end: SystemTime,
        error: Option<String>,
    ) {
        let span_id = if name == "runtime" {
            self.runtime
        } else {
            span_id()
        };
        self.spans.push(Span {
            trace_id: self.trace_id,
            span_id,
            parent: Some(self.invoke),
            name,
            kind: SpanKind::Internal,
            start,
            end,
            attributes: Vec::new(),
            error,
        });
    }

    /// Ends the `invoke` span and sends every span.
    pub fn finish(mut self, attributes: Vec<(&'static str, Attr)>, error: Option<String>) {
        self.spans.push(Span {
            trace_id: self.trace_id,
            span_id: self.invoke,
            parent: self.parent,
            name: "invoke",
            kind: SpanKind::Server,
            start: self.start,
            end: SystemTime::now(),
            attributes,
            error,
        });
        self.sink.export(self.spans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<Span>>);

    impl SpanSink for Collect {
        fn export(&self, spans: Vec<Span>) {
            self.0.lock().extend(spans);
        }
    }

    #[test]
    fn xray_headers_round_trip() {
        let h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let x = parse_xray(h).unwrap();
        assert_eq!(hex::encode(x.trace_id), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(x.sampled, Some(true));
        assert_eq!(format_xray(&x.trace_id, &x.parent.unwrap(), true), h);
        assert!(parse_xray("Root=2-5759e988-bd862e3fe1be46a994272793").is_none());
        assert!(parse_xray("nonsense").is_none());
    }

    #[test]
    fn a_traceparent_becomes_an_xray_header() {
        let h = xray_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
        assert_eq!(
            h,
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
        );
        assert!(
            xray_from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
                .is_none()
        );
        assert!(xray_from_traceparent("garbage").is_none());
    }

    #[test]
    fn an_invocation_makes_a_tree_under_the_callers_span() {
        let sink = Arc::new(Collect::default());
        let spans = Spans(Some(sink.clone()));
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let now = SystemTime::now();
        let (t, runtime_header) = InvocationTrace::begin(&spans, Some(header), "", now);
        let mut t = t.unwrap();
        let x = parse_xray(&runtime_header).unwrap();
        assert_eq!(x.parent, Some(t.runtime));
        t.step("init", now, now, None);
        t.step("runtime", now, now, Some("Unhandled".into()));
        t.finish(vec![("faas.name", Attr::Str("f".into()))], None);
        let got = sink.0.lock().clone();
        let invoke = got.iter().find(|s| s.name == "invoke").unwrap();
        assert_eq!(hex::encode(invoke.parent.unwrap()), "53995c3f42cd8ad8");
        let runtime = got.iter().find(|s| s.name == "runtime").unwrap();
        assert_eq!(runtime.parent, Some(invoke.span_id));
        assert_eq!(Some(runtime.span_id), x.parent);
        assert!(got.iter().all(|s| s.trace_id == invoke.trace_id));

        // Not sampled by the caller, or no sink: no trace, the header unchanged.
        let unsampled = header.replace("Sampled=1", "Sampled=0");
        let (t, h) = InvocationTrace::begin(&spans, Some(&unsampled), "", now);
        assert!(t.is_none());
        assert_eq!(h, unsampled);
        let (t, h) = InvocationTrace::begin(&Spans::default(), Some(header), "Active", now);
        assert!(t.is_none());
        assert_eq!(h, header);

        // No caller's trace: a new one, sampled, whose invoke span is the root.
        let (t, h) = InvocationTrace::begin(&spans, None, "PassThrough", now);
        let t = t.unwrap();
        assert!(h.ends_with("Sampled=1"), "{h}");
        assert_eq!(parse_xray(&h).unwrap().trace_id, t.trace_id);
        t.finish(Vec::new(), None);
        assert_eq!(sink.0.lock().last().unwrap().parent, None);
    }
}
