//! Topic matching with 10 000 subscriptions: the events crate's `TopicTrie` (what the router
//! searches for every MQTT and local-bus message) against the naive way, a linear scan calling
//! `TopicFilter::matches` on every subscription. Both run in this process, one thread, on the
//! same filters and the same sequence of topic names, and count the matching subscriptions of
//! each message (the router then clones each match's value, which costs the same either way).
//!
//! The subscriptions model a device fleet (40 sites of 250 devices): per-device exact
//! filters, per-device `#` and `+` filters, site aggregators with `+` at the device level,
//! cross-site filters with `+` at the site level, site-wide `#`, fleet-wide broadcast topics
//! with many subscribers, and a few global wildcards (`#`, `+/#`, ...). The topic names are
//! mostly device telemetry (about 15 matches each), with a few alerts (about 110 matches) and
//! broadcasts (about 1 000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use lambdalet_events::topic::{TopicFilter, TopicName, TopicTrie};

use crate::args::Args;
use crate::report::{Report, Row, Target, Unit};
use crate::stats::{median, percentile};

const SECTION: &str = "topic matching, 10 000 subscriptions (baseline: linear scan calling TopicFilter::matches on each)";
pub const SUBSCRIPTIONS: usize = 10_000;
const SITES: u32 = 40;
const DEVICES: u32 = 250;
/// Distinct topic names the runs cycle through.
const TOPICS: usize = 4096;

/// The 10 000 filters, by kind; `(kind, filter)`.
pub fn filters(rng: &mut fastrand::Rng) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::with_capacity(SUBSCRIPTIONS);
    // Every (site, device) pair once, shuffled: the per-device kinds take distinct devices.
    let mut devices: Vec<(u32, u32)> = (0..SITES)
        .flat_map(|s| (0..DEVICES).map(move |d| (s, d)))
        .collect();
    rng.shuffle(&mut devices);
    let mut pairs = devices.iter().copied().cycle();
    let mut take = |n: usize, kind: &'static str, f: &dyn Fn(u32, u32) -> String| {
        for (s, d) in pairs.by_ref().take(n) {
            out.push((kind, f(s, d)));
        }
    };
    take(5_000, "device exact", &|s, d| {
        format!("site/{s}/device/{d}/telemetry")
    });
    take(2_000, "device cmd/#", &|s, d| {
        format!("site/{s}/device/{d}/cmd/#")
    });
    take(1_000, "device +", &|s, d| format!("site/{s}/device/{d}/+"));
    for s in 0..SITES {
        for f in [
            "device/+/telemetry",
            "device/+/telemetry",
            "device/+/status",
            "device/+/alerts",
            "device/+/alerts",
            "device/+/cmd/#",
        ] {
            out.push(("site aggregator +", format!("site/{s}/{f}")));
        }
    }
    for d in 0..DEVICES {
        out.push(("cross-site +", format!("site/+/device/{d}/telemetry")));
    }
    for d in 0..150 {
        out.push(("cross-site +", format!("site/+/device/{d}/status")));
    }
    for s in 0..SITES {
        out.push(("site #", format!("site/{s}/#")));
        out.push(("site #", format!("site/{s}/device/#")));
        out.push(("site +/+", format!("site/{s}/+/+/status")));
    }
    for _ in 0..100 {
        out.push(("fleet alerts +/+", "site/+/device/+/alerts".to_owned()));
    }
    for _ in 0..600 {
        out.push(("broadcast", "fleet/broadcast/firmware".to_owned()));
    }
    for _ in 0..400 {
        out.push(("broadcast #", "fleet/broadcast/#".to_owned()));
    }
    for s in 0..SITES {
        for _ in 0..3 {
            out.push(("site config", format!("fleet/site{s}/config")));
        }
    }
    for _ in 0..10 {
        out.push(("site config +", "fleet/+/config".to_owned()));
    }
    for g in [
        "#",
        "#",
        "+/#",
        "site/#",
        "site/#",
        "+/+/device/+/+",
        "+/+/device/+/+",
        "site/+/+/+/telemetry",
        "site/+/+/+/telemetry",
        "$SYS/#",
    ] {
        out.push(("global", g.to_owned()));
    }
    out
}

/// The topic names the runs cycle through; `(class, name)`.
pub fn topic_names(rng: &mut fastrand::Rng, n: usize) -> Vec<(&'static str, String)> {
    (0..n)
        .map(|_| {
            let (s, d) = (rng.u32(0..SITES), rng.u32(0..DEVICES));
            match rng.u32(0..100) {
                0..78 => ("telemetry", format!("site/{s}/device/{d}/telemetry")),
                78..88 => ("status", format!("site/{s}/device/{d}/status")),
                88..93 => ("command", format!("site/{s}/device/{d}/cmd/reboot")),
                93..96 => ("alert", format!("site/{s}/device/{d}/alerts")),
                96..97 => ("broadcast", "fleet/broadcast/firmware".to_owned()),
                97..99 => ("site config", format!("fleet/site{s}/config")),
                _ => ("unknown", format!("lab/bench{d}/debug")),
            }
        })
        .collect()
}

