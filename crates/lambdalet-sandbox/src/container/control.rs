//! The channel between the daemon and a container's init: a `SOCK_SEQPACKET` socket pair,
//! one JSON document per message. The daemon sends the [`InitPlan`](super::plan::InitPlan);
//! the init answers with [`Report`]s, passing the Runtime API listener of a sandbox without
//! network along with one of them (`SCM_RIGHTS`). The runtime never holds this socket (the init
//! keeps it close-on-exec), so a function cannot forge a report.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};

/// Largest message: a plan is a few kilobytes; this leaves room for big environments.
const MAX_MESSAGE: usize = 256 * 1024;

/// What the init tells the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "camelCase")]
pub(crate) enum Report {
    /// The Runtime API listener made in the sandbox's network namespace rides along.
    Listener,
    /// The runtime has been exec'd.
    Started,
    /// A set-up step failed; the init exits.
    Failed { step: String, error: String },
    /// The runtime exited (how); the init exits next (once the extensions have too), taking
    /// the sandbox down.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The extensions have been exec'd; the read end of their output pipe rides along. The
    /// init waits for the daemon's [`GO`] before it starts the runtime.
    Extensions,
    /// Extension `index` (of the plan's) exited.
    ExtensionExited {
        index: usize,
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// The daemon's go-ahead for the runtime of a sandbox with extensions.
pub(crate) const GO: &[u8] = b"go";

/// Creates the pair: (daemon's end, init's end), both close-on-exec.
pub(crate) fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Sends one message, with descriptors if given.
pub(crate) fn send(fd: BorrowedFd<'_>, body: &[u8], pass: &[RawFd]) -> io::Result<()> {
    if body.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a {} byte message is more than the channel takes",
                body.len()
            ),
        ));
    }
    let iov = [io::IoSlice::new(body)];
    let cmsg = [ControlMessage::ScmRights(pass)];
    let cmsgs: &[ControlMessage<'_>] = if pass.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// Receives one message (blocking unless the socket is non-blocking). `Ok(None)`: the other
/// end is closed.
pub(crate) fn recv(fd: BorrowedFd<'_>) -> io::Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (len, passed) = {
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut passed = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: SCM_RIGHTS hands us new descriptors that nothing else owns.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    passed.get_or_insert(owned);
                }
            }
        }
        (msg.bytes, passed)
    };
    if len == 0 && passed.is_none() {
        return Ok(None);
    }
    buf.truncate(len);
    Ok(Some((buf, passed)))
}

/// The daemon's end, read asynchronously.
pub(crate) struct DaemonEnd {
    fd: tokio::io::unix::AsyncFd<OwnedFd>,
}

impl DaemonEnd {
    /// Sends the plan (before the init exists: the socket buffers it), with the runtime's
    /// channel riding along if it has one.
    pub(crate) fn new(
        fd: OwnedFd,
        plan: &super::plan::InitPlan,
        runtime_channel: Option<RawFd>,
    ) -> io::Result<Self> {
        let body = serde_json::to_vec(plan).map_err(io::Error::other)?;
        let pass: Vec<RawFd> = runtime_channel.into_iter().collect();
        send(fd.as_fd(), &body, &pass)?;
        nix::fcntl::fcntl(
            fd.as_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        // SAFETY: the OwnedFd owns the descriptor and returns that same one until the AsyncFd
        // holding it is dropped.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        }?;
        Ok(Self { fd })
    }

    /// The next report; `Ok(None)` once the init has exited and nothing is left.
    pub(crate) async fn next(&self) -> io::Result<Option<(Report, Option<OwnedFd>)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv(fd.get_ref().as_fd())) {
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some((body, passed)))) => {
                    let report = serde_json::from_slice(&body).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("unreadable report from the sandbox's init: {e}"),
                        )
                    })?;
                    return Ok(Some((report, passed)));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Tells the init to start the runtime (see [`Report::Extensions`]).
    pub(crate) fn go(&self) -> io::Result<()> {
        send(self.fd.get_ref().as_fd(), GO, &[])
    }

    /// A report already waiting, without blocking (after the init has exited).
    pub(crate) fn try_next(&self) -> Option<Report> {
        match recv(self.fd.get_ref().as_fd()) {
            Ok(Some((body, _))) => serde_json::from_slice(&body).ok(),
            _ => None,
        }
    }
}

/// The init's end: descriptor 3, blocking.
pub(crate) struct InitEnd {
    fd: OwnedFd,
}

impl InitEnd {
    /// Takes descriptor 3 and makes it close-on-exec, so the runtime never inherits it.
    pub(crate) fn from_fd3() -> io::Result<Self> {
        // SAFETY: the daemon started this process with its end of the channel as descriptor 3,
        // and nothing else in this process owns that descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(3) };
        nix::fcntl::fcntl(
            fd.as_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
        Ok(Self { fd })
    }

    /// The plan, and the runtime's channel (close-on-exec here) if the daemon passed one.
    pub(crate) fn recv_plan(&self) -> io::Result<(super::plan::InitPlan, Option<OwnedFd>)> {
        let (body, channel) = recv(self.fd.as_fd())?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "the daemon sent no plan")
        })?;
        let plan = serde_json::from_slice(&body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok((plan, channel))
    }

    /// Whether the daemon's end of the channel is closed (the daemon has exited).
    pub(crate) fn daemon_gone(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        // POLLHUP is reported whatever is asked for.
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::empty())];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP))
    }

    /// Waits up to `timeout_ms` for the daemon's go-ahead: `Ok(true)` when it came,
    /// `Ok(false)` when it has not yet; an error when the daemon went away.
    pub(crate) fn wait_go(&self, timeout_ms: u16) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(timeout_ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(false),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        match recv(self.fd.as_fd())? {
            Some((body, _)) if body == GO => Ok(true),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the daemon sent something other than the go-ahead",
            )),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the control channel",
            )),
        }
    }

    pub(crate) fn report(&self, report: &Report, pass: Option<RawFd>) -> io::Result<()> {
        let body = serde_json::to_vec(report).map_err(io::Error::other)?;
        let pass: Vec<RawFd> = pass.into_iter().collect();
        send(self.fd.as_fd(), &body, &pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_and_a_descriptor_cross_the_channel() {
        let (daemon, init) = pair().expect("pair");
        let plan = super::super::plan::tests::sample_plan();
        let (channel, _other) = std::os::unix::net::UnixStream::pair().expect("pair");
        let daemon = DaemonEnd::new(daemon, &plan, Some(channel.as_raw_fd())).expect("send plan");
        let init = InitEnd { fd: init };
        let (got, passed) = init.recv_plan().expect("plan");
        assert_eq!(got, plan);
        assert!(passed.is_some(), "the runtime's channel came with the plan");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        init.report(&Report::Listener, Some(listener.as_raw_fd()))
            .expect("send listener");
        init.report(
            &Report::Exited {
                code: Some(3),
                signal: None,
            },
            None,
        )
        .expect("send exit");
        drop(init);
        let (r, fd) = daemon.next().await.expect("recv").expect("a report");
        assert_eq!(r, Report::Listener);
        let passed = std::net::TcpListener::from(fd.expect("a descriptor"));
        assert_eq!(passed.local_addr().expect("addr"), addr);
        let (r, fd) = daemon.next().await.expect("recv").expect("a report");
        assert!(fd.is_none());
        assert_eq!(
            r,
            Report::Exited {
                code: Some(3),
                signal: None
            }
        );
        assert!(daemon.next().await.expect("eof").is_none());
    }
}
