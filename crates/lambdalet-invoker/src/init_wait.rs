//! Waiting for an environment's init to end, as Lambda orders it: the external extensions
//! register, then the runtime is started; init is over when the runtime and every registered
//! extension have called `next` (spec digest 2 §4.2). Any failure ends it early.

use std::sync::Arc;
use std::time::Instant;

use lambdalet_sandbox::{ExitInfo, Sandbox, SandboxError};
use tokio::sync::oneshot;

use crate::instance::InitProblem;
use crate::runtime_api::{Extensions, InitFailure};

/// `None` when init succeeded by `deadline`; else why not.
pub(crate) async fn await_init(
    sandbox: &Arc<dyn Sandbox>,
    extensions: &Extensions,
    has_external: bool,
    mut ready: oneshot::Receiver<Result<(), InitFailure>>,
    deadline: Instant,
) -> Option<InitProblem> {
    let deadline = tokio::time::Instant::from_std(deadline);
    let mut exited = sandbox.exited();
    let mut changes = extensions.changes();
    let gone = |info: Option<ExitInfo>| {
        let info = info.unwrap_or(ExitInfo {
            code: None,
            signal: None,
        });
        InitProblem::Exited(info, sandbox.out_of_memory())
    };
    if has_external {
        loop {
            if let Some(f) = extensions.failure() {
                return Some(InitProblem::Extension(f));
            }
            if extensions.all_registered() {
                break;
            }
            tokio::select! {
                _ = changes.changed() => {}
                info = exited.wait_for(Option::is_some) => return Some(gone(info.ok().and_then(|i| *i))),
                _ = tokio::time::sleep_until(deadline) => return Some(InitProblem::TimedOut),
            }
        }
        match sandbox.start_runtime().await {
            Ok(Ok(())) => {}
            Ok(Err(SandboxError::Spawn { program, source })) => {
                return Some(InitProblem::Launch(format!(
                    "fork/exec {program}: {source}"
                )));
            }
            Ok(Err(e)) => return Some(InitProblem::Launch(e.to_string())),
            Err(_) => return Some(InitProblem::Launch("the sandbox stopped".to_owned())),
        }
    }
    let mut runtime_ready = false;
    loop {
        if let Some(f) = extensions.failure() {
            return Some(InitProblem::Extension(f));
        }
        if runtime_ready && extensions.init_done() {
            return None;
        }
        tokio::select! {
            r = &mut ready, if !runtime_ready => match r {
                Ok(Ok(())) => runtime_ready = true,
                Ok(Err(failure)) => return Some(InitProblem::Reported(failure)),
                Err(_) => return Some(InitProblem::TimedOut),
            },
            _ = changes.changed() => {}
            info = exited.wait_for(Option::is_some) => return Some(gone(info.ok().and_then(|i| *i))),
            _ = tokio::time::sleep_until(deadline) => return Some(InitProblem::TimedOut),
        }
    }
}
