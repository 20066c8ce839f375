//! The runtime a fake sandbox plays: an HTTP/1.1 client of the real Runtime API, which asks for
//! events with `next` and answers them as its [`Behaviour`] says.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::unix::pipe;
use tokio::task::JoinSet;

use super::{Life, code};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a fake runtime does, named by the function's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// `echo`: answers with the event's payload.
    Echo,
    /// `sleep:<ms>`: answers with the payload after that many milliseconds.
    Sleep(Duration),
    /// `gate`: answers with the payload once the test lets one invocation through
    /// ([`super::FakeBackend::open_gate`]).
    Gate,
    /// `crash`: takes the event, then the sandbox exits with status 1 without answering.
    Crash,
    /// `init-error`: posts `/runtime/init/error`, then exits with status 1.
    InitError,
    /// `hang`: takes the event and never answers.
    Hang,
    /// `fail`: answers every event with `/error` (`errorType` `Fake.Failure`).
    Fail,
}

impl Behaviour {
    pub(crate) fn parse(handler: &str) -> Result<Self, String> {
        Ok(match handler {
            "echo" => Self::Echo,
            "gate" => Self::Gate,
            "crash" => Self::Crash,
            "init-error" => Self::InitError,
            "hang" => Self::Hang,
            "fail" => Self::Fail,
            other => match other.strip_prefix("sleep:").map(str::parse) {
                Some(Ok(ms)) => Self::Sleep(Duration::from_millis(ms)),
                _ => {
                    return Err(format!(
                        "the fake runtime has no behaviour {other:?}: use echo, sleep:<ms>, gate, crash, init-error, hang or fail"
                    ));
                }
            },
        })
    }
}

/// Plays a runtime against the Runtime API at `api` (`host:port`) until the sandbox ends. A
/// runtime whose Runtime API fails under it exits with status 1, as the real ones do.
pub(crate) async fn play(api: String, behaviour: Behaviour, life: Arc<Life>, log: pipe::Sender) {
    if let Err(e) = run(&api, behaviour, &life, log).await {
        tracing::debug!(error = %e, "fake runtime: the Runtime API failed");
        life.end(code(1));
    }
}

async fn run(
    api: &str,
    behaviour: Behaviour,
    life: &Life,
    mut log: pipe::Sender,
) -> Result<(), Error> {
    let mut client = Client::connect(api).await?;
    if behaviour == Behaviour::InitError {
        // Output written before a call to the Runtime API is in the log the invoker collects
        // once it has seen that call (the same holds for a real runtime).
        let _ = log.write_all(b"fake runtime: init failed\n").await;
        let body = r#"{"errorType":"Fake.InitError","errorMessage":"init-error was asked for"}"#;
        let (status, _, _) = client
            .call(
                Method::POST,
                "/runtime/init/error",
                Some("Fake.InitError"),
                Bytes::from_static(body.as_bytes()),
            )
            .await?;
        expect(status, StatusCode::ACCEPTED, "init/error")?;
        life.end(code(1));
        return Ok(());
    }
    loop {
        let (status, headers, payload) = client
            .call(Method::GET, "/runtime/invocation/next", None, Bytes::new())
            .await?;
        expect(status, StatusCode::OK, "next")?;
        let id = headers
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .ok_or("next gave no Lambda-Runtime-Aws-Request-Id")?
            .to_owned();
        let text = String::from_utf8_lossy(&payload).into_owned();
        let running = life.counters().handling(&text);
        let line = format!("fake runtime: {behaviour:?} handles {text}\n");
        let _ = log.write_all(line.as_bytes()).await;
        let (route, error_type) = match behaviour {
            Behaviour::Echo => ("response", None),
            Behaviour::Sleep(d) => {
                tokio::time::sleep(d).await;
                ("response", None)
            }
            Behaviour::Gate => {
                life.counters().pass_gate().await;
                ("response", None)
            }
            Behaviour::Crash => {
                drop(running);
                // A real sandbox's exit reaches the invoker through the same poll as its
                // output (a pidfd); yielding lets the I/O driver see the output first.
                tokio::task::yield_now().await;
                life.end(code(1));
                return Ok(());
            }
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Fail => ("error", Some("Fake.Failure")),
            Behaviour::InitError => unreachable!("handled before the loop"),
        };
        let body = match error_type {
            Some(t) => Bytes::from(format!(
                r#"{{"errorType":"{t}","errorMessage":"fail was asked for"}}"#
            )),
            None => payload,
        };
        drop(running);
        let path = format!("/runtime/invocation/{id}/{route}");
        let (status, _, _) = client.call(Method::POST, &path, error_type, body).await?;
        expect(status, StatusCode::ACCEPTED, route)?;
    }
}

fn expect(got: StatusCode, want: StatusCode, what: &str) -> Result<(), Error> {
    if got == want {
        Ok(())
    } else {
        Err(format!("the Runtime API answered {what} with {got}, not {want}").into())
    }
}

/// One keep-alive HTTP/1.1 connection to the Runtime API. Its connection task lives in a
/// `JoinSet`, so it ends with the runtime task (an aborted sandbox drops its connection).
struct Client {
    host: String,
    send: SendRequest<Full<Bytes>>,
    _conn: JoinSet<()>,
}

impl Client {
    async fn connect(api: &str) -> Result<Self, Error> {
        let stream = TcpStream::connect(api).await?;
        let (send, conn) = http1::handshake(TokioIo::new(stream)).await?;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            host: api.to_owned(),
            send,
            _conn: tasks,
        })
    }

    /// `method /2018-06-01<path>`, with `Lambda-Runtime-Function-Error-Type` when given.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        error_type: Option<&str>,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
        self.send.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/2018-06-01{path}"))
            .header("host", &self.host)
            .header("content-type", "application/json");
        if let Some(t) = error_type {
            req = req.header("lambda-runtime-function-error-type", t);
        }
        let resp = self.send.send_request(req.body(Full::new(body))?).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}
