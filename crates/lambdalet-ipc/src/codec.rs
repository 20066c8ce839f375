//! `tokio_util::codec` glue, so a server can wrap its socket in `Framed`.
//!
//! [`EventStreamCodec`] decodes [`Message`]s with a size limit and encodes [`Message`]s and
//! [`RpcMessage`]s. It adds no behaviour of its own beyond [`crate::frame`].

use bytes::BytesMut;

use crate::frame::{self, Decoder, FrameError, Message};
use crate::rpc::RpcMessage;

/// Frames on a byte stream, for `tokio_util::codec::Framed`.
#[derive(Debug, Clone, Default)]
pub struct EventStreamCodec {
    decoder: Decoder,
}

impl EventStreamCodec {
    /// A codec accepting frames up to [`frame::MAX_MESSAGE_SIZE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec accepting frames of at most `bytes` in total; see
    /// [`Decoder::with_max_message`].
    pub fn with_max_message(bytes: usize) -> Self {
        Self {
            decoder: Decoder::with_max_message(bytes),
        }
    }

    /// The largest frame this codec accepts.
    pub fn max_message(&self) -> usize {
        self.decoder.max_message()
    }
}

impl tokio_util::codec::Decoder for EventStreamCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        self.decoder.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        self.decoder.decode_eof(src)
    }
}

impl tokio_util::codec::Encoder<Message> for EventStreamCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        frame::encode_into(&item, dst)
    }
}

impl tokio_util::codec::Encoder<&Message> for EventStreamCodec {
    type Error = FrameError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        frame::encode_into(item, dst)
    }
}

impl tokio_util::codec::Encoder<RpcMessage> for EventStreamCodec {
    type Error = FrameError;

    fn encode(&mut self, item: RpcMessage, dst: &mut BytesMut) -> Result<(), FrameError> {
        frame::encode_into(&item.into_message(), dst)
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::codec::{Decoder as _, Encoder as _};

    use super::*;
    use crate::rpc::{MessageType, connect_ack};

    #[test]
    fn encodes_and_decodes_through_the_traits() {
        let mut codec = EventStreamCodec::with_max_message(1024);
        assert_eq!(codec.max_message(), 1024);
        let mut buf = BytesMut::new();
        codec.encode(connect_ack(true), &mut buf).unwrap();
        codec.encode(&Message::default(), &mut buf).unwrap();
        codec.encode(Message::default(), &mut buf).unwrap();

        let first = codec.decode(&mut buf).unwrap().unwrap();
        let rpc = RpcMessage::from_message(first).unwrap();
        assert_eq!(rpc.message_type, MessageType::ConnectAck);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Message::default()));
        assert_eq!(
            codec.decode_eof(&mut buf).unwrap(),
            Some(Message::default())
        );
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    }

    #[test]
    fn eof_inside_a_frame_is_an_error() {
        let mut codec = EventStreamCodec::new();
        let mut buf = BytesMut::from(&frame::encode(&Message::default()).unwrap()[..10]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        let err = codec.decode_eof(&mut buf).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    buffered: 10,
                    needed: 12
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn io_errors_convert() {
        let err = FrameError::from(std::io::Error::other("socket closed"));
        assert_eq!(
            err.to_string(),
            "event-stream transport failed: socket closed"
        );
    }
}
