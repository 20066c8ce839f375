//! `lambdalet serve` and `lambdalet up`: build the daemon from its parts, serve until a
//! signal, then shut down in order (stop accepting, finish in-flight invocations, stop
//! sandboxes, flush logs, checkpoint the database).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lambdalet_api::{ApiParts, ApiState, ConnectionStats, Server, ServerConfig};
use lambdalet_control::Control;
use lambdalet_core::AccountInfo;
use lambdalet_core::RuntimeFallback;
use lambdalet_core::Tokens;
use lambdalet_events::ipc::IpcServer;
use lambdalet_events::mqtt::{Mqtt, RemoteBroker, RemoteSettings, RemoteTls};
use lambdalet_events::{EventRouter, LocalBus};
use lambdalet_invoker::{
    AsyncQueue, AsyncSettings, GreengrassEnv, InterpreterSearch, Invoker, InvokerConfig,
};
use lambdalet_package::CodeStore;
use lambdalet_store::{AsyncQueueStore, RecordWriter, Store};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::ServeArgs;
use crate::resources::Budget;
use crate::{examples, open_files, resources, sandboxes, systemd, telemetry};

pub async fn run(args: ServeArgs, with_examples: bool) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    open_files::raise_limit(args.max_connections);
    if let Some(config) = &args.config {
        tracing::info!(
            "settings from {} (flags and LAMBDALET_* variables win over it)",
            config.display()
        );
    }
    let budget = budget(&args);
    let account = AccountInfo {
        partition: "aws".to_owned(),
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    if let Err(e) = account.validate() {
        bail!("{e}");
    }
    let spans = crate::otlp::spans(&args)?;
    let data_dir = data_dir(args.data_dir.clone())?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    // Its owner's only, whatever the umask: it holds every function's code and state.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", data_dir.display()))?;
    }
    let _lock = sandboxes::lock_data_dir(&data_dir)?;

    // The API's address first: sandboxes get it in their environment.
    let listener = TcpListener::bind(args.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (is another lambdalet running? pick another --listen)",
            args.listen
        )
    })?;
    let addr = listener.local_addr()?;
    let s3_listener = crate::s3::bind(&args).await?;
    let s3_addr = match &s3_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let url_listener = crate::urls::bind(&args).await?;

    let store = Store::open(&data_dir).context("cannot open the state database")?;
    let records = RecordWriter::start(&store).context("cannot start the log writer")?;
    let code = CodeStore::open(&data_dir.join("packages")).context("cannot open the code store")?;
    let tokens = Arc::new(Tokens::default());
    let ipc_path = args
        .ipc_socket
        .clone()
        .unwrap_or_else(|| data_dir.join("ipc.socket"));
    let sandboxes = sandboxes::start(&args, &data_dir).await?;
    let sandbox_group = sandboxes
        .container
        .is_some()
        .then(|| sandboxes.user.shared_group());
    let invoker = Invoker::new(
        &data_dir,
        account.clone(),
        sandboxes,
        records.clone(),
        InvokerConfig {
            max_concurrency: budget.max_concurrency,
            greengrass: GreengrassEnv {
                tokens: tokens.clone(),
                ipc_socket: Some(ipc_path.clone()),
                api_endpoint: Some(addr.to_string()),
                s3_endpoint: s3_addr.map(|a| a.to_string()),
            },
            interpreters: interpreter_search(args.interpreter_path.as_deref())?,
            runtime_fallback: RuntimeFallback::parse(&args.runtime_fallback)
                .map_err(anyhow::Error::msg)?,
            prestart: args.prestart == "on",
            spans,
        },
    )
    .context("cannot install the runtime bootstraps")?;
    let master = crate::keyfile::load_or_create(&data_dir)?;
    let images = lambdalet_package::image::ImageStore::open(&data_dir.join("images"))
        .context("cannot open the image store")?
        .with_limits(lambdalet_package::image::ImageLimits {
            max_unpacked_bytes: args.max_image_size,
            ..Default::default()
        });
    let control = Control::open(
        store.clone(),
        code,
        images,
        account,
        invoker.clone(),
        master,
    )
    .await
    .context("cannot load functions from the state database")?;
    let auth = auth_mode(&args, &control, &data_dir)?;
    if s3_addr.is_some() {
        control.set_object_store(data_dir.join("s3"));
    }
    let queue_store =
        AsyncQueueStore::start(&store).context("cannot open the async event queue")?;
    let settings = AsyncSettings {
        retry_delays: args
            .async_retry_delays
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect(),
        payload_cache_bytes: budget.queue_cache_bytes,
    };
    if settings.retry_delays.is_empty() {
        bail!("--async-retry-delays needs at least one number of seconds, e.g. 60,120");
    }
    let queue = AsyncQueue::start(
        queue_store.clone(),
        invoker.clone(),
        control.clone(),
        settings,
    )
    .await
    .context("cannot load the async event queue")?;

    let schedules = lambdalet_schedule::Schedules::open(
        store.clone(),
        control.account().clone(),
        Arc::new(lambdalet_schedule::PolicyTargets {
            control: control.clone(),
            require_permission: !args.trust_services,
        }),
        queue.clone(),
        Arc::new(lambdalet_schedule::SystemClock),
    )
    .await
    .context("cannot load the schedules")?;

    let bus = LocalBus::new(args.max_message_size);
    let mqtt = start_mqtt(&args, &budget, &store, with_examples, &control)?;
    let mqtt_banner = mqtt.as_ref().map(|(m, _)| m.describe());
    let router = EventRouter::start(bus, mqtt, queue.clone());
    queue.set_topic_sink(router.clone());
    control
        .attach_router(router.clone())
        .await
        .context("cannot apply the subscriptions")?;
    let ipc = IpcServer::start(&ipc_path, router.clone(), tokens.clone()).with_context(|| {
        format!(
            "cannot listen on the IPC socket {} (use --ipc-socket to pick another path)",
            ipc_path.display()
        )
    })?;
    // Container sandboxes run as users of their own; process sandboxes as the daemon's user,
    // the socket's owner.
    if let Some(group) = sandbox_group {
        ipc.grant(group).with_context(|| {
            format!(
                "cannot give the sandboxes' group ({group}) access to the IPC socket {}",
                ipc_path.display()
            )
        })?;
    }

    let components = crate::components::start(
        &args, &data_dir, &store, &control, &router, &tokens, &ipc_path,
    )
    .await?;

    tracing::info!(data_dir = %data_dir.display(), functions = control.function_names().len(), "lambdalet started");
    tracing::info!("listening on http://{addr}");

    let connections = Arc::new(ConnectionStats::default());
    let triggers = lambdalet_core::TriggerSources::default();
    if let Some(l) = &s3_listener {
        l.add_triggers(&triggers, &store, &data_dir);
    }
    let state = ApiState::new(ApiParts {
        control: control.clone(),
        components: components.clone(),
        invoker: invoker.clone(),
        records: records.clone(),
        queue: queue.clone(),
        schedules: schedules.clone(),
        router: router.clone(),
        tokens: tokens.clone(),
        ipc_stats: Some(ipc.stats.clone()),
        auth,
        connections: connections.clone(),
        triggers,
    });
    let app = lambdalet_api::router(state);
    let config = ServerConfig {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_secs(args.header_timeout),
        keepalive_timeout: Duration::from_secs(args.keepalive_timeout),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let s3_server = match s3_listener {
        Some(l) => Some(l.start(
            &args,
            &data_dir,
            &store,
            &queue,
            &control,
            config.clone(),
            stop_rx.clone(),
        )?),
        None => None,
    };
    let url_server = match url_listener {
        Some(l) => Some(crate::urls::start(
            l,
            &control,
            &invoker,
            config.clone(),
            stop_rx.clone(),
        )?),
        None => None,
    };
    let server = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        Server::new(listener, app, config)
            .with_stats(connections)
            .on_connection(lambdalet_api::ConnectionInfo::hook())
            .serve(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await;
    });

    if with_examples {
        examples::deploy_all(&control, &data_dir).await;
        let layer = crate::example_background::layer_path(args.example_layer.clone());
        let s3_root = s3_addr.map(|_| data_dir.join("s3"));
        match crate::example_background::deploy(
            &control,
            &store,
            &data_dir,
            s3_root.as_deref(),
            layer.as_deref(),
        )
        .await
        {
            Ok(()) => tracing::info!(
                function = crate::example_background::FUNCTION,
                "example deployed"
            ),
            Err(e) => tracing::warn!(
                function = crate::example_background::FUNCTION,
                "example not deployed: {e:#}"
            ),
        }
        examples::banner(
            addr,
            &data_dir,
            &control,
            mqtt_banner.as_deref(),
            s3_addr,
            args.log_format,
        );
    }

    let firing = schedules.start();
    let watchdog = systemd::ready(
        &store,
        &format!(
            "serving {} functions on http://{addr}",
            control.function_names().len()
        ),
    );

    wait_for_signal().await?;
    systemd::stopping(watchdog);
    tracing::info!(
        "shutting down: no new requests; waiting up to {}s for invocations",
        args.shutdown_grace
    );
    let grace = Duration::from_secs(args.shutdown_grace);
    let _ = stop_tx.send(true);
    // No new fires, then no new events.
    schedules.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), firing).await;
    queue.close();
    components.shutdown().await;
    invoker.shutdown(grace).await;
    if tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .is_err()
    {
        tracing::warn!("API connections did not close in time");
    }
    if let Some(s3) = s3_server
        && tokio::time::timeout(Duration::from_secs(5), s3)
            .await
            .is_err()
    {
        tracing::warn!("S3 connections did not close in time");
    }
    if let Some(urls) = url_server
        && tokio::time::timeout(Duration::from_secs(5), urls)
            .await
            .is_err()
    {
        tracing::warn!("function URL connections did not close in time");
    }
    let (records2, store2) = (records.clone(), store.clone());
    tokio::task::spawn_blocking(move || {
        queue_store.flush();
        records2.flush();
        if let Err(e) = store2.checkpoint() {
            tracing::warn!(error = %e, "cannot checkpoint the state database");
        }
    })
    .await?;
    tracing::info!("lambdalet stopped");
    Ok(())
}

