//! The messages a server sends, built the way Greengrass IPC clients expect them.
//!
//! Application messages and errors carry `:content-type: application/json` and a
//! `service-model-type`, because the aws-iot-device-sdk clients refuse stream messages without
//! them (an empty TERMINATE_STREAM message excepted, see [`terminate_stream`]). Connection-level
//! errors carry `{"message": "..."}` as aws-c-event-stream's server does.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{CONNECTION_ACCEPTED, CONTENT_TYPE_JSON, MessageType, RpcMessage, TERMINATE_STREAM};

/// The answer to CONNECT. A rejected connection should be closed once this is sent.
pub fn connect_ack(accepted: bool) -> RpcMessage {
    let flags = if accepted { CONNECTION_ACCEPTED } else { 0 };
    RpcMessage::new(MessageType::ConnectAck, flags, 0)
}

/// The answer to a PING: the ping's headers other than the `:`-prefixed protocol ones, and its
/// payload, echoed back.
pub fn ping_response(ping: &RpcMessage) -> RpcMessage {
    let mut reply = RpcMessage::new(MessageType::PingResponse, 0, 0);
    reply.operation = ping.operation.clone();
    reply.service_model_type = ping.service_model_type.clone();
    reply.other_headers = ping
        .other_headers
        .iter()
        .filter(|h| !h.name.starts_with(':'))
        .cloned()
        .collect();
    reply.payload = ping.payload.clone();
    reply
}

/// A response or stream event on `stream_id`, e.g. service model type
/// `aws.greengrass#PublishToTopicResponse`. `terminate` closes the stream from our side.
pub fn application_message(
    stream_id: i32,
    service_model_type: &str,
    json: &Value,
    terminate: bool,
) -> RpcMessage {
    stream_json(
        MessageType::ApplicationMessage,
        stream_id,
        service_model_type,
        json,
        terminate,
    )
}

/// A modeled error on `stream_id`, e.g. service model type `aws.greengrass#UnauthorizedError`
/// with `{"message": "..."}`. The nucleus always sets `terminate` on errors.
pub fn application_error(
    stream_id: i32,
    service_model_type: &str,
    json: &Value,
    terminate: bool,
) -> RpcMessage {
    stream_json(
        MessageType::ApplicationError,
        stream_id,
        service_model_type,
        json,
        terminate,
    )
}

/// An empty APPLICATION_MESSAGE with TERMINATE_STREAM: closes `stream_id` without data, as the
/// nucleus's `closeStream` does.
pub fn terminate_stream(stream_id: i32) -> RpcMessage {
    RpcMessage::new(MessageType::ApplicationMessage, TERMINATE_STREAM, stream_id)
}

/// A PROTOCOL_ERROR on stream 0 with `{"message": message}`; close the connection after it.
pub fn protocol_error(message: &str) -> RpcMessage {
    connection_error(MessageType::ProtocolError, message)
}

/// An INTERNAL_ERROR on stream 0 with `{"message": message}`; close the connection after it.
pub fn internal_error(message: &str) -> RpcMessage {
    connection_error(MessageType::InternalError, message)
}

fn stream_json(
    message_type: MessageType,
    stream_id: i32,
    service_model_type: &str,
    json: &Value,
    terminate: bool,
) -> RpcMessage {
    let flags = if terminate { TERMINATE_STREAM } else { 0 };
    let mut reply = RpcMessage::new(message_type, flags, stream_id);
    reply.content_type = Some(CONTENT_TYPE_JSON.to_owned());
    reply.service_model_type = Some(service_model_type.to_owned());
    reply.payload = Bytes::from(json.to_string());
    reply
}

