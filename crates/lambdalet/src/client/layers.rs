//! `lambdalet layers publish|list|delete`: Lambda layers through the daemon's layers API (what
//! `aws lambda publish-layer-version`, `list-layers`, `list-layer-versions` and
//! `delete-layer-version` do), and `deploy`'s `--layer` flag.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::doc::Doc;
use super::output::{self, Output};
use super::{Client, segment};

/// The fields of a layer in `layers list --output table` and `text`, in this order.
const LAYER_COLUMNS: &[&str] = &[
    "LayerName",
    "LatestMatchingVersion.Version",
    "LatestMatchingVersion.CreatedDate",
    "LatestMatchingVersion.Description",
];

/// The fields of a layer version (`layers list NAME`, `layers publish`).
const VERSION_COLUMNS: &[&str] = &["Version", "CreatedDate", "Description", "LayerVersionArn"];

#[derive(Debug, Args)]
pub struct LayersArgs {
    #[command(subcommand)]
    pub command: LayersCommand,
}

#[derive(Debug, Subcommand)]
pub enum LayersCommand {
    /// Publish a directory (zipped for you) or a zip as a layer's next version and print its
    /// LayerVersionArn. Put files where the runtime looks: python/ for Python, nodejs/node_modules/
    /// for Node.js, bin/ for programs, lib/ for shared libraries.
    Publish {
        /// Layer name (letters, digits, '-' and '_').
        name: String,
        /// The layer's directory or .zip; its top level is what appears at /opt.
        path: PathBuf,
        #[arg(long)]
        description: Option<String>,
        /// A runtime the layer is for (repeatable, at most 15), e.g. python3.12.
        #[arg(long = "runtime", value_name = "RUNTIME")]
        runtimes: Vec<String>,
        /// An architecture the layer is for: x86_64 or arm64 (repeatable).
        #[arg(long = "architecture", value_name = "ARCH")]
        architectures: Vec<String>,
        /// The layer's license (an SPDX identifier, a URL or text; at most 512 characters).
        #[arg(long)]
        license: Option<String>,
    },
    /// List every layer with its newest version, or one layer's versions (newest first).
    List {
        /// Show this layer's versions.
        name: Option<String>,
    },
    /// Delete one layer version. Functions that use it keep it; new configurations cannot add it.
    Delete {
        /// Layer name, or a layer version ARN (then leave out VERSION).
        layer: String,
        /// The version to delete.
        // Its own id: `version` is the `--version` flag every command has.
        #[arg(id = "layer_version", value_name = "VERSION")]
        version: Option<u64>,
    },
}

/// `deploy --layer ARN`: the layer versions the function uses.
#[derive(Debug, Clone, Default, Args)]
pub struct LayerFlags {
    /// A layer version ARN for the function (repeatable, in order: a later layer's files win;
    /// replaces the function's layers when given; `--layer none` removes them).
    #[arg(long = "layer", value_name = "ARN")]
    pub layer: Vec<String>,
}

impl LayerFlags {
    /// Adds `Layers` to a CreateFunction or UpdateFunctionConfiguration body when asked.
    pub fn apply(&self, req: &mut Value) {
        match self.layer.as_slice() {
            [] => {}
            [none] if none == "none" => req["Layers"] = json!([]),
            arns => req["Layers"] = json!(arns),
        }
    }
}

pub async fn run(endpoint: &str, out: Output, args: LayersArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.command {
        LayersCommand::Publish {
            name,
            path,
            description,
            runtimes,
            architectures,
            license,
        } => {
            let zip = super::deploy::read_code(&path, out)?;
            let mut req = json!({
                "Content": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(&zip) },
            });
            if let Some(d) = description {
                req["Description"] = json!(d);
            }
            if !runtimes.is_empty() {
                req["CompatibleRuntimes"] = json!(runtimes);
            }
            if !architectures.is_empty() {
                req["CompatibleArchitectures"] = json!(architectures);
            }
            if let Some(l) = license {
                req["LicenseInfo"] = json!(l);
            }
            let path = format!("/2018-10-31/layers/{}/versions", segment(&name));
            let d = client
                .doc(client.request(Method::POST, &path).json(&req))
                .await?;
            if let Some(f) = out.format {
                output::object(f, &d, &d, VERSION_COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let v = d.value();
            eprintln!(
                "published layer {name} version {} ({} bytes, sha256 {})",
                v["Version"],
                v["Content"]["CodeSize"],
                v["Content"]["CodeSha256"].as_str().unwrap_or("?")
            );
            println!("{}", v["LayerVersionArn"].as_str().unwrap_or_default());
        }
        LayersCommand::List { name: None } => {
            let rows = pages(&client, "/2018-10-31/layers", "Layers").await?;
            if let Some(f) = out.format {
                let all = Doc::object([("Layers", Doc::Array(rows.clone()))]);
                output::list(f, &all, &rows, LAYER_COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Value> = rows.iter().map(Doc::value).collect();
            let rows: Vec<[String; 4]> = rows
                .iter()
                .map(|l| row(l["LayerName"].as_str(), &l["LatestMatchingVersion"]))
                .collect();
            if rows.is_empty() {
                eprintln!("no layers; publish one with `lambdalet layers publish NAME DIR`");
            }
            table(["NAME", "NEWEST", "CREATED", "DESCRIPTION"], &rows)?;
        }
        LayersCommand::List { name: Some(name) } => {
            let path = format!("/2018-10-31/layers/{}/versions", segment(&name));
            let rows = pages(&client, &path, "LayerVersions").await?;
            if let Some(f) = out.format {
                let all = Doc::object([("LayerVersions", Doc::Array(rows.clone()))]);
                output::list(f, &all, &rows, VERSION_COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Value> = rows.iter().map(Doc::value).collect();
            let rows: Vec<[String; 4]> = rows.iter().map(|v| row(Some(&name), v)).collect();
            if rows.is_empty() {
                eprintln!("layer {name} has no versions");
            }
            table(["NAME", "VERSION", "CREATED", "DESCRIPTION"], &rows)?;
        }
        LayersCommand::Delete { layer, version } => {
            let (layer, version) = match version {
                Some(v) => (layer, v),
                None => match layer.rsplit_once(':') {
                    Some((l, v)) if l.contains(":layer:") => (
                        l.to_owned(),
                        v.parse()
                            .with_context(|| format!("{layer} ends in no version"))?,
                    ),
                    _ => bail!(
                        "give the version: lambdalet layers delete NAME VERSION, or a layer version ARN"
                    ),
                },
            };
            let path = format!("/2018-10-31/layers/{}/versions/{version}", segment(&layer));
            client.json(client.request(Method::DELETE, &path)).await?;
            eprintln!("deleted layer {layer} version {version} (functions that use it keep it)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every item of a paged listing.
async fn pages(client: &Client, path: &str, key: &str) -> anyhow::Result<Vec<Doc>> {
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client
            .request(Method::GET, path)
            .query(&[("MaxItems", "50")]);
        if let Some(m) = &marker {
            req = req.query(&[("Marker", m)]);
        }
        let page = client.doc(req).await?;
        items.extend(page[key].items().iter().cloned());
        match page["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => return Ok(items),
        }
    }
}

fn row(name: Option<&str>, version: &Value) -> [String; 4] {
    [
        name.unwrap_or_default().to_owned(),
        version["Version"].to_string(),
        version["CreatedDate"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        version["Description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ]
}

/// The human form's table (nothing when there are no rows: a hint on stderr says why).
fn table(header: [&str; 4], rows: &[[String; 4]]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.to_vec()).collect();
    output::emit(&output::table(&header, &rows))
}
