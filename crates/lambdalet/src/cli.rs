//! The command line: every subcommand, flag and environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--help` headings of the two MQTT brokers' flags.
const EMBEDDED: &str = "Embedded MQTT broker (--mqtt-listen)";
const REMOTE: &str = "Remote MQTT broker (--mqtt-remote, instead of the embedded one)";

/// Run AWS Lambda functions on your own machines.
///
/// lambdalet serves the AWS Lambda Invoke and management APIs (use the AWS CLI or boto3 with
/// --endpoint-url) and runs functions through the Lambda Runtime API, unmodified.
#[derive(Debug, Parser)]
#[command(name = "lambdalet", version, propagate_version = true)]
pub struct Cli {
    /// URL of the lambdalet daemon the client commands talk to.
    #[arg(
        long,
        global = true,
        env = "LAMBDALET_ENDPOINT",
        default_value = "http://127.0.0.1:9001"
    )]
    pub endpoint: String,

    /// How client commands print what the daemon answers: json (the API's JSON), table
    /// (aligned columns under a header row) or text (tab-separated values, one line per item,
    /// no header) [default: each command's own human-readable form].
    #[arg(long, global = true, env = "LAMBDALET_OUTPUT", value_enum)]
    pub output: Option<crate::client::output::Format>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the Lambda APIs on --listen, S3 on --s3-listen, function URLs on
    /// --url-listen, state in --data-dir.
    Serve(ServeArgs),
    /// Run the daemon with the example functions deployed: the first command to try.
    Up(ServeArgs),
    /// Create or update a function from a directory or a zip.
    Deploy(DeployArgs),
    /// Invoke a function and print its response (exit code 1 if the function failed).
    Invoke(InvokeArgs),
    /// List, show or delete functions.
    Functions(FunctionsArgs),
    /// Show recent invocation logs of a function (START, output, END, REPORT).
    Logs(LogsArgs),
    /// Show asynchronous events: pending, in flight and failed, per function.
    Queue(QueueArgs),
    /// Watch functions live: invocation rates, errors, durations, sandboxes (q quits).
    Top(crate::client::top::TopArgs),
    /// Publish a message on a local topic (or on MQTT with --mqtt).
    Publish(PublishArgs),
    /// Print the messages on topics matching a filter (local, or MQTT with --mqtt) as they come.
    Subscribe(SubscribeArgs),
    /// Show the legacy subscriptions (Greengrass V1 routing), or set them from a JSON file.
    Subscriptions(SubscriptionsArgs),
    /// Create, list or delete access keys (AWS-style credentials for the Lambda API).
    Keys(crate::client::keys::KeysArgs),
    /// Publish, list or delete Lambda layers (files functions share, merged at /opt).
    Layers(crate::client::layers::LayersArgs),
    /// Deploy Greengrass components from recipes and artifacts (the Greengrass CLI's
    /// `deployment create|list|status`, same flags).
    Deployment(crate::client::deployment::DeploymentArgs),
    /// List, inspect, restart or stop deployed Greengrass components.
    Component(crate::client::component::ComponentArgs),
    /// Load, list or remove container images (docker save or OCI layout tarballs).
    Image(crate::client::image::ImageArgs),
    /// List schedules (EventBridge Scheduler's, made with `aws scheduler`) and when each
    /// fires next.
    Schedule(crate::client::schedule::ScheduleArgs),
    /// List the runtimes, the interpreter each runs on and the AWS SDK it provides; install
    /// the SDKs (`install-sdk`).
    Runtimes(crate::client::runtimes::RuntimesArgs),
    /// Print the shell completion script for bash, zsh or fish (e.g. `lambdalet completions
    /// bash > /etc/bash_completion.d/lambdalet`).
    Completions(crate::manuals::CompletionsArgs),
    /// Install lambdalet as a systemd service: this binary in /usr/local/bin, the unit, the
    /// settings in /etc/lambdalet/config.toml, the `lambdalet` system user, then start it
    /// (`sudo lambdalet install --systemd`; the .deb does the same).
    Install(crate::install::InstallArgs),
    /// Write a man page for lambdalet and each of its commands (lambdalet.1,
    /// lambdalet-deploy.1, ...) and print their paths.
    Man(crate::manuals::ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Read settings from this TOML file: every flag of this command by its long name
    /// without the dashes (e.g. `max-concurrency = 8`, `trust-services = true`). A flag on the
    /// command line wins over its environment variable, which wins over the file [default:
    /// /etc/lambdalet/config.toml when it exists].
    #[arg(long, env = "LAMBDALET_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address of the Lambda API (use port 0 for any free port).
    #[arg(long, env = "LAMBDALET_LISTEN", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,

    /// How API requests are authenticated: `sigv4` (every request signed with a key from
    /// `lambdalet keys create`, as the AWS CLI and SDKs do) or `none` (unsigned requests act
    /// as an administrator). Requests from a sandbox get their function's rights either way
    /// [default: sigv4 when --listen is not a loopback address, none on loopback].
    #[arg(long, env = "LAMBDALET_AUTH", value_parser = ["sigv4", "none"])]
    pub auth: Option<String>,

    /// Where functions, code and logs are kept [default: the per-user data directory,
    /// e.g. ~/.local/share/lambdalet].
    #[arg(long, env = "LAMBDALET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Region shown in ARNs and given to functions as AWS_REGION.
    #[arg(long, env = "LAMBDALET_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Account id shown in ARNs (12 digits).
    #[arg(long, env = "LAMBDALET_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// Seconds in-flight invocations get to finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Most sandboxes alive at once over all functions; beyond it invocations queue
    /// [default: from --memory: one per 24 MB beyond 96 MB, 2 to 1000; 17 on a 512 MB device].
    #[arg(long, env = "LAMBDALET_MAX_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: Option<u32>,

    /// Memory lambdalet plans for: the defaults of --max-concurrency, of the async queue's
    /// payloads kept in memory and of the embedded broker's buffers follow from it (K, M or G)
    /// [default: the machine's memory, or its cgroup's limit when lower].
    #[arg(long, env = "LAMBDALET_MEMORY", value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// Most API connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, env = "LAMBDALET_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Seconds a client has to send a request's line and headers (from the connection's start
    /// for its first request, from the request's first byte after that).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,

    /// Seconds an API connection may stay open after a response without a new request.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub keepalive_timeout: u64,

    /// Seconds to wait before each retry of an asynchronous event after a function error
    /// (Lambda waits 1 minute, then 2).
    #[arg(
        long,
        env = "LAMBDALET_ASYNC_RETRY_DELAYS",
        value_delimiter = ',',
        default_value = "60,120"
    )]
    pub async_retry_delays: Vec<u64>,

    /// Address of the embedded MQTT broker (IOT_CORE topics), or `off`.
    #[arg(
        long,
        env = "LAMBDALET_MQTT_LISTEN",
        default_value = crate::broker::DEFAULT_LISTEN,
        help_heading = EMBEDDED
    )]
    pub mqtt_listen: String,

    /// Who may connect to the embedded broker [default: keys, or none when --mqtt-listen is a
    /// loopback address].
    #[arg(long, env = "LAMBDALET_MQTT_AUTH", value_enum, help_heading = EMBEDDED)]
    pub mqtt_auth: Option<MqttAuth>,

    /// Serve MQTT over TLS (mqtts://) with this certificate (PEM, then any intermediates);
    /// needs --mqtt-tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "mqtt_tls_key",
        conflicts_with = "mqtt_remote",
        help_heading = EMBEDDED
    )]
    pub mqtt_tls_cert: Option<PathBuf>,

    /// The private key of --mqtt-tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "mqtt_tls_cert", help_heading = EMBEDDED)]
    pub mqtt_tls_key: Option<PathBuf>,

    /// Require every client to present a certificate signed by this CA (PEM); such a client
    /// needs no username and password. Needs --mqtt-tls-cert.
    #[arg(long, value_name = "FILE", requires = "mqtt_tls_cert", help_heading = EMBEDDED)]
    pub mqtt_client_ca: Option<PathBuf>,

    /// Bytes per second each MQTT client may send to the embedded broker (0: unlimited); a
    /// client that floods is slowed down, the others are not.
    #[arg(long, default_value_t = 1024 * 1024, help_heading = EMBEDDED)]
    pub mqtt_client_rate: u64,

    /// Use this MQTT broker instead of the embedded one: mqtt://host:1883 or
    /// mqtts://host:8883 (AWS IoT Core: your ATS endpoint with --mqtt-cert and --mqtt-key).
    #[arg(long, env = "LAMBDALET_MQTT_REMOTE", help_heading = REMOTE)]
    pub mqtt_remote: Option<String>,

    /// Client id for the remote broker; the broker keeps lambdalet's persistent session under
    /// it, and disconnects another client using the same id [default: `lambdalet-HOST-XXXXXX`,
    /// made once and kept in the data directory].
    #[arg(long, env = "LAMBDALET_MQTT_CLIENT_ID", help_heading = REMOTE)]
    pub mqtt_client_id: Option<String>,

    /// Username lambdalet logs in to the remote broker with.
    #[arg(long, env = "LAMBDALET_MQTT_USERNAME", help_heading = REMOTE)]
    pub mqtt_username: Option<String>,

    /// Password lambdalet logs in to the remote broker with.
    #[arg(
        long,
        env = "LAMBDALET_MQTT_PASSWORD",
        hide_env_values = true,
        help_heading = REMOTE
    )]
    pub mqtt_password: Option<String>,

    /// CA certificate (PEM) to trust for mqtts:// [default: the host's CA bundle].
    #[arg(long, help_heading = REMOTE)]
    pub mqtt_ca: Option<PathBuf>,

    /// Client certificate (PEM) lambdalet presents to the remote broker for mqtts://.
    #[arg(long, help_heading = REMOTE)]
    pub mqtt_cert: Option<PathBuf>,

    /// Private key (PEM) of --mqtt-cert.
    #[arg(long, help_heading = REMOTE)]
    pub mqtt_key: Option<PathBuf>,

    /// Largest message on a topic (local pub/sub, MQTT, IPC), in bytes (Greengrass: 128 KB).
    #[arg(long, default_value_t = 128 * 1024)]
    pub max_message_size: usize,

    /// What a function (or a Greengrass Lambda component) whose runtime's interpreter is not
    /// installed gets, say python3.12 on a host with Python 3.11 and 3.13: `none` refuses it at
    /// deploy (and fails its invocations), naming what to install; `nearest` runs it on the
    /// nearest newer installed version of the same language (Python 3.13; never an older one),
    /// says so in the deploy answer, GetFunction and `component details`, and logs a warning.
    #[arg(long, env = "LAMBDALET_RUNTIME_FALLBACK", default_value = "none", value_parser = ["none", "nearest"])]
    pub runtime_fallback: String,

    /// Look for the runtimes' interpreters (python3.X, python3, node) only in these
    /// directories, `:`-separated, in order [default: PATH, then pyenv, asdf, mise, uv and nvm
    /// installations, /usr/local/bin, /usr/bin, /opt/python*/bin, /opt/node*/bin].
    #[arg(long, env = "LAMBDALET_INTERPRETER_PATH", value_name = "DIR[:DIR...]")]
    pub interpreter_path: Option<String>,

    /// The device's thing name, `{iot:thingName}` in recipes and AWS_IOT_THING_NAME in
    /// components [default: the host name].
    #[arg(long, env = "LAMBDALET_THING_NAME", default_value_t = default_thing_name())]
    pub thing_name: String,

    /// Address of the embedded S3 endpoint (buckets in DATA_DIR/s3; `aws s3 --endpoint-url`,
    /// boto3, bucket notifications that invoke functions), or `off`. Signed requests are
    /// required beyond loopback, as for the Lambda API (--auth).
    #[arg(long, env = "LAMBDALET_S3_LISTEN", default_value = crate::s3::DEFAULT_LISTEN)]
    pub s3_listen: String,

    /// Address of the function URL listener (plain HTTP; `aws lambda
    /// create-function-url-config` gives each URL `http://<url-id>.lambda-url.<region>.localhost:<port>/`,
    /// also reachable as `/url/<url-id>/` on this address), or `off`.
    #[arg(long, env = "LAMBDALET_URL_LISTEN", default_value = "127.0.0.1:9003")]
    pub url_listen: String,

    /// A domain for virtual-hosted-style S3 requests (`BUCKET.DOMAIN`), besides `localhost`.
    #[arg(long, env = "LAMBDALET_S3_DOMAIN")]
    pub s3_domain: Option<String>,

    /// Let bucket notifications and schedules invoke any function of this node, without a
    /// grant in the function's resource-based policy [default: they need one, as on AWS:
    /// `aws lambda add-permission --principal s3.amazonaws.com --source-arn
    /// arn:aws:s3:::BUCKET ...` for a bucket, `--principal scheduler.amazonaws.com
    /// --source-arn SCHEDULE_ARN` for a schedule]. Only for a node where everyone who may
    /// configure a bucket or a schedule may also invoke every function (docs/security.md).
    #[arg(long, env = "LAMBDALET_TRUST_SERVICES")]
    pub trust_services: bool,

    /// No longer needed: bucket notifications need the function's permission by default
    /// (see --trust-services). Accepted so that scripts written for earlier versions run.
    #[arg(
        long,
        env = "LAMBDALET_S3_REQUIRE_PERMISSION",
        hide = true,
        conflicts_with = "trust_services"
    )]
    pub s3_require_permission: bool,

    /// The most a container image may unpack to, all layers together, in bytes or with a
    /// suffix (K, M, G; powers of 1024) [Lambda's limit: 10G].
    #[arg(long, env = "LAMBDALET_MAX_IMAGE_SIZE", value_name = "SIZE", default_value = "10G", value_parser = parse_size)]
    pub max_image_size: u64,

    /// `up` only: the OpenCV layer of the background-removal example (built by
    /// examples/remove-background/build-layer.sh) [default:
    /// examples/remove-background/build/layer.zip if it exists].
    #[arg(long, env = "LAMBDALET_EXAMPLE_LAYER")]
    pub example_layer: Option<PathBuf>,

    /// Path of the Greengrass IPC socket [default: DATA_DIR/ipc.socket].
    #[arg(long, env = "LAMBDALET_IPC_SOCKET")]
    pub ipc_socket: Option<PathBuf>,

    /// Sandbox for functions that do not choose one (`deploy --sandbox`, Greengrass
    /// containerMode): `container` gives each sandbox its own namespaces, root filesystem and
    /// /tmp, an unprivileged user, seccomp and cgroup limits; `process` runs the runtime as a
    /// child process of the daemon, with cgroup limits only. Where this host cannot run
    /// containers (not root, no namespaces, no memory/pids cgroup controllers) functions run as
    /// processes and the daemon says why.
    #[arg(long, env = "LAMBDALET_SANDBOX", default_value = "container", value_parser = ["container", "process"])]
    pub sandbox: String,

    /// Start Python functions' sandboxes from a zygote: a runtime per function version that
    /// has imported the handler once (Init) and forks for each cold start, which then costs a
    /// few milliseconds instead of the interpreter's start and the imports. Off by default
    /// because, as with Lambda SnapStart, what Init computed is the same in every sandbox
    /// (an id made with uuid4() at import; `random` is reseeded). Process sandboxes only, for
    /// now; a function overrides this with LAMBDALET_ZYGOTE=on|off. A version whose Init
    /// starts threads or leaves descriptors open starts the plain way.
    #[arg(long, env = "LAMBDALET_ZYGOTE", default_value = "off", value_parser = ["on", "off"])]
    pub zygote: String,

    /// Keep one sandbox of each version that has been invoked started and initialized beyond
    /// the busy ones, so the next invocation that needs a new sandbox (a burst, the return
    /// after idle) takes it instead of starting one. Any runtime, either sandbox; each costs
    /// the memory of an idle sandbox. A function overrides this with LAMBDALET_PRESTART=on|off.
    #[arg(long, env = "LAMBDALET_PRESTART", default_value = "off", value_parser = ["on", "off"])]
    pub prestart: String,

    /// Run every container sandbox as this user (a name or a uid, optionally :GROUP) instead
    /// of giving each function a uid of its own.
    #[arg(long, env = "LAMBDALET_SANDBOX_USER", value_name = "USER[:GROUP]")]
    pub sandbox_user: Option<String>,

    /// First uid (and gid) of the per-function range: a function's container sandboxes run as
    /// this plus the function's number, given at creation and never reused.
    #[arg(long, env = "LAMBDALET_SANDBOX_UID_BASE", default_value_t = lambdalet_invoker::DEFAULT_UID_BASE)]
    pub sandbox_uid_base: u32,

    /// Form of the daemon's log lines on stderr: `text` for a person, `json` for a log
    /// collector (one JSON object per line: timestamp, level, target, fields with the message).
    /// RUST_LOG filters either.
    #[arg(long, env = "LAMBDALET_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,

    /// Send a trace of every invocation (spans invoke, queue, init, runtime) to this
    /// OpenTelemetry collector, over OTLP/HTTP (e.g. http://127.0.0.1:4318). Functions get
    /// `_X_AMZN_TRACE_ID` with the runtime span as parent, so their own X-Ray or OpenTelemetry
    /// SDK continues the trace. Off by default; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and
    /// OTEL_EXPORTER_OTLP_ENDPOINT are read when this is not given.
    #[arg(long, env = "LAMBDALET_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// `service.name` of the traces' resource.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "lambdalet")]
    pub otlp_service_name: String,
}

