//! The network of a sandbox with a network namespace of its own (`network: none`): loopback
//! brought up (a new namespace starts with it down), and the Runtime API listener made there,
//! so the runtime reaches the daemon's Runtime API while nothing else on the host can.

use std::io;
use std::net::{SocketAddrV4, TcpListener};

/// Brings `lo` up and listens on `addr` in the calling process's network namespace.
pub(crate) fn runtime_api_listener(addr: SocketAddrV4) -> io::Result<TcpListener> {
    loopback_up()?;
    // The standard library opens it close-on-exec: the runtime does not inherit it.
    TcpListener::bind(addr)
}

fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) on constants; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just created and owned by nobody else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: ifreq is plain data; zero is a valid value of every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // ioctl's request is an unsigned long in glibc and an int in musl (`libc::Ioctl`); these
    // numbers fit either.
    // SAFETY: SIOCGIFFLAGS fills the flags of the named interface in a live ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS as libc::Ioctl, &raw mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just wrote ifru_flags, the union's active field for these requests.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads the live ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS as libc::Ioctl, &raw const req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
