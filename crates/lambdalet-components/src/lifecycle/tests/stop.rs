//! `stop`, `restart` and dropping the runner: `shutdown`, and no process left behind.

use std::time::{Duration, Instant};

use super::*;

#[tokio::test]
async fn stop_runs_shutdown_then_ends_the_run() {
    let mut fx = Fixture::new();
    fx.plan.run = step("echo $$ > pid; exec sleep 30");
    fx.plan.shutdown =
        step("echo bye > shutdown.txt; [ -n \"$(cat pid)\" ] && echo run-still-up >> shutdown.txt");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    let pid = read_pid(&fx.work("pid")).await;

    runner.stop().await;
    assert_eq!(runner.state(), (State::Finished, None));
    assert_eq!(
        std::fs::read_to_string(fx.work("shutdown.txt")).unwrap(),
        "bye\nrun-still-up\n"
    );
    assert!(!alive(pid));
    assert_eq!(
        fx.states_logged(),
        ["INSTALLED", "STARTING", "RUNNING", "STOPPING", "FINISHED"]
    );
    // The stopped run's exit is not an error.
    assert_eq!(runner.wait_settled(SEC).await, (State::Finished, None));
}

#[tokio::test]
async fn stop_kills_a_run_that_ignores_sigterm_after_the_grace_period() {
    let mut fx = Fixture::new();
    fx.plan.run = step("trap '' TERM; echo $$ > pid; while :; do sleep 0.05; done");
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Running, 2 * SEC).await;
    let pid = read_pid(&fx.work("pid")).await;

    let began = Instant::now();
    runner.stop().await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(4900) && took < Duration::from_secs(7),
        "{took:?}"
    );
    assert!(!alive(pid));
    assert_eq!(runner.state(), (State::Finished, None));
}

#[tokio::test]
async fn stop_during_startup_cancels_it_without_an_error() {
    let mut fx = Fixture::new();
    fx.plan.startup = step("echo $$ > pid; sleep 30");
    fx.plan.shutdown = step("touch shut");
    fx.plan.recover = step("touch recovered");
    let runner = fx.runner();
    runner.start();
    let pid = read_pid(&fx.work("pid")).await;
    assert_eq!(runner.state(), (State::Starting, None));

    runner.stop().await;
    assert_eq!(runner.state(), (State::Finished, None));
    assert!(!alive(pid));
    assert!(
        fx.work("shut").exists(),
        "shutdown runs for a startup under way"
    );
    assert!(!fx.work("recovered").exists());
    // Nothing more happens once stopped.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runner.wait_settled(SEC).await, (State::Finished, None));
}

#[tokio::test]
async fn a_failing_shutdown_is_reported_and_the_component_still_stops() {
    let mut fx = Fixture::new();
    fx.plan.startup = step("true");
    fx.plan.shutdown = step("exit 7");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    runner.stop().await;
    assert_eq!(
        runner.state(),
        (
            State::Finished,
            Some("shutdown exited with status 7".to_owned())
        )
    );
}

#[tokio::test]
async fn stop_is_safe_in_any_state_and_idempotent() {
    let mut fx = Fixture::new();
    fx.plan.shutdown = step("echo s >> shutdowns");
    let runner = fx.runner();
    // Never started: nothing to shut down.
    runner.stop().await;
    runner.stop().await;
    assert_eq!(runner.state(), (State::Finished, None));
    assert!(!fx.work("shutdowns").exists());

    fx.plan.run = step("sleep 30");
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Running, 2 * SEC).await;
    let (a, b) = tokio::join!(runner.stop(), runner.stop());
    let ((), ()) = (a, b);
    runner.stop().await;
    assert_eq!(runner.state(), (State::Finished, None));
    assert_eq!(
        std::fs::read_to_string(fx.work("shutdowns")).unwrap(),
        "s\n"
    );
}

#[tokio::test]
async fn restart_stops_and_starts_again() {
    let mut fx = Fixture::new();
    fx.plan.run = step("echo $$ >> pids; exec sleep 30");
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Running, 2 * SEC).await;
    let first = read_pid(&fx.work("pids")).await;

    runner.restart().await;
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    let pids = wait_lines(&fx.work("pids"), 2).await;
    assert!(!alive(first));
    assert!(alive(pids[1]));
    runner.stop().await;
    assert!(!alive(pids[1]));
}

#[tokio::test]
async fn dropping_the_runner_kills_its_processes() {
    let mut fx = Fixture::new();
    fx.plan.run = step("sleep 30 & echo $! > child; echo $$ > pid; wait");
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Running, 2 * SEC).await;
    let child = read_pid(&fx.work("child")).await;
    let pid = read_pid(&fx.work("pid")).await;

    let clone = runner.clone();
    drop(runner);
    assert!(alive(child), "a clone still holds the component");
    drop(clone);
    assert!(gone(child).await, "the run's child outlived the runner");
    assert!(gone(pid).await, "the run outlived the runner");
}

async fn wait_lines(path: &std::path::Path, n: usize) -> Vec<i32> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.len() >= n {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} has fewer than {n} lines", path.display());
}
