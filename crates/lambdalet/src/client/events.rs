//! `lambdalet publish`, `lambdalet subscribe` and `lambdalet subscriptions`.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;

use crate::cli::{PublishArgs, SubscribeArgs, SubscriptionsArgs};
use crate::client::{Client, api_error};

pub async fn publish(endpoint: &str, args: PublishArgs) -> anyhow::Result<ExitCode> {
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
    let v = client
        .json(
            client
                .request(Method::POST, "/lambdalet/v1/publish")
                .query(&query)
                .body(body),
        )
        .await?;
    match v["delivered"].as_u64() {
        Some(n) => eprintln!(
            "published on {} ({n} local subscriber{})",
            args.topic,
            if n == 1 { "" } else { "s" }
        ),
        None => eprintln!("published on MQTT topic {}", args.topic),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn subscribe(endpoint: &str, args: SubscribeArgs) -> anyhow::Result<ExitCode> {
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
    let mut out = std::io::stdout();
    while let Some(chunk) = resp
        .chunk()
        .await
        .context("the subscription stream broke")?
    {
        pending.extend_from_slice(&chunk);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if args.json {
                out.write_all(&line)?;
            } else {
                let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
                let payload = v["payload"].as_str().map(str::to_owned).unwrap_or_else(|| {
                    format!(
                        "(binary, base64) {}",
                        v["payloadBase64"].as_str().unwrap_or("")
                    )
                });
                writeln!(out, "{} {}", v["topic"].as_str().unwrap_or("?"), payload)?;
            }
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn subscriptions(endpoint: &str, args: SubscriptionsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    if let Some(path) = &args.set {
        let body =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let v = client
            .json(
                client
                    .request(Method::PUT, "/lambdalet/v1/subscriptions")
                    .body(body),
            )
            .await?;
        eprintln!("{} legacy subscription(s) in effect", v["subscriptions"]);
        return Ok(ExitCode::SUCCESS);
    }
    let v = client
        .json(client.request(Method::GET, "/lambdalet/v1/subscriptions"))
        .await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}
