//! Cold starts without Init: how long a new sandbox of a deployed version takes to answer its
//! first invocation when it is started plainly (interpreter, bootstrap, the handler's imports),
//! when it is forked from the version's zygote (Python, either sandbox), and when a
//! pre-started sandbox takes it (any runtime, either sandbox), against the interpreter
//! importing the same handler (`python3.11 -c 'import app'`, `node -e 'require("./app")'`) in
//! the same run; and what a warm sandbox costs in memory (PSS) with and without a zygote.
//!
//! Each measured invocation asks its sandbox to exit 50 ms after it answers; the next sample
//! waits until the daemon has let it go (and, with a pre-started sandbox, has the next one
//! ready), so every sample is the version's next new sandbox: what scaling out or coming back
//! after idle costs. The variants and the baseline alternate.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::api;
use crate::args::Args;
use crate::client::Conn;
use crate::daemon::Daemon;
use crate::report::{Report, Row, Target, Unit};
use crate::stats::{median, percentile};
use crate::zips;

/// A handler that imports nothing (beyond what the interpreter has), says where it runs, and
/// exits soon after answering when asked.
const HELLO: &str = "import os\n\n\ndef handler(event, context):\n    if event.get(\"exit\"):\n        __import__(\"threading\").Timer(0.05, os._exit, (0,)).start()\n    if event.get(\"sleep\"):\n        __import__(\"time\").sleep(event[\"sleep\"])\n    return {\"pid\": os.getpid()}\n";
/// What Lambda functions typically do at import: the SDK and a client.
const BOTO3: &str = "import os\n\nimport boto3\n\nS3 = boto3.client(\"s3\", region_name=\"us-east-1\")\n\n\ndef handler(event, context):\n    if event.get(\"exit\"):\n        __import__(\"threading\").Timer(0.05, os._exit, (0,)).start()\n    if event.get(\"sleep\"):\n        __import__(\"time\").sleep(event[\"sleep\"])\n    return {\"pid\": os.getpid()}\n";
/// The Node.js hello.
const NODE_HELLO: &str = "exports.handler = async (event) => {\n  if (event.exit) setTimeout(() => process.exit(0), 50);\n  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));\n  return { pid: process.pid };\n};\n";

/// How a version's new sandboxes start.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Plain,
    /// Forked from the version's zygote (`LAMBDALET_ZYGOTE=on`).
    Zygote,
    /// Taken ready from the one kept pre-started (`LAMBDALET_PRESTART=on`).
    Prestart,
}

#[derive(Clone, Copy)]
pub(crate) struct Variant {
    pub start: Start,
    pub container: bool,
}

impl Variant {
    fn label(self) -> String {
        let how = match self.start {
            Start::Plain => "plain start",
            Start::Zygote => "forked from the zygote",
            Start::Prestart => "pre-started",
        };
        let sandbox = if self.container {
            "container"
        } else {
            "process"
        };
        format!("{how}, {sandbox}")
    }

    fn short(self) -> &'static str {
        match (self.start, self.container) {
            (Start::Plain, false) => "plain-p",
            (Start::Plain, true) => "plain-c",
            (Start::Zygote, false) => "zygote-p",
            (Start::Zygote, true) => "zygote-c",
            (Start::Prestart, false) => "pre-p",
            (Start::Prestart, true) => "pre-c",
        }
    }
}

const PYTHON_VARIANTS: [Variant; 6] = [
    Variant {
        start: Start::Plain,
        container: false,
    },
    Variant {
        start: Start::Zygote,
        container: false,
    },
    Variant {
        start: Start::Prestart,
        container: false,
    },
    Variant {
        start: Start::Plain,
        container: true,
    },
    Variant {
        start: Start::Zygote,
        container: true,
    },
    Variant {
        start: Start::Prestart,
        container: true,
    },
];
const NODE_VARIANTS: [Variant; 4] = [
    Variant {
        start: Start::Plain,
        container: false,
    },
    Variant {
        start: Start::Prestart,
        container: false,
    },
    Variant {
        start: Start::Plain,
        container: true,
    },
    Variant {
        start: Start::Prestart,
        container: true,
    },
];

pub(crate) struct Handler {
    pub label: &'static str,
    runtime: &'static str,
    file: &'static str,
    code: &'static str,
    section_cold: &'static str,
    /// Where PSS with and without a zygote is reported (Python only).
    pub section_memory: Option<&'static str>,
    variants: &'static [Variant],
    /// Our ceiling for a new sandbox without Init, end to end.
    target_ms: f64,
}

