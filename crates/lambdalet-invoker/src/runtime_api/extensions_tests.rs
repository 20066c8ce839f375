use super::*;

fn exts() -> Extensions {
    Extensions::new(Meta::default(), vec!["logger".to_owned()])
}

fn events(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn init_waits_for_external_registration_and_every_next() {
    let e = exts();
    assert!(!e.all_registered());
    let id = e
        .register("logger", &events(&["INVOKE", "SHUTDOWN"]))
        .expect("register");
    assert!(e.all_registered());
    assert!(!e.init_done(), "registered but has not called next");
    let internal = e.register("agent", &events(&["INVOKE"])).expect("internal");
    let ExtNext::Later(_logger) = e.next(&id).expect("next") else {
        panic!("nothing to take yet")
    };
    assert!(!e.init_done(), "the internal extension has not called next");
    let ExtNext::Later(_agent) = e.next(&internal).expect("next") else {
        panic!()
    };
    assert!(e.init_done());
    assert_eq!(e.counts(), (1, 1));
    e.close_init();
    let late = e.register("late", &[]).expect_err("closed");
    assert_eq!(late.error_type, "Extension.RegistrationClosed");
    assert_eq!(late.status, 403);
}

#[tokio::test]
async fn an_invoke_is_settled_when_every_subscriber_is_back_in_next() {
    let e = exts();
    let id = e
        .register("logger", &events(&["INVOKE"]))
        .expect("register");
    let ExtNext::Later(rx) = e.next(&id).expect("next") else {
        panic!()
    };
    e.close_init();
    assert!(e.settled());
    assert_eq!(
        e.invoke(&Bytes::from_static(b"{\"eventType\":\"INVOKE\"}")),
        1
    );
    assert!(!e.settled(), "the extension owes a next");
    assert_eq!(&rx.await.expect("event")[..], b"{\"eventType\":\"INVOKE\"}");
    assert!(!e.settled(), "it is still handling the event");
    let ExtNext::Later(again) = e.next(&id).expect("next") else {
        panic!()
    };
    assert!(e.settled());
    // An event given while the extension is not in next (its request went away) waits for it.
    drop(again);
    e.invoke(&Bytes::from_static(b"2"));
    let ExtNext::Now(ev) = e.next(&id).expect("next") else {
        panic!("the pending event")
    };
    assert_eq!(&ev[..], b"2");
    assert!(!e.settled());
}

#[test]
fn refusals_have_lambdas_error_types() {
    let e = exts();
    assert_eq!(
        e.register("", &[]).expect_err("empty").error_type,
        "Extension.InvalidExtensionName"
    );
    assert_eq!(
        e.register("x", &events(&["SHUTDOWN"]))
            .expect_err("internal shutdown")
            .error_type,
        "Extension.InvalidEventType"
    );
    assert_eq!(
        e.register("logger", &events(&["BOOT"]))
            .expect_err("unknown event")
            .error_type,
        "Extension.InvalidEventType"
    );
    assert!(e.register("logger", &events(&["SHUTDOWN"])).is_ok());
    assert_eq!(
        e.register("logger", &[]).expect_err("twice").error_type,
        "Extension.InvalidExtensionState"
    );
    assert_eq!(
        e.next("00000000-0000-0000-0000-000000000000")
            .err()
            .expect("unknown")
            .error_type,
        "Extension.UnknownExtensionIdentifier"
    );
    for i in 0..MAX_EXTENSIONS - 1 {
        e.register(&format!("e{i}"), &[]).expect("room");
    }
    assert_eq!(
        e.register("one-too-many", &[])
            .expect_err("limit")
            .error_type,
        "Extension.TooManyExtensions"
    );
}

#[test]
fn a_reported_error_fails_the_extension() {
    let e = exts();
    let id = e.register("logger", &[]).expect("register");
    e.report_error(&id, "Extension.ConfigInvalid")
        .expect("known");
    assert_eq!(
        e.failure(),
        Some(ExtFailure {
            name: "logger".into(),
            error_type: "Extension.ConfigInvalid".into()
        })
    );
    assert!(e.next(&id).is_err(), "every call fails afterwards");
}
