//! What the console shows of a function, gathered from the control plane, the invoker and the
//! trigger sources (never from the store).

use lambdalet_core::lifecycle::TopicType;
use lambdalet_core::{FunctionConfig, Trigger};
use lambdalet_schedule::ListFilter;

use crate::state::ApiState;

/// One function, as a row of the list and the head of its page.
pub struct FunctionSummary {
    pub name: String,
    pub runtime: String,
    /// `container` or `process`.
    pub sandbox: String,
    /// `Active` or `Failed`, and why.
    pub state: (&'static str, Option<String>),
    pub pinned: bool,
    /// Reserved concurrency 0: the console's "disabled".
    pub disabled: bool,
    pub reserved: Option<u32>,
    /// Published versions.
    pub versions: Vec<String>,
    /// Alias name → version.
    pub aliases: Vec<(String, String)>,
    pub triggers: Vec<Trigger>,
    pub config: FunctionConfig,
    /// Sandboxes of `$LATEST` now: idle, busy, starting.
    pub sandboxes: (usize, usize, usize),
    /// The last hour: invocations, errors.
    pub last_hour: (u64, u64),
}

/// The runtime as Lambda's console names it (`python3.11`, `Image`).
pub fn runtime_name(c: &FunctionConfig) -> String {
    match &c.runtime {
        Some(r) => r.to_string(),
        None => "Image".to_owned(),
    }
}

/// Everything the console shows of `name`; `None` if there is no such function.
pub fn summarize(s: &ApiState, name: &str) -> Option<FunctionSummary> {
    let latest = s.control.get_function(name, None).ok()?.view;
    let config = latest.record.config.clone();
    let versions = s
        .control
        .list_versions(name, None, 10_000)
        .map(|p| {
            p.items
                .into_iter()
                .map(|v| v.record.version)
                .filter(|v| v != "$LATEST")
                .collect()
        })
        .unwrap_or_default();
    let aliases = s
        .control
        .list_aliases(name, None, None, 10_000)
        .map(|p| {
            p.items
                .into_iter()
                .map(|a| (a.name, a.function_version))
                .collect()
        })
        .unwrap_or_default();
    let reserved = s.control.reserved_concurrency(name).ok().flatten();
    let stats = s.invoker.stats(name, "$LATEST");
    let minutes = s.invoker.metrics().minutes(name, 60);
    Some(FunctionSummary {
        name: name.to_owned(),
        runtime: runtime_name(&config),
        sandbox: s.control.sandbox_choice(&config).mode.backend().to_owned(),
        state: s.control.state(name, "$LATEST"),
        pinned: config.lifecycle.pinned,
        disabled: reserved == Some(0),
        reserved,
        versions,
        aliases,
        triggers: triggers(s, name, &config),
        sandboxes: (stats.idle, stats.busy, stats.starting),
        last_hour: (
            minutes.iter().map(|m| m.invocations).sum(),
            minutes.iter().map(|m| m.errors).sum(),
        ),
        config,
    })
}

/// Topics, function URLs, schedules, and what the trigger sources know (bucket notifications).
fn triggers(s: &ApiState, name: &str, config: &FunctionConfig) -> Vec<Trigger> {
    let mut out: Vec<Trigger> = config
        .lifecycle
        .pubsub_topics
        .values()
        .map(|t| Trigger {
            kind: "Topic",
            name: t.topic.clone(),
            detail: match t.kind {
                TopicType::PubSub => "local publish/subscribe".to_owned(),
                TopicType::IotCore => "MQTT".to_owned(),
            },
        })
        .collect();
    if let Ok(page) = s.control.list_function_urls(name, None, 100) {
        for u in page.items {
            out.push(Trigger {
                kind: "URL",
                name: s.control.function_url(&u),
                detail: format!(
                    "{}, auth {}",
                    u.qualifier,
                    match u.auth_type {
                        lambdalet_control::UrlAuthType::None => "NONE",
                        lambdalet_control::UrlAuthType::AwsIam => "AWS_IAM",
                    }
                ),
            });
        }
    }
    let mut filter = ListFilter::default();
    while let Ok((page, next)) = s.schedules.list(&filter) {
        for v in page {
            if v.definition
                .function()
                .is_some_and(|f| f.name.as_str() == name)
            {
                out.push(Trigger {
                    kind: "Schedule",
                    name: format!("{}/{}", v.group, v.name),
                    detail: format!(
                        "{} {}{}",
                        v.definition.expression,
                        v.definition.timezone,
                        if v.definition.enabled {
                            ""
                        } else {
                            " (disabled)"
                        }
                    ),
                });
            }
        }
        match next {
            Some(t) => filter.next_token = Some(t),
            None => break,
        }
    }
    out.extend(s.triggers.of(name));
    out
}

/// Every function, by name.
pub fn all(s: &ApiState) -> Vec<FunctionSummary> {
    let mut names = s.control.function_names();
    names.sort();
    names.iter().filter_map(|n| summarize(s, n)).collect()
}
