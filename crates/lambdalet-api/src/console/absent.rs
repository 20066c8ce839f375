//! The console's place in a build without it (no cargo feature `console`): its paths answer
//! what is missing and how to get it.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::any;
use http::StatusCode;

use crate::state::ApiState;

/// Why `/console` is not there.
pub(crate) const MISSING: &str = "this lambdalet was built without the web console (cargo feature `console`); build it with the default features, or use the lambdalet command and the AWS CLI";

/// `/console` and everything under it.
pub(crate) fn routes() -> Router<ApiState> {
    let missing = any(|| async { (StatusCode::NOT_FOUND, MISSING).into_response() });
    Router::new()
        .route("/console", missing.clone())
        .route("/console/{*rest}", missing)
}