fn connection_error(message_type: MessageType, message: &str) -> RpcMessage {
    let mut reply = RpcMessage::new(message_type, 0, 0);
    reply.content_type = Some(CONTENT_TYPE_JSON.to_owned());
    reply.payload = Bytes::from(json!({ "message": message }).to_string());
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Header, HeaderValue, Message, decode, encode};

    /// Encode and decode, as the client would see it.
    fn over_the_wire(msg: RpcMessage) -> RpcMessage {
        let bytes = encode(&msg.into_message()).unwrap();
        RpcMessage::from_message(decode(&bytes).unwrap()).unwrap()
    }

    #[test]
    fn connect_ack_flags() {
        let ok = over_the_wire(connect_ack(true));
        assert_eq!(ok.message_type, MessageType::ConnectAck);
        assert_eq!((ok.flags, ok.stream_id), (CONNECTION_ACCEPTED, 0));
        assert!(ok.payload.is_empty());
        assert_eq!(over_the_wire(connect_ack(false)).flags, 0);
    }

    #[test]
    fn connect_ack_is_exactly_three_headers() {
        let message = connect_ack(true).into_message();
        let names: Vec<_> = message.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, [":message-type", ":message-flags", ":stream-id"]);
        assert_eq!(message.headers[0].value, HeaderValue::Int32(5));
        assert_eq!(message.headers[1].value, HeaderValue::Int32(1));
    }

    #[test]
    fn ping_response_echoes_application_headers_only() {
        let ping = RpcMessage::from_message(Message::new(
            vec![
                Header::int32(":message-type", 2),
                Header::int32(":message-flags", 0),
                Header::int32(":stream-id", 0),
                Header::string(":private", "dropped"),
                Header::string("x-echo", "kept"),
            ],
            &b"hello"[..],
        ))
        .unwrap();
        let pong = over_the_wire(ping_response(&ping));
        assert_eq!(pong.message_type, MessageType::PingResponse);
        assert_eq!(pong.other_headers, vec![Header::string("x-echo", "kept")]);
        assert_eq!(&pong.payload[..], b"hello");
    }

    #[test]
    fn application_message_has_what_the_python_client_checks() {
        let msg = over_the_wire(application_message(
            3,
            "aws.greengrass#PublishToTopicResponse",
            &json!({}),
            true,
        ));
        assert_eq!(msg.message_type, MessageType::ApplicationMessage);
        assert_eq!(msg.stream_id, 3);
        assert!(msg.is_terminate_stream());
        assert_eq!(msg.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            msg.service_model_type.as_deref(),
            Some("aws.greengrass#PublishToTopicResponse")
        );
        assert_eq!(&msg.payload[..], b"{}");
        let open = application_message(
            3,
            "aws.greengrass#SubscriptionResponseMessage",
            &json!({}),
            false,
        );
        assert!(!open.is_terminate_stream());
    }

    #[test]
    fn application_error_carries_the_modeled_type() {
        let body = json!({ "message": "not authorized to publish to a/b" });
        let msg = over_the_wire(application_error(
            7,
            "aws.greengrass#UnauthorizedError",
            &body,
            true,
        ));
        assert_eq!(msg.message_type, MessageType::ApplicationError);
        assert_eq!((msg.flags, msg.stream_id), (TERMINATE_STREAM, 7));
        assert_eq!(
            msg.service_model_type.as_deref(),
            Some("aws.greengrass#UnauthorizedError")
        );
        assert_eq!(serde_json::from_slice::<Value>(&msg.payload).unwrap(), body);
    }

    #[test]
    fn terminate_stream_is_empty() {
        let msg = over_the_wire(terminate_stream(9));
        assert_eq!((msg.flags, msg.stream_id), (TERMINATE_STREAM, 9));
        assert!(msg.service_model_type.is_none() && msg.payload.is_empty());
    }

    #[test]
    fn connection_errors_are_json_on_stream_zero() {
        for (msg, t) in [
            (protocol_error("bad \"frame\""), MessageType::ProtocolError),
            (internal_error("oops"), MessageType::InternalError),
        ] {
            let msg = over_the_wire(msg);
            assert_eq!((msg.message_type, msg.stream_id, msg.flags), (t, 0, 0));
            assert_eq!(msg.content_type.as_deref(), Some("application/json"));
            let body: Value = serde_json::from_slice(&msg.payload).unwrap();
            assert!(body["message"].is_string());
        }
        let msg = protocol_error("bad \"frame\"");
        assert_eq!(&msg.payload[..], br#"{"message":"bad \"frame\""}"#);
    }
}
