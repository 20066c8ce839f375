//! Greengrass components on lambdalet: deployments of recipes and artifacts, Lambda
//! components as functions, and the lifecycle of generic components.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        reason = "a failing unwrap is how a test reports failure"
    )
)]

mod apply;
pub mod artifacts;
mod builtin;
mod engine;
mod error;
mod generic;
mod lambda;
pub mod lifecycle;
mod live;
mod request;
mod resolve;
mod runtime;
mod status;

pub use builtin::BUILTIN;
pub use engine::{Components, ComponentsConfig};
pub use error::DeployError;
pub use request::{ComponentRequest, DeploymentRequest, RecipeFile};
pub use status::{ComponentView, DeploymentView};
