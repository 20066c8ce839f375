//! MQTT message → function invocation → MQTT reply, against a plain MQTT round trip through the
//! same broker.
//!
//! A daemon of its own (the one the other benchmarks used has grown from their load) runs its
//! embedded MQTT broker on a free port. The bench's MQTT client (rumqttc, see `mqtt_client`)
//! publishes `{"seq":N}` and waits for the reply carrying N:
//!
//! - **greengrasssdk, pinned**: a pinned Python function subscribed to the input topic
//!   (`pubsubTopics`, IOT_CORE: each message becomes an asynchronous invocation through the
//!   durable queue) that republishes its event with `greengrasssdk.client("iot-data").publish`
//!   (the Greengrass V1 SDK, vendored into the zip from PyPI as the tests do); a legacy
//!   subscription routes that topic to `cloud`, i.e. MQTT.
//! - **destination, pinned**: a pinned no-op Python function whose on-success destination is
//!   `mqtt:TOPIC`: the reply is Lambda's destination record, with the message as its
//!   `requestPayload`. No SDK in the function.
//! - **greengrasssdk, on demand**: the first function's code deployed on demand with
//!   `maxInstancesCount` 4.
//!
//! Baseline, same broker, same probe: a second MQTT client subscribed to the input topic that
//! republishes each message to the reply topic (an echo, the function's job done by a plain
//! client), and the one-way latency (the probe publishing to a topic it subscribes to). Each is
//! measured with one message in flight (latency) and with a burst of K messages (2 000, 300
//! with `--quick`) all in flight. When Mosquitto is installed, the broker alone is also
//! compared with it (same probe and echo).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rumqttc::QoS;
use serde_json::json;

use crate::api;
use crate::args::Args;
use crate::daemon::Daemon;
use crate::mqtt_client::{Burst, Echo, Probe, Serial, qos_name};
use crate::proc::{self, ChildGuard, CpuSnapshot};
use crate::report::{Report, Row, Target, Unit};
use crate::stats::{median, percentile};
use crate::zips;

const SECTION_GG: &str = "MQTT message -> pinned python3.11 function, reply published with greengrasssdk (baseline: an echo MQTT client through the same embedded broker)";
const SECTION_DEST: &str = "MQTT message -> pinned python3.11 no-op, reply = its on-success destination mqtt:TOPIC (baseline: the echo client)";
const SECTION_OD: &str = "MQTT message -> on-demand python3.11 function (maxInstancesCount 4), greengrasssdk reply (baseline: the echo client)";
const SECTION_BROKER: &str =
    "MQTT broker alone, same client (baseline: Mosquitto 2 on the same host)";

const GG: &str = "bench-mqtt-gg";
const DEST: &str = "bench-mqtt-dest";
const OD: &str = "bench-mqtt-od";
const ACCOUNT_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";
/// How long one message may take before it counts as lost.
const LIMIT: Duration = Duration::from_secs(5);
/// A burst ends when no reply came for this long.
const IDLE: Duration = Duration::from_secs(10);

/// The function that replies with greengrasssdk.
fn gg_source(reply: &str) -> String {
    format!(
        "import json\n\nimport greengrasssdk\n\niot = greengrasssdk.client(\"iot-data\")\n\n\ndef handler(event, context):\n    iot.publish(topic=\"{reply}\", payload=json.dumps(event))\n"
    )
}

