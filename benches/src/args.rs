//! The command line of `lambdalet-bench`.

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: lambdalet-bench [all|warm|cold|zygote|sandbox|scale|pinned|async|memory|auth|unpack|topics|mqtt|s3|offline]
                       [--lambdalet PATH]
                       [--quick] [--json FILE] [--samples N] [--duration SECS]

  all (default)     every group below, in this order
  warm              idle memory; warm invoke latency and throughput (Python no-op, Rust
                    hello) vs a bare hyper echo server
  cold              idle memory; cold starts vs `python3.11 -c 'import app'` and the Rust
                    hello binary run directly
  zygote            new sandboxes of deployed versions (each measured sandbox exits after its
                    answer): started plainly, forked from the version's zygote (Python,
                    process and container) and taken pre-started (Python and Node.js, process
                    and container),
                    for a Python hello, a Python handler that imports boto3 and makes a client
                    and a Node.js hello, vs the interpreter importing the same handler; PSS per
                    warm Python sandbox with and without a zygote, and how many fit in 24 GB
  sandbox           idle memory; sandbox creation to the runtime's first `next` (Rust hello):
                    the binary run directly, runc running it from an OCI bundle (installed by
                    `make bench`), lambdalet's process and container sandboxes; warm invoke
                    (Python no-op) in a container vs a process; the Python cold start in each
  scale             idle memory; an on-demand Python no-op (maxInstancesCount 64) at
                    concurrency 1, 8 and 64 vs the echo server at the same concurrency
  pinned            idle memory; a pinned Python no-op (one sandbox, FIFO queue) at
                    concurrency 1 and 8 vs the echo server
  async             idle memory; Event invocations accepted per second (durably stored) by 1
                    and 16 clients vs SQLite inserts (WAL, synchronous=FULL, a transaction per
                    row); K events drained end to end vs the same K invoked synchronously
  memory            idle memory; the daemon's memory with 100 warm idle sandboxes
  auth              idle memory; a warm Python no-op invoked one request at a time, SigV4-signed
                    and on a new connection per request, vs unsigned on a kept-alive connection
  unpack            idle memory; storing a zip of 60,000 one-byte files (CodeStore::put_zip)
                    vs python3 zipfile.extractall + os.sync of the same zip, 3 rounds
  topics            idle memory; topic matching with 10 000 subscriptions: the subscription
                    trie vs a linear scan of TopicFilter::matches over all of them
  s3                the embedded S3 endpoint: upload -> function start latency through a bucket
                    notification (baseline: an Event invoke -> function start), the event rate
                    at c=8, and PUT/GET of a 64 MB object (baseline: writing/reading the same
                    bytes to a file on the same disk, with fsync)
  mqtt              idle memory; MQTT message -> function -> MQTT reply through the embedded
                    broker (a pinned Python function replying with greengrasssdk, one with an
                    mqtt: on-success destination, an on-demand one) vs an echo client through
                    the same broker; the broker alone vs Mosquitto if installed
  offline           Python and Node no-ops against serverless-offline 13 (on serverless 3,
                    installed with npm into target/bench-cache on first use): warm p50 and
                    throughput at 1 and 8 clients in alternating rounds, and cold starts
                    (serverless-offline --reloadHandler vs a fresh lambdalet deploy)
  --lambdalet PATH  daemon binary [default: <workspace>/target/release/lambdalet]
  --quick           short runs (1 s per load run, 5 cold-start samples, 300 events drained,
                    300 MQTT messages per burst, 0.5 s per topic-matching run)
  --json FILE       also write the JSON result line to FILE
  --samples N       cold-start samples per function [default: 20, 5 with --quick]
  --duration SECS   seconds per load run [default: 5 for warm, 3 for scale, pinned, async
                    and the MQTT latency runs; 1 with --quick]

Build first: cargo build --release -p lambdalet (and -p hello-rust, else the bench builds it).
Run it on an idle machine: the bench reports how much CPU other processes took meanwhile.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    Warm,
    Cold,
    Zygote,
    Sandbox,
    Scale,
    Pinned,
    Async,
    Memory,
    Auth,
    Unpack,
    Topics,
    Mqtt,
    S3,
    Offline,
}

impl Mode {
    /// Whether running `self` includes the `part` benchmarks.
    pub fn includes(self, part: Mode) -> bool {
        self == Mode::All || self == part
    }
}

#[derive(Debug, Clone)]
pub struct Args {
    pub mode: Mode,
    pub lambdalet: Option<PathBuf>,
    pub quick: bool,
    pub json: Option<PathBuf>,
    pub samples: usize,
    /// Seconds per load run of the warm benchmarks.
    pub duration: Duration,
    /// Seconds per load run of the scaling, pinned and async benchmarks.
    pub short_duration: Duration,
    /// Events the async drain benchmark enqueues.
    pub drain_events: usize,
    /// Messages of each MQTT burst (all in flight at once).
    pub mqtt_burst: usize,
    /// Length of each measured topic-matching run.
    pub topics_duration: Duration,
}