/// `--auth`, or its default for `--listen`; refuses a signed-only API nobody can call.
fn auth_mode(
    args: &ServeArgs,
    control: &Control,
    data_dir: &std::path::Path,
) -> anyhow::Result<lambdalet_api::AuthMode> {
    use lambdalet_api::AuthMode;
    let loopback = args.listen.ip().is_loopback();
    let mode = match args.auth.as_deref() {
        Some("none") => AuthMode::None,
        Some(_) => AuthMode::SigV4,
        None if loopback => AuthMode::None,
        None => AuthMode::SigV4,
    };
    match mode {
        AuthMode::SigV4 if !control.has_admin_key() => bail!(
            "--listen {} {}, so every request must be signed with an access key, and this data directory has none yet: stop here, run `lambdalet keys create --data-dir {}`, then start again (or pass --auth none to take unsigned requests, which lets anyone who reaches the port manage every function)",
            args.listen,
            if loopback {
                "was given --auth sigv4"
            } else {
                "is reachable from other machines"
            },
            data_dir.display()
        ),
        AuthMode::SigV4 => tracing::info!("API requests must be signed (--auth sigv4)"),
        AuthMode::None if !loopback => tracing::warn!(
            "--auth none on {}: anyone who reaches this address can create, invoke and delete functions; use --auth sigv4 with keys from `lambdalet keys create` on a network",
            args.listen
        ),
        AuthMode::None => tracing::info!(
            "API requests from this host need no signature (--auth none, the loopback default); sandboxes get their function's rights"
        ),
    }
    Ok(mode)
}

