//! The interactive `lambdalet top` screen: what it holds between polls ([`Screen`]) and how it
//! is drawn with ratatui ([`draw`]): a header line, the table of functions, the selected
//! function's totals and a line of keys (or the last poll's error).

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};

use super::top_model::{self, HEADER, Overview, Rates, Row, Sort};

/// Columns whose cells are numbers, aligned right: INV/S to INV (1 h).
const NUMERIC: std::ops::RangeInclusive<usize> = 3..=11;

/// What the screen shows, kept between polls.
#[derive(Debug)]
pub struct Screen {
    /// The daemon's URL, for the header.
    pub endpoint: String,
    /// Time between polls, for the footer.
    pub interval: Duration,
    pub sort: Sort,
    /// Whether to use colours (not when NO_COLOR is set).
    pub color: bool,
    /// The last overview that arrived, and each of its functions' rates.
    now: Option<Overview>,
    rates: Vec<Rates>,
    /// The selected function, by name, so it stays selected when rows move.
    selected: Option<String>,
    /// Why the last poll failed, if it did.
    error: Option<String>,
}

impl Screen {
    /// An empty screen: "connecting..." until the first overview arrives.
    pub fn new(endpoint: &str, interval: Duration, sort: Sort, color: bool) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            interval,
            sort,
            color,
            now: None,
            rates: Vec::new(),
            selected: None,
            error: None,
        }
    }

    /// Takes a poll's result: a new overview (its rates computed against the previous one),
    /// or the error, shown while the last overview stays on screen.
    pub fn update(&mut self, poll: Result<Overview, String>) {
        match poll {
            Ok(now) => {
                self.rates = top_model::rates(self.now.as_ref(), &now);
                self.now = Some(now);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The rows in the current order.
    pub fn rows(&self) -> Vec<Row<'_>> {
        match &self.now {
            Some(now) => top_model::sorted(now, &self.rates, self.sort),
            None => Vec::new(),
        }
    }

    /// Moves the selection `down` rows (up when negative), staying within the table.
    pub fn select(&mut self, down: isize) {
        let names: Vec<String> = self
            .rows()
            .iter()
            .map(|r| r.function.function.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let at = self.selected_index(&names);
        let to = match at {
            None if down < 0 => names.len() - 1,
            None => 0,
            Some(i) => i.saturating_add_signed(down).min(names.len() - 1),
        };
        self.selected = names.get(to).cloned();
    }

    fn selected_index(&self, names: &[String]) -> Option<usize> {
        let selected = self.selected.as_ref()?;
        names.iter().position(|n| n == selected)
    }

    /// A style, or no colour at all without [`Self::color`].
    fn paint(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, screen: &Screen) {
    let [head, body, detail, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(header(screen)), head);

    let rows = screen.rows();
    let names: Vec<String> = rows.iter().map(|r| r.function.function.clone()).collect();
    let mut state = TableState::default().with_selected(screen.selected_index(&names));
    frame.render_stateful_widget(table(screen, &rows), body, &mut state);

    let selected = state.selected().and_then(|i| rows.get(i));
    frame.render_widget(Paragraph::new(details(screen, selected)), detail);
    frame.render_widget(Paragraph::new(footer(screen)), foot);
}

/// `lambdalet top  URL  2 functions  0 in flight  5.0 inv/s  12:00:00 UTC`.
fn header(screen: &Screen) -> Line<'static> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut spans = vec![
        Span::styled("lambdalet top", bold),
        Span::raw(format!("  {}", screen.endpoint)),
    ];
    match &screen.now {
        None => spans.push(Span::raw("  connecting...")),
        Some(now) => spans.push(Span::raw(format!(
            "  {} functions  {} in flight  {} inv/s  {}",
            now.functions.len(),
            now.in_flight,
            top_model::per_second(top_model::total_rate(&screen.rates)),
            top_model::clock(now.time_ms),
        ))),
    }
    Line::from(spans)
}

/// The table of functions, its header row bold and the selected row reversed.
fn table<'a>(screen: &Screen, rows: &[Row<'_>]) -> Table<'a> {
    let longest = |get: fn(&Row<'_>) -> usize, least: usize| {
        let w = rows.iter().map(get).max().unwrap_or(0).max(least);
        u16::try_from(w).unwrap_or(u16::MAX)
    };
    let widths = [
        Constraint::Length(longest(|r| r.function.function.chars().count(), 8).min(40)),
        Constraint::Length(longest(|r| r.function.runtime.chars().count(), 7).min(16)),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(longest(|r| r.cells()[9].len(), 9)),
        Constraint::Length(6),
        Constraint::Length(9),
    ];
    let head = TableRow::new(
        HEADER
            .iter()
            .enumerate()
            .map(|(i, h)| cell(i, (*h).to_owned())),
    )
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let body: Vec<TableRow<'a>> = rows
        .iter()
        .map(|row| {
            let cells = row.cells().into_iter().enumerate().map(|(i, text)| {
                let style = match i {
                    2 if row.function.state != "Active" => screen.paint(Color::Red),
                    4 if row.rates.errors.is_some_and(|r| r > 0.0) => screen.paint(Color::Red),
                    5 if row.rates.throttles.is_some_and(|r| r > 0.0) => {
                        screen.paint(Color::Yellow)
                    }
                    _ => Style::new(),
                };
                cell(i, text).style(style)
            });
            TableRow::new(cells)
        })
        .collect();
    Table::new(body, widths)
        .header(head)
        .column_spacing(2)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
}

