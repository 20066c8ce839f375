//! `GET /console/functions/{name}`: one function, in four tabs as in Lambda's console:
//! Monitor (charts of the last hour, the async queue, the last invocations), Test (invoke with
//! a payload), Logs (a live tail) and Configuration (settings, versions and aliases, triggers).
//! The page is rendered here; `console.js` fills in what changes (charts, tail, results) from
//! the same API routes any client uses, with the viewer's own rights.

use axum::extract::{Path, State};
use axum::http::Extensions;
use axum::response::Response;

use super::html::{Nav, badge, esc, page};
use super::pages::{signed_in, trigger_badges};
use super::summary::{FunctionSummary, summarize};
use crate::state::ApiState;

fn head(f: &FunctionSummary) -> String {
    let (state, reason) = &f.state;
    let kind = if *state == "Failed" { "bad" } else { "ok" };
    let mut extra = String::new();
    if f.disabled {
        extra.push_str(&badge("Disabled", "warn"));
    }
    if f.pinned {
        extra.push_str(&badge("pinned", "info"));
    }
    let reason = reason
        .as_ref()
        .map(|r| format!("<p class=\"reason\">{}</p>", esc(r)))
        .unwrap_or_default();
    format!(
        r#"<div class="fn-head" id="function" data-function="{name}" data-enabled="{enabled}">
<h1>{name}</h1>
<span id="function-state" class="badge {kind}">{state}</span>{extra}
<span class="spacer"></span>
<button id="toggle-enabled" type="button" title="Reserved concurrency 0 stops every invocation, as in Lambda">{toggle}</button>
</div>
{reason}
<p class="muted">{runtime} · {sandbox} sandbox · {memory} MB · timeout {timeout} s · sandboxes of $LATEST: {idle} idle, {busy} busy, {starting} starting</p>"#,
        name = esc(&f.name),
        enabled = !f.disabled,
        state = esc(state),
        toggle = if f.disabled { "Enable" } else { "Disable" },
        runtime = esc(&f.runtime),
        sandbox = esc(&f.sandbox),
        memory = f.config.memory_mb,
        timeout = f.config.timeout_secs,
        idle = f.sandboxes.0,
        busy = f.sandboxes.1,
        starting = f.sandboxes.2,
    )
}

const MONITOR: &str = r#"<section id="tab-monitor" class="tab">
<div class="cards" id="totals"></div>
<div class="charts">
<figure><figcaption>Invocations, errors and throttles a minute</figcaption><div id="chart-invocations" class="chart"></div></figure>
<figure><figcaption>Duration p50 / p90 / p99 (ms)</figcaption><div id="chart-duration" class="chart"></div></figure>
<figure><figcaption>Most invocations running at once</figcaption><div id="chart-concurrency" class="chart"></div></figure>
<figure><figcaption>Cold starts and warm invocations a minute</figcaption><div id="chart-cold" class="chart"></div></figure>
</div>
<h2>Asynchronous events</h2>
<dl class="queue" id="queue"><dt>Pending</dt><dd data-q="pending">0</dd><dt>In flight</dt><dd data-q="inFlight">0</dd><dt>Failed</dt><dd data-q="failed">0</dd><dt>Oldest</dt><dd data-q="oldestAgeSeconds">-</dd></dl>
<h2>Recent invocations</h2>
<div class="scroll"><table id="recent"><thead><tr><th>Started</th><th>Request id</th><th>Version</th><th>Outcome</th><th>Duration</th></tr></thead><tbody></tbody></table></div>
</section>"#;

const TEST: &str = r#"<section id="tab-test" class="tab" hidden>
<label for="test-payload">Event JSON</label>
<textarea id="test-payload" rows="8" spellcheck="false">{"key1": "value1"}</textarea>
<div class="row"><button id="test-invoke" type="button">Invoke</button><span id="test-status" class="muted"></span><code id="test-request-id"></code><span id="test-duration" class="muted"></span></div>
<h3>Response</h3><pre id="test-response"></pre>
<h3>Log</h3><pre id="test-log" class="log"></pre>
</section>"#;

