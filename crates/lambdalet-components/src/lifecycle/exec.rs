//! Running one lifecycle step: `/bin/sh -c <script>` in its own session, in the work dir,
//! with exactly the plan's environment, as the plan's user, output into the log file.
//!
//! This module starts, waits and times out; it never changes the component's state.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

use super::log::LogSink;
use super::outcome::{Cancel, Ended, Exit, Failure, failure_message};
use super::plan::{Plan, Step, StepKind};
use super::sessions::{STOP_GRACE, Sessions};
use super::sys;

/// How long a finished step's output may still take to reach the log before the step's
/// end is reported anyway (a background child can hold the pipes open for ever).
const OUTPUT_DRAIN: Duration = Duration::from_millis(100);

/// What a step needs from its component.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    pub(crate) log: LogSink,
    pub(crate) sessions: Sessions,
}

/// A started step.
pub(crate) struct Started {
    kind: StepKind,
    /// Its session id, which is its shell's pid.
    pub(crate) sid: i32,
    exit: watch::Receiver<Option<Exit>>,
}

impl Ctx {
    /// Starts `step` as `kind`; `Ok(None)` when its `Skipif` holds.
    pub(crate) fn start(&self, kind: StepKind, step: &Step) -> Result<Option<Started>, String> {
        let name = super::plan::step_name(kind);
        let env = self.plan.step_env(step);
        if let Some(skip) = &step.skipif
            && skip.holds(env.get("PATH").map(String::as_str), &self.plan.work_dir)
        {
            self.log.lifecycle(&format!("{name} skipped: {skip} holds"));
            return Ok(None);
        }
        let user = self
            .user_for(step)
            .map_err(|e| format!("{name} cannot run: {e}"))?;
        self.prepare_work_dir()
            .map_err(|e| format!("{name} cannot run: {e}"))?;

        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&step.script)
            .env_clear()
            .envs(&env)
            .current_dir(&self.plan.work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        sys::new_session_as(&mut cmd, user);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{name} could not be started: {e}"))?;
        let sid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| format!("{name} could not be started: it has no pid"))?;
        self.sessions.add(sid);
        self.log.lifecycle(&format!("{name} started (pid {sid})"));

        let pumps = [
            child
                .stdout
                .take()
                .map(|out| tokio::spawn(self.log.clone().pump(out, name, "stdout"))),
            child
                .stderr
                .take()
                .map(|err| tokio::spawn(self.log.clone().pump(err, name, "stderr"))),
        ];
        let (tx, exit) = watch::channel(None);
        let sessions = self.sessions.clone();
        let log = self.log.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => match status.code() {
                    Some(code) => Exit::Code(code),
                    None => Exit::Signal(status.signal().unwrap_or(0)),
                },
                Err(_) => Exit::Signal(0),
            };
            let drain = async {
                for pump in pumps.into_iter().flatten() {
                    let _ = pump.await;
                }
            };
            let _ = tokio::time::timeout(OUTPUT_DRAIN, drain).await;
            log.lifecycle(&match exit {
                Exit::Code(code) => format!("{name} exited with status {code}"),
                Exit::Signal(sig) => format!("{name} killed by signal {sig}"),
            });
            sessions.forget_if_empty(sid);
            let _ = tx.send(Some(exit));
        });
        Ok(Some(Started { kind, sid, exit }))
    }

    /// The uid and gid to drop to for `step`, if any.
    fn user_for(&self, step: &Step) -> Result<Option<(u32, u32)>, String> {
        let Some((uid, gid)) = self.plan.user.filter(|_| !step.requires_privilege) else {
            return Ok(None);
        };
        let (euid, egid) = sys::effective_ids();
        if (uid, gid) == (euid, egid) {
            Ok(None)
        } else if euid == 0 {
            Ok(Some((uid, gid)))
        } else {
            Err(format!(
                "the component runs as uid {uid} gid {gid}, but lambdalet runs as uid {euid}, not root, \
                 and cannot switch users; run lambdalet as root, or deploy without a component user"
            ))
        }
    }

    /// Creates the work dir (0700) if missing and, when lambdalet is root, gives it to the
    /// component's user.
    pub(crate) fn prepare_work_dir(&self) -> Result<(), String> {
        let dir = &self.plan.work_dir;
        let prepare = || -> std::io::Result<()> {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            if let Some((uid, gid)) = self.plan.user
                && sys::effective_ids().0 == 0
            {
                let meta = std::fs::metadata(dir)?;
                if (meta.uid(), meta.gid()) != (uid, gid) {
                    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
                }
            }
            Ok(())
        };
        prepare().map_err(|e| format!("work dir {}: {e}", dir.display()))
    }

    /// Runs `step` as `kind` to its end with its timeout: `Ok` on exit 0 or a skip.
    pub(crate) async fn run_step(
        &self,
        kind: StepKind,
        step: &Step,
        cancel: &mut Cancel,
    ) -> Result<(), Failure> {
        self.run_step_allowing(kind, step, cancel, &[])
            .await
            .map(drop)
    }

    /// [`Ctx::run_step`], with `also_ok` exit codes counting as success; `Ok` holds the
    /// exit code (0 for a skip).
    pub(crate) async fn run_step_allowing(
        &self,
        kind: StepKind,
        step: &Step,
        cancel: &mut Cancel,
        also_ok: &[i32],
    ) -> Result<i32, Failure> {
        match self.start(kind, step).map_err(Failure::Failed)? {
            None => Ok(0),
            Some(mut started) => match started.wait(self, step.timeout_as(kind), cancel).await {
                Ended::Exited(Exit::Code(code)) if code == 0 || also_ok.contains(&code) => Ok(code),
                Ended::Cancelled => Err(Failure::Cancelled),
                ended => Err(Failure::Failed(failure_message(kind, ended))),
            },
        }
    }
}

impl Started {
    /// Waits for the step to end, at most `timeout` (then kills its session) and only until
    /// `cancel` fires.
    pub(crate) async fn wait(
        &mut self,
        ctx: &Ctx,
        timeout: Option<Duration>,
        cancel: &mut Cancel,
    ) -> Ended {
        let limit = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            exit = Self::exited(&mut self.exit) => Ended::Exited(exit),
            () = cancel.cancelled() => Ended::Cancelled,
            () = limit => {
                let after = timeout.unwrap_or_default();
                ctx.log.lifecycle(&failure_message(self.kind, Ended::TimedOut(after)));
                ctx.sessions.terminate(&[self.sid], STOP_GRACE).await;
                let _ = Self::exited(&mut self.exit).await;
                Ended::TimedOut(after)
            }
        }
    }

    async fn exited(rx: &mut watch::Receiver<Option<Exit>>) -> Exit {
        let exit = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|exit| *exit);
        match exit {
            Some(exit) => exit,
            // The reaper is gone without a word: the runtime is shutting down.
            None => std::future::pending().await,
        }
    }
}
