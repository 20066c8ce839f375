//! The lifecycle of a generic Greengrass component, run as the Greengrass nucleus runs it
//! (being written): its states and their transitions, and the plan it is given.

mod plan;
mod state;

pub use plan::{BASE_PATH, Plan, SkipIf, Step, StepKind};
pub use state::{Event, State};
