//! Bootstrap and install: once per version, failures, timeouts, cancellation, `Skipif`.

use std::time::{Duration, Instant};

use super::*;
use crate::lifecycle::SkipIf;

#[tokio::test]
async fn bootstrap_and_install_run_once_per_version() {
    let mut fx = Fixture::new();
    fx.plan.bootstrap = step("echo b >> ../count; echo bootstrapping");
    fx.plan.install = step("echo i >> ../count; echo installing; echo careful >&2");
    let count = fx.plan.work_dir.parent().unwrap().join("count");

    let runner = fx.runner();
    assert_eq!(runner.state(), (State::New, None));
    runner.install().await.unwrap();
    assert_eq!(runner.state(), (State::Installed, None));
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "b\ni\n");

    // Again, and from a new runner as after a daemon restart: both skipped.
    runner.install().await.unwrap();
    let after_restart = fx.runner();
    after_restart.install().await.unwrap();
    assert_eq!(after_restart.state(), (State::Installed, None));
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "b\ni\n");

    // A new version installs again.
    fx.plan.version = "1.0.1".into();
    fx.runner().install().await.unwrap();
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "b\ni\nb\ni\n");

    let log = fx.log();
    assert!(
        log.contains(" [bootstrap] stdout: bootstrapping\n"),
        "{log}"
    );
    assert!(log.contains(" [install] stdout: installing\n"), "{log}");
    assert!(log.contains(" [install] stderr: careful\n"), "{log}");
    assert!(log.contains(" [lifecycle] state INSTALLED\n"), "{log}");
}

#[tokio::test]
async fn the_work_dir_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let mut fx = Fixture::new();
    fx.plan.install = step("pwd > here");
    fx.runner().install().await.unwrap();
    let mode = std::fs::metadata(&fx.plan.work_dir)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let here = std::fs::read_to_string(fx.work("here")).unwrap();
    assert_eq!(
        here.trim(),
        fx.plan.work_dir.canonicalize().unwrap().to_str().unwrap()
    );
}

#[tokio::test]
async fn a_failed_install_is_errored_with_its_status_and_not_marked() {
    let mut fx = Fixture::new();
    fx.plan.install = step("echo oops >&2; exit 3");
    let runner = fx.runner();
    let err = runner.install().await.unwrap_err();
    assert_eq!(err, "install exited with status 3");
    assert_eq!(runner.state(), (State::Errored, Some(err.clone())));
    assert_eq!(runner.wait_settled(SEC).await.0, State::Errored);
    let log = fx.log();
    assert!(log.contains(" [install] stderr: oops\n"), "{log}");
    assert!(
        log.contains(" [lifecycle] state ERRORED: install exited with status 3\n"),
        "{log}"
    );

    // Not marked: the next call runs install again.
    fx.plan.install = step("true");
    let runner = fx.runner();
    runner.install().await.unwrap();
    assert_eq!(runner.state().0, State::Installed);
}

#[tokio::test]
async fn a_bootstrap_failure_skips_install() {
    let mut fx = Fixture::new();
    fx.plan.bootstrap = step("kill -9 $$");
    fx.plan.install = step("touch installed");
    let err = fx.runner().install().await.unwrap_err();
    assert_eq!(err, "bootstrap killed by signal 9");
    assert!(!fx.work("installed").exists());
}

#[tokio::test]
async fn an_install_that_runs_too_long_times_out() {
    let mut fx = Fixture::new();
    fx.plan.install = timed("echo $$ > pid; sleep 30", Duration::from_millis(300));
    let runner = fx.runner();
    let began = Instant::now();
    let err = runner.install().await.unwrap_err();
    assert_eq!(err, "install timed out after 0.3 s");
    assert!(began.elapsed() < 2 * SEC, "{:?}", began.elapsed());
    assert_eq!(runner.state(), (State::Errored, Some(err)));
    assert!(gone(read_pid(&fx.work("pid")).await).await);
}

#[tokio::test]
async fn bootstrap_asking_for_a_restart_counts_as_success() {
    let mut fx = Fixture::new();
    fx.plan.bootstrap = step("exit 100");
    let runner = fx.runner();
    runner.install().await.unwrap();
    assert_eq!(runner.state().0, State::Installed);
    assert!(
        fx.log()
            .contains("bootstrap exited with status 100, asking for a nucleus restart")
    );
}

#[tokio::test]
async fn stop_cancels_an_install() {
    let mut fx = Fixture::new();
    fx.plan.install = step("echo $$ > pid; sleep 30");
    let runner = fx.runner();
    let installing = tokio::spawn({
        let runner = runner.clone();
        async move { runner.install().await }
    });
    let pid = read_pid(&fx.work("pid")).await;
    let began = Instant::now();
    runner.stop().await;
    assert!(began.elapsed() < 2 * SEC, "{:?}", began.elapsed());
    assert_eq!(
        installing.await.unwrap(),
        Err("install cancelled by stop".to_owned())
    );
    assert_eq!(runner.state(), (State::Finished, None));
    assert!(!alive(pid));

    // Nothing was marked: start installs again.
    fx.plan.install = step("true");
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Finished, None));
}

#[tokio::test]
async fn skipif_skips_a_step_and_counts_as_success() {
    let mut fx = Fixture::new();
    std::fs::create_dir_all(&fx.plan.work_dir).unwrap();
    std::fs::write(fx.work("present"), "").unwrap();
    fx.plan.bootstrap = Some(Step {
        skipif: Some(SkipIf::OnPath("sh".into())),
        ..Step::script("touch bootstrap-ran")
    });
    fx.plan.install = Some(Step {
        skipif: Some(SkipIf::Exists("present".into())),
        ..Step::script("touch install-ran")
    });
    fx.plan.startup = Some(Step {
        skipif: Some(SkipIf::OnPath("no-such-tool-here".into())),
        ..Step::script("touch startup-ran")
    });
    let runner = fx.runner();
    runner.start();
    assert_eq!(runner.wait_settled(2 * SEC).await, (State::Running, None));
    assert!(!fx.work("bootstrap-ran").exists());
    assert!(!fx.work("install-ran").exists());
    assert!(fx.work("startup-ran").exists());
    let log = fx.log();
    assert!(
        log.contains("[lifecycle] bootstrap skipped: onpath sh holds"),
        "{log}"
    );
    assert!(
        log.contains("[lifecycle] install skipped: exists present holds"),
        "{log}"
    );
}