const HANDLERS: [Handler; 3] = [
    Handler {
        label: "hello",
        runtime: "python3.11",
        file: "app.py",
        code: HELLO,
        section_cold: "new sandbox of a deployed version, Python hello (baseline: python3.11 -c 'import app')",
        section_memory: Some("memory per warm sandbox, Python hello (baseline: without a zygote)"),
        variants: &PYTHON_VARIANTS,
        target_ms: 5.0,
    },
    Handler {
        label: "boto3",
        runtime: "python3.11",
        file: "app.py",
        code: BOTO3,
        section_cold: "new sandbox of a deployed version, Python importing boto3 + a client (baseline: python3.11 -c 'import app')",
        section_memory: Some(
            "memory per warm sandbox, Python importing boto3 + a client (baseline: without a zygote)",
        ),
        variants: &PYTHON_VARIANTS,
        target_ms: 10.0,
    },
    Handler {
        label: "node",
        runtime: "nodejs20.x",
        file: "app.js",
        code: NODE_HELLO,
        section_cold: "new sandbox of a deployed version, Node.js hello (baseline: node -e 'require(\"./app\")')",
        section_memory: None,
        variants: &NODE_VARIANTS,
        target_ms: 10.0,
    },
];

pub async fn run(
    daemon: &Daemon,
    python: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    for h in &HANDLERS {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(h.file), h.code)?;
        if let Err(e) = probe(python, h, dir.path()).await {
            report.note(format!(
                "{}: skipped, the handler does not load here: {e}",
                h.label
            ));
            continue;
        }
        cold(daemon, python, dir.path(), h, args, report).await?;
        if h.section_memory.is_some() {
            crate::density::run(daemon, h, report).await?;
        }
    }
    Ok(())
}

/// The interpreter loading the handler in `dir`, timed from spawn to exit.
async fn probe(python: &Path, h: &Handler, dir: &Path) -> anyhow::Result<f64> {
    let mut cmd = if h.runtime.starts_with("python") {
        let mut c = tokio::process::Command::new(python);
        c.args(["-c", "import app"]);
        c
    } else {
        let mut c = tokio::process::Command::new("node");
        c.args(["-e", "require('./app')"]);
        c
    };
    let t0 = Instant::now();
    let out = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(ms)
}

/// Deploys `h` as `name` the way `v` says.
pub(crate) async fn deploy(
    daemon: &Daemon,
    name: &str,
    h: &Handler,
    v: Variant,
) -> anyhow::Result<()> {
    let zip = zips::build(&[(h.file, h.code.as_bytes(), 0o644)])?;
    let on = |b: bool| if b { "on" } else { "off" };
    api::create_function_env(
        daemon.addr,
        name,
        h.runtime,
        "app.handler",
        &zip,
        json!({
            "containerMode": if v.container { "GreengrassContainer" } else { "NoContainer" },
            "maxInstancesCount": 64,
        }),
        json!({
            "LAMBDALET_ZYGOTE": on(v.start == Start::Zygote),
            "LAMBDALET_PRESTART": on(v.start == Start::Prestart),
        }),
    )
    .await
}

/// One invocation: (client-side ms, the sandbox's pid as it sees it).
pub(crate) async fn invoke_with(
    conn: &mut Conn,
    name: &str,
    event: &Value,
) -> anyhow::Result<(f64, u32)> {
    let t0 = Instant::now();
    let reply = api::invoke(conn, name, event).await?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if !reply.is_success() {
        bail!("{name}: {}", reply.describe());
    }
    let v: Value = serde_json::from_slice(&reply.body).context("answer is not JSON")?;
    let pid = v["pid"].as_u64().context("no pid in the answer")? as u32;
    Ok((ms, pid))
}

