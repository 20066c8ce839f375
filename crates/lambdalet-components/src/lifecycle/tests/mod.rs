//! Runner tests with real `/bin/sh` scripts in temporary directories.

mod env;
mod install;
mod service;
mod stop;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::{ComponentRunner, Plan, State, Step};

/// A temporary component: its plan, with the work dir and log file inside `dir`.
struct Fixture {
    /// Removed with the fixture.
    _dir: TempDir,
    plan: Plan,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            name: "com.example.Test".into(),
            version: "1.0.0".into(),
            work_dir: dir.path().join("work"),
            log_file: dir.path().join("logs/com.example.Test.log"),
            ..Plan::default()
        };
        Fixture { _dir: dir, plan }
    }

    fn runner(&self) -> ComponentRunner {
        ComponentRunner::new(self.plan.clone())
    }

    /// A file in the work dir.
    fn work(&self, name: &str) -> PathBuf {
        self.plan.work_dir.join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.plan.log_file).unwrap_or_default()
    }

    /// The lifecycle's `state X` lines, in order.
    fn states_logged(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| {
                l.split_once(" [lifecycle] state ")
                    .map(|(_, s)| s.to_owned())
            })
            .map(|s| s.split(':').next().unwrap_or_default().to_owned())
            .collect()
    }
}

fn step(script: &str) -> Option<Step> {
    Some(Step::script(script))
}

fn timed(script: &str, timeout: Duration) -> Option<Step> {
    Some(Step {
        timeout: Some(timeout),
        ..Step::script(script)
    })
}

/// Waits until the runner is in `state`, failing the test after `within`.
async fn wait_state(runner: &ComponentRunner, state: State, within: Duration) {
    let mut rx = runner.watch();
    let reached = tokio::time::timeout(within, rx.wait_for(|(s, _)| *s == state)).await;
    assert!(
        reached.is_ok(),
        "not {state} within {within:?}: {:?}",
        runner.state()
    );
}

/// Waits for a file to exist with some content and returns it.
async fn wait_file(path: &Path, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} not written within {within:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `cond` holds, failing the test after `within`.
async fn eventually(within: Duration, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn read_pid(path: &Path) -> i32 {
    wait_file(path, Duration::from_secs(2))
        .await
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    super::sys::is_alive(pid)
}

/// Waits (briefly) for a process to be gone; a killed process can take a moment.
async fn gone(pid: i32) -> bool {
    for _ in 0..50 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn the_runner_can_be_shared_between_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<ComponentRunner>();
}