/// Who may connect to the embedded MQTT broker (`--mqtt-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MqttAuth {
    /// Clients that log in with a lambdalet access key (MQTT username: the access key id,
    /// password: the secret access key), or present a certificate of --mqtt-client-ca.
    Keys,
    /// Anyone who reaches --mqtt-listen (still only with a certificate under --mqtt-client-ca).
    None,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A directory (zipped for you) or a .zip file with the function's code (not with --image).
    #[arg(required_unless_present = "image", conflicts_with = "image")]
    pub path: Option<PathBuf>,
    /// Deploy a container image function (PackageType Image) instead: FILE is a `docker save`
    /// or OCI image layout tarball, loaded first (as `lambdalet image load` does); or the name
    /// or id of an image already loaded. Runs in a container sandbox.
    #[arg(long, value_name = "FILE|IMAGE", conflicts_with_all = ["runtime", "handler", "layer"])]
    pub image: Option<String>,
    /// With --image: replace the image's CMD (ImageConfig.Command; repeat for each word).
    #[arg(long, value_name = "WORD", requires = "image")]
    pub image_command: Vec<String>,
    /// With --image: replace the image's ENTRYPOINT (ImageConfig.EntryPoint; repeat for each word).
    #[arg(long, value_name = "WORD", requires = "image")]
    pub image_entrypoint: Vec<String>,
    /// With --image: replace the image's WORKDIR (ImageConfig.WorkingDirectory).
    #[arg(long, value_name = "DIR", requires = "image")]
    pub image_workdir: Option<String>,
    /// Function name (created if it does not exist, updated otherwise).
    #[arg(long)]
    pub name: String,
    /// Runtime: python3.8-3.13, nodejs16.x-22.x, provided, provided.al2, provided.al2023
    /// [default on create: guessed from the files].
    #[arg(long)]
    pub runtime: Option<String>,
    /// Handler, e.g. app.handler (Python), index.handler (Node.js) [default on create: guessed].
    #[arg(long)]
    pub handler: Option<String>,
    /// Timeout in seconds (1-900) [default on create: 3].
    #[arg(long)]
    pub timeout: Option<u32>,
    /// Memory in MB (128-10240) [default on create: 128].
    #[arg(long)]
    pub memory: Option<u32>,
    /// Environment variable KEY=VALUE (repeatable; replaces all variables when given).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Description of the function.
    #[arg(long)]
    pub description: Option<String>,
    /// Also publish a new version.
    #[arg(long)]
    pub publish: bool,
    /// Long-lived: one sandbox started at deploy, events run one at a time in order
    /// (`--pinned` or `--pinned=false`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pinned: Option<bool>,
    /// Most sandboxes at once (Greengrass maxInstancesCount) [default on create: 100].
    #[arg(long, value_name = "N")]
    pub max_instances: Option<i64>,
    /// Invocations that may wait for a sandbox; more get 429 (maxQueueSize) [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_queue: Option<i64>,
    /// Seconds an idle sandbox is kept (maxIdleTimeInSeconds) [default: 60].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<i64>,
    /// Seconds a pinned runtime may take to come back after an invocation before it is
    /// restarted (statusTimeoutInSeconds) [default: 60].
    #[arg(long, value_name = "SECS")]
    pub status_timeout: Option<i64>,
    /// json: events must be JSON; binary: raw bytes reach the handler (inputPayloadEncodingType).
    #[arg(long, value_parser = ["json", "binary"])]
    pub encoding: Option<String>,
    /// Invoke the function for MQTT messages on this topic filter (IOT_CORE; repeatable;
    /// replaces the function's topic subscriptions when any --subscribe* is given).
    #[arg(long = "subscribe", value_name = "FILTER")]
    pub subscribe: Vec<String>,
    /// Invoke the function for local pub/sub messages on this topic filter (PUB_SUB; repeatable).
    #[arg(long = "subscribe-local", value_name = "FILTER")]
    pub subscribe_local: Vec<String>,
    /// Greengrass IPC authorization policies (accessControl), as a JSON file; a
    /// `lambdalet.lambda` policy also limits which functions it may invoke.
    #[arg(long, value_name = "FILE")]
    pub access_control: Option<PathBuf>,
    /// Let the function's own credentials (and requests from its sandboxes) manage functions,
    /// as an administrator's key can (`--allow-management` or `--allow-management=false`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub allow_management: Option<bool>,
    /// Let the function use only this bucket of the embedded S3 endpoint (repeatable; other
    /// buckets answer AccessDenied) [default: every bucket, as a role with S3 access].
    #[arg(long = "allow-bucket", value_name = "BUCKET")]
    pub allow_bucket: Vec<String>,
    /// Run in a `container` sandbox (Greengrass GreengrassContainer) or as a `process`
    /// (NoContainer) [default on create: the daemon's --sandbox].
    #[arg(long, value_parser = ["container", "process"])]
    pub sandbox: Option<String>,
    /// Show a host directory or file in the container: SRC:DST[:ro|rw] (ro by default;
    /// repeatable; replaces the volumes when given). Add :group to add the source's group to
    /// the function's groups (Greengrass addGroupOwner), e.g. /srv/data:/data:rw:group.
    #[arg(long = "volume", value_name = "SRC:DST[:ro|rw]")]
    pub volume: Vec<String>,
    /// Let the container use a host device: PATH[:ro|rw][:group] (repeatable; replaces the
    /// devices when given).
    #[arg(long = "device", value_name = "PATH[:ro|rw]")]
    pub device: Vec<String>,
    /// `host` (the default: the host's network) or `none` (loopback only; the Runtime API still
    /// works).
    #[arg(long, value_parser = ["host", "none"])]
    pub network: Option<String>,
    /// Mount /sys read-only in the container (Greengrass mountROSysfs).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub mount_ro_sysfs: Option<bool>,
    /// Container memory in KB (Greengrass containerParams.memorySize) [default: --memory].
    #[arg(long, value_name = "KB")]
    pub container_memory: Option<u64>,
    #[command(flatten)]
    pub layers: crate::client::layers::LayerFlags,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Function name, NAME:QUALIFIER or ARN.
    pub name: String,
    /// Event: JSON text, or @FILE to read it from a file (@- for stdin).
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Version or alias to invoke.
    #[arg(long)]
    pub qualifier: Option<String>,
    /// Print the invocation's log (last 4 KB) to stderr.
    #[arg(long)]
    pub log: bool,
    /// Queue the event and return at once (invocation type Event); prints the request id.
    #[arg(long = "async", conflicts_with = "log")]
    pub asynchronous: bool,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Show this function's failed events (their request ids and errors).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct FunctionsArgs {
    #[command(subcommand)]
    pub action: Option<FunctionsAction>,
}

