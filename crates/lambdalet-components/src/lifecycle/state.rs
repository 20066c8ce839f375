//! The states of a component and the transitions between them, as pure functions.
//!
//! Nothing here runs a process or reads a clock: [`State::next`] says where an [`Event`]
//! leads from a state, or that it is not allowed there. The runner applies events through
//! it, so an illegal transition is a bug it can log instead of a state it can reach.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a component is in its lifecycle (Greengrass nucleus `State`, without the
/// nucleus-only `STATELESS`, `UNINSTALLING` and `UNINSTALLED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not installed yet, or being installed (bootstrap and install run in this state).
    New,
    /// Bootstrap and install succeeded; nothing of the service runs.
    Installed,
    /// `startup` is running, or `run` is being started.
    Starting,
    /// `run` is running, or `startup` exited 0.
    Running,
    /// `shutdown` is running and the service's processes are being stopped.
    Stopping,
    /// `run` exited 0, there was nothing to run, or the component was stopped.
    Finished,
    /// A step failed; `recover` runs and the component is started again.
    Errored,
    /// Too many errors; nothing is started until the errors are reset.
    Broken,
}

impl State {
    /// Every state, in the nucleus's order.
    pub const ALL: [State; 8] = [
        State::New,
        State::Installed,
        State::Starting,
        State::Running,
        State::Stopping,
        State::Finished,
        State::Errored,
        State::Broken,
    ];

    /// The name Greengrass reports: `"NEW"`, `"RUNNING"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "NEW",
            State::Installed => "INSTALLED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Finished => "FINISHED",
            State::Errored => "ERRORED",
            State::Broken => "BROKEN",
        }
    }

    /// Where `event` leads from this state; `None` when it is not allowed here.
    pub fn next(self, event: Event) -> Option<State> {
        use State::*;
        let allowed = match event {
            Event::Reinstall => matches!(
                self,
                New | Installed | Finished | Errored | Broken | Stopping
            ),
            Event::InstallOk => matches!(
                self,
                New | Installed | Finished | Errored | Broken | Stopping
            ),
            Event::Start => self == Installed,
            Event::Up => self == Starting,
            Event::Finish => matches!(self, Starting | Running),
            Event::Fail => matches!(self, New | Starting | Running),
            Event::GiveUp => matches!(self, New | Starting | Running | Errored),
            Event::Stop => self != Broken,
            Event::Stopped => self == Stopping,
        };
        allowed.then_some(event.target())
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to a component, moving it to another state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Bootstrap and install must (re)run: → `NEW`.
    Reinstall,
    /// Bootstrap and install succeeded now or earlier (the marker is there): → `INSTALLED`.
    InstallOk,
    /// The service is being started: `INSTALLED` → `STARTING`.
    Start,
    /// `run` was started, or `startup` exited 0 (or was skipped): `STARTING` → `RUNNING`.
    Up,
    /// `run` exited 0 (or was skipped), or there is neither `run` nor `startup`: → `FINISHED`.
    Finish,
    /// A step failed, and another attempt is allowed: → `ERRORED`.
    Fail,
    /// A step failed once too often: → `BROKEN`.
    GiveUp,
    /// `stop` began: → `STOPPING` (a `BROKEN` component stays broken).
    Stop,
    /// The service's processes are gone after a stop: `STOPPING` → `FINISHED`.
    Stopped,
}

impl Event {
    fn target(self) -> State {
        match self {
            Event::Reinstall => State::New,
            Event::InstallOk => State::Installed,
            Event::Start => State::Starting,
            Event::Up => State::Running,
            Event::Finish | Event::Stopped => State::Finished,
            Event::Fail => State::Errored,
            Event::GiveUp => State::Broken,
            Event::Stop => State::Stopping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Event::*;
    use super::State::*;
    use super::*;

    /// Every (state, event) pair that is allowed, with where it leads. Everything not
    /// listed must be refused.
    const LEGAL: &[(State, Event, State)] = &[
        (New, Reinstall, New),
        (Installed, Reinstall, New),
        (Finished, Reinstall, New),
        (Errored, Reinstall, New),
        (Broken, Reinstall, New),
        (Stopping, Reinstall, New),
        (New, InstallOk, Installed),
        (Installed, InstallOk, Installed),
        (Finished, InstallOk, Installed),
        (Errored, InstallOk, Installed),
        (Broken, InstallOk, Installed),
        (Stopping, InstallOk, Installed),
        (Installed, Start, Starting),
        (Starting, Up, Running),
        (Starting, Finish, Finished),
        (Running, Finish, Finished),
        (New, Fail, Errored),
        (Starting, Fail, Errored),
        (Running, Fail, Errored),
        (New, GiveUp, Broken),
        (Starting, GiveUp, Broken),
        (Running, GiveUp, Broken),
        (Errored, GiveUp, Broken),
        (New, Stop, Stopping),
        (Installed, Stop, Stopping),
        (Starting, Stop, Stopping),
        (Running, Stop, Stopping),
        (Stopping, Stop, Stopping),
        (Finished, Stop, Stopping),
        (Errored, Stop, Stopping),
        (Stopping, Stopped, Finished),
    ];

    const EVENTS: [Event; 9] = [
        Reinstall, InstallOk, Start, Up, Finish, Fail, GiveUp, Stop, Stopped,
    ];

    #[test]
    fn transitions_match_the_table_and_nothing_else_is_allowed() {
        for state in State::ALL {
            for event in EVENTS {
                let expected = LEGAL
                    .iter()
                    .find(|(s, e, _)| *s == state && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(state.next(event), expected, "{state} on {event:?}");
            }
        }
    }

    #[test]
    fn nothing_leaves_running_but_finish_fail_give_up_and_stop() {
        let out: Vec<Event> = EVENTS
            .into_iter()
            .filter(|e| Running.next(*e).is_some())
            .collect();
        assert_eq!(out, vec![Finish, Fail, GiveUp, Stop]);
    }

    #[test]
    fn broken_is_left_only_by_an_install() {
        let out: Vec<Event> = EVENTS
            .into_iter()
            .filter(|e| Broken.next(*e).is_some())
            .collect();
        assert_eq!(out, vec![Reinstall, InstallOk]);
    }

    #[test]
    fn names_display_and_serde_agree() {
        for state in State::ALL {
            assert_eq!(state.to_string(), state.as_str());
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<State>(&json).unwrap(), state);
        }
    }
}
