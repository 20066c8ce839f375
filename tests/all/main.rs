//! lambdalet's integration tests: each starts the real daemon on a free port with its own data
//! directory and drives it with real clients (the AWS CLI, boto3, curl, the official runtime
//! interface clients, lambdalet's own CLI). One test binary keeps link time low.

mod harness;

mod access;
mod async_invoke;
mod auth;
mod aws_cli;
mod bad_input;
mod boto3;
mod cli;
mod cli_manuals;
mod cli_output;
mod components;
mod console;
mod console_guard;
mod container_params;
mod containment;
mod descriptors;
mod encoding;
mod events;
mod execution;
mod extensions;
mod fast_path;
mod greengrass;
mod handlers;
mod hardening;
mod image_functions;
mod images;
mod install;
mod layers;
mod limits;
mod log_tail;
mod management;
mod metrics;
mod mqtt_auth;
mod official_clients;
mod offline;
mod persistence;
mod pinned;
mod power_loss;
mod prestart;
mod remove_background;
mod runtime_api;
mod runtimes;
mod s3;
mod schedule_refusals;
mod schedules;
mod service;
mod streaming;
mod top;
mod traces;
mod urls;
mod zygote;
mod zygote_container;
