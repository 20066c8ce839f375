//! `lambdalet deployment create|list|status`: Greengrass local deployments with the Greengrass
//! CLI's own flags (`greengrass-cli deployment create --recipeDir DIR --artifactDir DIR --merge
//! NAME=VERSION`), so a device's scripts change only the program name. The recipe and artifact
//! directories are read here and sent to the daemon: recipes as text, artifacts uploaded once
//! by their SHA-256 (a file the daemon has already is not sent again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::ProgressStyle;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::output::{self, Output};
use super::{Client, segment};

/// The fields of a deployment in `--output table` and `text` (`deployment list`, `status`,
/// `create`), in this order (`createdOn`: milliseconds since the epoch).
const COLUMNS: &[&str] = &[
    "deploymentId",
    "createdOn",
    "status",
    "detailedStatus",
    "failureCause",
];

/// The largest artifact one upload carries (the API reads at most 70 MB per request).
const MAX_UPLOAD: u64 = 64 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct DeploymentArgs {
    #[command(subcommand)]
    pub command: DeploymentCommand,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Deploy components from local recipes and artifacts, as `greengrass-cli deployment
    /// create` does. Prints the deployment id; `deployment status -i ID` follows it.
    Create(CreateArgs),
    /// The recent deployments, newest first, with their status.
    List {
        /// Print the deployments as JSON: the same as `--output json`, kept for scripts
        /// written before it (both print the list of deployments).
        #[arg(long)]
        json: bool,
    },
    /// One deployment's status (QUEUED, IN_PROGRESS, SUCCEEDED, FAILED) and why it failed.
    Status {
        /// The deployment id `deployment create` printed.
        #[arg(short = 'i', long = "deploymentId")]
        deployment_id: String,
        /// Print JSON: the same as `--output json`, kept for scripts written before it.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Directory of recipes (JSON or YAML, searched recursively; every file is a recipe,
    /// stored under its own ComponentName and ComponentVersion).
    #[arg(short = 'r', long = "recipeDir")]
    pub recipe_dir: Option<PathBuf>,
    /// Directory of artifacts laid out as ARTIFACT_DIR/COMPONENT/VERSION/FILE.
    #[arg(short = 'a', long = "artifactDir")]
    pub artifact_dir: Option<PathBuf>,
    /// A component to add or update, NAME=VERSION (repeatable).
    #[arg(short = 'm', long = "merge")]
    pub merge: Vec<String>,
    /// Components to remove (repeatable, or comma-separated).
    #[arg(long = "remove", value_delimiter = ',')]
    pub remove: Vec<String>,
    /// Configuration updates: JSON, or a file with it (FILE or @FILE),
    /// {"NAME": {"MERGE": {...}, "RESET": ["/pointer"]}}.
    #[arg(short = 'c', long = "update-config")]
    pub update_config: Option<String>,
    /// The thing group the deployment targets (recorded; lambdalet has one device).
    #[arg(short = 'g', long = "groupId")]
    pub group_id: Option<String>,
    /// Wait for the deployment to finish, showing its progress; exit 1 if it failed.
    #[arg(long)]
    pub wait: bool,
}

pub async fn run(endpoint: &str, out: Output, args: DeploymentArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.command {
        DeploymentCommand::Create(a) => create(&client, out, a).await,
        DeploymentCommand::List { json } => {
            let d = client
                .doc(client.request(Method::GET, "/lambdalet/v1/deployments"))
                .await?;
            if let Some(f) = out.or_json(json).format {
                // The list itself, as `--json` has always printed it.
                let all = &d["deployments"];
                output::list(f, all, all.items(), COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let all = d.value()["deployments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for (i, d) in all.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!(
                    "Deployment ID: {}",
                    d["deploymentId"].as_str().unwrap_or("?")
                );
                println!("Created on: {}", created_on(&d["createdOn"]));
                println!("Status: {}", d["status"].as_str().unwrap_or("?"));
            }
            Ok(ExitCode::SUCCESS)
        }
        DeploymentCommand::Status {
            deployment_id,
            json,
        } => {
            let path = format!("/lambdalet/v1/deployments/{}", segment(&deployment_id));
            let d = client.doc(client.request(Method::GET, &path)).await?;
            match out.or_json(json).format {
                Some(f) => output::object(f, &d, &d, COLUMNS)?,
                None => print_status(&d.value()),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Greengrass's date format: `dd-MM-uuuu HH:mm:ss z`, in UTC.
fn created_on(ms: &Value) -> String {
    let ms = ms.as_u64().unwrap_or(0);
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[day]-[month]-[year] [hour]:[minute]:[second]");
    format!("{} UTC", t.format(&f).unwrap_or_default())
}

fn print_status(d: &Value) {
    let status = d["status"].as_str().unwrap_or("?");
    println!("{}: {status}", d["deploymentId"].as_str().unwrap_or("?"));
    println!("Created on: {}", created_on(&d["createdOn"]));
    if status == "FAILED" {
        if let Some(detailed) = d["detailedStatus"].as_str() {
            println!("Detailed Status: {detailed}");
        }
        if let Some(cause) = d["failureCause"].as_str() {
            println!("Deployment Failure Cause: {cause}");
        }
    }
    if let Some(detail) = d["detail"].as_array() {
        for line in detail.iter().filter_map(Value::as_str) {
            println!("  {line}");
        }
    }
}

/// Every recipe file under `dir` (recursively), in name order.
fn recipe_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .with_context(|| format!("cannot read the recipe directory {}", d.display()))?;
        for e in entries {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("json" | "yaml" | "yml")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

async fn create(client: &Client, out: Output, a: CreateArgs) -> anyhow::Result<ExitCode> {
    let mut merges = BTreeMap::new();
    for m in &a.merge {
        let Some((name, version)) = m.split_once('=') else {
            bail!(
                "--merge {m:?} is not NAME=VERSION (for example --merge com.example.Hello=1.0.0)"
            );
        };
        merges.insert(name.trim().to_owned(), json!({ "version": version.trim() }));
    }
    if let Some(c) = &a.update_config {
        let text = if c.trim_start().starts_with('{') {
            c.clone()
        } else {
            let file = c.strip_prefix('@').unwrap_or(c);
            std::fs::read_to_string(file)
                .with_context(|| format!("--update-config {c}: not JSON and not a readable file"))?
        };
        let v: Value = serde_json::from_str(&text).context("--update-config is not JSON")?;
        let Some(obj) = v.as_object() else {
            bail!(
                "--update-config must be an object: {{\"NAME\": {{\"MERGE\": {{...}}, \"RESET\": [\"/key\"]}}}}"
            );
        };
        for (name, u) in obj {
            let Some(entry) = merges.get_mut(name) else {
                bail!(
                    "--update-config names {name}, which is not merged: add --merge {name}=VERSION"
                );
            };
            let mut update = json!({});
            if let Some(m) = u.get("MERGE") {
                update["merge"] = m.clone();
            }
            if let Some(r) = u.get("RESET") {
                update["reset"] = r.clone();
            }
            if update.as_object().is_some_and(|o| o.is_empty()) {
                bail!(
                    "--update-config for {name} has neither MERGE nor RESET (upper case, as the Greengrass CLI wants)"
                );
            }
            entry["configurationUpdate"] = update;
        }
    }
    let mut recipes = Vec::new();
    let mut have: Vec<(String, String)> = Vec::new();
    if let Some(dir) = &a.recipe_dir {
        for p in recipe_files(dir)? {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let file_name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            let r = lambdalet_package::recipe::parse_recipe(&file_name, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            have.push((r.name.clone(), r.version.clone()));
            recipes.push(json!({ "fileName": file_name, "text": text }));
        }
        if recipes.is_empty() {
            bail!("no recipe (.json, .yaml or .yml) in {}", dir.display());
        }
    }
    let artifacts = match &a.artifact_dir {
        Some(dir) => upload_artifacts(client, dir, &have, out).await?,
        None => BTreeMap::new(),
    };
    let body = json!({
        "recipes": recipes,
        "artifacts": artifacts,
        "components": merges,
        "componentsToRemove": a.remove,
        "groupName": a.group_id,
    });
    let d = client
        .doc(
            client
                .request(Method::POST, "/lambdalet/v1/deployments")
                .json(&body),
        )
        .await?;
    let id = d["deploymentId"].as_str().unwrap_or("?").to_owned();
    match out.format {
        // With --wait, the deployment as it ended instead.
        Some(f) if !a.wait => output::object(f, &d, &d, COLUMNS)?,
        Some(_) => eprintln!("Local deployment submitted! Deployment Id: {id}"),
        None => println!("Local deployment submitted! Deployment Id: {id}"),
    }
    if !a.wait {
        return Ok(ExitCode::SUCCESS);
    }
    wait(client, &id, out).await
}

/// Uploads `DIR/NAME/VERSION/FILE` for every recipe given; returns `NAME/VERSION/FILE` → hash.
async fn upload_artifacts(
    client: &Client,
    dir: &Path,
    recipes: &[(String, String)],
    out: Output,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut uploaded = BTreeMap::new();
    for (name, version) in recipes {
        let d = dir.join(name).join(version);
        if !d.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .with_context(|| format!("cannot read {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let size = f.metadata()?.len();
            if size > MAX_UPLOAD {
                bail!(
                    "{} has {size} bytes; lambdalet takes artifacts up to {MAX_UPLOAD} bytes",
                    f.display()
                );
            }
            let bytes =
                std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let sha = hex::encode(Sha256::digest(&bytes));
            let file = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let path = format!("/lambdalet/v1/artifacts/{sha}");
            let head = client.send(client.request(Method::HEAD, &path)).await?;
            if head.status() != StatusCode::OK {
                let bar = out
                    .spinner()
                    .with_message(format!("uploading {name}/{version}/{file} ({size} bytes)"));
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(100));
                let r = client
                    .send(client.request(Method::PUT, &path).body(bytes))
                    .await?;
                bar.finish_and_clear();
                if !r.status().is_success() {
                    let status = r.status();
                    let body = r.bytes().await.unwrap_or_default();
                    return Err(super::api_error(status, &body));
                }
            }
            uploaded.insert(format!("{name}/{version}/{file}"), sha);
        }
    }
    Ok(uploaded)
}

/// Follows a deployment to its end.
async fn wait(client: &Client, id: &str, out: Output) -> anyhow::Result<ExitCode> {
    let path = format!("/lambdalet/v1/deployments/{}", segment(id));
    let bar = out.spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    loop {
        let d = client.doc(client.request(Method::GET, &path)).await?;
        let status = d["status"].as_str().unwrap_or("?").to_owned();
        bar.set_message(format!("deployment {id}: {status}"));
        if status == "SUCCEEDED" || status == "FAILED" {
            bar.finish_and_clear();
            match out.format {
                Some(f) => output::object(f, &d, &d, COLUMNS)?,
                None => print_status(&d.value()),
            }
            return Ok(if status == "SUCCEEDED" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
