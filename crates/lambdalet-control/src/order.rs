//! Code changes of one function in arrival order, without a lock over all functions.
//!
//! CreateFunction and UpdateFunctionCode unpack their zip before they take `Control::writes`,
//! so a big zip holds up nobody else's management operations. Two of them on the same function
//! name must still not overtake each other while they unpack (the later request's small zip
//! landing first, then the earlier request's big one over it): each takes its turn here first,
//! and waits for the one before it on that name (tokio's mutex is first come, first served).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

/// One queue per function name that has a code change in flight.
#[derive(Debug, Default)]
pub(crate) struct Order {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to change one function's code; the next in line goes when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    order: &'a Order,
    name: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Order {
    /// Waits for the code changes of `name` that arrived before this one.
    pub(crate) async fn turn(&self, name: &str) -> Turn<'_> {
        let queue = Arc::clone(self.queues.lock().entry(name.to_owned()).or_default());
        let guard = queue.lock_owned().await;
        Turn {
            order: self,
            name: name.to_owned(),
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn names(&self) -> usize {
        self.queues.lock().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Clones are made under this lock, so a count of one means nobody else is in line.
        let mut queues = self.order.queues.lock();
        if queues
            .get(&self.name)
            .is_some_and(|q| Arc::strong_count(q) == 1)
        {
            queues.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_name_waits_its_turn_and_others_do_not() {
        let order = Arc::new(Order::default());
        let first = order.turn("f").await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let o = Arc::clone(&order);
        let waiter = tokio::spawn(async move {
            let _turn = o.turn("f").await;
            tx.send("second").ok();
        });
        let other = tokio::time::timeout(Duration::from_secs(1), order.turn("g")).await;
        assert!(other.is_ok(), "another name does not wait");
        drop(other);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "the second waits for the first");
        drop(first);
        assert_eq!(rx.recv().await, Some("second"));
        waiter.await.ok();
        assert_eq!(order.names(), 0, "no queue left behind");
    }
}
