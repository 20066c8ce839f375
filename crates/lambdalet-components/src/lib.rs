//! Greengrass components on lambdalet: deployments of recipes and artifacts, Lambda
//! components as functions, and the lifecycle of generic components.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        reason = "a failing unwrap is how a test reports failure"
    )
)]

pub mod artifacts;
mod error;
pub mod lifecycle;

pub use error::DeployError;
