//! The warm-invoke baseline: a bare hyper HTTP/1.1 server that answers every request with its
//! own body. It runs as a child process (this binary re-run with `CHILD_ARG`) with its own
//! multi-threaded tokio runtime, as the daemon does, and the same socket options as the daemon
//! (no TCP_NODELAY on accepted connections; axum's `serve` does not set it either).

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::proc::ChildGuard;

/// The hidden first argument that makes this binary the echo server.
pub const CHILD_ARG: &str = "__echo-server";

/// A running echo server process.
pub struct EchoServer {
    guard: ChildGuard,
    pub addr: SocketAddr,
}

impl EchoServer {
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program to re-run")?;
        let mut child = Command::new(exe)
            .arg(CHILD_ARG)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the echo server")?;
        let stdout = child.stdout.take().context("echo stdout is piped")?;
        let guard = ChildGuard::new(child);
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("cannot read the echo server's address")?;
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("the echo server said {line:?}, not an address"))?;
        Ok(Self { guard, addr })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// `main` of the echo server process: prints its address on stdout, serves until killed.
pub fn child_main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo server: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", listener.local_addr()?)?;
        out.flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(echo))
                    .await;
            });
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
