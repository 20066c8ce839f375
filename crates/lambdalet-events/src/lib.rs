//! lambdalet's event sources and routing: the topic bus and wildcard matching, the
//! subscriptions router, and MQTT.
//!
//! This crate turns messages on topics into the events that invoke functions. It must not
//! run functions itself: it hands events to the invoker.

pub mod bus;
pub mod ipc;
pub mod legacy;
pub mod mqtt;
pub mod router;
pub mod topic;

pub use bus::{LocalBus, Message, ReceiveMode, Source};
pub use router::{EventRouter, RouteError};