#[derive(Debug, Subcommand)]
pub enum FunctionsAction {
    /// List functions (the default).
    List,
    /// Show a function's configuration as JSON (`--output json`: the whole GetFunction answer).
    Get { name: String },
    /// Delete a function (or one version with NAME:VERSION).
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Function name.
    pub name: String,
    /// How many recent invocations to show.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Keep waiting for new invocations and print them as they come.
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Topic, e.g. sensors/t1 (no wildcards).
    pub topic: String,
    /// The message: text, or @FILE (@- for stdin).
    pub payload: String,
    /// Publish on the MQTT broker (IOT_CORE) instead of the local bus (PUB_SUB).
    #[arg(long)]
    pub mqtt: bool,
    /// MQTT quality of service (0 or 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// Topic filter, e.g. sensors/# or devices/+/status.
    pub filter: String,
    /// Subscribe on the MQTT broker (IOT_CORE) instead of the local bus (PUB_SUB).
    #[arg(long)]
    pub mqtt: bool,
    /// Print one JSON object per message instead of `topic payload` lines: the same as
    /// `--output json`, kept for scripts written before it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SubscriptionsArgs {
    /// A JSON file with Greengrass's {"subscriptions": {...}}; replaces the current ones.
    #[arg(long)]
    pub set: Option<PathBuf>,
}

/// The host name, the default thing name.
fn default_thing_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "lambdalet".to_owned())
}

/// `10G`, `512M`, `64K` or a number of bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.trim().char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.trim().split_at(i),
        None => (s.trim(), ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size: give bytes or a number with K, M or G"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        other => return Err(format!("unknown size unit {other:?}: use K, M or G")),
    };
    n.checked_mul(1 << shift)
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("{s:?} is not a usable size"))
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn sizes_take_units() {
        assert_eq!(super::parse_size("10G"), Ok(10 << 30));
        assert_eq!(super::parse_size("512m"), Ok(512 << 20));
        assert_eq!(super::parse_size("4096"), Ok(4096));
        assert!(super::parse_size("0").is_err());
        assert!(super::parse_size("ten").is_err());
        assert!(super::parse_size("3T").is_err());
    }
}
