//! lambdalet's HTTP front door.
//!
//! It speaks the AWS Lambda management API (`/2015-03-31/functions/...`, the layers API under
//! `/2018-10-31/layers`) and Invoke API with AWS's JSON shapes, so the AWS CLI and boto3 work
//! with `--endpoint-url`, plus lambdalet's own endpoints under `/lambdalet/v1`. It parses and validates requests into typed calls on
//! `lambdalet-control` and `lambdalet-invoker` and renders their answers; it never touches
//! sandboxes or the store's rows directly. Every error goes through [`error::ApiError`].

mod account;
mod aliases;
mod auth;
mod body;
mod components;
mod concurrency;
mod console;
mod error;
mod event_config;
mod events;
mod functions;
mod images;
mod invoke;
mod keys;
mod layer_shapes;
mod layers;
mod lifecycle;
mod limits;
mod log_stream;
mod metrics;
mod metrics_lambda;
mod operations;
mod overview;
mod own;
mod permissions;
mod progress;
mod runtimes;
mod s3_events;
mod schedule_groups;
mod schedules;
mod server;
mod shapes;
mod state;
mod stream;
mod tags;
mod unconfigured;
mod unserved;
mod url_serve;
mod urls;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::{AuthMode, ConnectionInfo};
pub use error::ApiError;
pub use server::{ConnectionHook, ConnectionStats, Server, ServerConfig};
pub use state::{ApiParts, ApiState};
pub use url_serve::url_router;

