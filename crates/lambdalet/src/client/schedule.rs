//! `lambdalet schedule [list] [--json]`: the schedules (EventBridge Scheduler's API, which
//! `aws scheduler ... --endpoint-url` drives), with when each fires next.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::Client;
use super::output::{self, Output};

/// The fields of a schedule in `--output table` and `text`, in this order (`Target`: the
/// function's full ARN).
const COLUMNS: &[&str] = &[
    "GroupName",
    "Name",
    "State",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "Target",
    "NextFireTime",
];

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: Option<ScheduleCommand>,
    /// Print JSON: the same as `--output json`, kept for scripts written before it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every schedule: state, expression, time zone, target, next fire time (the default).
    List {
        /// Print JSON: the same as `--output json`, kept for scripts written before it.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(endpoint: &str, out: Output, args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let json = match args.command {
        Some(ScheduleCommand::List { json }) => json || args.json,
        None => args.json,
    };
    let client = Client::new(endpoint)?;
    let d = client
        .doc(client.request(Method::GET, "/lambdalet/v1/schedules"))
        .await?;
    let v = d.value();
    let schedules = v["Schedules"].as_array().cloned().unwrap_or_default();
    if let Some(f) = out.or_json(json).format {
        output::list(f, &d, d["Schedules"].items(), COLUMNS)?;
        warn_unpermitted(&schedules);
        return Ok(ExitCode::SUCCESS);
    }
    if schedules.is_empty() {
        eprintln!(
            "no schedules; create one with `aws scheduler create-schedule --endpoint-url {endpoint} ...` (see docs/schedules.md)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    output::emit(&table(&schedules))?;
    warn_unpermitted(&schedules);
    Ok(ExitCode::SUCCESS)
}

/// On stderr: the schedules whose fires are dropped, and how to let them invoke.
fn warn_unpermitted(schedules: &[Value]) {
    for s in schedules.iter().filter(|s| s["Permitted"] == false) {
        eprintln!(
            "{}/{}: its function's policy does not let it invoke the function, so its fires are dropped; grant it with\n  {}",
            s["GroupName"].as_str().unwrap_or(""),
            s["Name"].as_str().unwrap_or(""),
            s["Grant"]
                .as_str()
                .unwrap_or("aws lambda add-permission ...")
        );
    }
}

/// The text table: one line per schedule, columns as wide as their widest cell.
fn table(schedules: &[Value]) -> String {
    let text = |s: &Value, k: &str| s[k].as_str().unwrap_or("").to_owned();
    let header = [
        "GROUP",
        "NAME",
        "STATE",
        "EXPRESSION",
        "TIMEZONE",
        "TARGET",
        "NEXT FIRE TIME",
    ];
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|s| {
            let target = text(s, "Target");
            // The function's name (and qualifier) says more in a table than its full ARN.
            let target = match target.split_once(":function:") {
                Some((_, f)) => f.to_owned(),
                None => target,
            };
            let next = s["NextFireTime"].as_str().unwrap_or("-").to_owned();
            vec![
                text(s, "GroupName"),
                text(s, "Name"),
                text(s, "State"),
                text(s, "ScheduleExpression"),
                text(s, "ScheduleExpressionTimezone"),
                target,
                next,
            ]
        })
        .collect();
    output::table(&header, &rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_shows_the_function_and_a_dash_for_no_next_fire() {
        let rows = serde_json::json!([
            {"GroupName": "default", "Name": "nightly", "State": "ENABLED",
             "ScheduleExpression": "cron(0 3 * * ? *)", "ScheduleExpressionTimezone": "Europe/Berlin",
             "Target": "arn:aws:lambda:us-east-1:000000000000:function:report:live",
             "NextFireTime": "2030-01-02T02:00:00Z"},
            {"GroupName": "default", "Name": "off", "State": "DISABLED",
             "ScheduleExpression": "rate(5 minutes)", "ScheduleExpressionTimezone": "UTC",
             "Target": "arn:aws:lambda:us-east-1:000000000000:function:hello",
             "NextFireTime": null}
        ]);
        let t = super::table(rows.as_array().expect("rows"));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("GROUP    NAME     STATE     EXPRESSION"));
        assert!(lines[1].contains("report:live") && lines[1].ends_with("2030-01-02T02:00:00Z"));
        assert!(lines[2].contains("DISABLED") && lines[2].ends_with('-'));
    }
}
