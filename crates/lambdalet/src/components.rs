//! Wiring Greengrass components into the daemon: where they live, what their steps' environment
//! holds (the IPC socket and their `SVCUID`, as Greengrass gives them) and where their IPC
//! policies go.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lambdalet_components::{Components, ComponentsConfig};
use lambdalet_control::Control;
use lambdalet_core::Tokens;
use lambdalet_events::EventRouter;
use lambdalet_store::Store;

use crate::cli::ServeArgs;

/// Opens the component store and starts what was deployed (in the background).
pub async fn start(
    args: &ServeArgs,
    data_dir: &Path,
    store: &Store,
    control: &Arc<Control>,
    router: &Arc<EventRouter>,
    tokens: &Arc<Tokens>,
    ipc_path: &Path,
) -> anyhow::Result<Arc<Components>> {
    let thing = args.thing_name.clone();
    let region = args.region.clone();
    let (tokens, ipc) = (tokens.clone(), ipc_path.display().to_string());
    let thing_env = thing.clone();
    // Components find programs where the daemon does, as Greengrass's see the nucleus's PATH;
    // nothing else of the daemon's environment is passed on.
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| lambdalet_components::lifecycle::BASE_PATH.to_owned());
    let env = move |name: &str, version: &str| {
        let token = tokens.token_for(&format!("{name}:{version}"));
        BTreeMap::from([
            ("PATH".to_owned(), path.clone()),
            ("SVCUID".to_owned(), token.clone()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(), token),
            (
                "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH".to_owned(),
                ipc.clone(),
            ),
            (
                "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT".to_owned(),
                ipc.clone(),
            ),
            ("AWS_IOT_THING_NAME".to_owned(), thing_env.clone()),
            ("AWS_REGION".to_owned(), region.clone()),
            ("AWS_DEFAULT_REGION".to_owned(), region.clone()),
            ("GGC_VERSION".to_owned(), "2.14.0".to_owned()),
        ])
    };
    let router = router.clone();
    let policies = move |name: &str, acl: Option<&serde_json::Value>| {
        router.set_component_policies(name, acl);
    };
    let mut config = ComponentsConfig::new(
        data_dir.join("components"),
        data_dir.to_owned(),
        thing,
        Box::new(env),
        Box::new(policies),
    );
    if args.s3_listen != "off" {
        config.object_store = Some(data_dir.join("s3"));
    }
    Components::open(store.clone(), control.clone(), config)
        .await
        .context("cannot open the component store")
}
