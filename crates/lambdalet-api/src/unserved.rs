//! The answer to a request no route takes. A path under a Lambda API version prefix
//! (`/2015-03-31/...`, `/2020-06-30/...`) is an operation lambdalet does not serve, named from
//! [`OPERATIONS`] (`UnsupportedOperationException`, 501, which no SDK retries), or no operation
//! at all (`UnknownOperationException`, 404 as AWS's other REST services answer, naming the path). Never `ResourceNotFoundException`:
//! an SDK or Terraform would take that for a missing function. Other paths are 404.

use http::{Method, Uri};
use lambdalet_core::ErrorCode;

use crate::error::ApiError;
use crate::operations::{OPERATIONS, Operation, Support};

/// Whether `path` starts with a Lambda API version (`/YYYY-MM-DD/`).
pub(crate) fn is_lambda_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let b = first.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Whether `path` has the shape of an operation's path (`{Name}` takes one segment).
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.split('?').next().unwrap_or(pattern);
    let mut want = pattern.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// The operation a method and path are, if any.
pub(crate) fn operation(method: &Method, path: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|o| o.method == method.as_str() && path_matches(o.path, path))
}

/// The error for a request no route took (the router's fallback, and the method fallback of
/// paths where lambdalet serves some methods only).
pub(crate) fn answer(method: &Method, uri: &Uri) -> ApiError {
    let path = uri.path();
    if !is_lambda_path(path) {
        return ApiError::new(
            ErrorCode::ResourceNotFound,
            format!(
                "{path} is not an API lambdalet serves: see the Lambda API paths under /2015-03-31/functions and lambdalet's own under /lambdalet/v1"
            ),
        );
    }
    match operation(method, path) {
        Some(Operation {
            name,
            path: pattern,
            support: Support::Refused(why),
            ..
        }) => ApiError::new(
            ErrorCode::UnsupportedOperation,
            format!(
                "lambdalet does not serve {name} ({method} {pattern}): {why}; docs/compatibility.md lists what lambdalet serves"
            ),
        ),
        Some(op) => ApiError::new(
            ErrorCode::UnknownOperation,
            format!(
                "{method} {path} looks like {} ({} {}) but does not fit its parameters: check the names in the path",
                op.name, op.method, op.path
            ),
        ),
        None => {
            let others: Vec<String> = OPERATIONS
                .iter()
                .filter(|o| path_matches(o.path, path))
                .map(|o| format!("{} ({})", o.method, o.name))
                .collect();
            let hint = if others.is_empty() {
                "it is no operation of the Lambda API: docs/compatibility.md lists the operations"
                    .to_owned()
            } else {
                format!("this path takes {}", others.join(", "))
            };
            ApiError::new(
                ErrorCode::UnknownOperation,
                format!("{method} {path} is not an operation lambdalet knows: {hint}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_to(method: Method, path: &str) -> ApiError {
        answer(&method, &path.parse::<Uri>().expect("uri"))
    }

    #[test]
    fn lambda_paths_are_recognised_by_their_version_prefix() {
        assert!(is_lambda_path("/2015-03-31/functions"));
        assert!(is_lambda_path("/2099-01-01/anything"));
        assert!(!is_lambda_path("/lambdalet/v1/health"));
        assert!(!is_lambda_path("/2015-3-31/x"));
        assert!(!is_lambda_path("/"));
    }

    #[test]
    fn an_unserved_operation_is_named() {
        let e = answer_to(Method::PUT, "/2020-06-30/functions/f/code-signing-config");
        assert_eq!(e.code, ErrorCode::UnsupportedOperation);
        assert_eq!(e.code.http_status(), 501);
        assert!(
            e.message
                .starts_with("lambdalet does not serve PutFunctionCodeSigningConfig (PUT "),
            "{}",
            e.message
        );
        let e = answer_to(Method::POST, "/2015-03-31/event-source-mappings/");
        assert!(
            e.message.contains("CreateEventSourceMapping"),
            "{}",
            e.message
        );
        let e = answer_to(Method::DELETE, "/2018-10-31/layers/l/versions/1/policy/sid");
        assert!(e.message.contains("RemoveLayerVersionPermission"));
        let e = answer_to(
            Method::GET,
            "/2025-12-01/durable-executions/arn%3Aaws%3Alambda%3Ax/history",
        );
        assert!(e.message.contains("GetDurableExecutionHistory"));
    }

    #[test]
    fn an_unknown_lambda_path_is_an_unknown_operation_naming_it() {
        let e = answer_to(Method::GET, "/2015-03-31/nothing-here");
        assert_eq!(e.code, ErrorCode::UnknownOperation);
        assert_eq!(e.code.http_status(), 404);
        assert!(e.message.contains("GET /2015-03-31/nothing-here"));
        let e = answer_to(Method::PATCH, "/2015-03-31/functions/f/code");
        assert!(
            e.message
                .contains("this path takes PUT (UpdateFunctionCode)"),
            "{}",
            e.message
        );
        let e = answer_to(Method::GET, "/2015-03-31/functions//policy");
        assert_eq!(e.code, ErrorCode::UnknownOperation);
    }

    #[test]
    fn other_paths_are_404() {
        let e = answer_to(Method::GET, "/lambdalet/v1/nope");
        assert_eq!(e.code, ErrorCode::ResourceNotFound);
    }

    #[test]
    fn every_operation_has_a_unique_method_and_path() {
        for (i, a) in OPERATIONS.iter().enumerate() {
            for b in &OPERATIONS[i + 1..] {
                assert!(
                    a.name != b.name && (a.method, a.path) != (b.method, b.path),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    /// docs/compatibility.md's table lists every operation with what lambdalet does with it.
    #[test]
    fn the_compatibility_table_lists_every_operation() {
        let doc = include_str!("../../../docs/compatibility.md");
        for o in OPERATIONS {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} |", o.name)))
                .unwrap_or_else(|| panic!("docs/compatibility.md has no row for {}", o.name));
            let status = row.split('|').nth(2).unwrap_or("").trim();
            let want = match o.support {
                Support::Served => "served",
                Support::Answered => "answered",
                Support::Refused(_) => "refused",
            };
            assert!(
                status.starts_with(want),
                "{}: the table says {status:?}, lambdalet's is {want}",
                o.name
            );
        }
    }
}
