//! The interactive `lambdalet top`: the terminal in raw mode on its alternate screen, a task
//! that polls the daemon, a thread that reads keys, and a loop that redraws whenever either
//! has something new.
//!
//! The terminal is given back as it was on every way out: `q`, Esc or Ctrl-C, SIGTERM, SIGHUP or
//! SIGINT, an error, and a panic (a panic hook restores it before the panic's message prints).

use std::io::{self, Stdout};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};

use super::Client;
use super::top::fetch;
use super::top_model::Sort;
use super::top_view::{self, Screen};

/// Whether the terminal is in raw mode on its alternate screen now (what the panic hook
/// checks before restoring it).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// What a key asks for.
enum Action {
    Quit,
    Sort,
    Select(isize),
    Refresh,
    Nothing,
}

/// Runs the interactive view until the user quits; the terminal is restored before it returns.
pub async fn run(
    client: Client,
    endpoint: &str,
    sort: Sort,
    interval: Duration,
) -> anyhow::Result<ExitCode> {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut screen = Screen::new(endpoint, interval, sort, color);
    let mut tui = Tui::enter()?;
    let refresh = Arc::new(Notify::new());
    let (polls_tx, mut polls) = mpsc::channel(1);
    let mut poller = tokio::spawn(poll(client, interval, refresh.clone(), polls_tx));
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    std::thread::spawn(move || read_keys(&keys_tx));
    let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for SIGINT")?;
    let result = loop {
        if let Err(e) = tui.terminal.draw(|f| top_view::draw(f, &screen)) {
            break Err(anyhow!("cannot draw on the terminal: {e}"));
        }
        tokio::select! {
            key = keys.recv() => match key {
                Some(Ok(ev)) => match action(&ev) {
                    Action::Quit => break Ok(()),
                    Action::Sort => screen.sort = screen.sort.next(),
                    Action::Select(by) => screen.select(by),
                    Action::Refresh => refresh.notify_one(),
                    Action::Nothing => {}
                },
                Some(Err(e)) => break Err(anyhow!("cannot read keys from the terminal: {e}")),
                None => break Err(anyhow!("the terminal's key reader stopped")),
            },
            Some(result) = polls.recv() => screen.update(result),
            ended = &mut poller => {
                break Err(anyhow!("polling the daemon stopped unexpectedly: {ended:?}"));
            }
            _ = term.recv() => break Ok(()),
            _ = hangup.recv() => break Ok(()),
            _ = interrupt.recv() => break Ok(()),
        }
    };
    poller.abort();
    drop(tui);
    result.map(|()| ExitCode::SUCCESS)
}

/// What `ev` asks for: q, Esc or Ctrl-C quit, s sorts, up/down (or k/j) select, r refreshes.
fn action(ev: &Event) -> Action {
    let Event::Key(key) = ev else {
        // A resize: the loop redraws after any event.
        return Action::Nothing;
    };
    if key.kind != KeyEventKind::Press {
        return Action::Nothing;
    }
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('s' | 'S') => Action::Sort,
        KeyCode::Char('r' | 'R') => Action::Refresh,
        KeyCode::Up | KeyCode::Char('k') => Action::Select(-1),
        KeyCode::Down | KeyCode::Char('j') => Action::Select(1),
        KeyCode::PageUp => Action::Select(-10),
        KeyCode::PageDown => Action::Select(10),
        _ => Action::Nothing,
    }
}

/// Polls the daemon every `interval` (or at once when `refresh` is notified), sending each
/// overview or error, until the receiver is gone.
async fn poll(
    client: Client,
    interval: Duration,
    refresh: Arc<Notify>,
    tx: mpsc::Sender<Result<super::top_model::Overview, String>>,
) {
    loop {
        let result = fetch(&client, interval)
            .await
            .map(|(overview, _)| overview)
            .map_err(|e| format!("{e:#}"));
        if tx.send(result).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = refresh.notified() => {}
        }
    }
}

/// Reads the terminal's events and sends them until the receiver is gone or reading fails.
fn read_keys(tx: &mpsc::UnboundedSender<io::Result<Event>>) {
    while !tx.is_closed() {
        match event::poll(Duration::from_millis(100)) {
            Ok(false) => {}
            Ok(true) => {
                let ev = event::read();
                let failed = ev.is_err();
                if tx.send(ev).is_err() || failed {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// The terminal in raw mode on its alternate screen, restored when dropped.
struct Tui {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Tui {
    fn enter() -> anyhow::Result<Self> {
        restore_on_panic();
        terminal::enable_raw_mode()
            .context("cannot switch the terminal to raw mode (run with --once instead)")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = || -> io::Result<Self> {
            execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
            let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
            terminal.clear()?;
            Ok(Self { terminal })
        };
        setup().map_err(|e| {
            restore();
            anyhow!("cannot set up the terminal ({e}); run with --once instead")
        })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: cooked mode, the main screen, the cursor. Each step is tried even
/// if the one before failed; nothing is done when the terminal is not ours.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Installs (once) a panic hook that restores the terminal, then runs the previous hook, so
/// the panic's message lands on a usable terminal.
fn restore_on_panic() {
    static HOOKED: std::sync::Once = std::sync::Once::new();
    HOOKED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::KeyEvent;

    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn keys_map_to_actions() {
        let none = KeyModifiers::NONE;
        assert!(matches!(
            action(&key(KeyCode::Char('q'), none)),
            Action::Quit
        ));
        assert!(matches!(action(&key(KeyCode::Esc, none)), Action::Quit));
        assert!(matches!(
            action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        ));
        assert!(matches!(
            action(&key(KeyCode::Char('c'), none)),
            Action::Nothing
        ));
        assert!(matches!(
            action(&key(KeyCode::Char('s'), none)),
            Action::Sort
        ));
        assert!(matches!(
            action(&key(KeyCode::Char('r'), none)),
            Action::Refresh
        ));
        assert!(matches!(
            action(&key(KeyCode::Up, none)),
            Action::Select(-1)
        ));
        assert!(matches!(
            action(&key(KeyCode::Down, none)),
            Action::Select(1)
        ));
        assert!(matches!(action(&Event::Resize(80, 24)), Action::Nothing));
    }
}
