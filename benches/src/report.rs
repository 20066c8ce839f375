//! The result: one aligned table for a person (metric | baseline | lambdalet | ratio | target),
//! notes, and one JSON line for machines.

use serde_json::{Value, json};

use crate::machine::Machine;

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Nanos,
    Micros,
    Millis,
    PerSec,
    Megabytes,
    Kilobytes,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Nanos => "ns",
            Unit::Micros => "us",
            Unit::Millis => "ms",
            Unit::PerSec => "per_s",
            Unit::Megabytes => "MB",
            Unit::Kilobytes => "KB",
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Unit::Nanos => format!("{v:.0} ns"),
            Unit::Micros if v >= 100.0 => format!("{v:.0} µs"),
            Unit::Micros => format!("{v:.1} µs"),
            Unit::Millis => format!("{v:.2} ms"),
            Unit::PerSec => format!("{v:.0}/s"),
            Unit::Megabytes => format!("{v:.1} MB"),
            Unit::Kilobytes => format!("{v:.0} KB"),
        }
    }
}

/// The DESIGN.md target a row is held to, if any.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    None,
    /// ours / baseline must be at most this.
    RatioAtMost(f64),
    /// At most this many milliseconds more than the baseline.
    AddedMsAtMost(f64),
    /// ours / baseline must be at least this (throughput against a slower baseline).
    RatioAtLeast(f64),
    /// An absolute floor on our figure (throughput), whatever the baseline.
    AtLeast(f64),
    /// An absolute ceiling on our figure in MB (memory), whatever the baseline.
    AtMostMb(f64),
    /// An absolute ceiling on our figure in ms (latency), whatever the baseline.
    AtMostMs(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::None => "-".to_owned(),
            Target::RatioAtMost(r) => format!("≤ {}x", round2(r)),
            Target::RatioAtLeast(r) => format!("≥ {}x", round2(r)),
            Target::AddedMsAtMost(ms) => format!("≤ +{ms} ms"),
            Target::AtLeast(v) => format!("≥ {v:.0}/s (absolute)"),
            Target::AtMostMb(v) => format!("≤ {v:.0} MB (absolute)"),
            Target::AtMostMs(v) => format!("≤ {v:.0} ms (absolute)"),
        }
    }

    fn met(self, ours: Option<f64>, baseline: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        match self {
            Target::None => None,
            Target::RatioAtMost(r) => ratio.map(|x| x <= r),
            Target::RatioAtLeast(r) => ratio.map(|x| x >= r),
            Target::AddedMsAtMost(ms) => match (ours, baseline) {
                (Some(o), Some(b)) => Some(o - b <= ms),
                _ => None,
            },
            Target::AtLeast(v) => ours.map(|x| x >= v),
            Target::AtMostMb(v) | Target::AtMostMs(v) => ours.map(|x| x <= v),
        }
    }
}

/// `r` with at most two decimals (1/3 reads 0.33).
fn round2(r: f64) -> f64 {
    (r * 100.0).round() / 100.0
}

pub struct Row {
    pub section: &'static str,
    pub metric: String,
    pub unit: Unit,
    pub baseline: Option<f64>,
    pub ours: Option<f64>,
    pub target: Target,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        match (self.ours, self.baseline) {
            (Some(o), Some(b)) if b > 0.0 => Some(o / b),
            _ => None,
        }
    }
}

pub struct Report {
    machine: Machine,
    rows: Vec<Row>,
    notes: Vec<String>,
    daemon_log: Vec<String>,
}

impl Report {
    pub fn new(machine: Machine) -> Self {
        Self {
            machine,
            rows: Vec::new(),
            notes: Vec::new(),
            daemon_log: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// A remark printed under the table (and kept in the JSON), also shown now on stderr.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    pub fn daemon_log(&mut self, line: String) {
        self.daemon_log.push(line);
    }

    pub fn table(&self) -> String {
        let fmt = |u: Unit, v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| u.format(v));
        let mut cells: Vec<[String; 5]> = vec![[
            "metric".into(),
            "baseline".into(),
            "lambdalet".into(),
            "ratio".into(),
            "DESIGN.md target".into(),
        ]];
        let mut sections = Vec::new();
        for r in &self.rows {
            let ratio = r.ratio();
            let target = match r.target.met(r.ours, r.baseline, ratio) {
                None => r.target.describe(),
                Some(true) => format!("{}: met", r.target.describe()),
                Some(false) => format!("{}: MISSED", r.target.describe()),
            };
            sections.push(r.section);
            cells.push([
                r.metric.clone(),
                fmt(r.unit, r.baseline),
                fmt(r.unit, r.ours),
                ratio.map_or_else(
                    || "n/a".to_owned(),
                    // Two decimals, or four for ratios below 0.01 (which would read 0.00x).
                    |x| {
                        if x < 0.01 {
                            format!("{x:.4}x")
                        } else {
                            format!("{x:.2}x")
                        }
                    },
                ),
                target,
            ]);
        }
        let mut width = [0usize; 5];
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |row: &[String; 5]| {
            let mut s = format!("{:<w$}", row[0], w = width[0]);
            for (i, c) in row.iter().enumerate().skip(1) {
                // Numbers right-aligned, the target text left-aligned.
                if i == 4 {
                    s.push_str(&format!(" | {c:<w$}", w = width[i]));
                } else {
                    s.push_str(&format!(" | {c:>w$}", w = width[i]));
                }
            }
            s.trim_end().to_owned()
        };
        let total: usize = width.iter().sum::<usize>() + 3 * 4;
        let mut out = String::new();
        out.push('\n');
        out.push_str(&self.machine.describe());
        out.push_str("\n\n");
        out.push_str(&line(&cells[0]));
        out.push('\n');
        out.push_str(&"-".repeat(total));
        out.push('\n');
        let mut last = "";
        for (row, section) in cells[1..].iter().zip(&sections) {
            if *section != last {
                out.push_str(&format!("[{section}]\n"));
                last = section;
            }
            out.push_str(&line(row));
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push_str("\nnotes:\n");
            for n in &self.notes {
                out.push_str(&format!("  - {n}\n"));
            }
        }
        if !self.daemon_log.is_empty() {
            out.push_str("\ndaemon log (warnings, errors, interpreters):\n");
            for l in &self.daemon_log {
                out.push_str(&format!("  {l}\n"));
            }
        }
        out
    }

    pub fn json_line(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let ratio = r.ratio();
                json!({
                    "section": r.section,
                    "metric": r.metric,
                    "unit": r.unit.name(),
                    "baseline": r.baseline,
                    "lambdalet": r.ours,
                    "ratio": ratio,
                    "target": match r.target { Target::None => Value::Null, t => t.describe().into() },
                    "met": r.target.met(r.ours, r.baseline, ratio),
                })
            })
            .collect();
        json!({
            "bench": "lambdalet-bench",
            "machine": self.machine.to_json(),
            "rows": rows,
            "notes": self.notes,
            "daemon_log": self.daemon_log,
        })
        .to_string()
    }
}
