//! `GET /2016-08-19/account-settings`: GetAccountSettings, this node's limits and usage.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::body::json_response;
use crate::state::ApiState;

pub(crate) async fn get(State(s): State<ApiState>) -> Response {
    let a = s.control.account_settings();
    json_response(
        StatusCode::OK,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": a.total_code_size,
                "CodeSizeUnzipped": a.code_size_unzipped,
                "CodeSizeZipped": a.code_size_zipped,
                "ConcurrentExecutions": a.concurrent_executions,
                "UnreservedConcurrentExecutions": a.unreserved_concurrent_executions,
            },
            "AccountUsage": {
                "TotalCodeSize": a.code_size_used,
                "FunctionCount": a.function_count,
            },
        }),
    )
}
