//! The example functions `lambdalet up` deploys, shipped inside the binary so `up` works from
//! any directory.

use std::net::SocketAddr;
use std::path::Path;

use lambdalet_control::{Control, CreateFunctionInput, UpdateCodeInput};
use lambdalet_core::{FunctionConfigPatch, HasErrorCode};

struct Example {
    name: &'static str,
    runtime: &'static str,
    handler: &'static str,
    file: &'static str,
    source: &'static str,
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "hello-python",
        runtime: "python3.11",
        handler: "app.handler",
        file: "app.py",
        source: include_str!("../../../examples/hello-python/app.py"),
    },
    Example {
        name: "hello-node",
        runtime: "nodejs20.x",
        handler: "index.handler",
        file: "index.mjs",
        source: include_str!("../../../examples/hello-node/index.mjs"),
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
    let create = CreateFunctionInput {
        name: ex.name.to_owned(),
        config: FunctionConfigPatch {
            runtime: Some(ex.runtime.to_owned()),
            handler: Some(ex.handler.to_owned()),
            description: Some("lambdalet example (lambdalet up)".to_owned()),
            ..Default::default()
        },
        zip: zip.clone(),
        ..Default::default()
    };
    match control.create_function(create).await {
        Ok(_) => Ok(()),
        Err(e) if e.error_code() == lambdalet_core::ErrorCode::ResourceConflict => {
            control
                .update_code(
                    ex.name,
                    UpdateCodeInput {
                        zip,
                        ..Default::default()
                    },
                )
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// What a newcomer sees after `lambdalet up`.
pub fn banner(addr: SocketAddr, data_dir: &Path, control: &Control, mqtt: Option<&str>) {
    let names = control.function_names();
    let first = names
        .iter()
        .find(|n| n.starts_with("hello"))
        .cloned()
        .unwrap_or_else(|| "hello-python".to_owned());
    let url = format!("http://{addr}");
    eprintln!(
        "\n  lambdalet is up\n\n    Lambda API   {url}\n    MQTT         {}\n    data         {}\n    functions    {}\n\n  Try:\n    lambdalet invoke {first} --payload '{{\"name\":\"edge\"}}' --log\n    aws --endpoint-url {url} lambda invoke --function-name {first} --payload '{{\"name\":\"edge\"}}' out.json\n\n  Ctrl-C stops it.\n",
        mqtt.unwrap_or("off"),
        data_dir.display(),
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        },
    );
}
