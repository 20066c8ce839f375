//! A zygote's side of the conversation: its messages and its output, until it exits.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Deserialize;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use super::{Forked, MAX_INIT_OUTPUT, State, Zygote};
use crate::container::control;
use crate::spec::ExitInfo;
use crate::sys;

/// What a zygote tells the daemon.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Message {
    Ready {
        #[serde(rename = "initMs")]
        init_ms: f64,
    },
    Refused {
        why: String,
    },
    InitError {},
    Forked {
        id: String,
        pid: u32,
    },
    Exited {
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
    },
}

impl Zygote {
    /// Writes what Init printed to the first sandbox's output (`keep`), or drops it, once.
    fn end_init_output(&self, out: &pipe::Receiver, keep: bool) {
        self.drain(out);
        if let Some((bytes, first)) = self.init_output.lock().take()
            && keep
        {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match nix::unistd::write(&first, rest) {
                    Ok(n) if n > 0 => rest = &rest[n..],
                    _ => break,
                }
            }
        }
    }

    fn handle(&self, body: &[u8], out: &pipe::Receiver) {
        let msg: Message = match serde_json::from_slice(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(family = %self.family, error = %e, "zygote.bad_message");
                return;
            }
        };
        match msg {
            Message::Ready { init_ms } => {
                self.end_init_output(out, true);
                let held = self.held_bytes();
                tracing::info!(family = %self.family, pid = self.pid(), init_ms, memory_bytes = held, "zygote.ready");
                self.state.send_replace(State::Ready);
            }
            Message::Refused { why } => {
                self.end_init_output(out, false);
                tracing::info!(family = %self.family, %why, "zygote.refused: sandboxes of this version start the plain way");
                self.state.send_replace(State::Refused(why));
            }
            Message::InitError {} => {
                // The zygote posts the error to the first sandbox once its output is there.
                self.end_init_output(out, true);
                let ctl = self.ctl.get_ref().as_fd();
                if let Err(e) = control::send(ctl, br#"{"op":"logged"}"#, &[]) {
                    tracing::warn!(family = %self.family, error = %e, "zygote.channel");
                }
            }
            Message::Forked { id, pid } => {
                tracing::debug!(family = %self.family, pid, sandbox = %id, "zygote.forked");
                let (tx, rx) = oneshot::channel();
                self.children.lock().insert(pid, tx);
                match self.forks.lock().remove(&id) {
                    Some(waiter) => {
                        let _ = waiter.send(Forked { pid, exit: rx });
                    }
                    None if !self.in_container() => {
                        // Its sandbox gave up waiting: the runtime waits at its gate forever.
                        sys::signal_group(pid, Signal::SIGKILL);
                    }
                    // A container zygote's pids are of its own PID namespace, never the
                    // daemon's to signal. That runtime's gate is closed: it exits.
                    None => {}
                }
            }
            Message::Exited { pid, code, signal } => {
                let ours = self.children.lock().remove(&pid);
                tracing::debug!(family = %self.family, pid, ?code, ?signal, forked = ours.is_some(), "zygote.child_exited");
                if let Some(tx) = ours {
                    let _ = tx.send(ExitInfo { code, signal });
                }
                self.close_if_idle();
            }
        }
    }

    /// Reads what the zygote printed and is already in its pipe.
    fn drain(&self, out: &pipe::Receiver) {
        // A plain read of the non-blocking pipe: tokio's try_read would answer from its
        // readiness cache, which may not know of data yet.
        let mut buf = [0u8; 16384];
        while let Ok(n) = nix::unistd::read(out.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            self.printed(&buf[..n]);
        }
    }

    /// Output of the zygote: kept for the first sandbox while Init runs, logged after.
    fn printed(&self, bytes: &[u8]) {
        let mut held = self.init_output.lock();
        if let Some((buf, _)) = held.as_mut() {
            let room = MAX_INIT_OUTPUT.saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
            return;
        }
        drop(held);
        for line in String::from_utf8_lossy(bytes).lines() {
            tracing::info!(family = %self.family, "zygote: {line}");
        }
    }
}
/// Serves a zygote's messages and output until it exits; then its forked runtimes are gone too
/// (they die with it).
pub(super) async fn read_loop(z: Arc<Zygote>, out: pipe::Receiver) {
    let mut buf = vec![0u8; 16384];
    let mut out_open = true;
    loop {
        tokio::select! {
            msg = z.recv() => match msg {
                Ok(Some(body)) => z.handle(&body, &out),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(family = %z.family, error = %e, "zygote.channel");
                    break;
                }
            },
            ready = out.readable(), if out_open => {
                match ready.and_then(|()| out.try_read(&mut buf)) {
                    Ok(0) => out_open = false,
                    Ok(n) => z.printed(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => out_open = false,
                }
            }
        }
    }
    // It exited (or closed its end): what it printed last, then its runtimes.
    if z.exit.borrow().is_none() {
        z.kill();
    }
    let _ = z.exit_info(Duration::from_secs(2)).await;
    z.end_init_output(&out, true);
    z.state.send_if_modified(|s| match s {
        State::Refused(_) | State::Gone => false,
        _ => {
            *s = State::Gone;
            true
        }
    });
    z.closed.store(true, Ordering::Release);
    z.forks.lock().clear();
    for (_, tx) in z.children.lock().drain() {
        let _ = tx.send(ExitInfo {
            code: None,
            signal: Some(libc::SIGKILL),
        });
    }
    tracing::debug!(family = %z.family, pid = z.pid(), "zygote.gone");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_bootstrap_sends() {
        let parse = |s: &str| serde_json::from_str::<Message>(s).map_err(|e| e.to_string());
        assert!(matches!(
            parse(r#"{"op": "ready", "initMs": 1.5}"#),
            Ok(Message::Ready { init_ms }) if init_ms == 1.5
        ));
        assert!(matches!(
            parse(r#"{"op": "forked", "id": "f-1", "pid": 42}"#),
            Ok(Message::Forked { id, pid: 42 }) if id == "f-1"
        ));
        assert!(matches!(
            parse(r#"{"op": "exited", "pid": 42, "code": null, "signal": 9}"#),
            Ok(Message::Exited {
                pid: 42,
                code: None,
                signal: Some(9)
            })
        ));
        assert!(matches!(
            parse(r#"{"op": "init-error", "error": {"errorType": "X"}}"#),
            Ok(Message::InitError {})
        ));
        assert!(matches!(
            parse(r#"{"op": "refused", "why": "threads"}"#),
            Ok(Message::Refused { why }) if why == "threads"
        ));
        assert!(
            parse(r#"{"op": "fork"}"#).is_err(),
            "not the zygote's to send"
        );
    }
}
