//! `lambdalet functions [list | get NAME | delete NAME]`.

use std::process::ExitCode;

use reqwest::Method;

use crate::cli::{FunctionsAction, FunctionsArgs};
use crate::client::{Client, segment};

pub async fn run(endpoint: &str, args: FunctionsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.action.unwrap_or(FunctionsAction::List) {
        FunctionsAction::List => list(&client).await?,
        FunctionsAction::Get { name } => {
            let v = client
                .json(client.request(
                    Method::GET,
                    &format!("/2015-03-31/functions/{}", segment(&name)),
                ))
                .await?;
            println!("{}", serde_json::to_string_pretty(&v["Configuration"])?);
            let runtime = &v["Configuration"]["LambdaletRuntime"];
            if let Some(n) = runtime["Notice"].as_str() {
                eprintln!("{n}");
            } else if let Some(e) = runtime["Error"].as_str() {
                eprintln!("warning: it cannot start here: {e}");
            }
        }
        FunctionsAction::Delete { name } => {
            let (fname, qualifier) = match name.split_once(':') {
                Some((f, q)) if !name.starts_with("arn:") => (f.to_owned(), Some(q.to_owned())),
                _ => (name.clone(), None),
            };
            let mut req = client.request(
                Method::DELETE,
                &format!("/2015-03-31/functions/{}", segment(&fname)),
            );
            if let Some(q) = &qualifier {
                req = req.query(&[("Qualifier", q)]);
            }
            client.json(req).await?;
            eprintln!("deleted {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(client: &Client) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client
            .request(Method::GET, "/2015-03-31/functions/")
            .query(&[("MaxItems", "1000")]);
        if let Some(m) = &marker {
            req = req.query(&[("Marker", m)]);
        }
        let v = client.json(req).await?;
        for f in v["Functions"].as_array().into_iter().flatten() {
            rows.push([
                f["FunctionName"].as_str().unwrap_or("").to_owned(),
                f["Runtime"].as_str().unwrap_or("").to_owned(),
                f["Handler"].as_str().unwrap_or("").to_owned(),
                format!("{} MB", f["MemorySize"]),
                format!("{} s", f["Timeout"]),
                f["LastModified"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        match v["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    if rows.is_empty() {
        eprintln!("no functions deployed; deploy one with `lambdalet deploy DIR --name NAME`");
        return Ok(());
    }
    let header = [
        "NAME",
        "RUNTIME",
        "HANDLER",
        "MEMORY",
        "TIMEOUT",
        "LAST MODIFIED",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}