/// The memory lambdalet plans for and what follows from it (with `--max-concurrency` in place
/// of its default when given), logged so a person can see why a small device gets small
/// defaults.
fn budget(args: &ServeArgs) -> Budget {
    let (memory, from) = match (args.memory, resources::detect_memory()) {
        (Some(m), _) => (m, "--memory"),
        (None, Some(m)) => (m, "this machine"),
        (None, None) => (
            32 << 30,
            "a server's default (the machine's memory cannot be read)",
        ),
    };
    let mut b = Budget::for_memory(memory);
    if let Some(n) = args.max_concurrency {
        b.max_concurrency = n as usize;
    }
    tracing::info!(
        "memory: {} MB ({from}); max concurrency {}, queued payloads in memory {} MB, broker clients {}",
        memory >> 20,
        b.max_concurrency,
        b.queue_cache_bytes >> 20,
        b.broker_connections,
    );
    b
}

/// For `up`: a broker that already serves the address the embedded one would take (say a
/// Mosquitto installed as a system service), which `up` then uses rather than failing.
fn existing_broker(listen: &str) -> Option<std::net::SocketAddr> {
    let addr: std::net::SocketAddr = listen.parse().ok()?;
    match std::net::TcpListener::bind(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
            Some(addr)
        }
        _ => None,
    }
}

