//! The Lambda Runtime API (2018-06-01), with the Extensions (2020-01-01), Telemetry
//! (2022-07-01) and Logs (2020-08-15) APIs, served per sandbox on its own loopback listener, so
//! a runtime and its extensions can only ever see their own events.

mod channel;
mod direct;
mod ext_http;
pub mod extensions;
mod frames;
mod server;
mod stream;

pub use channel::{Event, InitFailure, RuntimeChannel, RuntimeOutcome, RuntimeState};
pub use ext_http::ExtApis;
pub use extensions::{ExtFailure, Extensions, Meta};
pub use frames::{FD_ENV as FRAMES_FD_ENV, FramesServer};
pub use server::RuntimeApiServer;
pub use stream::{DEFAULT_STREAM_CONTENT_TYPE, StreamPart, TrailerError};