impl Args {
    /// Warm-up before each measured load run.
    pub fn warmup(&self) -> Duration {
        if self.quick {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(1)
        }
    }

    /// Parses the arguments; `None` means help was asked for.
    pub fn parse(argv: &[String]) -> Result<Option<Self>, String> {
        let mut mode = None;
        let mut lambdalet = None;
        let mut quick = false;
        let mut json = None;
        let mut samples = None;
        let mut duration = None;
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            let mut value = |flag: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match a.as_str() {
                "-h" | "--help" => return Ok(None),
                "all" | "warm" | "cold" | "zygote" | "sandbox" | "scale" | "pinned" | "async"
                | "memory" | "auth" | "unpack" | "topics" | "mqtt" | "s3" | "offline"
                    if mode.is_none() =>
                {
                    mode = Some(match a.as_str() {
                        "warm" => Mode::Warm,
                        "cold" => Mode::Cold,
                        "zygote" => Mode::Zygote,
                        "sandbox" => Mode::Sandbox,
                        "scale" => Mode::Scale,
                        "pinned" => Mode::Pinned,
                        "async" => Mode::Async,
                        "memory" => Mode::Memory,
                        "auth" => Mode::Auth,
                        "unpack" => Mode::Unpack,
                        "topics" => Mode::Topics,
                        "mqtt" => Mode::Mqtt,
                        "s3" => Mode::S3,
                        "offline" => Mode::Offline,
                        _ => Mode::All,
                    });
                }
                "--quick" => quick = true,
                "--lambdalet" => lambdalet = Some(PathBuf::from(value("--lambdalet")?)),
                "--json" => json = Some(PathBuf::from(value("--json")?)),
                "--samples" => {
                    let v = value("--samples")?;
                    samples = Some(
                        v.parse::<usize>()
                            .ok()
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| format!("--samples takes a number >= 1 (got {v:?})"))?,
                    );
                }
                "--duration" => {
                    let v = value("--duration")?;
                    let secs = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0 && *s <= 600.0)
                        .ok_or_else(|| {
                            format!("--duration takes seconds from 0 to 600 (got {v:?})")
                        })?;
                    duration = Some(Duration::from_secs_f64(secs));
                }
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(Some(Self {
            mode: mode.unwrap_or(Mode::All),
            lambdalet,
            quick,
            json,
            samples: samples.unwrap_or(if quick { 5 } else { 20 }),
            duration: duration.unwrap_or(Duration::from_secs(if quick { 1 } else { 5 })),
            short_duration: duration.unwrap_or(Duration::from_secs(if quick { 1 } else { 3 })),
            drain_events: if quick { 300 } else { 2000 },
            mqtt_burst: if quick { 300 } else { 2000 },
            topics_duration: Duration::from_millis(if quick { 500 } else { 2000 }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Args>, String> {
        let v: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        Args::parse(&v)
    }

    #[test]
    fn defaults_and_quick() {
        let a = parse("").unwrap().unwrap();
        assert_eq!(a.mode, Mode::All);
        assert_eq!(a.samples, 20);
        let q = parse("cold --quick --lambdalet /x").unwrap().unwrap();
        assert_eq!(q.mode, Mode::Cold);
        assert_eq!(q.samples, 5);
        assert_eq!(q.duration, Duration::from_secs(1));
        assert_eq!(q.lambdalet, Some(PathBuf::from("/x")));
        assert_eq!(q.drain_events, 300);
        assert_eq!(q.mqtt_burst, 300);
        assert_eq!(a.mqtt_burst, 2000);
        assert_eq!(a.short_duration, Duration::from_secs(3));
        let s = parse("async --duration 2").unwrap().unwrap();
        assert_eq!(s.mode, Mode::Async);
        assert_eq!(s.short_duration, Duration::from_secs(2));
        assert!(Mode::All.includes(Mode::Memory));
        assert!(!Mode::Scale.includes(Mode::Pinned));
        assert_eq!(parse("mqtt").unwrap().unwrap().mode, Mode::Mqtt);
        assert_eq!(parse("topics").unwrap().unwrap().mode, Mode::Topics);
        assert!(Mode::All.includes(Mode::Mqtt) && !Mode::Topics.includes(Mode::Mqtt));
    }

    #[test]
    fn rejects_unknown_and_missing_values() {
        assert!(parse("fast").is_err());
        assert!(parse("--json").is_err());
        assert!(parse("--samples 0").is_err());
        assert!(parse("--help").unwrap().is_none());
    }
}
