//! A future that runs to its end even if whoever awaits it goes away, without a task of its own
//! while they wait.
//!
//! An invocation must not stop halfway when its client disconnects (Lambda lets the function
//! finish), so the invoker used to spawn every invocation as a task and await its handle: one
//! task, one cross-task wake-up and one move of the whole invocation future per invocation on
//! the warm path. [`ToTheEnd`] polls the future in the caller's own task instead, and hands what
//! is left of it to a new task only when the caller drops it before the end. A panic inside it
//! becomes an error, as a panicked task's `JoinError` did.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// See the module documentation.
pub(crate) struct ToTheEnd<F: Future + Send + 'static>
where
    F::Output: Send,
{
    future: Option<Pin<Box<F>>>,
}

impl<F: Future + Send + 'static> ToTheEnd<F>
where
    F::Output: Send,
{
    pub(crate) fn new(future: F) -> Self {
        Self {
            future: Some(Box::pin(future)),
        }
    }
}

/// The future panicked; the message, if it was a string.
#[derive(Debug)]
pub(crate) struct Panicked(pub(crate) String);

impl<F: Future + Send + 'static> Future for ToTheEnd<F>
where
    F::Output: Send,
{
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(future) = self.future.as_mut() else {
            panic!("ToTheEnd polled after it finished");
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                self.future = None;
                Poll::Ready(Ok(out))
            }
            Err(payload) => {
                self.future = None;
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                Poll::Ready(Err(Panicked(message)))
            }
        }
    }
}

impl<F: Future + Send + 'static> Drop for ToTheEnd<F>
where
    F::Output: Send,
{
    fn drop(&mut self) {
        let Some(future) = self.future.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(future);
            }
            // No runtime to finish it on (the daemon is exiting): it is dropped, as a task
            // would have been.
            Err(_) => drop(future),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn runs_in_place_and_returns_the_output() {
        let out = ToTheEnd::new(async { 7 }).await;
        assert_eq!(out.unwrap(), 7);
    }

    #[tokio::test]
    async fn finishes_after_the_caller_stops_waiting() {
        let done = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let flag = Arc::clone(&done);
        let waiting = ToTheEnd::new(async move {
            let _ = started_tx.send(());
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        let caller = tokio::spawn(waiting);
        started_rx.await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert!(!done.load(Ordering::SeqCst), "not yet at its end");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(done.load(Ordering::SeqCst), "the rest ran on its own task");
    }

    #[tokio::test]
    async fn a_panic_is_an_error() {
        let out = ToTheEnd::new(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
        })
        .await;
        assert_eq!(out.unwrap_err().0, "boom");
    }
}
