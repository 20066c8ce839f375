//! Sending a large JSON request body (a function's zip, base64-encoded in CreateFunction or
//! UpdateFunctionCode) with a progress bar of the bytes sent.

use std::time::Duration;

use anyhow::Context;
use indicatif::ProgressStyle;
use reqwest::Method;

use super::doc::Doc;
use super::output::Output;
use super::{Client, api_error};

/// Bodies up to this size go in one piece, behind the caller's spinner.
pub const BAR_FROM: usize = 1 << 20;
const CHUNK: usize = 256 * 1024;

impl Client {
    /// Sends `body` with `method` to `path` and returns the answer's JSON. A body over
    /// [`BAR_FROM`] is streamed with a bar on stderr (where `out` allows one), then a spinner
    /// while the daemon checks and stores it; it is signed as `UNSIGNED-PAYLOAD`, as any
    /// streamed upload.
    pub async fn json_upload(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
        out: Output,
        what: &str,
    ) -> anyhow::Result<Doc> {
        let bytes = serde_json::to_vec(body).context("cannot encode the request")?;
        if bytes.len() <= BAR_FROM {
            return self.doc(self.request(method, path).json(body)).await;
        }
        let len = bytes.len();
        let bar = out.bar(len as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("uploading {what}"));
        let counter = bar.clone();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(CHUNK).map(|c| Ok(c.to_vec())).collect();
        let stream = tokio_stream::StreamExt::map(tokio_stream::iter(chunks), move |c| {
            if let Ok(c) = &c {
                counter.inc(c.len() as u64);
            }
            c
        });
        let req = self
            .request(method, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(stream));
        let resp = self.send_streamed(req).await;
        // The body is sent; the daemon checks, unpacks and stores the code before it answers.
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("the daemon is checking and storing the code");
        bar.enable_steady_tick(Duration::from_millis(100));
        let result = async {
            let resp = resp?;
            let status = resp.status();
            let answer = resp.bytes().await.context("cannot read the response")?;
            if !status.is_success() {
                return Err(api_error(status, &answer));
            }
            Doc::parse(&answer).context("the daemon sent a response that is not JSON")
        }
        .await;
        bar.finish_and_clear();
        result
    }
}
