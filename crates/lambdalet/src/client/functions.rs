//! `lambdalet functions [list | get NAME | delete NAME]`.

use std::process::ExitCode;

use reqwest::Method;

use crate::cli::{FunctionsAction, FunctionsArgs};
use crate::client::doc::Doc;
use crate::client::output::{self, Output};
use crate::client::{Client, segment};

/// The fields of a function in `--output table` and `text` (`functions list`, `functions get`,
/// `deploy`), in this order.
pub const COLUMNS: &[&str] = &[
    "FunctionName",
    "Runtime",
    "Handler",
    "MemorySize",
    "Timeout",
    "LastModified",
];

pub async fn run(endpoint: &str, out: Output, args: FunctionsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.action.unwrap_or(FunctionsAction::List) {
        FunctionsAction::List => list(&client, out).await?,
        FunctionsAction::Get { name } => {
            let d = client
                .doc(client.request(
                    Method::GET,
                    &format!("/2015-03-31/functions/{}", segment(&name)),
                ))
                .await?;
            match out.format {
                Some(f) => output::object(f, &d, &d["Configuration"], COLUMNS)?,
                None => output::emit(&(d["Configuration"].pretty() + "\n"))?,
            }
            let runtime = &d["Configuration"]["LambdaletRuntime"];
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

async fn list(client: &Client, out: Output) -> anyhow::Result<()> {
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client
            .request(Method::GET, "/2015-03-31/functions/")
            .query(&[("MaxItems", "1000")]);
        if let Some(m) = &marker {
            req = req.query(&[("Marker", m)]);
        }
        let page = client.doc(req).await?;
        items.extend(page["Functions"].items().iter().cloned());
        match page["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    if let Some(f) = out.format {
        // Every page in one answer, as the AWS CLI gives ListFunctions.
        let all = Doc::object([("Functions", Doc::Array(items.clone()))]);
        return output::list(f, &all, &items, COLUMNS);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|f| {
            vec![
                f["FunctionName"].as_str().unwrap_or("").to_owned(),
                f["Runtime"].as_str().unwrap_or("").to_owned(),
                f["Handler"].as_str().unwrap_or("").to_owned(),
                format!("{} MB", output::cell(&f["MemorySize"])),
                format!("{} s", output::cell(&f["Timeout"])),
                f["LastModified"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    if rows.is_empty() {
        eprintln!("no functions deployed; deploy one with `lambdalet deploy DIR --name NAME`");
        return Ok(());
    }
    output::emit(&output::table(
        &[
            "NAME",
            "RUNTIME",
            "HANDLER",
            "MEMORY",
            "TIMEOUT",
            "LAST MODIFIED",
        ],
        &rows,
    ))
}
