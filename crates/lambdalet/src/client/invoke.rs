//! `lambdalet invoke NAME [--payload JSON|@FILE] [--qualifier Q] [--log]`.
//!
//! By default the function's response goes to stdout as it is and the log to stderr. With
//! `--output`, stdout gets what the AWS CLI's `lambda invoke` prints, plus the response:
//! `StatusCode`, `FunctionError` (when it failed), `ExecutedVersion`, `Payload` (parsed when it
//! is JSON, else a string) and, with `--log`, `LogResult` (the log's text, not base64).

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use reqwest::Method;

use crate::cli::InvokeArgs;
use crate::client::doc::Doc;
use crate::client::output::{self, Output};
use crate::client::{Client, api_error, segment};

/// The fields of `--output text` (one line) and `table`, in this order.
const COLUMNS: &[&str] = &["StatusCode", "FunctionError", "ExecutedVersion", "Payload"];

/// The fields of `--async --output text`.
const ASYNC_COLUMNS: &[&str] = &["StatusCode", "RequestId"];

pub async fn run(endpoint: &str, out: Output, args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let payload = read_payload(&args.payload)?;
    let mut req = client
        .request(
            Method::POST,
            &format!("/2015-03-31/functions/{}/invocations", segment(&args.name)),
        )
        .body(payload);
    if let Some(q) = &args.qualifier {
        req = req.query(&[("Qualifier", q)]);
    }
    if args.log {
        req = req.header("X-Amz-Log-Type", "Tail");
    }
    if args.asynchronous {
        req = req.header("X-Amz-Invocation-Type", "Event");
    }
    let resp = client.send(req).await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.context("cannot read the response")?;
    if !status.is_success() {
        return Err(api_error(status, &body));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if args.asynchronous {
        let id = header("x-amzn-requestid").unwrap_or("?");
        if let Some(f) = out.format {
            let d = Doc::object([
                ("StatusCode", Doc::Number(status.as_u16().into())),
                ("RequestId", Doc::from(id)),
            ]);
            output::object(f, &d, &d, ASYNC_COLUMNS)?;
            return Ok(ExitCode::SUCCESS);
        }
        println!("{id}");
        eprintln!(
            "queued (request id above); see it run with `lambdalet logs {}` and `lambdalet queue`",
            args.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let log = header("x-amz-log-result").map(|log| {
        let text = base64::engine::general_purpose::STANDARD
            .decode(log)
            .unwrap_or_default();
        String::from_utf8_lossy(&text).replace('\r', "\n")
    });
    let function_error = header("x-amz-function-error");
    match out.format {
        Some(f) => {
            let mut fields = vec![("StatusCode", Doc::Number(status.as_u16().into()))];
            if let Some(e) = function_error {
                fields.push(("FunctionError", Doc::from(e)));
            }
            fields.push((
                "ExecutedVersion",
                header("x-amz-executed-version").map_or(Doc::Null, Doc::from),
            ));
            let payload = Doc::parse(&body)
                .unwrap_or_else(|_| Doc::String(String::from_utf8_lossy(&body).into_owned()));
            fields.push(("Payload", payload));
            match (&log, f) {
                (Some(log), output::Format::Json) => {
                    fields.push(("LogResult", Doc::from(log.as_str())));
                }
                (Some(log), _) => eprint!("{log}"),
                (None, _) => {}
            }
            let d = Doc::object(fields);
            output::object(f, &d, &d, COLUMNS)?;
        }
        None => {
            if let Some(log) = &log {
                eprint!("{log}");
            }
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&body)?;
            if !body.ends_with(b"\n") {
                stdout.write_all(b"\n")?;
            }
        }
    }
    if function_error.is_some() {
        eprintln!("the function failed (X-Amz-Function-Error: Unhandled); its error is above");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn read_payload(arg: &str) -> anyhow::Result<Vec<u8>> {
    match arg.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the payload from stdin")?;
            Ok(buf)
        }
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read the payload file {path}"))
        }
        None => Ok(arg.as_bytes().to_vec()),
    }
}