/// The client id for a remote broker: `--mqtt-client-id`, else one made on first use
/// (unique, so two devices never take over each other's session) and kept, so the session
/// survives restarts.
fn mqtt_client_id(args: &ServeArgs, store: &Store) -> anyhow::Result<String> {
    if let Some(id) = &args.mqtt_client_id {
        anyhow::ensure!(
            !id.is_empty() && id.len() <= 128,
            "--mqtt-client-id must be 1 to 128 characters"
        );
        return Ok(id.clone());
    }
    if let Some(id) = store.setting("mqttClientId")? {
        return Ok(id);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let suffix = &lambdalet_core::ids::new_request_id().replace('-', "")[..6];
    let id = if host.is_empty() {
        format!("lambdalet-{suffix}")
    } else {
        format!("lambdalet-{host}-{suffix}")
    };
    store.put_setting("mqttClientId", &id)?;
    tracing::info!(client_id = %id, "MQTT client id chosen (set --mqtt-client-id to pick your own)");
    Ok(id)
}

/// The MQTT side: a remote broker when `--mqtt-remote` is given, else the embedded broker
/// unless `--mqtt-listen off` (its clients may log in with `control`'s access keys).
fn start_mqtt(
    args: &ServeArgs,
    budget: &Budget,
    store: &Store,
    up: bool,
    control: &Arc<Control>,
) -> anyhow::Result<Option<(Mqtt, lambdalet_events::mqtt::Incoming)>> {
    let mut remote = args.mqtt_remote.clone();
    if up && remote.is_none() {
        remote = existing_broker(&args.mqtt_listen).map(|addr| {
            tracing::warn!(
                "an MQTT broker already listens on {addr}: `up` uses it instead of starting its own (--mqtt-listen picks another address for the embedded one)"
            );
            format!("mqtt://{addr}")
        });
    }
    if let Some(url) = &remote {
        if url.starts_with("mqtts://") {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let settings = RemoteSettings {
            url: url.clone(),
            client_id: mqtt_client_id(args, store)?,
            username: args.mqtt_username.clone(),
            password: args.mqtt_password.clone(),
            tls: RemoteTls {
                ca: args.mqtt_ca.clone(),
                cert: args.mqtt_cert.clone(),
                key: args.mqtt_key.clone(),
            },
            max_payload: args.max_message_size,
        };
        let (broker, incoming) = RemoteBroker::start(&settings)?;
        return Ok(Some((Mqtt::Remote(broker), incoming)));
    }
    crate::broker::start(args, budget, control)
}

fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d);
    }
    let base = dirs::data_dir().context(
        "cannot find a per-user data directory (is HOME set?): pass --data-dir or set LAMBDALET_DATA_DIR",
    )?;
    Ok(base.join("lambdalet"))
}

/// Returns at the first SIGINT or SIGTERM; a second one exits at once.
async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    Ok(())
}

/// `--interpreter-path`: absolute directories, `:`-separated.
fn interpreter_search(path: Option<&str>) -> anyhow::Result<InterpreterSearch> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Ok(InterpreterSearch::Default);
    };
    let dirs: Vec<PathBuf> = path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    if let Some(bad) = dirs.iter().find(|d| !d.is_absolute()) {
        bail!(
            "--interpreter-path {}: give absolute directories (`:`-separated)",
            bad.display()
        );
    }
    Ok(InterpreterSearch::Only(dirs))
}