/// Runs `f` over `names` (cycling) until `dur` has passed; returns messages and matches.
fn rate_run(names: &[TopicName], dur: Duration, f: impl Fn(&TopicName) -> usize) -> (f64, usize) {
    let start = Instant::now();
    let (mut messages, mut matched) = (0usize, 0usize);
    'outer: loop {
        // Check the clock every 64 messages only.
        for chunk in names.chunks(64) {
            for name in chunk {
                matched += f(black_box(name));
            }
            messages += chunk.len();
            if start.elapsed() >= dur {
                break 'outer;
            }
        }
    }
    black_box(matched);
    (messages as f64 / start.elapsed().as_secs_f64(), matched)
}

/// Times `f` on each of `names` in turn (cycling) until `dur` has passed or `max` messages;
/// returns the latencies in ns and the match count of each of the first `names.len()`.
fn latency_run(
    names: &[TopicName],
    dur: Duration,
    max: usize,
    f: impl Fn(&TopicName) -> usize,
) -> (Vec<f64>, Vec<usize>) {
    let start = Instant::now();
    let mut lat = Vec::with_capacity(max.min(1 << 20));
    let mut counts = Vec::with_capacity(names.len());
    for (i, name) in names.iter().cycle().enumerate() {
        if i >= max || (i % 64 == 0 && start.elapsed() >= dur) {
            break;
        }
        let t0 = Instant::now();
        let n = f(black_box(name));
        lat.push(t0.elapsed().as_nanos() as f64);
        if counts.len() < names.len() {
            counts.push(n);
        }
    }
    (lat, counts)
}

struct Figures {
    notes: Vec<String>,
    rows: Vec<Row>,
}