const LOGS: &str = r#"<section id="tab-logs" class="tab" hidden>
<div class="row"><span>Live tail:</span> <span id="log-tail-state" class="badge muted">connecting</span><button id="log-clear" type="button">Clear</button></div>
<div id="log-tail" class="log" aria-live="polite"></div>
</section>"#;

fn config_tab(f: &FunctionSummary) -> String {
    let c = &f.config;
    let row = |k: &str, v: String| format!("<dt>{}</dt><dd>{}</dd>", esc(k), v);
    let mut dl = String::new();
    dl.push_str(&row("Runtime", esc(&f.runtime)));
    dl.push_str(&row("Handler", esc(&c.handler)));
    dl.push_str(&row("Memory", format!("{} MB", c.memory_mb)));
    dl.push_str(&row("Timeout", format!("{} s", c.timeout_secs)));
    dl.push_str(&row("Sandbox", esc(&f.sandbox)));
    dl.push_str(&row(
        "Reserved concurrency",
        f.reserved
            .map_or_else(|| "unreserved".to_owned(), |n| n.to_string()),
    ));
    dl.push_str(&row(
        "Lifecycle",
        esc(&format!(
            "{}, up to {} instances, queue {}, idle {} s",
            if c.lifecycle.pinned {
                "pinned"
            } else {
                "on demand"
            },
            c.lifecycle.max_instances_count,
            c.lifecycle.max_queue_size,
            c.lifecycle.max_idle_time_in_seconds
        )),
    ));
    dl.push_str(&row(
        "Layers",
        if c.layers.is_empty() {
            "none".to_owned()
        } else {
            esc(&c.layers.join(", "))
        },
    ));
    if !c.description.is_empty() {
        dl.push_str(&row("Description", esc(&c.description)));
    }
    let env: String = c
        .environment
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let options: String = std::iter::once("$LATEST".to_owned())
        .chain(f.versions.iter().cloned())
        .map(|v| format!("<option value=\"{0}\">{0}</option>", esc(&v)))
        .collect();
    let aliases: String = f
        .aliases
        .iter()
        .map(|(a, v)| {
            format!(
                r#"<tr data-alias="{a}"><td>{a}</td><td class="alias-version">{v}</td><td><select aria-label="version for {a}">{options}</select> <button type="button" class="alias-point">Point here</button></td></tr>"#,
                a = esc(a),
                v = esc(v),
            )
        })
        .collect();
    format!(
        r#"<section id="tab-config" class="tab" hidden>
<dl class="config">{dl}</dl>
<h2>Triggers</h2><p>{triggers}</p>
<h2>Versions and aliases</h2>
<p>Published: {versions} <button id="publish-version" type="button">Publish a version of $LATEST</button></p>
<div class="scroll"><table id="aliases"><thead><tr><th>Alias</th><th>Version</th><th>Deploy a version</th></tr></thead><tbody>{aliases}</tbody></table></div>
<p id="config-status" class="muted"></p>
<h2>Environment</h2>
<div class="scroll"><table id="environment"><tbody>{env}</tbody></table></div>
</section>"#,
        triggers = trigger_badges(f),
        versions = if f.versions.is_empty() {
            "none".to_owned()
        } else {
            esc(&f.versions.join(", "))
        },
    )
}

/// The page of function `name`, or a 404 page.
pub async fn show(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    ext: Extensions,
) -> Response {
    let Some(f) = summarize(&s, &name) else {
        let body = format!(
            "<h1>Not found</h1><p>There is no function {}. <a href=\"/console\">All functions</a></p>",
            esc(&name)
        );
        let mut r = page("Not found", Nav::Functions, &body, signed_in(&ext));
        *r.status_mut() = http::StatusCode::NOT_FOUND;
        return r;
    };
    let body = format!(
        r#"{head}
<nav class="tabs" role="tablist">
<button type="button" role="tab" data-tab="monitor" aria-selected="true">Monitor</button>
<button type="button" role="tab" data-tab="test">Test</button>
<button type="button" role="tab" data-tab="logs">Logs</button>
<button type="button" role="tab" data-tab="config">Configuration</button>
</nav>
{MONITOR}
{TEST}
{LOGS}
{config}"#,
        head = head(&f),
        config = config_tab(&f),
    );
    page(&f.name, Nav::Functions, &body, signed_in(&ext))
}
