//! `lambdalet runtimes [install-sdk python|node|all]`: the runtimes the daemon runs, the
//! interpreter each resolves to and the AWS SDK it provides; installing the SDKs on the daemon
//! with pip's and npm's output shown as they run.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::Client;
use super::doc::Doc;
use super::output::{self, Output};

/// The fields of a runtime in `--output table` and `text`, in this order (`Status`:
/// installed, fallback, bootstrap or missing; `Sdk.Source`: lambdalet, host or none).
const COLUMNS: &[&str] = &[
    "Runtime",
    "Status",
    "Interpreter",
    "Version",
    "Sdk.Source",
    "Sdk.Version",
];

/// The fields of an installed SDK in `install-sdk --output table` and `text`.
const INSTALLED_COLUMNS: &[&str] = &["Sdk", "For", "Version", "Dir"];

#[derive(Debug, Args)]
pub struct RuntimesArgs {
    #[command(subcommand)]
    pub command: Option<RuntimesCommand>,
    /// Print the daemon's answer as JSON (with every interpreter it looked at): the same as
    /// `--output json`, kept for scripts written before it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RuntimesCommand {
    /// Install the AWS SDKs Lambda's runtimes include, on the daemon, into its data directory:
    /// boto3 for every installed Python (with its pip), the AWS SDK for JavaScript v3 clients
    /// for Node.js 18+ (with npm). Fetched once from PyPI and npm; run it again to update.
    InstallSdk {
        /// Which SDKs.
        #[arg(default_value = "all", value_parser = ["python", "node", "all"])]
        which: String,
    },
}

pub async fn run(endpoint: &str, out: Output, args: RuntimesArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let out = out.or_json(args.json);
    match args.command {
        None => list(&client, out).await,
        Some(RuntimesCommand::InstallSdk { which }) => install(&client, &which, out).await,
    }
}

async fn list(client: &Client, out: Output) -> anyhow::Result<ExitCode> {
    let d = client
        .doc(client.request(Method::GET, "/lambdalet/v1/runtimes"))
        .await?;
    if let Some(f) = out.format {
        output::list(f, &d, d["Runtimes"].items(), COLUMNS)?;
        return Ok(ExitCode::SUCCESS);
    }
    let v = d.value();
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut rows: Vec<[String; 3]> = Vec::new();
    for r in v["Runtimes"].as_array().into_iter().flatten() {
        let runs = match r["Status"].as_str() {
            Some("installed") => format!("{} ({})", s(&r["Interpreter"]), s(&r["Version"])),
            Some("fallback") => format!(
                "{} ({}): {}",
                s(&r["Interpreter"]),
                s(&r["Version"]),
                s(&r["Notice"])
            ),
            Some("bootstrap") => "the function's own bootstrap".to_owned(),
            _ => format!("not installed: {}", s(&r["Install"])),
        };
        let sdk = match r["Sdk"]["Source"].as_str() {
            Some("lambdalet") => format!("{} (lambdalet's sdk dir)", sdk_name(r, &r["Sdk"])),
            Some("host") => format!("{} (host)", sdk_name(r, &r["Sdk"])),
            Some(_) => "none".to_owned(),
            None => "-".to_owned(),
        };
        rows.push([s(&r["Runtime"]), runs, sdk]);
    }
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(7).max(7);
    // The interpreter column is as wide as its longest path; a missing runtime's line is its
    // install hint, with no SDK.
    let w1 = rows
        .iter()
        .filter(|r| r[2] != "-")
        .map(|r| r[1].len())
        .max()
        .unwrap_or(11)
        .max(11);
    println!("{:<w0$}  {:<w1$}  SDK", "RUNTIME", "INTERPRETER");
    for [rt, runs, sdk] in &rows {
        if sdk == "-" {
            println!("{rt:<w0$}  {runs}");
        } else {
            println!("{rt:<w0$}  {runs:<w1$}  {sdk}");
        }
    }
    eprintln!(
        "\nrunning a missing runtime on a newer one: --runtime-fallback {}; interpreters are looked for in {}",
        s(&v["RuntimeFallback"]),
        s(&v["InterpreterSearch"])
    );
    eprintln!(
        "SDKs installed by `lambdalet runtimes install-sdk` go to {}",
        s(&v["SdkDir"])
    );
    Ok(ExitCode::SUCCESS)
}

fn sdk_name(runtime: &Value, sdk: &Value) -> String {
    let version = sdk["Version"].as_str().unwrap_or("?");
    if runtime["Runtime"]
        .as_str()
        .is_some_and(|r| r.starts_with("nodejs"))
    {
        format!("AWS SDK for JavaScript {version}")
    } else {
        format!("boto3 {version}")
    }
}

async fn install(client: &Client, which: &str, out: Output) -> anyhow::Result<ExitCode> {
    let req = client
        .request(Method::POST, "/lambdalet/v1/runtimes/sdk")
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .json(&json!({ "Sdk": which }));
    let resp = client.send(req).await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await?;
        return Err(super::api_error(status, &body));
    }
    let bar = out.spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut stream = resp.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = tokio_stream::StreamExt::next(&mut stream).await {
        pending.extend_from_slice(&chunk.context("the daemon's answer was cut off")?);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let d = Doc::parse(&line).context("the daemon's answer")?;
            let v = d.value();
            if let Some(step) = v["Step"].as_str() {
                if !out.is_json() {
                    bar.suspend(|| eprintln!("installing {step}"));
                }
            } else if let Some(line) = v["Output"]["Line"].as_str() {
                bar.set_message(line.chars().take(100).collect::<String>());
            } else if let Some(e) = v.get("Error") {
                bar.finish_and_clear();
                bail!(
                    "{}: {}",
                    e["Type"].as_str().unwrap_or("error"),
                    e["Message"].as_str().unwrap_or("the installation failed")
                );
            } else if v.get("Installed").is_some() {
                bar.finish_and_clear();
                if let Some(f) = out.format {
                    output::list(f, &d, d["Installed"].items(), INSTALLED_COLUMNS)?;
                }
                return Ok(summary(&v, out));
            }
        }
    }
    bar.finish_and_clear();
    bail!("the daemon stopped answering before the installation ended: see its log")
}

/// Says on stderr what was installed (unless `--output` printed it) and what failed.
fn summary(v: &Value, out: Output) -> ExitCode {
    let installed = match out.format {
        Some(_) => Vec::new(),
        None => v["Installed"].as_array().cloned().unwrap_or_default(),
    };
    for i in &installed {
        let what = match i["Sdk"].as_str() {
            Some("node") => format!(
                "AWS SDK for JavaScript {} for Node.js {}",
                i["Version"].as_str().unwrap_or("?"),
                i["For"].as_str().unwrap_or("?")
            ),
            _ => format!(
                "boto3 {} for Python {}",
                i["Version"].as_str().unwrap_or("?"),
                i["For"].as_str().unwrap_or("?")
            ),
        };
        eprintln!("installed {what} in {}", i["Dir"].as_str().unwrap_or("?"));
    }
    let failed = v["Failed"].as_array().cloned().unwrap_or_default();
    for f in &failed {
        eprintln!(
            "error: {}: {}",
            f["Step"].as_str().unwrap_or("?"),
            f["Error"].as_str().unwrap_or("?")
        );
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
