//! The read end of a sandbox's output pipe (its stdout and stderr together, like Lambda's log).

use std::io;

use tokio::net::unix::pipe;

/// Reads a sandbox's output, asynchronously or by draining what is already buffered.
pub struct OutputReader {
    rx: pipe::Receiver,
}

impl OutputReader {
    pub(crate) fn new(rx: pipe::Receiver) -> Self {
        Self { rx }
    }

    /// The pipe's read end.
    pub(crate) fn into_receiver(self) -> pipe::Receiver {
        self.rx
    }

    /// Wraps the read end of a pipe made elsewhere. Only for fake backends in other crates'
    /// tests (the invoker's scheduler tests); real backends use the crate-private `new`.
    #[doc(hidden)]
    pub fn from_pipe(rx: pipe::Receiver) -> Self {
        Self::new(rx)
    }

    /// Waits for output; returns 0 at end of file (every writer has exited).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.rx.readable().await?;
            match self.rx.try_read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until the pipe has something to read (or is at end of file).
    pub async fn readable(&self) -> io::Result<()> {
        self.rx.readable().await
    }

    /// Appends what is already in the pipe to `out` without waiting, up to 1 MiB per call (a
    /// writer faster than the reader cannot keep it here). Returns true at end of file. Used to
    /// collect what a runtime printed before it posted its response.
    pub fn drain_now(&self, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        let limit = out.len() + (1 << 20);
        while out.len() < limit {
            match self.rx.try_read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}