/// A cell, aligned right in the numeric columns.
fn cell<'a>(column: usize, text: String) -> Cell<'a> {
    if NUMERIC.contains(&column) {
        Cell::from(Line::from(text).right_aligned())
    } else {
        Cell::from(text)
    }
}

/// The selected function's totals since the daemon started, or a hint when there is nothing.
fn details(screen: &Screen, selected: Option<&Row<'_>>) -> Line<'static> {
    match (selected, &screen.now) {
        (Some(row), _) => {
            let f = row.function;
            Line::from(format!(
                "{}: {} invocations, {} errors, {} throttles, {} cold starts since the daemon started; last hour {} invocations, {} errors{}",
                f.function,
                f.invocations,
                f.errors,
                f.throttles,
                f.cold_starts,
                f.last_hour.invocations,
                f.last_hour.errors,
                if f.pinned { "; pinned" } else { "" },
            ))
        }
        (None, Some(now)) if now.functions.is_empty() => {
            Line::from("no functions deployed; deploy one with `lambdalet deploy DIR --name NAME`")
        }
        (None, _) => Line::from(""),
    }
}

/// The keys, or the last poll's error while polls fail.
fn footer(screen: &Screen) -> Line<'static> {
    let every = format!("{}s", screen.interval.as_secs_f64());
    match &screen.error {
        Some(e) => Line::from(Span::styled(
            format!("poll failed, trying again every {every} (q quits): {e}"),
            screen.paint(Color::Red).add_modifier(Modifier::BOLD),
        )),
        None => Line::from(format!(
            "q quit  s sort ({})  up/down select  r refresh  every {every}",
            screen.sort.as_str()
        ))
        .style(Style::new().add_modifier(Modifier::DIM)),
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::client::top_model::tests::{function, overview};

    /// The screen drawn on a `width` x 12 terminal, as lines of text.
    fn drawn(screen: &Screen, width: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, 12)).expect("terminal");
        terminal.draw(|f| draw(f, screen)).expect("draw");
        let buffer = terminal.backend().buffer();
        buffer
            .content()
            .chunks(usize::from(width))
            .map(|line| line.iter().map(|c| c.symbol()).collect())
            .collect()
    }

    #[test]
    fn draws_the_header_the_functions_and_their_rates() {
        let mut screen = Screen::new(
            "http://127.0.0.1:9001",
            Duration::from_secs(1),
            Sort::Rate,
            true,
        );
        let first = || vec![function("hello", 10, 0), function("resize-images", 4, 1)];
        screen.update(Ok(overview(1_000, first())));
        let before = drawn(&screen, 140).join("\n");
        assert!(before.contains("2 functions"), "{before}");
        assert!(
            !before.contains("5.0"),
            "no rate on the first frame:\n{before}"
        );

        screen.update(Ok(overview(
            3_000,
            vec![function("hello", 20, 0), function("resize-images", 6, 3)],
        )));
        let lines = drawn(&screen, 140);
        let all = lines.join("\n");
        assert!(
            lines[0].contains("lambdalet top  http://127.0.0.1:9001  2 functions"),
            "{all}"
        );
        assert!(lines[0].contains("6.0 inv/s"), "{all}");
        assert!(
            lines[1].contains("FUNCTION") && lines[1].contains("INV (1 h)"),
            "{all}"
        );
        // Sorted by rate: hello (5.0/s) first, then resize-images (1.0/s, 1.0 errors/s).
        assert!(
            lines[2].starts_with("hello") && lines[2].contains("5.0"),
            "{all}"
        );
        assert!(
            lines[3].starts_with("resize-images") && lines[3].contains("1.0"),
            "{all}"
        );
        assert!(all.contains("q quit  s sort (rate)"), "{all}");

        screen.select(1);
        screen.update(Err("cannot reach lambdalet".to_owned()));
        let lines = drawn(&screen, 140);
        let all = lines.join("\n");
        assert!(lines[10].starts_with("hello: 20 invocations"), "{all}");
        assert!(
            lines[11].starts_with("poll failed, trying again every 1s (q quits): cannot reach"),
            "{all}"
        );
        // The last overview stays on screen while polls fail.
        assert!(lines[3].starts_with("resize-images"), "{all}");
    }

    #[test]
    fn the_selection_follows_its_function_and_stays_in_the_table() {
        let mut screen = Screen::new("e", Duration::from_secs(1), Sort::Name, false);
        screen.select(1);
        screen.update(Ok(overview(
            0,
            vec![function("a", 0, 0), function("b", 0, 0)],
        )));
        screen.select(-1);
        assert_eq!(screen.selected.as_deref(), Some("b"));
        screen.select(5);
        assert_eq!(screen.selected.as_deref(), Some("b"));
        screen.select(-5);
        assert_eq!(screen.selected.as_deref(), Some("a"));
        screen.sort = Sort::Rate;
        screen.update(Ok(overview(
            1_000,
            vec![function("a", 0, 0), function("b", 9, 0)],
        )));
        // b moved to the top; a stays selected.
        let lines = drawn(&screen, 120);
        assert!(lines[3].starts_with("a "), "{lines:?}");
        assert!(lines[10].starts_with("a: 0 invocations"), "{lines:?}");
    }
}
