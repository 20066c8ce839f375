//! The console's list pages: functions (`/console`) and Greengrass components and deployments
//! (`/console/components`).

use axum::extract::State;
use axum::http::Extensions;
use axum::response::Response;

use super::html::{Nav, badge, esc, page, time};
use super::summary::{self, FunctionSummary};
use crate::state::ApiState;

/// Whether the request came with a console session (shows "Sign out").
pub fn signed_in(ext: &Extensions) -> bool {
    ext.get::<crate::console::SessionMark>().is_some()
}

/// The state badges of a function: Active/Failed, disabled, pinned and running.
pub fn state_badges(f: &FunctionSummary) -> String {
    let mut out = match &f.state {
        ("Failed", _) => badge("Failed", "bad"),
        (s, _) => badge(s, "ok"),
    };
    if f.disabled {
        out.push(' ');
        out.push_str(&badge("Disabled", "warn"));
    }
    if f.pinned {
        out.push(' ');
        let running = f.sandboxes.0 + f.sandboxes.1 > 0;
        out.push_str(&badge(
            if running { "pinned, running" } else { "pinned" },
            "info",
        ));
    }
    out
}

/// Triggers as small labels.
pub fn trigger_badges(f: &FunctionSummary) -> String {
    if f.triggers.is_empty() {
        return "<span class=\"muted\">none</span>".to_owned();
    }
    f.triggers
        .iter()
        .map(|t| {
            format!(
                "<span class=\"trigger\" title=\"{}\"><b>{}</b> {}</span>",
                esc(&t.detail),
                esc(t.kind),
                esc(&t.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn function_row(f: &FunctionSummary) -> String {
    let aliases = if f.aliases.is_empty() {
        "<span class=\"muted\">-</span>".to_owned()
    } else {
        f.aliases
            .iter()
            .map(|(a, v)| format!("{} → {}", esc(a), esc(v)))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    format!(
        r#"<tr data-function="{name}">
<td><a href="/console/functions/{name}">{name}</a></td>
<td>{runtime}</td>
<td>{sandbox}</td>
<td>{state}</td>
<td>{versions}</td>
<td>{aliases}</td>
<td>{triggers}</td>
<td class="num">{memory} MB / {timeout} s</td>
<td class="num">{invocations}</td>
<td class="num">{errors}</td>
</tr>"#,
        name = esc(&f.name),
        runtime = esc(&f.runtime),
        sandbox = esc(&f.sandbox),
        state = state_badges(f),
        versions = if f.versions.is_empty() {
            "$LATEST".to_owned()
        } else {
            format!("$LATEST, {}", esc(&f.versions.join(", ")))
        },
        triggers = trigger_badges(f),
        memory = f.config.memory_mb,
        timeout = f.config.timeout_secs,
        invocations = f.last_hour.0,
        errors = f.last_hour.1,
    )
}

/// `GET /console`: every function.
pub async fn functions(State(s): State<ApiState>, ext: Extensions) -> Response {
    let all = summary::all(&s);
    let rows: String = all.iter().map(function_row).collect();
    let empty = if all.is_empty() {
        "<p class=\"muted\">No functions yet. Deploy one with <code>lambdalet deploy DIR --name NAME</code> or <code>aws lambda create-function --endpoint-url ...</code>.</p>"
    } else {
        ""
    };
    let body = format!(
        r#"<h1>Functions <span class="muted">({n})</span></h1>
{empty}
<div class="scroll">
<table id="functions">
<thead><tr><th>Name</th><th>Runtime</th><th>Sandbox</th><th>State</th><th>Versions</th><th>Aliases</th><th>Triggers</th><th>Memory / timeout</th><th>Invocations (1 h)</th><th>Errors (1 h)</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>"#,
        n = all.len()
    );
    page("Functions", Nav::Functions, &body, signed_in(&ext))
}

/// `GET /console/components`: Greengrass components and deployments.
pub async fn components(State(s): State<ApiState>, ext: Extensions) -> Response {
    let state_badge = |st: &str| {
        let kind = match st {
            "RUNNING" | "FINISHED" | "SUCCEEDED" => "ok",
            "ERRORED" | "BROKEN" | "FAILED" => "bad",
            "STARTING" | "STOPPING" | "IN_PROGRESS" | "QUEUED" => "warn",
            _ => "muted",
        };
        badge(st, kind)
    };
    let components: String = s
        .components
        .list()
        .iter()
        .map(|c| {
            format!(
                "<tr data-component=\"{name}\"><td>{name}</td><td>{version}</td><td>{kind}</td><td>{state}</td><td>{error}</td></tr>",
                name = esc(&c.component_name),
                version = esc(&c.version),
                kind = esc(&c.component_type),
                state = state_badge(&c.state),
                error = esc(c.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let deployments: String = match s.components.deployments() {
        Ok(list) => list
            .iter()
            .map(|d| {
                format!(
                    "<tr data-deployment=\"{id}\"><td><code>{id}</code></td><td>{created}</td><td>{status}</td><td>{detail}</td></tr>",
                    id = esc(&d.deployment_id),
                    created = esc(&time(d.created_on)),
                    status = state_badge(&d.status),
                    detail = esc(&[
                        d.detailed_status.unwrap_or_default().to_owned(),
                        d.failure_cause.clone().unwrap_or_default(),
                    ]
                    .iter()
                    .filter(|t| !t.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(": ")),
                )
            })
            .collect(),
        Err(e) => format!("<tr><td colspan=\"4\">{}</td></tr>", esc(&e.to_string())),
    };
    let body = format!(
        r#"<h1>Components</h1>
<div class="scroll"><table id="components">
<thead><tr><th>Component</th><th>Version</th><th>Type</th><th>State</th><th>Last error</th></tr></thead>
<tbody>{components}</tbody></table></div>
<h2>Deployments</h2>
<div class="scroll"><table id="deployments">
<thead><tr><th>Deployment</th><th>Created</th><th>Status</th><th>Detail</th></tr></thead>
<tbody>{deployments}</tbody></table></div>
<p class="muted">Deploy with <code>lambdalet deployment create --recipeDir DIR --artifactDir DIR --merge NAME=VERSION</code>.</p>"#
    );
    page("Components", Nav::Components, &body, signed_in(&ext))
}