fn measure(dur: Duration, builds: usize) -> anyhow::Result<Figures> {
    let mut rng = fastrand::Rng::with_seed(2026);
    let raw = filters(&mut rng);
    anyhow::ensure!(
        raw.len() == SUBSCRIPTIONS,
        "{} filters built, not {SUBSCRIPTIONS}",
        raw.len()
    );
    let filters: Vec<TopicFilter> = raw
        .iter()
        .map(|(_, f)| TopicFilter::new(f.clone()))
        .collect::<Result<_, _>>()?;
    let named = topic_names(&mut rng, TOPICS);
    let names: Vec<TopicName> = named
        .iter()
        .map(|(_, n)| TopicName::new(n.clone()))
        .collect::<Result<_, _>>()?;
    let mut notes = Vec::new();

    // Insert: the trie vs pushing the same filters (cloned, as the trie keeps a copy) onto the
    // list the linear scan walks. Alternated, median of `builds`.
    let (mut trie_ms, mut list_ms) = (Vec::new(), Vec::new());
    let mut trie = TopicTrie::new();
    let mut list: Vec<(TopicFilter, usize)> = Vec::new();
    for _ in 0..builds {
        let t0 = Instant::now();
        let mut l = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            l.push((f.clone(), i));
        }
        list_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        list = black_box(l);
        let t0 = Instant::now();
        let mut t = TopicTrie::new();
        for (i, f) in filters.iter().enumerate() {
            t.insert(f, i);
        }
        trie_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        trie = black_box(t);
    }
    let trie = trie;
    let list = list;

    let with_trie = |n: &TopicName| trie.matches(n).count();
    let with_list = |n: &TopicName| list.iter().filter(|(f, _)| f.matches(n)).count();

    // Warm-up, then rates (alternated so that drift hits both).
    rate_run(&names, dur / 4, with_trie);
    rate_run(&names, dur / 4, with_list);
    let (trie_rate, trie_matches) = rate_run(&names, dur, with_trie);
    let (list_rate, _) = rate_run(&names, dur, with_list);

    // Per-message latency, and the match counts of both on the same names (must agree).
    let (mut clock, _) = latency_run(&names, dur / 4, 200_000, |_| 0);
    let (mut trie_lat, trie_counts) = latency_run(&names, dur, 2_000_000, with_trie);
    let (mut list_lat, list_counts) = latency_run(&names, dur, names.len(), with_list);
    let compared = trie_counts.len().min(list_counts.len());
    let disagree = (0..compared)
        .filter(|&i| trie_counts[i] != list_counts[i])
        .count();
    notes.push(format!(
        "topics: the trie and the linear scan found the same number of matching subscriptions for {} of {compared} topic names{}",
        compared - disagree,
        if disagree > 0 {
            " — THEY DISAGREE, the figures are not comparable"
        } else {
            ""
        }
    ));

    // Per class: matches per message and the trie's p50 latency.
    let mut classes: Vec<&str> = named.iter().map(|(c, _)| *c).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut per_class = Vec::new();
    for class in classes {
        let idx: Vec<usize> = (0..compared).filter(|&i| named[i].0 == class).collect();
        if idx.is_empty() {
            continue;
        }
        let mean = idx.iter().map(|&i| trie_counts[i]).sum::<usize>() as f64 / idx.len() as f64;
        let mut lat: Vec<f64> = trie_lat
            .iter()
            .enumerate()
            .filter(|(i, _)| named[i % names.len()].0 == class)
            .map(|(_, v)| *v)
            .collect();
        let mut llat: Vec<f64> = idx.iter().map(|&i| list_lat[i]).collect();
        per_class.push(format!(
            "{class} {:.1}% of messages, {mean:.1} matches, trie p50 {:.0} ns, scan p50 {:.0} µs",
            100.0 * idx.len() as f64 / compared as f64,
            median(&mut lat).unwrap_or(f64::NAN),
            median(&mut llat).unwrap_or(f64::NAN) / 1e3,
        ));
    }
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for (k, _) in &raw {
        match kinds.iter_mut().find(|(x, _)| x == k) {
            Some((_, n)) => *n += 1,
            None => kinds.push((k, 1)),
        }
    }
    notes.push(format!(
        "topics: subscriptions by kind: {}",
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    notes.push(format!(
        "topics: {TOPICS} topic names cycled; {:.1} matching subscriptions per message on average; by class: {}",
        trie_counts.iter().sum::<usize>() as f64 / trie_counts.len().max(1) as f64,
        per_class.join("; ")
    ));
    notes.push(format!(
        "topics: {} trie matchings timed one by one ({} scans); timing overhead (an empty timed call) p50 {:.0} ns, included in the latencies; {trie_matches} matches counted in the trie's rate run; insert: {builds} builds each, trie {:.2}-{:.2} ms, list {:.2}-{:.2} ms",
        trie_lat.len(),
        list_lat.len(),
        median(&mut clock).unwrap_or(f64::NAN),
        trie_ms.iter().copied().fold(f64::INFINITY, f64::min),
        trie_ms.iter().copied().fold(0.0, f64::max),
        list_ms.iter().copied().fold(f64::INFINITY, f64::min),
        list_ms.iter().copied().fold(0.0, f64::max),
    ));

    let row = |metric: &str, unit, baseline, ours| Row {
        section: SECTION,
        metric: metric.to_owned(),
        unit,
        baseline,
        ours,
        target: Target::None,
    };
    let rows = vec![
        row(
            "messages matched per second, 1 thread",
            Unit::PerSec,
            Some(list_rate),
            Some(trie_rate),
        ),
        row(
            "latency per message, p50",
            Unit::Nanos,
            percentile(&mut list_lat, 50.0),
            percentile(&mut trie_lat, 50.0),
        ),
        row(
            "latency per message, p99",
            Unit::Nanos,
            percentile(&mut list_lat, 99.0),
            percentile(&mut trie_lat, 99.0),
        ),
        row(
            "insert 10 000 subscriptions (baseline: push onto a list)",
            Unit::Millis,
            median(&mut list_ms),
            median(&mut trie_ms),
        ),
    ];
    Ok(Figures { notes, rows })
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let dur = args.topics_duration;
    let builds = if args.quick { 5 } else { 21 };
    eprintln!(
        "topics: {SUBSCRIPTIONS} subscriptions; trie vs linear scan, {:.1} s per run",
        dur.as_secs_f64()
    );
    let figures = tokio::task::spawn_blocking(move || measure(dur, builds)).await??;
    for n in figures.notes {
        report.note(n);
    }
    for r in figures.rows {
        eprintln!(
            "topics: {}: scan {} / trie {}",
            r.metric,
            r.baseline
                .map_or_else(|| "n/a".into(), |v| format!("{v:.0}")),
            r.ours.map_or_else(|| "n/a".into(), |v| format!("{v:.0}")),
        );
        report.row(r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_valid_filters_and_names() {
        let mut rng = fastrand::Rng::with_seed(1);
        let f = filters(&mut rng);
        assert_eq!(f.len(), SUBSCRIPTIONS);
        assert!(f.iter().all(|(_, f)| TopicFilter::new(f.clone()).is_ok()));
        let n = topic_names(&mut rng, 500);
        assert!(n.iter().all(|(_, n)| TopicName::new(n.clone()).is_ok()));
    }
}
