//! `lambdalet deploy PATH --name NAME [...]`: zips a directory (or takes a zip), then creates
//! the function or updates its code and configuration, through the Lambda management API.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::DeployArgs;
use crate::client::output::{self, Output};
use crate::client::{Client, api_error, segment};

pub async fn run(endpoint: &str, out: Output, args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let env = parse_env(&args.env)?;
    let access_control = match &args.access_control {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_str::<Value>(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?,
            )
        }
        None => None,
    };
    let sandbox = super::sandbox_flags::settings(&args)?;
    let code = match (&args.image, &args.path) {
        (Some(image), _) => Code::Image(image_uri(&client, image, out).await?),
        (None, Some(path)) => Code::Zip(read_code(path, out)?),
        (None, None) => bail!("give the code: a directory or .zip, or --image FILE"),
    };
    let path = format!("/2015-03-31/functions/{}", segment(&args.name));

    let existing = client.send(client.request(Method::GET, &path)).await?;
    let status = existing.status();
    let body = existing.bytes().await?;
    // A large zip gets a progress bar of its own while it is sent (`json_upload`).
    let spinner = match &code {
        Code::Zip(zip) if zip.len() * 4 / 3 > super::upload::BAR_FROM => out.spinner(),
        Code::Zip(zip) => spinner(
            out,
            format!("uploading {} of code", human_bytes(zip.len() as u64)),
        ),
        Code::Image(uri) => spinner(out, format!("deploying image {uri}")),
    };
    let size = match &code {
        Code::Zip(zip) => human_bytes(zip.len() as u64),
        Code::Image(_) => String::new(),
    };

    let result = if status == StatusCode::NOT_FOUND {
        let mut req = json!({
            "FunctionName": args.name,
            "Role": "arn:aws:iam::000000000000:role/lambdalet",
            "Publish": args.publish,
        });
        match &code {
            Code::Zip(zip) => {
                let dir = args.path.as_deref().context("a zip comes from a path")?;
                let (runtime, handler) = match (&args.runtime, &args.handler) {
                    (Some(r), Some(h)) => (r.clone(), h.clone()),
                    _ => {
                        let (r, h) = guess(dir)?;
                        (
                            args.runtime.clone().unwrap_or(r),
                            args.handler.clone().unwrap_or(h),
                        )
                    }
                };
                req["Runtime"] = json!(runtime);
                req["Handler"] = json!(handler);
                req["Code"] = json!({ "ZipFile": code_b64(zip) });
            }
            Code::Image(uri) => {
                req["PackageType"] = json!("Image");
                req["Code"] = json!({ "ImageUri": uri });
            }
        }
        add_config(&mut req, &args, env, &access_control, &sandbox);
        let d = client
            .json_upload(
                Method::POST,
                "/2015-03-31/functions",
                &req,
                out,
                &format!("{size} of code"),
            )
            .await?;
        ("created", d)
    } else if status.is_success() {
        let update = match &code {
            Code::Zip(zip) => json!({ "ZipFile": code_b64(zip), "Publish": false }),
            Code::Image(uri) => json!({ "ImageUri": uri, "Publish": false }),
        };
        let mut d = client
            .json_upload(
                Method::PUT,
                &format!("{path}/code"),
                &update,
                out,
                &format!("{size} of code"),
            )
            .await?;
        let mut config = json!({});
        if let Some(r) = &args.runtime {
            config["Runtime"] = json!(r);
        }
        if let Some(h) = &args.handler {
            config["Handler"] = json!(h);
        }
        add_config(&mut config, &args, env, &access_control, &sandbox);
        if config.as_object().is_some_and(|o| !o.is_empty()) {
            d = client
                .doc(
                    client
                        .request(Method::PUT, &format!("{path}/configuration"))
                        .json(&config),
                )
                .await?;
        }
        if args.publish {
            d = client
                .doc(
                    client
                        .request(Method::POST, &format!("{path}/versions"))
                        .json(&json!({})),
                )
                .await?;
        }
        ("updated", d)
    } else {
        spinner.finish_and_clear();
        return Err(api_error(status, &body));
    };
    spinner.finish_and_clear();
    let (verb, d) = result;
    let v = d.value();
    if let Some(f) = out.format {
        output::object(f, &d, &d, super::functions::COLUMNS)?;
        warn(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let lc = &v["LambdaletConfig"];
    let what = match &code {
        Code::Zip(_) => format!(
            "{}, handler {}",
            v["Runtime"].as_str().unwrap_or("?"),
            v["Handler"].as_str().unwrap_or("?")
        ),
        Code::Image(uri) => format!("image {uri}"),
    };
    eprintln!(
        "{verb} {} ({what}, {} MB, {} s timeout, {}, {} sandbox), version {}, code {} sha256 {}",
        v["FunctionName"].as_str().unwrap_or(&args.name),
        v["MemorySize"],
        v["Timeout"],
        if lc["pinned"] == true {
            format!("pinned, queue {}", lc["maxQueueSize"])
        } else {
            format!(
                "on-demand, up to {} instances, queue {}",
                lc["maxInstancesCount"], lc["maxQueueSize"]
            )
        },
        v["LambdaletSandbox"]["Backend"].as_str().unwrap_or("?"),
        v["Version"].as_str().unwrap_or("?"),
        match &code {
            Code::Zip(zip) => human_bytes(zip.len() as u64),
            Code::Image(_) => "image".to_owned(),
        },
        v["CodeSha256"].as_str().unwrap_or("?"),
    );
    warn(&v);
    eprintln!(
        "invoke it with: lambdalet invoke {} --payload '{{}}'",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

/// What the daemon warned about the function it deployed, on stderr.
fn warn(v: &Value) {
    if let Some(w) = v["LambdaletSandbox"]["Warning"].as_str() {
        eprintln!("warning: {w}");
    }
    if let Some(n) = v["LambdaletRuntime"]["Notice"].as_str() {
        eprintln!("warning: {n}");
    }
}

/// What is deployed: a zip's bytes, or a loaded image's URI.
enum Code {
    Zip(Vec<u8>),
    Image(String),
}

fn code_b64(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(zip)
}

/// The `ImageUri` for `--image`: a file is loaded first and named by its id; anything else
/// names an image already loaded.
async fn image_uri(client: &Client, image: &str, out: Output) -> anyhow::Result<String> {
    let file = Path::new(image);
    if !file.is_file() {
        return Ok(image.to_owned());
    }
    let loaded = super::image::load(client, file, None, out).await?;
    loaded["ImageId"]
        .as_str()
        .map(str::to_owned)
        .context("the daemon did not say which image it loaded")
}

fn add_config(
    req: &mut Value,
    args: &DeployArgs,
    env: Option<BTreeMap<String, String>>,
    access_control: &Option<Value>,
    sandbox: &serde_json::Map<String, Value>,
) {
    let mut lifecycle = serde_json::Map::new();
    if let Some(p) = args.pinned {
        lifecycle.insert("pinned".into(), json!(p));
    }
    for (key, value) in [
        ("maxInstancesCount", args.max_instances),
        ("maxQueueSize", args.max_queue),
        ("maxIdleTimeInSeconds", args.idle_timeout),
        ("statusTimeoutInSeconds", args.status_timeout),
    ] {
        if let Some(v) = value {
            lifecycle.insert(key.into(), json!(v));
        }
    }
    if let Some(e) = &args.encoding {
        lifecycle.insert("inputPayloadEncodingType".into(), json!(e));
    }
    if !args.subscribe.is_empty() || !args.subscribe_local.is_empty() {
        let topics: serde_json::Map<String, Value> = args
            .subscribe
            .iter()
            .map(|t| (t, "IOT_CORE"))
            .chain(args.subscribe_local.iter().map(|t| (t, "PUB_SUB")))
            .enumerate()
            .map(|(i, (topic, kind))| (i.to_string(), json!({ "topic": topic, "type": kind })))
            .collect();
        lifecycle.insert("pubsubTopics".into(), Value::Object(topics));
    }
    if let Some(policies) = access_control {
        lifecycle.insert("accessControl".into(), policies.clone());
    }
    if let Some(m) = args.allow_management {
        lifecycle.insert("allowManagement".into(), json!(m));
    }
    if !args.allow_bucket.is_empty() {
        lifecycle.insert("allowedBuckets".into(), json!(args.allow_bucket));
    }
    lifecycle.extend(sandbox.clone());
    if !lifecycle.is_empty() {
        req["LambdaletConfig"] = Value::Object(lifecycle);
    }
    if let Some(t) = args.timeout {
        req["Timeout"] = json!(t);
    }
    if let Some(m) = args.memory {
        req["MemorySize"] = json!(m);
    }
    if let Some(d) = &args.description {
        req["Description"] = json!(d);
    }
    let mut image_config = serde_json::Map::new();
    if !args.image_entrypoint.is_empty() {
        image_config.insert("EntryPoint".into(), json!(args.image_entrypoint));
    }
    if !args.image_command.is_empty() {
        image_config.insert("Command".into(), json!(args.image_command));
    }
    if let Some(dir) = &args.image_workdir {
        image_config.insert("WorkingDirectory".into(), json!(dir));
    }
    if !image_config.is_empty() {
        req["ImageConfig"] = Value::Object(image_config);
    }
    if let Some(env) = env {
        req["Environment"] = json!({ "Variables": env });
    }
    args.layers.apply(req);
}

fn parse_env(pairs: &[String]) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut env = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--env {p:?} must be KEY=VALUE");
        };
        env.insert(k.to_owned(), v.to_owned());
    }
    Ok(Some(env))
}

