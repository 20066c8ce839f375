//! `lambdalet invoke NAME [--payload JSON|@FILE] [--qualifier Q] [--log]`.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use reqwest::Method;

use crate::cli::InvokeArgs;
use crate::client::{Client, api_error, segment};

pub async fn run(endpoint: &str, args: InvokeArgs) -> anyhow::Result<ExitCode> {
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
    if args.asynchronous {
        let id = headers
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        println!("{id}");
        eprintln!(
            "queued (request id above); see it run with `lambdalet logs {}` and `lambdalet queue`",
            args.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(log) = headers
        .get("x-amz-log-result")
        .and_then(|v| v.to_str().ok())
    {
        let text = base64::engine::general_purpose::STANDARD
            .decode(log)
            .unwrap_or_default();
        eprint!("{}", String::from_utf8_lossy(&text).replace('\r', "\n"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&body)?;
    if !body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    if headers.contains_key("x-amz-function-error") {
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