/// Every route lambdalet serves on its API port.
pub fn router(state: ApiState) -> Router {
    let fns = "/2015-03-31/functions";
    Router::new()
        .route(fns, get(functions::list).post(functions::create))
        .route(
            &format!("{fns}/"),
            get(functions::list).post(functions::create),
        )
        .route(
            &format!("{fns}/{{name}}"),
            get(functions::get).delete(functions::delete),
        )
        .route(
            &format!("{fns}/{{name}}/configuration"),
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            &format!("{fns}/{{name}}/code"),
            axum::routing::put(functions::update_code),
        )
        .route(
            &format!("{fns}/{{name}}/versions"),
            get(functions::list_versions).post(functions::publish_version),
        )
        .route(
            &format!("{fns}/{{name}}/aliases"),
            get(aliases::list).post(aliases::create),
        )
        .route(
            &format!("{fns}/{{name}}/aliases/{{alias}}"),
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route(&format!("{fns}/{{name}}/invocations"), post(invoke::invoke))
        .route(stream::PATH, post(stream::invoke_stream))
        .route(
            "/2021-10-31/functions/{name}/url",
            get(urls::get)
                .post(urls::create)
                .put(urls::update)
                .delete(urls::delete),
        )
        .route("/2021-10-31/functions/{name}/urls", get(urls::list))
        .route("/2018-10-31/layers", get(layers::root))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            get(layers::list_versions).post(layers::publish),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put_reserved).delete(concurrency::delete_reserved),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(concurrency::get_reserved),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(concurrency::get_provisioned)
                .put(concurrency::put_provisioned)
                .delete(concurrency::delete_provisioned),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_config::get)
                .put(event_config::put)
                .post(event_config::update)
                .delete(event_config::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(event_config::list),
        )
        // Tags, account settings, resource policies, and the read calls for features
        // lambdalet does not have; their other methods are refused by name (`unserved.rs`).
        .route(
            "/2017-03-31/tags/{arn}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route("/2016-08-19/account-settings", get(account::get))
        .route(
            &format!("{fns}/{{name}}/policy"),
            get(permissions::get).post(permissions::add),
        )
        .route(
            &format!("{fns}/{{name}}/policy/{{sid}}"),
            axum::routing::delete(permissions::remove),
        )
        .route(
            "/2020-06-30/functions/{name}/code-signing-config",
            get(unconfigured::code_signing).fallback(own::not_found),
        )
        .route(
            "/2021-07-20/functions/{name}/runtime-management-config",
            get(unconfigured::runtime_management).fallback(own::not_found),
        )
        .route(
            "/2024-08-31/functions/{name}/recursion-config",
            get(unconfigured::recursion).fallback(own::not_found),
        )
        .route(
            "/2015-03-31/event-source-mappings",
            get(unconfigured::event_source_mappings).fallback(own::not_found),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            get(unconfigured::event_source_mappings).fallback(own::not_found),
        )
        .route("/lambdalet/v1/health", get(own::health))
        .route(
            "/lambdalet/v1/functions/{name}/configuration",
            get(lifecycle::get).put(lifecycle::put),
        )
        .route(
            "/lambdalet/v1/functions/{name}/s3-events",
            post(s3_events::receive),
        )
        .route("/lambdalet/v1/queue", get(own::queue))
        .route("/lambdalet/v1/publish", post(events::publish))
        .route("/lambdalet/v1/subscribe", get(events::subscribe))
        .route(
            "/lambdalet/v1/subscriptions",
            get(events::get_subscriptions).put(events::put_subscriptions),
        )
        .route(
            "/lambdalet/v1/greengrass/invocations",
            post(events::greengrass_invoke),
        )
        .route("/lambdalet/v1/keys", get(keys::list).post(keys::create))
        .route(
            "/lambdalet/v1/keys/{id}",
            axum::routing::delete(keys::delete),
        )
        .route(
            "/lambdalet/v1/artifacts/{sha256}",
            axum::routing::put(components::put_artifact).head(components::head_artifact),
        )
        .route(
            "/lambdalet/v1/deployments",
            get(components::list_deployments).post(components::create_deployment),
        )
        .route(
            "/lambdalet/v1/deployments/{id}",
            get(components::get_deployment),
        )
        .route("/lambdalet/v1/components", get(components::list_components))
        .route(
            "/lambdalet/v1/components/restart",
            post(components::restart),
        )
        .route("/lambdalet/v1/components/stop", post(components::stop))
        .route(
            "/lambdalet/v1/components/{name}",
            get(components::get_component),
        )
        .route(images::UPLOAD_PATH, get(images::list).put(images::upload))
        .route(
            "/lambdalet/v1/images/{id}",
            axum::routing::delete(images::remove),
        )
        // EventBridge Scheduler (its own paths: no Lambda route starts with these).
        .route("/schedules", get(schedules::list))
        .route(
            "/schedules/{name}",
            get(schedules::get)
                .post(schedules::create)
                .put(schedules::update)
                .delete(schedules::delete),
        )
        .route("/schedule-groups", get(schedule_groups::list))
        .route(
            "/schedule-groups/{name}",
            get(schedule_groups::get)
                .post(schedule_groups::create)
                .delete(schedule_groups::delete),
        )
        .route(
            "/tags/{arn}",
            get(schedule_groups::list_tags)
                .post(schedule_groups::tag)
                .delete(schedule_groups::untag),
        )
        .route("/lambdalet/v1/schedules", get(schedules::overview))
        .route("/lambdalet/v1/runtimes", get(runtimes::list))
        .route("/lambdalet/v1/runtimes/sdk", post(runtimes::install_sdk))
        .route("/metrics", get(metrics::metrics))
        .route("/lambdalet/v1/queue/{name}", get(own::failed_events))
        .route("/lambdalet/v1/functions/{name}/logs", get(own::logs))
        .route(
            "/lambdalet/v1/functions/{name}/logs/stream",
            get(log_stream::stream),
        )
        .route(
            "/lambdalet/v1/functions/{name}/metrics",
            get(metrics_lambda::minutes),
        )
        .route("/lambdalet/v1/overview", get(overview::overview))
        .route("/lambdalet/v1/code/{file}", get(own::code))
        .merge(console::routes())
        .fallback(own::not_found)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(limits::guard))
        .with_state(state)
}
