//! `lambdalet image load|list|rm`: container images for image functions. `load` streams a
//! `docker save` or OCI layout tarball to the daemon (with progress), which checks and unpacks
//! it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::ProgressStyle;
use reqwest::Method;
use serde_json::Value;

use super::doc::Doc;
use super::output::{self, Output};
use super::{Client, segment};

/// The fields of an image in `--output table` and `text` (`image list`, `image load`), in this
/// order (`Names` comma-separated).
const COLUMNS: &[&str] = &["ImageId", "Names", "SizeBytes", "Layers"];

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Load an image from a `docker save` tarball or an OCI image layout tarball (not
    /// compressed: `gunzip` it first). Prints its id.
    Load {
        /// The archive.
        file: PathBuf,
        /// Which image, when the archive holds several (a name it records), and a name it
        /// will be known by.
        #[arg(long)]
        name: Option<String>,
    },
    /// The loaded images: id, names, unpacked size, layers.
    List {
        /// Print the images as JSON: the same as `--output json`, kept for scripts written
        /// before it (both print the list of images).
        #[arg(long)]
        json: bool,
    },
    /// Remove a loaded image (by id, id prefix or name).
    Rm { image: String },
}

/// Streams `file` to the daemon with a progress bar (on stderr, where `out` allows one), and
/// returns the loaded image's description (`ImageId`, `Names`, `SizeBytes`, ...).
pub async fn load(
    client: &Client,
    file: &Path,
    name: Option<&str>,
    out: Output,
) -> anyhow::Result<Doc> {
    let f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().await?.len();
    let bar = out.bar(size);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("uploading {}", file.display()));
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024);
    let b2 = bar.clone();
    let counted = tokio_stream::StreamExt::map(stream, move |chunk| {
        if let Ok(c) = &chunk {
            b2.inc(c.len() as u64);
        }
        chunk
    });
    let mut path = "/lambdalet/v1/images".to_owned();
    if let Some(n) = name {
        path = format!("{path}?name={}", segment(n));
    }
    let req = client
        .request(Method::PUT, &path)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(counted));
    let resp = client.send_streamed(req).await?;
    let status = resp.status();
    if !status.is_success() {
        bar.finish_and_clear();
        let body = resp.bytes().await?;
        return Err(super::api_error(status, &body));
    }
    // The daemon checks and unpacks the image, saying how far it got, one JSON line at a time.
    bar.set_position(0);
    bar.set_message("unpacking");
    let mut stream = resp.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = tokio_stream::StreamExt::next(&mut stream).await {
        pending.extend_from_slice(&chunk.context("the daemon's answer was cut off")?);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let d = Doc::parse(&line).context("the daemon's answer")?;
            let v = d.value();
            let p = &v["Progress"];
            if let (Some(i), Some(n)) = (p["Layer"].as_u64(), p["Layers"].as_u64()) {
                bar.set_message(format!("unpacking layer {i}/{n}"));
            } else if let (Some(done), Some(total)) = (p["Done"].as_u64(), p["Total"].as_u64()) {
                bar.set_length(total);
                bar.set_position(done);
            } else if !v["Image"].is_null() {
                bar.finish_and_clear();
                return Ok(d["Image"].clone());
            } else if let Some(e) = v.get("Error") {
                bar.finish_and_clear();
                bail!(
                    "{}: {}",
                    e["Type"].as_str().unwrap_or("error"),
                    e["Message"].as_str().unwrap_or("the load failed")
                );
            }
        }
    }
    bar.finish_and_clear();
    bail!("the daemon stopped answering before the image was loaded: see its log")
}

pub async fn run(endpoint: &str, out: Output, args: ImageArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    match args.command {
        ImageCommand::Load { file, name } => {
            let d = load(&client, &file, name.as_deref(), out).await?;
            if let Some(f) = out.format {
                output::object(f, &d, &d, COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let v = d.value();
            eprintln!(
                "loaded {} ({} layers, {} bytes unpacked{})",
                v["Names"]
                    .as_array()
                    .and_then(|n| n.first())
                    .and_then(Value::as_str)
                    .unwrap_or("unnamed"),
                v["Layers"],
                v["SizeBytes"],
                match v["SkippedSpecialFiles"].as_u64() {
                    Some(n) if n > 0 => format!(", {n} device nodes or FIFOs skipped"),
                    _ => String::new(),
                }
            );
            println!("{}", v["ImageId"].as_str().unwrap_or("?"));
        }
        ImageCommand::List { json } => {
            let d = client
                .doc(client.request(Method::GET, "/lambdalet/v1/images"))
                .await?;
            if let Some(f) = out.or_json(json).format {
                // The list itself, as `--json` has always printed it.
                output::list(f, &d["Images"], d["Images"].items(), COLUMNS)?;
                return Ok(ExitCode::SUCCESS);
            }
            let v = d.value();
            for i in v["Images"].as_array().into_iter().flatten() {
                let id = i["ImageId"].as_str().unwrap_or("?");
                let names: Vec<&str> = i["Names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "{}  {:<40} {:>12} bytes  {} layers",
                    id.get(..19).unwrap_or(id),
                    if names.is_empty() {
                        "-".to_owned()
                    } else {
                        names.join(",")
                    },
                    i["SizeBytes"],
                    i["Layers"]
                );
            }
        }
        ImageCommand::Rm { image } => {
            let path = format!("/lambdalet/v1/images/{}", segment(&image));
            let resp = client.send(client.request(Method::DELETE, &path)).await?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.bytes().await?;
                return Err(super::api_error(status, &body));
            }
            if status.as_u16() != 204 {
                bail!("unexpected answer {status}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
