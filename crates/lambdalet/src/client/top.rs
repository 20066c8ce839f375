//! `lambdalet top`: every function live, as `top` shows processes. On a terminal it is an
//! interactive view ([`super::top_live`]); with `--once`, `--output` or when stdout is not a
//! terminal it polls twice, one interval apart, and prints one table (or JSON, or text).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use reqwest::{Method, StatusCode};

use super::doc::Doc;
use super::output::{self, Format, Output};
use super::top_model::{self, HEADER, Overview, Rates, Sort};
use super::{Client, api_error};

/// What `lambdalet top --help` says of the columns and keys.
pub const HELP: &str = "\
Columns (rates are per second, between the last two polls; `-` until there are two):
  FUNCTION   the function's name
  RUNTIME    its runtime (Image for a container image)
  STATE      Active, or Failed when its sandboxes cannot start
  INV/S      invocations per second
  ERR/S      function errors per second (errors returned, crashes, timeouts)
  THR/S      invocations refused for concurrency, per second
  P50, P99   median and 99th percentile duration of the current minute's invocations
  RUN        invocations running now
  SANDBOXES  sandboxes idle/busy/starting, over all versions
  QUEUED     invocations waiting for a sandbox
  INV (1 h)  invocations in the last hour

Keys: q, Esc or Ctrl-C quit; s changes the sort; up/down select a function (its totals show
below the table); r polls now.

--output json prints the daemon's overview (GET /lambdalet/v1/overview) with a `rates` object
per function; --output text the table's cells, tab-separated, without the header.";

/// `lambdalet top`'s flags.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub struct TopArgs {
    /// Seconds between polls (at least 0.2); with --once, the time the rates are measured over.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_interval)]
    pub interval: f64,
    /// Print one table (rates measured over one --interval) and exit, instead of the live view.
    #[arg(long)]
    pub once: bool,
    /// The order of the rows (the `s` key changes it).
    #[arg(long, value_enum, default_value_t = Sort::Rate)]
    pub sort: Sort,
}

/// `--interval`: a number of seconds, at least 0.2.
fn parse_interval(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds (e.g. 1 or 0.5)"))?;
    if !secs.is_finite() || secs < 0.2 {
        return Err(format!(
            "{s} is too short: poll at most every 0.2 seconds (--interval 0.2)"
        ));
    }
    if secs > 3600.0 {
        return Err(format!("{s} is too long: give at most 3600 seconds"));
    }
    Ok(secs)
}

/// Runs `lambdalet top`: the live view on a terminal, else one table.
pub async fn run(endpoint: &str, out: Output, args: TopArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(endpoint)?;
    let interval = Duration::from_secs_f64(args.interval);
    if args.once || out.format.is_some() || !std::io::stdout().is_terminal() {
        return once(&client, endpoint, out, args.sort, interval).await;
    }
    super::top_live::run(client, endpoint, args.sort, interval).await
}

/// `GET /lambdalet/v1/overview`: the parsed overview and the answer as the daemon sent it.
pub async fn fetch(client: &Client, interval: Duration) -> anyhow::Result<(Overview, Doc)> {
    let req = client
        .request(Method::GET, "/lambdalet/v1/overview")
        .timeout(interval.max(Duration::from_secs(5)));
    let resp = client.send(req).await?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .context("cannot read the daemon's overview")?;
    if status == StatusCode::NOT_FOUND {
        return Err(anyhow!(
            "this daemon has no /lambdalet/v1/overview: it is older than `lambdalet top`; upgrade it"
        ));
    }
    if !status.is_success() {
        return Err(api_error(status, &body));
    }
    let doc = Doc::parse(&body).context("the daemon sent an overview that is not JSON")?;
    let overview = serde_json::from_value(doc.value())
        .context("the daemon sent an overview lambdalet cannot read; upgrade the client")?;
    Ok((overview, doc))
}

/// Two polls `interval` apart, printed once.
async fn once(
    client: &Client,
    endpoint: &str,
    out: Output,
    sort: Sort,
    interval: Duration,
) -> anyhow::Result<ExitCode> {
    let (first, _) = fetch(client, interval).await?;
    tokio::time::sleep(interval).await;
    let (now, doc) = fetch(client, interval).await?;
    let rates = top_model::rates(Some(&first), &now);
    let rows: Vec<Vec<String>> = top_model::sorted(&now, &rates, sort)
        .iter()
        .map(|r| r.cells().to_vec())
        .collect();
    match out.format {
        Some(Format::Json) => output::emit(&(with_rates(doc, &rates).pretty() + "\n"))?,
        Some(Format::Text) => output::emit(&output::text(&rows))?,
        Some(Format::Table) => output::emit(&output::table(&HEADER, &rows))?,
        None => {
            output::emit(&format!(
                "lambdalet top  {endpoint}  {} functions  {} in flight  {} inv/s  {}\n\n{}",
                now.functions.len(),
                now.in_flight,
                top_model::per_second(top_model::total_rate(&rates)),
                top_model::clock(now.time_ms),
                output::table(&HEADER, &rows),
            ))?;
            if rows.is_empty() {
                eprintln!(
                    "no functions deployed; deploy one with `lambdalet deploy DIR --name NAME`"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The overview as the daemon sent it, each function with a `rates` object: invocations,
/// errors and throttles per second (`null` when unknown).
fn with_rates(mut doc: Doc, rates: &[Rates]) -> Doc {
    let number = |r: Option<f64>| {
        r.and_then(|r| serde_json::Number::from_f64((r * 1000.0).round() / 1000.0))
            .map_or(Doc::Null, Doc::Number)
    };
    if let Doc::Object(fields) = &mut doc
        && let Some((_, Doc::Array(functions))) = fields.iter_mut().find(|(k, _)| k == "functions")
    {
        for (f, r) in functions.iter_mut().zip(rates) {
            if let Doc::Object(fields) = f {
                fields.push((
                    "rates".to_owned(),
                    Doc::object([
                        ("invocations", number(r.invocations)),
                        ("errors", number(r.errors)),
                        ("throttles", number(r.throttles)),
                    ]),
                ));
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_at_least_a_fifth_of_a_second() {
        assert_eq!(parse_interval("1"), Ok(1.0));
        assert_eq!(parse_interval("0.2"), Ok(0.2));
        assert!(parse_interval("0.1").unwrap_err().contains("0.2"));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("NaN").is_err());
    }

    #[test]
    fn json_gets_a_rates_object_per_function() {
        let doc =
            Doc::parse(br#"{"timeMs": 1, "functions": [{"function": "a"}, {"function": "b"}]}"#)
                .expect("JSON");
        let rates = [
            Rates {
                invocations: Some(5.0),
                errors: Some(1.0 / 3.0),
                throttles: Some(0.0),
            },
            Rates::default(),
        ];
        let v = with_rates(doc, &rates).value();
        assert_eq!(
            v["functions"][0]["rates"],
            serde_json::json!({"invocations": 5.0, "errors": 0.333, "throttles": 0.0})
        );
        assert_eq!(
            v["functions"][1]["rates"]["invocations"],
            serde_json::Value::Null
        );
    }
}
