//! Who is at the other end of a connection to the daemon's own API: the host's users, or a
//! sandbox of some function. The API uses this so that a request from inside a sandbox never
//! gets more than that function's rights, whatever credentials it carries.
//!
//! The peer socket of a TCP connection made on this host is found with `sock_diag`
//! (`lambdalet_sandbox::peer`), which also names its owner. A container sandbox runs as a uid
//! of its own (`--sandbox-uid-base` + the function's number), so the owner alone tells the
//! function. A socket owned by the daemon's user (process sandboxes run as it) or by a shared
//! `--sandbox-user` is looked for among the live sandboxes' processes (their cgroup, or the
//! runtime's descendants without cgroups): found, it is that sandbox's function; not found, it
//! is a host user's (or, for a shared sandbox user, refused). A process sandbox is trusted code
//! (it can read the data directory): this check keeps honest functions in their lane but is not
//! a wall against one that escapes its process tree on a host without cgroups.

use std::net::SocketAddr;

use lambdalet_core::FunctionName;

use crate::invoker::Invoker;
use crate::sandboxes::SandboxUser;

/// Who made a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Not a sandbox: a user or program of the host, or another machine.
    Host,
    /// A sandbox of this function.
    Function(FunctionName),
    /// A sandbox user's socket that belongs to no live sandbox (a function being deleted, a
    /// sandbox being stopped): served nothing.
    UnknownSandbox { uid: u32 },
}

impl Invoker {
    /// Whose connection from `peer` to our `local` address is. Blocking (netlink and `/proc`):
    /// call it off the async threads, once per connection.
    pub fn caller_of(&self, local: SocketAddr, peer: SocketAddr) -> Caller {
        let socket = match lambdalet_sandbox::peer::tcp_peer(local, peer) {
            Ok(Some(s)) => s,
            // No such socket on this host: the peer is another machine (or already gone).
            Ok(None) => return Caller::Host,
            Err(e) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(error = %e, "socket diagnostics (sock_diag) are unavailable: requests from sandboxes cannot be told apart from the host's own and need their function's credentials to be limited to it");
                });
                return Caller::Host;
            }
        };
        let daemon_uid = lambdalet_sandbox::peer::own_uid();
        let sched = &self.inner.sched;
        let shared_uid = match self.inner.ctx.sandboxes.user {
            SandboxUser::PerFunction { base } => {
                if socket.uid >= base && socket.uid != daemon_uid {
                    return match sched.function_with_uid_index(socket.uid - base) {
                        Some(v) => Caller::Function(v.name.clone()),
                        None => Caller::UnknownSandbox { uid: socket.uid },
                    };
                }
                None
            }
            SandboxUser::Fixed { uid, .. } => Some(uid),
        };
        if socket.uid != daemon_uid && Some(socket.uid) != shared_uid {
            return Caller::Host;
        }
        // A process of a container with a uid of its own cannot make a socket the daemon's
        // user owns: then only process sandboxes need searching.
        let only_processes = shared_uid.is_none();
        for (version, sandbox) in sched.live_sandboxes() {
            let mode = self.inner.ctx.sandboxes.choose(&version.config).mode;
            if only_processes && mode != lambdalet_core::ContainerMode::NoContainer {
                continue;
            }
            if sandbox.holds_socket(socket.inode) {
                return Caller::Function(version.name.clone());
            }
        }
        if Some(socket.uid) == shared_uid && socket.uid != daemon_uid {
            return Caller::UnknownSandbox { uid: socket.uid };
        }
        Caller::Host
    }
}
