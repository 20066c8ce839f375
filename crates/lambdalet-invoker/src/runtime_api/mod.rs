//! The Lambda Runtime API (2018-06-01), served per sandbox on its own loopback listener, so a
//! runtime can only ever see its own events.

mod channel;
mod server;
mod stream;

pub use channel::{Event, InitFailure, RuntimeChannel, RuntimeOutcome, RuntimeState};
pub use server::RuntimeApiServer;
pub use stream::{DEFAULT_STREAM_CONTENT_TYPE, StreamPart, TrailerError};