/// The zip to upload: a directory is zipped (with a progress bar), a file is read as is.
pub(crate) fn read_code(path: &Path, out: Output) -> anyhow::Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        let bar = out.bar(0).with_style(
            ProgressStyle::with_template("zipping {msg} [{bar:30}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(path.display().to_string());
        let zip = lambdalet_package::zip_directory(path, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("cannot zip {}", path.display()))?;
        bar.finish_and_clear();
        Ok(zip)
    } else {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !bytes.starts_with(b"PK") {
            bail!(
                "{} is neither a directory nor a zip file: give the function's directory or its .zip",
                path.display()
            );
        }
        Ok(bytes)
    }
}

/// Guesses runtime and handler from the files at the top of a directory.
fn guess(path: &Path) -> anyhow::Result<(String, String)> {
    let hint = "give --runtime and --handler (e.g. --runtime python3.11 --handler app.handler)";
    if !path.is_dir() {
        bail!("creating a function from a zip needs its runtime and handler: {hint}");
    }
    let names: Vec<String> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("bootstrap") {
        return Ok(("provided.al2023".to_owned(), "bootstrap".to_owned()));
    }
    for (file, handler) in [
        ("lambda_function.py", "lambda_function.lambda_handler"),
        ("app.py", "app.handler"),
        ("handler.py", "handler.handler"),
        ("main.py", "main.handler"),
    ] {
        if has(file) {
            return Ok(("python3.11".to_owned(), handler.to_owned()));
        }
    }
    for file in ["index.mjs", "index.js", "index.cjs", "app.mjs", "app.js"] {
        if has(file) {
            let stem = file.split('.').next().unwrap_or("index");
            return Ok(("nodejs20.x".to_owned(), format!("{stem}.handler")));
        }
    }
    bail!(
        "cannot tell the runtime from the files in {}: {hint}",
        path.display()
    )
}

fn spinner(out: Output, msg: String) -> ProgressBar {
    let s = out.spinner();
    s.set_message(msg);
    s.enable_steady_tick(Duration::from_millis(100));
    s
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / (1 << 10) as f64),
        n => format!("{n} B"),
    }
}