/// `greengrasssdk` (and its dependency cbor2) installed with pip: the tests' cache
/// (`target/test-cache/greengrasssdk`) if it is there, else the bench's own
/// (`target/bench-cache/greengrasssdk`), installed now with `python -m pip`.
fn greengrasssdk(root: &Path, python: &Path) -> anyhow::Result<PathBuf> {
    for dir in [
        "target/test-cache/greengrasssdk",
        "target/bench-cache/greengrasssdk",
    ] {
        let dir = root.join(dir);
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
    }
    let cache = root.join("target/bench-cache/greengrasssdk");
    let tmp = cache.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "mqtt: installing greengrasssdk from PyPI into {} (once)",
        cache.display()
    );
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&tmp)
        .arg("greengrasssdk")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} -m pip", python.display()))?;
    if !out.status.success() {
        bail!(
            "pip install greengrasssdk failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::write(tmp.join(".complete"), "")?;
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::rename(&tmp, &cache)?;
    Ok(cache)
}

/// Every file under `dir` as `(path inside the zip, contents, mode)`, without caches.
fn files_under(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>, u32)>> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            if name == "__pycache__" || name == ".complete" {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(dir)?.to_string_lossy().into_owned();
                out.push((
                    rel,
                    std::fs::read(&path)?,
                    meta.permissions().mode() & 0o777,
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn gg_zip(sdk: &Path, reply: &str) -> anyhow::Result<Vec<u8>> {
    let mut files = files_under(sdk)?;
    files.push(("app.py".to_owned(), gg_source(reply).into_bytes(), 0o644));
    let refs: Vec<(&str, &[u8], u32)> = files
        .iter()
        .map(|(n, d, m)| (n.as_str(), d.as_slice(), *m))
        .collect();
    zips::build(&refs)
}

fn subscribed(topic: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut config = json!({ "pubsubTopics": { "0": { "topic": topic, "type": "IOT_CORE" } } });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    config
}

/// Waits until a pinned function's sandbox is idle.
async fn wait_idle(addr: SocketAddr, function: &str) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    loop {
        if api::instances(addr, function).await?.idle >= 1 {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("{function}: no idle sandbox 20 s after CreateFunction");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the async queue holds nothing of `function` (for up to 30 s).
async fn wait_drained(addr: SocketAddr, function: &str) -> anyhow::Result<api::QueueDepth> {
    let mut conn = crate::client::Conn::connect(addr).await?;
    let t0 = Instant::now();
    loop {
        let q = api::queue_depth(&mut conn, function).await?;
        if (q.pending == 0 && q.in_flight == 0) || t0.elapsed() > Duration::from_secs(30) {
            return Ok(q);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `Duration: 1.23 ms` of the REPORT line in `log`.
pub fn report_duration_ms(log: &str) -> Option<f64> {
    let report = log.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let rest = &report[report.find("\tDuration: ")? + "\tDuration: ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Median handler duration (REPORT) of the newest records of `function`, ms.
async fn handler_ms(addr: SocketAddr, function: &str) -> Option<(f64, usize)> {
    let records = api::logs(addr, function, 1000, 0).await.ok()?;
    let mut d: Vec<f64> = records
        .iter()
        .filter_map(|r| report_duration_ms(&r.log))
        .collect();
    Some((median(&mut d)?, d.len()))
}

/// What a run cost in CPU: `[bench process, daemon, sandboxes]` seconds, and the daemon's
/// threads by name.
struct Cpu {
    total: [f64; 3],
    threads: Vec<(String, f64)>,
}

struct CpuMark {
    snap: CpuSnapshot,
    threads: std::collections::HashMap<String, f64>,
    pid: u32,
}

impl CpuMark {
    fn now(daemon: u32) -> Self {
        Self {
            snap: CpuSnapshot::take(daemon),
            threads: proc::thread_cpu(daemon),
            pid: daemon,
        }
    }

    fn since(&self) -> Cpu {
        let now = CpuSnapshot::take(self.pid);
        let mut threads: Vec<(String, f64)> = proc::thread_cpu(self.pid)
            .into_iter()
            .map(|(k, v)| {
                let before = self.threads.get(&k).copied().unwrap_or(0.0);
                (k, v - before)
            })
            .filter(|(_, v)| *v > 0.0)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        Cpu {
            total: now.since(&self.snap),
            threads,
        }
    }
}

impl Cpu {
    fn per_message(&self, n: usize) -> String {
        let per = |s: f64| s * 1e6 / n.max(1) as f64;
        let threads: Vec<String> = self
            .threads
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} {:.0}", per(*v)))
            .collect();
        format!(
            "bench process {:.0} µs, daemon {:.0} µs ({}), sandboxes {:.0} µs",
            per(self.total[0]),
            per(self.total[1]),
            threads.join(", "),
            per(self.total[2]),
        )
    }
}

/// One-way, echo and burst figures of a broker at one QoS.
struct BrokerFigures {
    oneway: Serial,
    echo: Serial,
    burst: Burst,
}

/// The plain-MQTT figures through `broker`: one-way, echo round trip and an echo burst.
async fn broker_figures(
    broker: SocketAddr,
    label: &str,
    qos: QoS,
    args: &Args,
    daemon: Option<u32>,
    report: &mut Report,
) -> anyhow::Result<BrokerFigures> {
    let q = qos_name(qos);
    let tag = format!("{label}-q{}", qos as u8);
    let mut probe =
        Probe::start(broker, &format!("bench-oneway-{tag}"), "bench/oneway", qos).await?;
    probe.serial("bench/oneway", args.warmup(), LIMIT).await?;
    let oneway = probe
        .serial("bench/oneway", args.short_duration, LIMIT)
        .await?;
    drop(probe);

    let echo = Echo::start(
        broker,
        &format!("bench-echo-{tag}"),
        "bench/echo/in",
        "bench/echo/out",
        qos,
    )
    .await?;
    let mut probe =
        Probe::start(broker, &format!("bench-probe-{tag}"), "bench/echo/out", qos).await?;
    probe.serial("bench/echo/in", args.warmup(), LIMIT).await?;
    let mark = daemon.map(CpuMark::now);
    let serial = probe
        .serial("bench/echo/in", args.short_duration, LIMIT)
        .await?;
    let serial_cpu = mark.map(|m| m.since());
    let mark = daemon.map(CpuMark::now);
    let burst = probe.burst("bench/echo/in", args.mqtt_burst, IDLE).await?;
    let burst_cpu = mark.map(|m| m.since());
    eprintln!(
        "mqtt {label} {q}: one-way p50 {:.0} µs; echo p50 {:.0} µs p99 {:.0} µs; burst {:.0}/s",
        oneway.p(50.0).unwrap_or(f64::NAN),
        serial.p(50.0).unwrap_or(f64::NAN),
        serial.p(99.0).unwrap_or(f64::NAN),
        burst.rate()
    );
    report.note(format!(
        "mqtt {label} {q}: one-way {} messages (lost {}), p50 {:.0} µs p99 {:.0} µs; echo round trip {} messages (lost {}, late {}), p50 {:.0} µs p99 {:.0} µs; echo burst: {}; the echo client republished {} and failed {}{}{}",
        oneway.lat_us.len(),
        oneway.lost,
        oneway.p(50.0).unwrap_or(f64::NAN),
        oneway.p(99.0).unwrap_or(f64::NAN),
        serial.lat_us.len(),
        serial.lost,
        serial.stale,
        serial.p(50.0).unwrap_or(f64::NAN),
        serial.p(99.0).unwrap_or(f64::NAN),
        burst.describe(),
        echo.echoed.load(std::sync::atomic::Ordering::Relaxed),
        echo.failed.load(std::sync::atomic::Ordering::Relaxed),
        serial_cpu.map_or_else(String::new, |c| format!(
            "; CPU per echo round trip, 1 in flight: {}",
            c.per_message(serial.lat_us.len())
        )),
        burst_cpu.map_or_else(String::new, |c| format!(
            "; in the burst: {}",
            c.per_message(burst.received)
        )),
    ));
    drop(echo);
    Ok(BrokerFigures {
        oneway,
        echo: serial,
        burst,
    })
}

/// A function's figures at one QoS: latency one at a time, then a burst.
struct FnFigures {
    serial: Serial,
    burst: Burst,
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call per measured configuration; a struct would only rename the arguments"
)]
async fn function_figures(
    daemon: &Daemon,
    broker: SocketAddr,
    label: &str,
    function: &str,
    input: &str,
    reply: &str,
    qos: QoS,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<FnFigures> {
    let q = qos_name(qos);
    let mut probe = Probe::start(
        broker,
        &format!("bench-{function}-q{}", qos as u8),
        reply,
        qos,
    )
    .await?;
    let warm = probe.serial(input, args.warmup(), LIMIT).await?;
    if warm.lat_us.is_empty() {
        bail!(
            "mqtt {label}: no reply on {reply} to any message on {input} during the warm-up ({} lost); daemon log:\n{}",
            warm.lost,
            daemon.log_tail()
        );
    }
    wait_drained(daemon.addr, function).await?;
    let mark = CpuMark::now(daemon.pid());
    let serial = probe.serial(input, args.short_duration, LIMIT).await?;
    let serial_cpu = mark.since();
    wait_drained(daemon.addr, function).await?;
    let before = api::instances(daemon.addr, function).await?.total();
    let (rss0, threads0) = (proc::rss_mb(daemon.pid()), proc::threads(daemon.pid()));
    let mark = CpuMark::now(daemon.pid());
    let burst = probe.burst(input, args.mqtt_burst, IDLE).await?;
    let burst_cpu = mark.since();
    let (rss1, threads1) = (proc::rss_mb(daemon.pid()), proc::threads(daemon.pid()));
    let left = wait_drained(daemon.addr, function).await?;
    let after = api::instances(daemon.addr, function).await?.total();
    let mb = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.1} MB"));
    let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    eprintln!(
        "mqtt {label} {q}: p50 {:.0} µs p99 {:.0} µs; burst {:.0}/s",
        serial.p(50.0).unwrap_or(f64::NAN),
        serial.p(99.0).unwrap_or(f64::NAN),
        burst.rate()
    );
    let handler = handler_ms(daemon.addr, function).await;
    report.note(format!(
        "mqtt {label} {q}: 1 in flight: {} round trips (lost {}, late {}), p50 {:.0} µs, p99 {:.0} µs, {:.0}/s; CPU per message: {}",
        serial.lat_us.len(),
        serial.lost,
        serial.stale,
        serial.p(50.0).unwrap_or(f64::NAN),
        serial.p(99.0).unwrap_or(f64::NAN),
        serial.rate(),
        serial_cpu.per_message(serial.lat_us.len()),
    ));
    report.note(format!(
        "mqtt {label} {q}: burst: {}; CPU per message: {}; the function's sandboxes: {before} before, {after} after; daemon VmRSS {} and {} threads before, {} and {} threads after; queue afterwards: {} pending, {} in flight, {} failed; handler Duration (REPORT) median {} over the newest {} records",
        burst.describe(),
        burst_cpu.per_message(burst.received),
        mb(rss0),
        n(threads0),
        mb(rss1),
        n(threads1),
        left.pending,
        left.in_flight,
        left.failed,
        handler.map_or_else(|| "n/a".to_owned(), |(m, _)| format!("{m:.2} ms")),
        handler.map_or(0, |(_, n)| n),
    ));
    if probe.unnumbered > 0 {
        report.note(format!(
            "mqtt {label} {q}: {} replies without a sequence number",
            probe.unnumbered
        ));
    }
    Ok(FnFigures { serial, burst })
}

fn rows(
    report: &mut Report,
    section: &'static str,
    q: &str,
    base: &BrokerFigures,
    ours: &FnFigures,
    burst: usize,
) {
    for p in [50.0, 99.0] {
        report.row(Row {
            section,
            metric: format!("round trip p{p:.0}, 1 in flight, {q}"),
            unit: Unit::Micros,
            baseline: base.echo.p(p),
            ours: ours.serial.p(p),
            target: Target::None,
        });
    }
    report.row(Row {
        section,
        metric: format!("replies/s, {burst} in flight, {q}"),
        unit: Unit::PerSec,
        baseline: Some(base.burst.rate()),
        ours: Some(ours.burst.rate()),
        target: Target::None,
    });
}

/// The broker-alone rows: lambdalet's embedded broker (`ours`) against Mosquitto (`theirs`).
fn broker_rows(
    report: &mut Report,
    q: &str,
    theirs: Option<&BrokerFigures>,
    ours: &BrokerFigures,
    k: usize,
) {
    let mut row = |metric: String, unit, baseline, ours| {
        report.row(Row {
            section: SECTION_BROKER,
            metric,
            unit,
            baseline,
            ours,
            target: Target::None,
        })
    };
    for p in [50.0, 99.0] {
        row(
            format!("one-way publish -> subscriber p{p:.0}, {q}"),
            Unit::Micros,
            theirs.and_then(|t| t.oneway.p(p)),
            ours.oneway.p(p),
        );
    }
    for p in [50.0, 99.0] {
        row(
            format!("echo round trip p{p:.0}, {q}"),
            Unit::Micros,
            theirs.and_then(|t| t.echo.p(p)),
            ours.echo.p(p),
        );
    }
    row(
        format!("echo replies/s, {k} in flight, {q}"),
        Unit::PerSec,
        theirs.map(|t| t.burst.rate()),
        Some(ours.burst.rate()),
    );
}

/// For the breakdown of the MQTT path: on the same daemon and pinned function, a synchronous
/// HTTP invocation and an HTTP `Event` invocation (answered 202 once stored with an fsync), one
/// at a time.
async fn http_reference(
    daemon: &Daemon,
    function: &str,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    use crate::load::{self, Spec};
    let path = api::invoke_path(function);
    let dur = args.short_duration.min(Duration::from_secs(2));
    load::load(daemon.addr, &path, 1, args.warmup()).await?;
    let sync = load::load(daemon.addr, &path, 1, dur).await?;
    let mut spec = Spec::sync(daemon.addr, &path, 1, dur);
    spec.event = true;
    let accepted = load::run(&spec).await?;
    let left = wait_drained(daemon.addr, function).await?;
    let p = |l: &load::Load, q: f64| percentile(&mut l.lat_us.clone(), q).unwrap_or(f64::NAN);
    report.note(format!(
        "mqtt: for comparison, the same pinned function over HTTP, one request at a time: synchronous invoke p50 {:.0} µs, p99 {:.0} µs ({} invocations, {}); Event accepted (202 after the fsync) p50 {:.0} µs, p99 {:.0} µs ({} events, {}; each also ran and published its destination record; queue afterwards {} pending, {} failed)",
        p(&sync, 50.0),
        p(&sync, 99.0),
        sync.lat_us.len(),
        sync.describe_errors(),
        p(&accepted, 50.0),
        p(&accepted, 99.0),
        accepted.lat_us.len(),
        accepted.describe_errors(),
        left.pending + left.in_flight,
        left.failed,
    ));
    Ok(())
}

/// An external Mosquitto on a free loopback port, TCP_NODELAY, no persistence.
struct Mosquitto {
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Mosquitto {
    fn start() -> anyhow::Result<Option<Self>> {
        let Some(bin) = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        else {
            return Ok(None);
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("lambdalet-bench-mosquitto-")
            .tempdir()?;
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nmax_queued_messages 100000\n"
            ),
        )?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut guard = ChildGuard::new(child);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let t0 = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            if let Some(s) = guard.exited() {
                bail!("mosquitto exited ({s}) before listening");
            }
            if t0.elapsed() > Duration::from_secs(5) {
                bail!("mosquitto did not listen on {addr} within 5 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Some(Self {
            _guard: guard,
            _dir: dir,
            addr,
        }))
    }
}

pub async fn run(
    bin: &Path,
    root: &Path,
    python: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let daemon = Daemon::start(bin)?;
    let Some(broker) = daemon.mqtt else {
        bail!(
            "the daemon logged no MQTT broker address; its log:\n{}",
            daemon.log_tail()
        );
    };
    eprintln!(
        "mqtt: a new daemon on http://{}, embedded broker on mqtt://{broker}",
        daemon.addr
    );
    if let Err(e) = measure(&daemon, broker, root, python, args, report).await {
        return Err(e.context(format!(
            "the mqtt benchmark's daemon's last log lines:\n{}",
            daemon.log_tail()
        )));
    }
    for line in daemon.interesting_log_lines() {
        if !line.contains("runtime.interpreter") {
            report.daemon_log(format!("(mqtt benchmark's daemon) {line}"));
        }
    }
    Ok(())
}

async fn measure(
    daemon: &Daemon,
    broker: SocketAddr,
    root: &Path,
    python: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let addr = daemon.addr;
    // The functions. greengrasssdk comes from PyPI; without it only the destination path runs.
    let (root2, py2) = (root.to_owned(), python.to_owned());
    let sdk = tokio::task::spawn_blocking(move || greengrasssdk(&root2, &py2)).await?;
    let sdk = match sdk {
        Ok(dir) => Some(dir),
        Err(e) => {
            report.note(format!(
                "mqtt: the greengrasssdk functions are skipped: {e:#}"
            ));
            None
        }
    };
    eprintln!("mqtt: deploying {GG}, {DEST} and {OD}");
    if let Some(sdk) = &sdk {
        api::create_function_with(
            addr,
            GG,
            "python3.11",
            "app.handler",
            &gg_zip(sdk, "bench/gg/out")?,
            subscribed("bench/gg/in", json!({ "pinned": true })),
        )
        .await?;
        api::create_function_with(
            addr,
            OD,
            "python3.11",
            "app.handler",
            &gg_zip(sdk, "bench/od/out")?,
            subscribed("bench/od/in", json!({ "maxInstancesCount": 4 })),
        )
        .await?;
        let route = |id: &str, function: &str, subject: &str| {
            (
                id.to_owned(),
                json!({ "id": id, "source": format!("{ACCOUNT_ARN}:{function}"), "subject": subject, "target": "cloud" }),
            )
        };
        let subs: serde_json::Map<String, serde_json::Value> = [
            route("gg-out", GG, "bench/gg/out"),
            route("od-out", OD, "bench/od/out"),
        ]
        .into_iter()
        .collect();
        api::put_json(
            addr,
            "/lambdalet/v1/subscriptions",
            json!({ "subscriptions": subs }),
        )
        .await?;
    }
    let noop = zips::build(&[("sleepy.py", zips::SLEEPY_PY.as_bytes(), 0o644)])?;
    api::create_function_with(
        addr,
        DEST,
        "python3.11",
        "sleepy.handler",
        &noop,
        subscribed("bench/dest/in", json!({ "pinned": true })),
    )
    .await?;
    api::put_json(
        addr,
        &format!("/2019-09-25/functions/{DEST}/event-invoke-config"),
        json!({
            "MaximumRetryAttempts": 0,
            "DestinationConfig": { "OnSuccess": { "Destination": "mqtt:bench/dest/out" } },
        }),
    )
    .await?;
    let mut started = Vec::new();
    for f in [Some(DEST), sdk.as_ref().map(|_| GG)].into_iter().flatten() {
        started.push(format!(
            "{f} {:.0} ms",
            wait_idle(addr, f).await?.as_secs_f64() * 1e3
        ));
    }
    report.note(format!(
        "mqtt: pinned sandboxes idle after CreateFunction: {}",
        started.join(", ")
    ));

    // Baselines through the daemon's broker, then the functions, QoS 0 then QoS 1.
    let pid = daemon.pid();
    let rss_deployed = proc::rss_mb(pid);
    let base0 = broker_figures(
        broker,
        "embedded broker",
        QoS::AtMostOnce,
        args,
        Some(pid),
        report,
    )
    .await?;
    let base1 = broker_figures(
        broker,
        "embedded broker",
        QoS::AtLeastOnce,
        args,
        Some(pid),
        report,
    )
    .await?;
    let received = api::metrics(addr, "lambdalet_mqtt_messages_received_total")
        .await
        .unwrap_or_default();
    report.note(format!(
        "mqtt: daemon VmRSS {} MB with the functions deployed and idle, {} MB after the broker baselines ({} messages through the broker, all seen by lambdalet's own `#` link; no function invoked), {} threads",
        rss_deployed.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        proc::rss_mb(pid).map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        received.first().map_or(0.0, |(_, v)| *v),
        proc::threads(pid).map_or_else(|| "?".to_owned(), |v| v.to_string()),
    ));
    let k = args.mqtt_burst;
    if sdk.is_some() {
        for (qos, base) in [(QoS::AtMostOnce, &base0), (QoS::AtLeastOnce, &base1)] {
            let ours = function_figures(
                daemon,
                broker,
                "greengrasssdk pinned",
                GG,
                "bench/gg/in",
                "bench/gg/out",
                qos,
                args,
                report,
            )
            .await?;
            rows(report, SECTION_GG, qos_name(qos), base, &ours, k);
        }
    }
    let ours = function_figures(
        daemon,
        broker,
        "destination pinned",
        DEST,
        "bench/dest/in",
        "bench/dest/out",
        QoS::AtMostOnce,
        args,
        report,
    )
    .await?;
    rows(report, SECTION_DEST, "QoS 0", &base0, &ours, k);
    http_reference(daemon, DEST, args, report).await?;
    if sdk.is_some() {
        let ours = function_figures(
            daemon,
            broker,
            "greengrasssdk on demand",
            OD,
            "bench/od/in",
            "bench/od/out",
            QoS::AtMostOnce,
            args,
            report,
        )
        .await?;
        rows(report, SECTION_OD, "QoS 0", &base0, &ours, k);
    }
    let metrics = api::metrics(addr, "lambdalet_").await.unwrap_or_default();
    let wanted = [
        "lambdalet_mqtt_messages_received_total",
        "lambdalet_mqtt_messages_published_total",
        "lambdalet_event_invocations_total",
    ];
    report.note(format!(
        "mqtt: daemon counters at the end: {}; daemon VmRSS {} MB, {} threads",
        metrics
            .iter()
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        proc::rss_mb(pid).map_or_else(|| "?".to_owned(), |v| format!("{v:.1}")),
        proc::threads(pid).map_or_else(|| "?".to_owned(), |v| v.to_string()),
    ));

    // The broker alone against Mosquitto.
    match tokio::task::spawn_blocking(Mosquitto::start).await? {
        Ok(Some(m)) => {
            for (qos, ours) in [(QoS::AtMostOnce, &base0), (QoS::AtLeastOnce, &base1)] {
                let theirs = broker_figures(m.addr, "mosquitto", qos, args, None, report).await?;
                broker_rows(report, qos_name(qos), Some(&theirs), ours, k);
            }
        }
        other => {
            report.note(match other {
                Err(e) => format!("mqtt: no Mosquitto baseline for the broker alone: {e:#}"),
                _ => "mqtt: Mosquitto is not installed (Debian package mosquitto): no baseline for the broker alone".to_owned(),
            });
            for (qos, ours) in [(QoS::AtMostOnce, &base0), (QoS::AtLeastOnce, &base1)] {
                broker_rows(report, qos_name(qos), None, ours, k);
            }
        }
    }
    for f in [
        Some(DEST),
        sdk.as_ref().map(|_| GG),
        sdk.as_ref().map(|_| OD),
    ]
    .into_iter()
    .flatten()
    {
        api::delete_function(addr, f).await?;
    }
    let left = proc::wait_children_gone(pid, Duration::from_secs(10)).await;
    if left > 0 {
        report.note(format!(
            "mqtt: {left} sandbox processes still alive 10 s after DeleteFunction"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_report_duration() {
        let log = "START RequestId: a Version: $LATEST\nEND RequestId: a\nREPORT RequestId: a\tDuration: 0.78 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB\t\n";
        assert_eq!(report_duration_ms(log), Some(0.78));
        assert_eq!(report_duration_ms("no report"), None);
    }

    #[test]
    fn the_function_source_names_the_reply_topic() {
        assert!(gg_source("a/b").contains("topic=\"a/b\""));
    }
}
