//! TCP_NODELAY for the embedded broker's connections.
//!
//! rumqttd never sets TCP_NODELAY on the connections it accepts. With Nagle's algorithm a
//! small write that follows another not yet acknowledged (a PUBLISH forwarded right after the
//! PUBACK for the client's own QoS 1 publish) waits for that acknowledgement, which the peer
//! delays by Linux's 40 ms minimum: every QoS 1 request/reply took 44 ms. Linux copies
//! TCP_NODELAY from a listening socket to each socket it accepts, so setting it once on
//! rumqttd's listener (found among this process's descriptors by its address) fixes every
//! connection it will accept.

use std::net::SocketAddr;

/// Sets TCP_NODELAY on this process's listening TCP socket bound to `addr`. `Ok(false)`: no
/// such socket (yet).
pub(crate) fn set_on_listener(addr: SocketAddr) -> std::io::Result<bool> {
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::c_int>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        if is_socket && listens_on(fd, addr) {
            let one: libc::c_int = 1;
            // SAFETY: `fd` is a descriptor of this process (listed in /proc/self/fd), only
            // used for this call and never closed here; `one` outlives the call and the length
            // is its size. Should the descriptor have been reused meanwhile, the call fails or
            // sets the option on another of our sockets, which is harmless.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&raw const one).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `fd` is a listening socket bound to `addr` (IPv4).
fn listens_on(fd: libc::c_int, addr: SocketAddr) -> bool {
    let SocketAddr::V4(want) = addr else {
        return false;
    };
    let mut listening: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointers refer to live locals of the sizes given; a descriptor that is not a
    // socket only makes the call fail.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut listening).cast(),
            &raw mut len,
        )
    };
    if rc != 0 || listening == 0 {
        return false;
    }
    // SAFETY: an all-zero sockaddr_in is a valid value of this plain C struct.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sa` is a live sockaddr_in and `len` its size; the kernel writes at most `len`
    // bytes and stores the real length.
    let rc = unsafe { libc::getsockname(fd, (&raw mut sa).cast(), &raw mut len) };
    rc == 0
        && len as usize == size_of::<libc::sockaddr_in>()
        && libc::c_int::from(sa.sin_family) == libc::AF_INET
        && u16::from_be(sa.sin_port) == want.port()
        && u32::from_be(sa.sin_addr.s_addr) == u32::from(*want.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodelay_set_on_a_listener_reaches_the_sockets_it_accepts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        assert!(set_on_listener(addr).expect("proc"));
        let _c = std::net::TcpStream::connect(addr).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        assert!(accepted.nodelay().expect("nodelay"));
        let _c2 = std::net::TcpStream::connect(other.local_addr().expect("addr")).expect("connect");
        let (untouched, _) = other.accept().expect("accept");
        assert!(
            !untouched.nodelay().expect("nodelay"),
            "only the listener asked for"
        );
        let unbound: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        assert!(!set_on_listener(unbound).expect("proc"));
    }
}
