//! Minimal Lambda function for the `provided.al2023` runtime.
//!
//! Takes `{"name": "..."}` and returns `{"message": "hello, <name>"}`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
struct Response {
    message: String,
}

async fn handler(event: LambdaEvent<Value>) -> Result<Response, Error> {
    // Any payload is accepted; a missing or non-string `name` means "world".
    let name = event
        .payload
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("world");
    println!(
        "hello-rust: request {} greeting {name}",
        event.context.request_id
    );
    Ok(Response {
        message: format!("hello, {name}"),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
