//! `lambdalet component list|details|restart|stop`, with the Greengrass CLI's flags and output
//! lines (`Component Name:`, `Version:`, `State:`, `Configuration:`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{self, Output};
use super::{Client, segment};

/// The fields of a component in `--output table` and `text` (`component list`, `component
/// details`), in this order.
const COLUMNS: &[&str] = &["componentName", "version", "state", "componentType"];

#[derive(Debug, Args)]
pub struct ComponentArgs {
    #[command(subcommand)]
    pub command: ComponentCommand,
}

#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Every deployed component: name, version, state and configuration.
    List {
        /// Print the components as JSON: the same as `--output json`, kept for scripts written
        /// before it (both print the list of components).
        #[arg(long)]
        json: bool,
    },
    /// One component: version, state, configuration, its function or log file, what
    /// lambdalet did differently from Greengrass, and its last error.
    Details {
        #[arg(short = 'n', long = "name")]
        name: String,
        /// Print JSON: the same as `--output json`, kept for scripts written before it.
        #[arg(long)]
        json: bool,
    },
    /// Restart components (a Lambda component's sandboxes are replaced).
    Restart {
        /// Component names, separated by commas.
        #[arg(short = 'n', long = "names", value_delimiter = ',', required = true)]
        names: Vec<String>,
    },
    /// Stop components until they are restarted or deployed again.
    Stop {
        /// Component names, separated by commas.
        #[arg(short = 'n', long = "names", value_delimiter = ',', required = true)]
        names: Vec<String>,
    },
}

pub async fn run(endpoint: &str, out: Output, args: ComponentArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.command {
        ComponentCommand::List { json } => {
            let d = client
                .doc(client.request(Method::GET, "/lambdalet/v1/components"))
                .await?;
            if let Some(f) = out.or_json(json).format {
                // The list itself, as `--json` has always printed it.
                let all = &d["components"];
                output::list(f, all, all.items(), COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let all = d.value()["components"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            println!("Components currently running in lambdalet:");
            for c in &all {
                print_component(c, false);
            }
        }
        ComponentCommand::Details { name, json } => {
            let path = format!("/lambdalet/v1/components/{}", segment(&name));
            let c = client.doc(client.request(Method::GET, &path)).await?;
            match out.or_json(json).format {
                Some(f) => output::object(f, &c, &c, COLUMNS)?,
                None => print_component(&c.value(), true),
            }
        }
        ComponentCommand::Restart { names } => act(&client, "restart", &names).await?,
        ComponentCommand::Stop { names } => act(&client, "stop", &names).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn act(client: &Client, what: &str, names: &[String]) -> anyhow::Result<()> {
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    client
        .json(
            client
                .request(Method::POST, &format!("/lambdalet/v1/components/{what}"))
                .json(&json!({ "componentNames": names })),
        )
        .await?;
    Ok(())
}

fn print_component(c: &Value, details: bool) {
    println!(
        "Component Name: {}",
        c["componentName"].as_str().unwrap_or("?")
    );
    println!("    Version: {}", c["version"].as_str().unwrap_or("?"));
    println!("    State: {}", c["state"].as_str().unwrap_or("?"));
    println!("    Configuration: {}", c["configuration"]);
    if !details {
        if let Some(e) = c["lastError"].as_str() {
            println!("    Last error: {e}");
        }
        return;
    }
    println!("    Type: {}", c["componentType"].as_str().unwrap_or("?"));
    if let Some(f) = c["functionName"].as_str() {
        println!("    Function: {f}");
    }
    if let Some(f) = c["logFile"].as_str() {
        println!("    Log: {f}");
    }
    if let Some(e) = c["lastError"].as_str() {
        println!("    Last error: {e}");
    }
    for n in c["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        println!("    Note: {n}");
    }
}
