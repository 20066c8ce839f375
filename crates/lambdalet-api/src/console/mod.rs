//! The web console, served by the daemon at `/console` with the API's own authentication:
//! server-rendered pages (`pages.rs`, `function.rs`), a small script and stylesheet and uPlot
//! for the charts, all embedded in the binary (no build step, works offline). What the pages
//! do (invoke, enable/disable, point an alias) goes through the same API routes as any client,
//! with the viewer's own rights.

mod function;
pub(crate) mod guard;
mod html;
mod login;
mod pages;
pub(crate) mod session;
mod summary;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;

use crate::state::ApiState;

/// Marks a request authenticated by a console session (the pages offer "Sign out").
#[derive(Clone, Copy)]
pub(crate) struct SessionMark;

/// The console's routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/console", get(pages::functions))
        .route("/console/components", get(pages::components))
        .route("/console/functions/{name}", get(function::show))
        .route("/console/login", get(login::show).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/assets/{file}", get(asset))
}

/// The embedded files: (name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/console.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/vendor/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/vendor/uPlot.min.css"),
    ),
];

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                ("content-type", *content_type),
                ("cache-control", "no-cache"),
                ("x-content-type-options", "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}
