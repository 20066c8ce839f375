//! `/lambdalet/v1/runtimes`: the runtimes this host runs, the interpreter each resolves to
//! and the AWS SDK it provides (`lambdalet runtimes`); `POST /lambdalet/v1/runtimes/sdk`
//! installs the SDKs (`lambdalet runtimes install-sdk`, administrators only: it runs pip and
//! npm on the host), streaming pip's and npm's output back. Also what GetFunction shows of the
//! interpreter a function runs on.

use axum::extract::{Extension, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use lambdalet_core::{ErrorCode, FunctionConfig, Principal};
use lambdalet_invoker::interpreters::sdk::SdkSource;
use lambdalet_invoker::{InstallProgress, InstallReport, ResolvedRuntime, SdkLanguage};
use serde_json::{Value, json};

use crate::body::json_response;
use crate::error::ApiError;
use crate::state::ApiState;

fn resolved_json(r: &ResolvedRuntime) -> Value {
    let mut v = json!({
        "RunsOn": r.runs_on,
        "Interpreter": r.interpreter.exe,
        "Version": r.interpreter.full_version,
        "FoundAs": r.interpreter.found_as,
    });
    if let Some(n) = &r.notice {
        v["Notice"] = json!(n);
    }
    v
}

/// `GET /lambdalet/v1/runtimes`.
pub(crate) async fn list(State(s): State<ApiState>) -> Response {
    let report = s.control.runtimes().await;
    let runtimes: Vec<Value> = report
        .runtimes
        .iter()
        .map(|r| {
            let mut v = json!({ "Runtime": r.runtime.id() });
            match &r.resolved {
                Ok(res) => {
                    let status = if res.notice.is_some() {
                        "fallback"
                    } else {
                        "installed"
                    };
                    v["Status"] = json!(status);
                    if let (Value::Object(m), Some(o)) = (resolved_json(res), v.as_object_mut()) {
                        o.extend(m);
                    }
                }
                Err(e) if r.runtime.family() == lambdalet_core::RuntimeFamily::Provided => {
                    v["Status"] = json!("bootstrap");
                    v["Note"] = json!(e);
                }
                Err(e) => {
                    v["Status"] = json!("missing");
                    v["Install"] = json!(r.runtime.install_hint());
                    v["Error"] = json!(e);
                }
            }
            if let Some(sdk) = &r.sdk {
                v["Sdk"] = match sdk {
                    SdkSource::Lambdalet { dir, version } => {
                        json!({ "Source": "lambdalet", "Version": version, "Dir": dir })
                    }
                    SdkSource::Host { version } => json!({ "Source": "host", "Version": version }),
                    SdkSource::None => json!({ "Source": "none" }),
                };
            }
            v
        })
        .collect();
    let interpreters: Vec<Value> = report
        .candidates
        .iter()
        .map(|(family, f)| {
            let language = match family {
                lambdalet_core::RuntimeFamily::Node => "nodejs",
                _ => "python",
            };
            match &f.answer {
                Ok(i) => json!({
                    "Language": language,
                    "Candidate": f.candidate,
                    "Interpreter": i.exe,
                    "Version": i.full_version,
                }),
                Err(why) => json!({
                    "Language": language,
                    "Candidate": f.candidate,
                    "Skipped": why,
                }),
            }
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "RuntimeFallback": report.fallback.as_str(),
            "InterpreterSearch": report.search,
            "SdkDir": report.sdk_dir,
            "Runtimes": runtimes,
            "Interpreters": interpreters,
        }),
    )
}

fn report_json(r: &InstallReport) -> Value {
    json!({
        "Installed": r.installed.iter().map(|i| json!({
            "Sdk": i.language.as_str(),
            "For": i.for_version,
            "Version": i.version,
            "Dir": i.dir,
        })).collect::<Vec<_>>(),
        "Failed": r.failed.iter().map(|(what, why)| json!({ "Step": what, "Error": why })).collect::<Vec<_>>(),
    })
}

/// `POST /lambdalet/v1/runtimes/sdk` with `{"Sdk": "python" | "node" | "all"}`: installs the
/// SDKs. The answer is `{"Installed": [...], "Failed": [...]}`; with `Accept:
/// application/x-ndjson`, lines while pip and npm run (`{"Step": "..."}`, `{"Output":
/// {"Step": "...", "Line": "..."}}`), then that object as the last line.
pub(crate) async fn install_sdk(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if !matches!(who, Principal::Admin) {
        return Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!(
                "{who} may not install SDKs: it runs pip and npm on the host, which only an administrator may have done"
            ),
        ));
    }
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?
    };
    let which = request["Sdk"].as_str().unwrap_or("all");
    let which = SdkLanguage::parse_set(which).map_err(ApiError::invalid)?;
    let streamed = crate::progress::wanted(&headers);
    if !streamed {
        let report = s.control.install_sdk(&which, Box::new(|_| {})).await?;
        return Ok(json_response(StatusCode::OK, &report_json(&report)));
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let progress_tx = tx.clone();
    tokio::spawn(async move {
        let progress = Box::new(move |p: InstallProgress| {
            let line = match p {
                InstallProgress::Step(step) => json!({ "Step": step }),
                InstallProgress::Output { step, line } => {
                    json!({ "Output": { "Step": step, "Line": line } })
                }
            };
            let _ = progress_tx.send(line);
        });
        let last = match s.control.install_sdk(&which, progress).await {
            Ok(report) => report_json(&report),
            Err(e) => crate::progress::error_line(e),
        };
        let _ = tx.send(last);
    });
    Ok(crate::progress::response(rx))
}

/// GetFunction's `RuntimeVersionConfig` (naming the interpreter's exact version, with an
/// `Error` when the runtime has none here) and lambdalet's `LambdaletRuntime` (the interpreter,
/// and the fallback's notice) of a zip function.
pub(crate) fn function_runtime(
    control: &lambdalet_control::Control,
    c: &FunctionConfig,
) -> (Option<Value>, Option<Value>) {
    let Some(rt) = &c.runtime else {
        return (None, None);
    };
    let region = &control.account().region;
    let arn = |tail: &str| format!("arn:aws:lambda:{region}::runtime:lambdalet-{tail}");
    match control.runtime_status(c) {
        Some(Ok(r)) => {
            let language = match rt.family() {
                lambdalet_core::RuntimeFamily::Node => "nodejs",
                _ => "python",
            };
            (
                Some(json!({
                    "RuntimeVersionArn": arn(&format!("{language}-{}", r.interpreter.full_version)),
                })),
                Some(resolved_json(&r)),
            )
        }
        Some(Err(e)) => (
            Some(json!({
                "RuntimeVersionArn": arn(rt.id()),
                "Error": { "ErrorCode": "InvalidRuntimeException", "Message": e },
            })),
            Some(json!({ "Error": e })),
        ),
        None => (Some(json!({ "RuntimeVersionArn": arn(rt.id()) })), None),
    }
}
