use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

fn frame(fields: &[&str], body: &[u8]) -> Vec<u8> {
    let header = fields.join("\0");
    let mut out = Vec::new();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

async fn read_frame(r: &mut DuplexStream) -> (Vec<String>, Vec<u8>) {
    let mut lengths = [0u8; 8];
    r.read_exact(&mut lengths).await.expect("lengths");
    let h = u32::from_le_bytes(lengths[..4].try_into().expect("4")) as usize;
    let b = u32::from_le_bytes(lengths[4..].try_into().expect("4")) as usize;
    let mut header = vec![0; h];
    r.read_exact(&mut header).await.expect("header");
    let mut body = vec![0; b];
    r.read_exact(&mut body).await.expect("body");
    let fields = String::from_utf8(header)
        .expect("utf-8")
        .split('\0')
        .map(str::to_owned)
        .collect();
    (fields, body)
}

fn event(id: &str, payload: &'static [u8]) -> Event {
    Event {
        request_id: id.to_owned(),
        deadline_ms: 1234,
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".to_owned(),
        trace_id: "Root=1-a-b".to_owned(),
        client_context: Some("{\"custom\":{}}".to_owned()),
        cognito_identity: None,
        content_type: "application/json".to_owned(),
        payload: Bytes::from_static(payload),
    }
}

/// The daemon's side served over an in-memory pipe; returns the runtime's end.
fn served(
    channel: Arc<RuntimeChannel>,
) -> (
    DuplexStream,
    tokio::task::JoinHandle<Result<(), FrameError>>,
) {
    let (runtime, daemon) = tokio::io::duplex(1 << 20);
    let task = tokio::spawn(async move {
        let (mut r, w) = tokio::io::split(daemon);
        serve(&mut r, w, &channel).await
    });
    (runtime, task)
}

#[tokio::test]
async fn an_event_goes_out_and_its_response_and_the_next_request_come_back_in_one_write() {
    let (channel, ready) = RuntimeChannel::new();
    let channel = Arc::new(channel);
    let (mut rt, _task) = served(channel.clone());
    rt.write_all(&frame(&["next"], b"")).await.expect("next");
    assert!(
        ready.await.expect("ready").is_ok(),
        "the first next ends init"
    );
    let reply = channel.dispatch(event("req-1", b"{\"a\":1}"));
    let (fields, body) = read_frame(&mut rt).await;
    assert_eq!(
        fields,
        [
            "event",
            "req-1",
            "1234",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            "Root=1-a-b",
            "{\"custom\":{}}",
            "",
            "application/json"
        ]
    );
    assert_eq!(body, b"{\"a\":1}");
    let mut both = frame(&["response", "req-1", "application/json"], b"{\"ok\":true}");
    both.extend(frame(&["next"], b""));
    rt.write_all(&both).await.expect("response and next");
    match reply.await.expect("outcome") {
        RuntimeOutcome::Response { body, content_type } => {
            assert_eq!(&body[..], b"{\"ok\":true}");
            assert_eq!(content_type.as_deref(), Some("application/json"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let reply = channel.dispatch(event("req-2", b"{}"));
    let (fields, _) = read_frame(&mut rt).await;
    assert_eq!(fields[1], "req-2");
    rt.write_all(&frame(
        &["error", "req-2", "Handled"],
        b"{\"errorType\":\"Handled\"}",
    ))
    .await
    .expect("error");
    match reply.await.expect("outcome") {
        RuntimeOutcome::Error { error_type, .. } => {
            assert_eq!(error_type.as_deref(), Some("Handled"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_response_over_the_limit_is_refused_and_the_runtime_goes_on() {
    let (channel, _ready) = RuntimeChannel::new();
    let channel = Arc::new(channel);
    let (mut rt, task) = served(channel.clone());
    rt.write_all(&frame(&["next"], b"")).await.expect("next");
    let reply = channel.dispatch(event("big", b"{}"));
    read_frame(&mut rt).await;
    let huge = vec![b'x'; MAX_RESPONSE_BYTES + 1];
    let writer = tokio::spawn(async move {
        rt.write_all(&frame(&["response", "big", "application/json"], &huge))
            .await
            .expect("big response");
        rt.write_all(&frame(&["next"], b"")).await.expect("next");
        rt
    });
    assert!(matches!(
        reply.await.expect("outcome"),
        RuntimeOutcome::ResponseTooLarge
    ));
    let mut rt = writer.await.expect("writer");
    let reply = channel.dispatch(event("small", b"{}"));
    let (fields, _) = read_frame(&mut rt).await;
    assert_eq!(
        fields[1], "small",
        "the channel still serves after the refusal"
    );
    rt.write_all(&frame(&["response", "small", ""], b"1"))
        .await
        .expect("response");
    assert!(matches!(
        reply.await.expect("outcome"),
        RuntimeOutcome::Response { .. }
    ));
    assert!(!task.is_finished());
}

#[tokio::test]
async fn an_init_error_ends_init_and_a_later_next_is_refused() {
    let (channel, ready) = RuntimeChannel::new();
    let (mut rt, _task) = served(Arc::new(channel));
    rt.write_all(&frame(
        &["init-error", "Runtime.ImportModuleError"],
        b"{\"errorMessage\":\"x\"}",
    ))
    .await
    .expect("init error");
    let failure = ready.await.expect("resolved").expect_err("init failed");
    assert_eq!(
        failure.error_type.as_deref(),
        Some("Runtime.ImportModuleError")
    );
    rt.write_all(&frame(&["next"], b"")).await.expect("next");
    let (fields, body) = read_frame(&mut rt).await;
    assert_eq!(fields, ["refused", "403", "InvalidStateTransition"]);
    assert!(String::from_utf8_lossy(&body).contains("InitError"));
}

#[tokio::test]
async fn malformed_frames_close_the_channel() {
    for bad in [
        frame(&["launch-missiles"], b""),
        {
            let mut f = ((MAX_HEADER + 1) as u32).to_le_bytes().to_vec();
            f.extend(0u32.to_le_bytes());
            f
        },
        {
            let mut f = 2u32.to_le_bytes().to_vec();
            f.extend(0u32.to_le_bytes());
            f.extend([0xff, 0xfe]);
            f
        },
    ] {
        let (channel, _ready) = RuntimeChannel::new();
        let (mut rt, task) = served(Arc::new(channel));
        rt.write_all(&bad).await.expect("write");
        let result = task.await.expect("joined");
        assert!(
            matches!(result, Err(FrameError::Malformed(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_runtime_that_goes_away_ends_the_loop() {
    let (channel, _ready) = RuntimeChannel::new();
    let (rt, task) = served(Arc::new(channel));
    drop(rt);
    assert!(matches!(
        task.await.expect("joined"),
        Err(FrameError::Closed)
    ));
}

#[test]
fn nul_bytes_inside_values_cannot_add_fields() {
    let mut e = event("id", b"");
    e.trace_id = "Root=1\0evil".to_owned();
    let header = event_header(&e);
    assert_eq!(header.split('\0').count(), 8);
    assert!(header.contains("Root=1 evil"));
}
