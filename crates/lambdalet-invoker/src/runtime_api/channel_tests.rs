use super::*;

fn event(id: &str) -> Event {
    Event {
        request_id: id.to_owned(),
        deadline_ms: 0,
        invoked_arn: String::new(),
        trace_id: String::new(),
        client_context: None,
        cognito_identity: None,
        content_type: "application/json".to_owned(),
        payload: Bytes::from_static(b"{}"),
    }
}

#[tokio::test]
async fn full_cycle_with_waiting_runtime() {
    let (ch, ready) = RuntimeChannel::new();
    let NextEvent::Later(rx) = ch.next().expect("next") else {
        panic!("no event yet")
    };
    assert!(ready.await.expect("ready").is_ok());
    let reply = ch.dispatch(event("a"));
    assert_eq!(rx.await.expect("event").request_id, "a");
    assert_eq!(ch.state(), RuntimeState::Running);
    assert_eq!(
        ch.complete("b", RuntimeOutcome::ResponseTooLarge),
        Err(Refusal::InvalidRequestId)
    );
    ch.complete(
        "a",
        RuntimeOutcome::Response {
            body: Bytes::new(),
            content_type: None,
        },
    )
    .expect("response");
    assert!(matches!(reply.await, Ok(RuntimeOutcome::Response { .. })));
    assert_eq!(
        ch.complete("a", RuntimeOutcome::ResponseTooLarge),
        Err(Refusal::InvalidRequestId)
    );
    assert_eq!(ch.state(), RuntimeState::ResponseSent);
}

#[tokio::test]
async fn event_dispatched_before_next_is_kept() {
    let (ch, _ready) = RuntimeChannel::new();
    let NextEvent::Later(_first) = ch.next().expect("next") else {
        panic!()
    };
    drop(_first);
    let _reply = ch.dispatch(event("x"));
    let NextEvent::Now(ev) = ch.next().expect("next") else {
        panic!("pending event")
    };
    assert_eq!(ev.request_id, "x");
}

#[tokio::test]
async fn init_error_only_from_started() {
    let (ch, ready) = RuntimeChannel::new();
    let failure = InitFailure {
        body: Bytes::from_static(b"{}"),
        error_type: None,
    };
    ch.init_error(failure.clone()).expect("first");
    assert!(ready.await.expect("resolved").is_err());
    assert!(matches!(ch.next(), Err(Refusal::InvalidState { .. })));
    assert!(matches!(
        ch.init_error(failure),
        Err(Refusal::InvalidState { .. })
    ));
}

#[test]
fn response_before_any_event_is_refused() {
    let (ch, _ready) = RuntimeChannel::new();
    let r = ch.complete("nope", RuntimeOutcome::ResponseTooLarge);
    assert_eq!(r, Err(Refusal::InvalidRequestId));
}
