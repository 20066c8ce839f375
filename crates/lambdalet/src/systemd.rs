//! systemd's service protocol (`Type=notify`): `READY=1` once every listener is bound and the
//! functions are loaded, `WATCHDOG=1` while the daemon is healthy, `STOPPING=1` at shutdown.
//!
//! Messages are datagrams to the socket named by `NOTIFY_SOCKET` (a path, or `@name` for an
//! abstract socket); without it (not started by systemd) nothing is sent. The watchdog pings
//! every half of `WATCHDOG_USEC`, and only after the state database has answered a query in
//! that time: a daemon whose runtime or store is stuck stops pinging, and systemd restarts it
//! (`Restart=on-failure`).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use lambdalet_store::Store;
use tokio::task::JoinHandle;

/// Sends `state` (newline-separated `KEY=VALUE` lines) to systemd. False when there is no
/// `NOTIFY_SOCKET` or it cannot be reached.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let send = || -> std::io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        } else {
            socket.send_to(state.as_bytes(), &path)?;
        }
        Ok(())
    };
    match send() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("cannot notify systemd on {}: {e}", path.to_string_lossy());
            false
        }
    }
}

/// Tells systemd the daemon is ready, and starts the watchdog's pings if the unit has one.
pub fn ready(store: &Store, status: &str) -> Option<JoinHandle<()>> {
    if !notify(&format!("READY=1\nSTATUS={status}")) {
        return None;
    }
    let interval = watchdog_interval()?;
    tracing::info!(
        "systemd watchdog: pinging every {} ms while the store answers",
        interval.as_millis()
    );
    let store = store.clone();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = store.clone();
            let answered =
                tokio::time::timeout(interval, tokio::task::spawn_blocking(move || s.ping())).await;
            match answered {
                Ok(Ok(Ok(()))) => {
                    notify("WATCHDOG=1");
                }
                Ok(Ok(Err(e))) => tracing::warn!("watchdog: the store failed a query: {e}"),
                _ => tracing::warn!(
                    "watchdog: the store did not answer in {} ms; not pinging systemd",
                    interval.as_millis()
                ),
            }
        }
    }))
}

/// Tells systemd the daemon is stopping, and stops the watchdog.
pub fn stopping(watchdog: Option<JoinHandle<()>>) {
    if let Some(w) = watchdog {
        w.abort();
    }
    notify("STOPPING=1\nSTATUS=stopping: finishing in-flight invocations");
}

/// Half the watchdog's timeout, if systemd set one for this process.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
