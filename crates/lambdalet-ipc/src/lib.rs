//! The AWS event-stream RPC protocol, as Greengrass IPC clients speak it over a Unix socket.
//!
//! Greengrass components and Lambda functions talk to the nucleus through the AWS IoT Device
//! SDK v2 (`awsiot.greengrasscoreipc` in Python, and the Java, C++ and JavaScript equivalents).
//! All of them use aws-crt's event-stream RPC: binary frames ([`frame`]) carrying RPC headers
//! and JSON payloads ([`rpc`]).
//!
//! This crate is the protocol only. It must not open sockets, hold connection or stream state,
//! authenticate tokens, or know any Greengrass operation; the IPC server builds those on top.
//! With the default `codec` feature, [`EventStreamCodec`] plugs it into `tokio_util::codec`.

#[cfg(feature = "codec")]
pub mod codec;
pub mod frame;
pub mod rpc;

#[cfg(feature = "codec")]
pub use codec::EventStreamCodec;
pub use frame::{Decoder, FrameError, Header, HeaderValue, Message};
pub use rpc::{ConnectRequest, MessageType, RpcError, RpcMessage};
