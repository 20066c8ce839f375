//! How the client commands print what the daemon answers: `--output json|table|text`, as the
//! AWS CLI's `--output`, or each command's own human-readable form when `--output` is not given.
//!
//! - `json`: the API's JSON, indented, keys in the order the daemon sent them.
//! - `table`: a list as aligned columns under a header row of the JSON field names; one object
//!   as `FIELD  VALUE` rows, one per field.
//! - `text`: tab-separated values, one line per item, no header, the fields in the order the
//!   command documents (the columns of its table); a missing value reads `None`, as with the
//!   AWS CLI.
//!
//! Progress bars and spinners go to stderr, and only when a person watches there: never with
//! `--output json`, never when stderr is not a terminal.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget};

use super::doc::Doc;

/// `--output`: the form of what a client command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The API's JSON, indented, keys in the daemon's order (JSON Lines for streams).
    Json,
    /// Aligned columns under a header row (one object: FIELD VALUE rows).
    Table,
    /// Tab-separated values, one line per item, no header (for cut, awk, while read).
    Text,
}

/// What a command prints: the `--output` form asked for, or its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// `None`: the command's own human-readable form.
    pub format: Option<Format>,
}

impl Output {
    pub fn new(format: Option<Format>) -> Self {
        Self { format }
    }

    /// With a command's own `--json` flag, an alias of `--output json`.
    pub fn or_json(self, json: bool) -> Self {
        if json {
            Self::new(Some(Format::Json))
        } else {
            self
        }
    }

    /// No `--output`: the command prints its own form, notes and hints included.
    pub fn is_human(self) -> bool {
        self.format.is_none()
    }

    pub fn is_json(self) -> bool {
        self.format == Some(Format::Json)
    }

    /// Where progress bars draw: stderr, or nowhere with `--output json` or when stderr is not
    /// a terminal.
    pub fn progress_target(self) -> ProgressDrawTarget {
        if self.is_json() || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// A progress bar of `len` steps on [`Self::progress_target`].
    pub fn bar(self, len: u64) -> ProgressBar {
        ProgressBar::with_draw_target(Some(len), self.progress_target())
    }

    /// A spinner on [`Self::progress_target`].
    pub fn spinner(self) -> ProgressBar {
        ProgressBar::with_draw_target(None, self.progress_target())
    }
}

/// Prints a list: `json` as the whole answer `json`, `table` and `text` one row per item with
/// the values at `columns` (JSON field names, dotted for nested ones: `Sdk.Version`).
pub fn list(format: Format, json: &Doc, items: &[Doc], columns: &[&str]) -> anyhow::Result<()> {
    let rows = || -> Vec<Vec<String>> {
        items
            .iter()
            .map(|item| columns.iter().map(|c| cell(item.path(c))).collect())
            .collect()
    };
    match format {
        Format::Json => emit(&(json.pretty() + "\n")),
        Format::Table => emit(&table(columns, &rows())),
        Format::Text => emit(&text(&rows())),
    }
}

/// Prints one object: `json` as the whole answer `json`, `table` as a `FIELD  VALUE` row per
/// field of `fields`, `text` as one line of the values at `columns`.
pub fn object(format: Format, json: &Doc, fields: &Doc, columns: &[&str]) -> anyhow::Result<()> {
    match format {
        Format::Json => emit(&(json.pretty() + "\n")),
        Format::Table => {
            let rows: Vec<Vec<String>> = match fields {
                Doc::Object(fields) => fields
                    .iter()
                    .map(|(k, v)| vec![k.clone(), cell(v)])
                    .collect(),
                other => vec![vec![String::new(), cell(other)]],
            };
            emit(&aligned(&rows))
        }
        Format::Text => emit(&text(&[columns
            .iter()
            .map(|c| cell(fields.path(c)))
            .collect()])),
    }
}

/// Prints one item of a stream (a log record, a message): `json` as one line of JSON, `text`
/// as one tab-separated line, `table` as a row of space-separated cells (a stream cannot be
/// aligned ahead), under a header the first time (`header`: whether this is the first).
pub fn stream_item(format: Format, item: &Doc, columns: &[&str], header: bool) -> String {
    let row: Vec<String> = columns.iter().map(|c| cell(item.path(c))).collect();
    match format {
        Format::Json => item.compact() + "\n",
        Format::Text => text(&[row]),
        Format::Table => {
            let mut out = String::new();
            if header {
                out.push_str(&columns.join("  "));
                out.push('\n');
            }
            out.push_str(&row.join("  "));
            out.push('\n');
            out
        }
    }
}

/// A value as one cell: a string as is, numbers and booleans as JSON writes them, a list of
/// strings comma-separated, an object or a mixed list as JSON on one line, nothing as `None`.
/// Tabs and line breaks become spaces: a cell never splits a row.
pub fn cell(v: &Doc) -> String {
    let s = match v {
        Doc::Null => "None".to_owned(),
        Doc::String(s) => s.clone(),
        Doc::Bool(b) => b.to_string(),
        Doc::Number(n) => n.to_string(),
        Doc::Array(items) if items.iter().all(|i| matches!(i, Doc::String(_))) => items
            .iter()
            .filter_map(Doc::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.compact(),
    };
    s.replace(['\t', '\n', '\r'], " ")
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut all = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    aligned(&all)
}

/// Rows with their columns aligned.
fn aligned(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(m) => *m = (*m).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Rows as tab-separated lines.
pub fn text(rows: &[Vec<String>]) -> String {
    rows.iter().map(|r| r.join("\t") + "\n").collect()
}

/// Writes to stdout; a reader that went away (`| head`) ends the output quietly.
pub fn emit(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Doc {
        Doc::parse(s.as_bytes()).expect("JSON")
    }

    #[test]
    fn cells_are_one_line_and_none_when_missing() {
        let d = doc(r#"{"s": "a\tb\nc", "n": 3, "l": ["x", "y"], "o": {"k": 1}, "z": null}"#);
        assert_eq!(cell(&d["s"]), "a b c");
        assert_eq!(cell(&d["n"]), "3");
        assert_eq!(cell(&d["l"]), "x,y");
        assert_eq!(cell(&d["o"]), r#"{"k":1}"#);
        assert_eq!(cell(&d["z"]), "None");
        assert_eq!(cell(&d["missing"]), "None");
    }

    #[test]
    fn tables_align_under_a_header_and_text_is_tab_separated() {
        let rows = vec![
            vec!["hello".to_owned(), "128".to_owned()],
            vec!["a".to_owned(), "10240".to_owned()],
        ];
        assert_eq!(
            table(&["FunctionName", "MemorySize"], &rows),
            "FunctionName  MemorySize\nhello         128\na             10240\n"
        );
        assert_eq!(text(&rows), "hello\t128\na\t10240\n");
        let item = doc(r#"{"id": 7, "outcome": "success"}"#);
        assert_eq!(
            stream_item(Format::Table, &item, &["id", "outcome"], true),
            "id  outcome\n7  success\n"
        );
        assert_eq!(
            stream_item(Format::Json, &item, &["id"], true),
            "{\"id\":7,\"outcome\":\"success\"}\n"
        );
    }
}