/// Waits until the sandbox that served the last invocation has gone and, with a pre-started
/// sandbox, the next one is ready.
async fn settle(daemon: &Daemon, name: &str, v: Variant) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let i = api::instances(daemon.addr, name).await?;
        let settled = match v.start {
            Start::Prestart => i.total() == 1 && i.idle == 1,
            _ => i.total() == 0,
        };
        if settled {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{name}: sandboxes did not settle within 20 s ({i:?})");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn cold(
    daemon: &Daemon,
    python: &Path,
    dir: &Path,
    h: &Handler,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!(
        "new sandboxes, {}: {} samples of {} variants and the baseline, alternating",
        h.label,
        args.samples,
        h.variants.len()
    );
    let mut conn = Conn::connect(daemon.addr).await?;
    let exit = json!({ "exit": true });
    let mut names = Vec::new();
    for v in h.variants {
        let name = format!("bench-new-{}-{}", h.label, v.short());
        deploy(daemon, &name, h, *v).await?;
        // The version's first invocation (a zygote's start, a page-cache warm-up).
        let (ms, _) = invoke_with(&mut conn, &name, &exit).await?;
        let init = last_init_ms(daemon, &name).await?;
        report.note(format!(
            "{} {}: the version's first invocation took {ms:.1} ms (Init Duration {})",
            h.label,
            v.label(),
            init.map_or_else(|| "none".to_owned(), |i| format!("{i:.1} ms"))
        ));
        settle(daemon, &name, *v).await?;
        names.push(name);
    }
    let mut base = Vec::new();
    let mut e2e: Vec<Vec<f64>> = vec![Vec::new(); h.variants.len()];
    let mut init: Vec<Vec<f64>> = vec![Vec::new(); h.variants.len()];
    for i in 0..args.samples {
        base.push(probe(python, h, dir).await?);
        let mut line = format!("  #{i:<2} baseline {:7.2} ms", base[base.len() - 1]);
        for (k, v) in h.variants.iter().enumerate() {
            let (ms, _) = invoke_with(&mut conn, &names[k], &exit).await?;
            e2e[k].push(ms);
            init[k].extend(last_init_ms(daemon, &names[k]).await?);
            line.push_str(&format!("   {} {ms:7.2}", v.short()));
            settle(daemon, &names[k], *v).await?;
        }
        eprintln!("{line}");
    }
    let b = median(&mut base);
    for (k, v) in h.variants.iter().enumerate() {
        let target = match v.start {
            Start::Plain => Target::None,
            _ => Target::AtMostMs(h.target_ms),
        };
        report.row(Row {
            section: h.section_cold,
            metric: format!("{}, median", v.label()),
            unit: Unit::Millis,
            baseline: b,
            ours: median(&mut e2e[k]),
            target,
        });
        report.row(Row {
            section: h.section_cold,
            metric: format!("{}, p90", v.label()),
            unit: Unit::Millis,
            baseline: b,
            ours: percentile(&mut e2e[k], 90.0),
            target: Target::None,
        });
        if let Some(m) = median(&mut init[k]) {
            report.note(format!(
                "{} {}: REPORT Init Duration median {m:.2} ms",
                h.label,
                v.label()
            ));
        }
    }
    for name in &names {
        api::delete_function(daemon.addr, name).await?;
    }
    Ok(())
}

/// The Init Duration of `name`'s newest invocation record.
async fn last_init_ms(daemon: &Daemon, name: &str) -> anyhow::Result<Option<f64>> {
    let records = api::logs(daemon.addr, name, 1, 0).await?;
    Ok(records.last().and_then(|r| api::init_duration_ms(&r.log)))
}

/// `samples` new sandboxes, taken pre-started, of a hello of `runtime` deployed once in the
/// daemon's default sandbox: their client-side times in ms.
pub(crate) async fn new_sandboxes(
    daemon: &Daemon,
    runtime: &str,
    samples: usize,
) -> anyhow::Result<Vec<f64>> {
    let h = HANDLERS
        .iter()
        .find(|h| h.runtime == runtime && h.label != "boto3")
        .context("no hello for this runtime")?;
    let v = Variant {
        start: Start::Prestart,
        container: true,
    };
    let name = format!("bench-spare-{}", h.label);
    deploy(daemon, &name, h, v).await?;
    let mut conn = Conn::connect(daemon.addr).await?;
    let exit = json!({ "exit": true });
    invoke_with(&mut conn, &name, &exit).await?;
    settle(daemon, &name, v).await?;
    let mut out = Vec::new();
    for _ in 0..samples {
        out.push(invoke_with(&mut conn, &name, &exit).await?.0);
        settle(daemon, &name, v).await?;
    }
    api::delete_function(daemon.addr, &name).await?;
    Ok(out)
}
