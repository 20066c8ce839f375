//! `run` and `startup`, errors, `recover`, retries and `BROKEN`, `wait_settled`.

use std::time::Duration;

use super::*;
use crate::lifecycle::SkipIf;

#[tokio::test]
async fn run_is_running_while_it_runs_and_finished_when_it_exits_0() {
    let mut fx = Fixture::new();
    fx.plan.run =
        step("echo started; echo to-stderr >&2; while [ ! -e go ]; do sleep 0.02; done; echo done");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runner.state().0, State::Running);

    std::fs::write(fx.work("go"), "").unwrap();
    wait_state(&runner, State::Finished, 2 * SEC).await;
    assert_eq!(runner.wait_settled(SEC).await, (State::Finished, None));
    assert_eq!(
        fx.states_logged(),
        ["INSTALLED", "STARTING", "RUNNING", "FINISHED"]
    );

    // "<RFC 3339 UTC> [<step>] <stream>: <line>", in order within a stream.
    let log = fx.log();
    let lines: Vec<(&str, &str)> = log.lines().map(|l| l.split_once(' ').unwrap()).collect();
    for (ts, _) in &lines {
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(ts.ends_with('Z'), "{ts}");
    }
    let bodies: Vec<&str> = lines.iter().map(|(_, body)| *body).collect();
    let at = |body: &str| {
        bodies
            .iter()
            .position(|b| *b == body)
            .unwrap_or_else(|| panic!("{body}: {log}"))
    };
    assert!(at("[run] stdout: started") < at("[run] stdout: done"));
    at("[run] stderr: to-stderr");
    assert!(at("[lifecycle] state RUNNING") < at("[lifecycle] state FINISHED"));
}

#[tokio::test]
async fn without_run_or_startup_the_component_finishes_once_installed() {
    let mut fx = Fixture::new();
    fx.plan.install = step("true");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Finished, None));
    assert_eq!(fx.states_logged(), ["INSTALLED", "STARTING", "FINISHED"]);
}

#[tokio::test]
async fn a_skipped_run_finishes() {
    let mut fx = Fixture::new();
    fx.plan.run = Some(Step {
        skipif: Some(SkipIf::OnPath("sh".into())),
        ..Step::script("sleep 30")
    });
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Finished, None));
}

#[tokio::test]
async fn a_failing_run_is_recovered_and_retried_until_broken() {
    let mut fx = Fixture::new();
    fx.plan.install = step("echo i >> installs");
    fx.plan.run = step("echo r >> runs; exit 1");
    fx.plan.recover = step("echo c >> recovers");
    fx.plan.shutdown = step("echo s >> shutdowns");
    let runner = fx.runner();
    runner.start();
    let expected = (State::Broken, Some("run exited with status 1".to_owned()));
    // Not wait_settled: each RUNNING in between settles it (a deployment would call that
    // a success).
    wait_state(&runner, State::Broken, 5 * SEC).await;
    assert_eq!(runner.wait_settled(SEC).await, expected);
    let lines = |name: &str| {
        std::fs::read_to_string(fx.work(name))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(lines("runs"), 3);
    // The third error breaks the component at once: no recover for it.
    assert_eq!(lines("recovers"), 2);
    // Installed once: the marker holds across retries.
    assert_eq!(lines("installs"), 1);
    // Shutdown runs before each retry and when the component breaks.
    assert_eq!(lines("shutdowns"), 3);
    let states = fx.states_logged();
    let retry = ["ERRORED", "STOPPING", "INSTALLED", "STARTING", "RUNNING"];
    let mut want = vec!["INSTALLED", "STARTING", "RUNNING"];
    want.extend(retry);
    want.extend(retry);
    want.push("BROKEN");
    assert_eq!(states, want);

    // Broken stays broken: start does nothing until the errors are reset.
    runner.start();
    assert_eq!(runner.wait_settled(SEC).await, expected);
    assert_eq!(lines("runs"), 3);
    runner.reset_errors();
    assert_eq!(runner.state(), (State::Broken, None));
    runner.start();
    eventually(5 * SEC, || {
        lines("runs") == 6 && runner.state().0 == State::Broken
    })
    .await;
    assert_eq!(runner.wait_settled(SEC).await, expected);
    assert_eq!(lines("runs"), 6);
}

#[tokio::test]
async fn a_failing_startup_breaks_the_component_too() {
    let mut fx = Fixture::new();
    fx.plan.startup = step("exit 2");
    let runner = fx.runner();
    runner.start();
    let settled = runner.wait_settled(5 * SEC).await;
    assert_eq!(
        settled,
        (
            State::Broken,
            Some("startup exited with status 2".to_owned())
        )
    );
}

#[tokio::test]
async fn an_install_failing_under_start_is_retried_and_recovered() {
    let mut fx = Fixture::new();
    // Fails the first time only; recover leaves the hint install needs.
    fx.plan.install = step("[ -e recovered ] || exit 4");
    fx.plan.recover = step("touch recovered");
    fx.plan.run = step("true");
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Finished, 5 * SEC).await;
    let settled = runner.wait_settled(SEC).await;
    assert_eq!(
        settled,
        (
            State::Finished,
            Some("install exited with status 4".to_owned())
        )
    );
    assert_eq!(
        fx.states_logged(),
        [
            "ERRORED",
            "NEW",
            "INSTALLED",
            "STARTING",
            "RUNNING",
            "FINISHED"
        ]
    );
}

#[tokio::test]
async fn startup_is_running_when_it_exits_0_and_its_children_live_on() {
    let mut fx = Fixture::new();
    // The child keeps the step's stdout open: the step must still end.
    fx.plan.startup = step("sleep 30 & echo $! > child; echo launched");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    let child = read_pid(&fx.work("child")).await;
    assert!(alive(child));
    assert!(fx.log().contains(" [startup] stdout: launched\n"));
    // Already running: start again does nothing.
    runner.start();
    assert_eq!(runner.state(), (State::Running, None));

    runner.stop().await;
    assert_eq!(runner.state(), (State::Finished, None));
    assert!(!alive(child), "stop left the startup's child running");
}

#[tokio::test]
async fn wait_settled_gives_up_after_its_timeout() {
    let mut fx = Fixture::new();
    fx.plan.startup = step("sleep 0.5");
    let runner = fx.runner();
    runner.start();
    let early = runner.wait_settled(Duration::from_millis(100)).await;
    assert!(
        matches!(
            early,
            (State::New | State::Installed | State::Starting, None)
        ),
        "{early:?}"
    );
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
}

#[tokio::test]
async fn a_run_timeout_is_an_error() {
    let mut fx = Fixture::new();
    fx.plan.run = timed("sleep 30", Duration::from_millis(200));
    let runner = fx.runner();
    runner.start();
    wait_state(&runner, State::Broken, 5 * SEC).await;
    let settled = runner.wait_settled(SEC).await;
    assert_eq!(
        settled,
        (State::Broken, Some("run timed out after 0.2 s".to_owned()))
    );
}
