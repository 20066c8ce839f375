//! The example functions `lambdalet up` deploys, shipped inside the binary so `up` works from
//! any directory.

use std::net::SocketAddr;
use std::path::Path;

use std::collections::BTreeMap;

use lambdalet_control::{Control, CreateFunctionInput, UpdateCodeInput};
use lambdalet_core::destination::{DestinationConfig, OnDestination};
use lambdalet_core::lifecycle::{PubsubTopic, TopicType};
use lambdalet_core::{EventInvokeConfig, FunctionConfigPatch, HasErrorCode, LifecyclePatch};

struct Example {
    name: &'static str,
    runtime: &'static str,
    handler: &'static str,
    file: &'static str,
    source: &'static str,
    /// MQTT (IOT_CORE) topic filters that invoke it.
    subscribe: &'static [&'static str],
    /// Where asynchronous results go (an on-success destination).
    on_success: Option<&'static str>,
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "hello-python",
        runtime: "python3.11",
        handler: "app.handler",
        file: "app.py",
        source: include_str!("../../../examples/hello-python/app.py"),
        subscribe: &[],
        on_success: None,
    },
    Example {
        name: "hello-node",
        runtime: "nodejs20.x",
        handler: "index.handler",
        file: "index.mjs",
        source: include_str!("../../../examples/hello-node/index.mjs"),
        subscribe: &[],
        on_success: None,
    },
    Example {
        name: "temperature-check",
        runtime: "python3.11",
        handler: "app.handler",
        file: "app.py",
        source: include_str!("../../../examples/temperature-check/app.py"),
        subscribe: &["sensors/+/temperature"],
        on_success: Some("mqtt:sensors/checked"),
    },
];

/// Deploys every example whose runtime this host has (creating or updating it); a missing
/// interpreter skips that example with a warning.
pub async fn deploy_all(control: &Control, data_dir: &Path) {
    for ex in EXAMPLES {
        match deploy(control, data_dir, ex).await {
            Ok(()) => tracing::info!(function = ex.name, runtime = ex.runtime, "example deployed"),
            Err(e) => tracing::warn!(function = ex.name, "example not deployed: {e}"),
        }
    }
}

async fn deploy(control: &Control, data_dir: &Path, ex: &Example) -> anyhow::Result<()> {
    let dir = data_dir.join("examples").join(ex.name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(ex.file), ex.source)?;
    let zip = lambdalet_package::zip_directory(&dir, &mut |_, _| {})?;
    let topics: BTreeMap<String, PubsubTopic> = ex
        .subscribe
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let topic = PubsubTopic {
                topic: (*t).to_owned(),
                kind: TopicType::IotCore,
            };
            (i.to_string(), topic)
        })
        .collect();
    let create = CreateFunctionInput {
        name: ex.name.to_owned(),
        config: FunctionConfigPatch {
            runtime: Some(ex.runtime.to_owned()),
            handler: Some(ex.handler.to_owned()),
            description: Some("lambdalet example (lambdalet up)".to_owned()),
            lifecycle: LifecyclePatch {
                pubsub_topics: (!topics.is_empty()).then_some(topics),
                ..Default::default()
            },
            ..Default::default()
        },
        zip: zip.clone(),
        ..Default::default()
    };
    create_or_update(control, create).await?;
    if let Some(dest) = ex.on_success {
        let config = EventInvokeConfig {
            maximum_retry_attempts: Some(0),
            maximum_event_age_in_seconds: None,
            destination_config: DestinationConfig {
                on_success: Some(OnDestination {
                    destination: Some(dest.to_owned()),
                }),
                on_failure: None,
            },
        };
        control
            .put_event_config(ex.name, None, config, false)
            .await?;
    }
    Ok(())
}

/// Creates an example function, or brings an existing one up to date (its code, then its
/// configuration).
pub async fn create_or_update(
    control: &Control,
    create: CreateFunctionInput,
) -> anyhow::Result<()> {
    match control.create_function(create.clone()).await {
        Ok(_) => Ok(()),
        Err(e) if e.error_code() == lambdalet_core::ErrorCode::ResourceConflict => {
            let update = UpdateCodeInput {
                zip: create.zip,
                ..Default::default()
            };
            control.update_code(&create.name, update).await?;
            control
                .update_configuration(&create.name, create.config, None)
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// What a newcomer sees after `lambdalet up`; with `--log-format json`, one log line with the
/// same facts as fields instead.
pub fn banner(
    addr: SocketAddr,
    data_dir: &Path,
    control: &Control,
    mqtt: Option<&str>,
    s3: Option<SocketAddr>,
    log_format: crate::telemetry::LogFormat,
) {
    let names = control.function_names();
    let first = names
        .iter()
        .find(|n| n.starts_with("hello"))
        .cloned()
        .unwrap_or_else(|| "hello-python".to_owned());
    let url = format!("http://{addr}");
    let endpoint = if addr.port() == 9001 && addr.ip().is_loopback() {
        String::new()
    } else {
        format!(" --endpoint {url}")
    };
    let mqtt_try = if mqtt.is_some() && names.iter().any(|n| n == "temperature-check") {
        format!(
            "\n    lambdalet subscribe{endpoint} --mqtt sensors/checked &\n    lambdalet publish{endpoint} --mqtt sensors/t1/temperature '{{\"celsius\": 31.5}}'\n"
        )
    } else {
        String::new()
    };
    let background = match s3.filter(|_| names.iter().any(|n| n == "remove-background")) {
        Some(a) => format!(
            "\n  Remove a photo's background (the seed's service):\n    aws --endpoint-url http://{a} s3 cp photo.jpg s3://images/uploads/photo.jpg\n    sleep 2\n    aws --endpoint-url http://{a} s3 cp s3://images/processed/photo.png .\n"
        ),
        None => String::new(),
    };
    let sandboxes = match (control.default_sandbox(), control.container_unavailable()) {
        (lambdalet_core::ContainerMode::NoContainer, _) => {
            "processes (--sandbox process)".to_owned()
        }
        (_, None) => "containers (own namespaces, uid and /tmp; cgroup limits)".to_owned(),
        (_, Some(why)) => format!("processes: containers are unavailable here ({why})"),
    };
    let urls = control.url_port().map_or_else(
        || "off".to_owned(),
        |p| {
            format!(
                "http://<url-id>.lambda-url.{}.localhost:{p}/ (aws lambda create-function-url-config)",
                control.account().region
            )
        },
    );
    if log_format == crate::telemetry::LogFormat::Json {
        tracing::info!(
            lambda_api = %url,
            s3 = %s3.map_or_else(|| "off".to_owned(), |a| format!("http://{a}")),
            urls = %urls,
            mqtt = mqtt.unwrap_or("off"),
            sandboxes = %sandboxes,
            data_dir = %data_dir.display(),
            functions = %names.join(","),
            "lambdalet is up"
        );
        return;
    }
    eprintln!(
        "\n  lambdalet is up\n\n    Lambda API   {url}\n    S3           {}\n    URLs         {urls}\n    MQTT         {}\n    sandboxes    {sandboxes}\n    data         {}\n    functions    {}\n\n  Try:\n    lambdalet invoke{endpoint} {first} --payload '{{\"name\":\"edge\"}}' --log\n    aws --endpoint-url {url} lambda invoke --function-name {first} --payload '{{\"name\":\"edge\"}}' out.json\n{mqtt_try}{background}\n  Ctrl-C stops it.\n",
        s3.map_or_else(|| "off".to_owned(), |a| format!("http://{a}")),
        mqtt.unwrap_or("off"),
        data_dir.display(),
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        },
    );
}
