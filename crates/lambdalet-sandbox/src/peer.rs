//! Who is at the other end of a loopback TCP connection. The kernel's socket diagnostics
//! (`NETLINK_SOCK_DIAG`, `inet_diag`) name the peer socket's inode and owner; a sandbox holds
//! the connection when one of its processes has that socket open (`/proc/<pid>/fd`). Used to
//! keep a sandbox's Runtime API to that sandbox: any local process can connect to a loopback
//! port, but only the sandbox's own get served.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};

/// The socket at the peer's end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSocket {
    pub inode: u64,
    pub uid: u32,
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const INET_DIAG_NOCOOKIE: u32 = !0;

#[repr(C)]
#[derive(Clone, Copy)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DiagReq {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: SockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.copy_from_slice(&v6.octets()),
    }
    out
}

/// The socket that connected from `peer` to our `local` address (both TCP, in this network
/// namespace), or `None` if the kernel knows no such socket (gone, or in another namespace).
pub fn tcp_peer(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<PeerSocket>> {
    let family = if peer.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // The peer's socket, seen from its side: it is the source, we are the destination.
    let req = DiagReq {
        family: family as u8,
        protocol: libc::IPPROTO_TCP as u8,
        ext: 0,
        pad: 0,
        states: !0,
        id: SockId {
            sport: peer.port().to_be_bytes(),
            dport: local.port().to_be_bytes(),
            src: addr_bytes(peer.ip()),
            dst: addr_bytes(local.ip()),
            interface: 0,
            cookie: [INET_DIAG_NOCOOKIE; 2],
        },
    };
    let hdr = NlMsgHdr {
        len: (size_of::<NlMsgHdr>() + size_of::<DiagReq>()) as u32,
        kind: SOCK_DIAG_BY_FAMILY,
        flags: libc::NLM_F_REQUEST as u16,
        seq: 1,
        pid: 0,
    };
    let mut msg = [0u8; size_of::<NlMsgHdr>() + size_of::<DiagReq>()];
    // SAFETY: both structs are plain repr(C) integers and byte arrays with no padding holes
    // that matter to the kernel (it reads them as bytes); the buffer is exactly their size.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw const hdr).cast::<u8>(),
            msg.as_mut_ptr(),
            size_of::<NlMsgHdr>(),
        );
        std::ptr::copy_nonoverlapping(
            (&raw const req).cast::<u8>(),
            msg.as_mut_ptr().add(size_of::<NlMsgHdr>()),
            size_of::<DiagReq>(),
        );
    }
    // SAFETY: socket(2) on constants; the descriptor is owned right after.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nobody else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: sockaddr_nl is plain data; all-zero addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: sends the live buffer to the live address, with their sizes.
    let sent = unsafe {
        libc::sendto(
            raw,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&raw const kernel).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 1024];
    // SAFETY: receives into the live buffer, at most its size.
    let n = unsafe { libc::recv(raw, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_reply(&buf[..n as usize])
}

fn parse_reply(buf: &[u8]) -> io::Result<Option<PeerSocket>> {
    if buf.len() < size_of::<NlMsgHdr>() {
        return Err(io::Error::other("a short sock_diag reply"));
    }
    // SAFETY: the buffer holds at least a header; read_unaligned copes with any alignment.
    let hdr: NlMsgHdr = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    let body = &buf[size_of::<NlMsgHdr>()..];
    if hdr.kind == NLMSG_ERROR {
        // An nlmsgerr: a negative errno; ENOENT means no such socket.
        let errno = body
            .get(..4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0);
        return match -errno {
            0 | libc::ENOENT => Ok(None),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
    if hdr.kind != SOCK_DIAG_BY_FAMILY || body.len() < size_of::<DiagMsg>() {
        return Err(io::Error::other("an unexpected sock_diag reply"));
    }
    // SAFETY: the body holds at least a DiagMsg, plain integers read unaligned.
    let msg: DiagMsg = unsafe { std::ptr::read_unaligned(body.as_ptr().cast()) };
    Ok(Some(PeerSocket {
        inode: u64::from(msg.inode),
        uid: msg.uid,
    }))
}

/// Whether the connection from `peer` to `local` comes from one of the processes `pids` lists.
/// A kernel without socket diagnostics (`CONFIG_INET_DIAG`) cannot tell: then every connection
/// is accepted and the daemon says so once.
pub fn connection_held(
    local: SocketAddr,
    peer: SocketAddr,
    pids: impl FnOnce() -> Vec<u32>,
) -> bool {
    match tcp_peer(local, peer) {
        Ok(Some(socket)) => held_by(socket.inode, &pids()),
        Ok(None) => false,
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    error = %e,
                    "this kernel's socket diagnostics (sock_diag) are unavailable: a sandbox's Runtime API cannot check that a connection comes from that sandbox"
                );
            });
            true
        }
    }
}

/// This process's effective uid: the owner of the sockets it makes, and of process sandboxes'.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Whether one of `pids` has the socket `inode` open.
pub fn held_by(inode: u64, pids: &[u32]) -> bool {
    let want = format!("socket:[{inode}]");
    pids.iter().any(|pid| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == want.as_str())
        })
    })
}

/// The parent of `pid` (from `/proc/<pid>/stat`), if it is still there.
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The parent is the second field after the command, which ends at the last ')' (a command
    // name may hold spaces and parentheses).
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and every process descended from it (from `/proc/*/stat`), for sandboxes without a
/// cgroup to list their processes.
pub fn family_of(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(p) {
                parents.push((p, ppid));
            }
        }
    }
    let mut family = vec![pid];
    let mut i = 0;
    while i < family.len() {
        let head = family[i];
        family.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == head)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    family
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_peer_of_a_loopback_connection_is_found_and_its_holder_known() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let local = listener.local_addr().expect("addr");
        let client = std::net::TcpStream::connect(local).expect("connect");
        let (_server, peer) = listener.accept().expect("accept");
        let found = tcp_peer(local, peer)
            .expect("sock_diag")
            .expect("the client's socket");
        let me = std::fs::metadata("/proc/self").expect("/proc/self").uid();
        assert_eq!(found.uid, me);
        let own = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&client)
        ))
        .expect("fd")
        .ino();
        assert_eq!(found.inode, own, "the client's socket, not ours");
        let pid = std::process::id();
        assert!(held_by(found.inode, &[pid]));
        assert!(!held_by(found.inode, &[1]));
        assert!(family_of(1).len() > 1 && family_of(pid).contains(&pid));
        // A connection that is gone, or never was, is no one's.
        let nowhere: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert_eq!(tcp_peer(local, nowhere).expect("sock_diag"), None);
    }
}
