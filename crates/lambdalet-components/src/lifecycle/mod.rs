//! The lifecycle of a generic Greengrass component, run as the Greengrass nucleus runs it
//! (being written): for now its states and their transitions.

mod state;

pub use state::{Event, State};
