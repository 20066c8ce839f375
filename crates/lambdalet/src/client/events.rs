//! `lambdalet publish`, `lambdalet subscribe` and `lambdalet subscriptions`.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;

use crate::cli::{PublishArgs, SubscribeArgs, SubscriptionsArgs};
use crate::client::doc::Doc;
use crate::client::output::{self, Output};
use crate::client::{Client, api_error};

/// The fields of a message in `subscribe --output table` and `text`, in this order (a binary
/// payload reads `(binary, base64) ...`).
const MESSAGE_COLUMNS: &[&str] = &["topic", "payload"];

/// The fields of a legacy subscription in `subscriptions --output table` and `text`.
const SUBSCRIPTION_COLUMNS: &[&str] = &["id", "source", "subject", "target"];

pub async fn publish(endpoint: &str, out: Output, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let body = match args.payload.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the message from stdin")?;
            buf
        }
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}"))?,
        None => args.payload.into_bytes(),
    };
    let mut query = vec![("topic", args.topic.clone())];
    if args.mqtt {
        query.push(("mqtt", "true".to_owned()));
        query.push(("qos", args.qos.to_string()));
    }
    let d = client
        .doc(
            client
                .request(Method::POST, "/lambdalet/v1/publish")
                .query(&query)
                .body(body),
        )
        .await?;
    if let Some(f) = out.format {
        output::object(f, &d, &d, &["delivered"])?;
        return Ok(ExitCode::SUCCESS);
    }
    match d.value()["delivered"].as_u64() {
        Some(n) => eprintln!(
            "published on {} ({n} local subscriber{})",
            args.topic,
            if n == 1 { "" } else { "s" }
        ),
        None => eprintln!("published on MQTT topic {}", args.topic),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn subscribe(
    endpoint: &str,
    out: Output,
    args: SubscribeArgs,
) -> anyhow::Result<ExitCode> {
    let out = out.or_json(args.json);
    let client = Client::new(endpoint)?;
    let mut query = vec![("filter", args.filter.clone())];
    if args.mqtt {
        query.push(("mqtt", "true".to_owned()));
    }
    let mut resp = client
        .send(
            client
                .request(Method::GET, "/lambdalet/v1/subscribe")
                .query(&query),
        )
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        return Err(api_error(status, &body));
    }
    eprintln!(
        "subscribed to {} ({}); Ctrl-C stops",
        args.filter,
        if args.mqtt { "MQTT" } else { "local" }
    );
    let mut pending = Vec::new();
    let mut first = true;
    let mut stdout = std::io::stdout();
    while let Some(chunk) = resp
        .chunk()
        .await
        .context("the subscription stream broke")?
    {
        pending.extend_from_slice(&chunk);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
            let payload = v["payload"].as_str().map(str::to_owned).unwrap_or_else(|| {
                format!(
                    "(binary, base64) {}",
                    v["payloadBase64"].as_str().unwrap_or("")
                )
            });
            let topic = v["topic"].as_str().unwrap_or("?");
            match out.format {
                // The daemon's line as it came: one JSON object per message.
                Some(output::Format::Json) => stdout.write_all(&line)?,
                Some(f) => {
                    let item = Doc::object([
                        ("topic", Doc::from(topic)),
                        ("payload", Doc::String(payload)),
                    ]);
                    let row = output::stream_item(f, &item, MESSAGE_COLUMNS, first);
                    stdout.write_all(row.as_bytes())?;
                }
                None => writeln!(stdout, "{topic} {payload}")?,
            }
            first = false;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn subscriptions(
    endpoint: &str,
    out: Output,
    args: SubscriptionsArgs,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    if let Some(path) = &args.set {
        let body =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let d = client
            .doc(
                client
                    .request(Method::PUT, "/lambdalet/v1/subscriptions")
                    .body(body),
            )
            .await?;
        match out.format {
            Some(f) => output::object(f, &d, &d, &["subscriptions"])?,
            None => eprintln!(
                "{} legacy subscription(s) in effect",
                output::cell(&d["subscriptions"])
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let d = client
        .doc(client.request(Method::GET, "/lambdalet/v1/subscriptions"))
        .await?;
    match out.format {
        Some(f @ (output::Format::Table | output::Format::Text)) => {
            // Greengrass keeps them as an object keyed by id; a row each.
            let items: Vec<Doc> = match &d["subscriptions"] {
                Doc::Object(entries) => entries.iter().map(|(_, e)| e.clone()).collect(),
                _ => Vec::new(),
            };
            output::list(f, &d, &items, SUBSCRIPTION_COLUMNS)?;
        }
        _ => output::emit(&(d.pretty() + "\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}
