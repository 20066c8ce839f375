//! The local publish/subscribe bus (Greengrass "local publish/subscribe"): in-process, MQTT
//! topic filters, delivery that never blocks the publisher.
//!
//! A subscriber is a bounded channel (an IPC stream, `lambdalet subscribe`) or a callback (a
//! function subscription, which turns the message into an invocation). A subscriber that does
//! not keep up loses messages, counted and logged, rather than slowing everyone down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::topic::{SubscriptionId, TopicError, TopicFilter, TopicName, TopicTrie};

/// Who published a message (for Greengrass's `RECEIVE_MESSAGES_FROM_OTHERS` and the legacy
/// subscriptions' `source`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A function version (through IPC or the Greengrass V1 SDK).
    Function { name: String, version: String },
    /// The MQTT broker (Greengrass's `cloud`).
    Mqtt,
    /// lambdalet's API (`lambdalet publish`).
    Api,
}

/// A message on a topic.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: TopicName,
    pub payload: Bytes,
    /// Published as JSON (IPC `jsonMessage`) rather than bytes (`binaryMessage`); subscribers
    /// get it in the same form.
    pub json: bool,
    pub source: Source,
}

/// Greengrass's `receiveMode` of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveMode {
    All,
    /// Skip messages the subscriber itself published.
    FromOthers,
}

/// Where a subscription's messages go.
#[derive(Clone)]
pub enum Sink {
    Channel(mpsc::Sender<Message>),
    Callback(Arc<dyn Fn(&Message) + Send + Sync>),
}

#[derive(Clone)]
struct Subscriber {
    owner: Option<String>,
    mode: ReceiveMode,
    sink: Sink,
}

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("message on {topic} is {size} bytes; the limit is {limit} bytes (--max-message-size)")]
    TooLarge {
        topic: String,
        size: usize,
        limit: usize,
    },
}

impl lambdalet_core::HasErrorCode for PublishError {
    fn error_code(&self) -> lambdalet_core::ErrorCode {
        match self {
            Self::Topic(e) => e.error_code(),
            Self::TooLarge { .. } => lambdalet_core::ErrorCode::RequestTooLarge,
        }
    }
}

/// Counters of the bus, for `/metrics`.
#[derive(Debug, Default)]
pub struct BusStats {
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub dropped_slow_subscriber: AtomicU64,
}

pub struct LocalBus {
    trie: RwLock<TopicTrie<Subscriber>>,
    max_message: usize,
    pub stats: BusStats,
}

/// Unsubscribes when dropped.
pub struct Subscription {
    bus: Arc<LocalBus>,
    id: Option<SubscriptionId>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.bus.trie.write().remove(id);
        }
    }
}

impl LocalBus {
    pub fn new(max_message: usize) -> Arc<Self> {
        Arc::new(Self {
            trie: RwLock::new(TopicTrie::new()),
            max_message,
            stats: BusStats::default(),
        })
    }

    /// The largest payload a message may carry.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Subscribes `sink` to `filter`; the subscription ends when the handle is dropped.
    pub fn subscribe(
        self: &Arc<Self>,
        filter: &TopicFilter,
        owner: Option<String>,
        mode: ReceiveMode,
        sink: Sink,
    ) -> Subscription {
        let id = self
            .trie
            .write()
            .insert(filter, Subscriber { owner, mode, sink });
        Subscription {
            bus: self.clone(),
            id: Some(id),
        }
    }

    /// Publishes a message to every matching subscriber; returns how many got it.
    pub fn publish(&self, message: Message) -> Result<usize, PublishError> {
        if message.payload.len() > self.max_message {
            return Err(PublishError::TooLarge {
                topic: message.topic.to_string(),
                size: message.payload.len(),
                limit: self.max_message,
            });
        }
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        let mut targets = Vec::new();
        self.trie
            .read()
            .matches(&message.topic)
            .for_each(|s| targets.push(s.clone()));
        let mut delivered = 0;
        for s in targets {
            if s.mode == ReceiveMode::FromOthers
                && let (Some(owner), Source::Function { name: from, .. }) =
                    (&s.owner, &message.source)
                && owner == from
            {
                continue;
            }
            match &s.sink {
                Sink::Callback(f) => {
                    f(&message);
                    delivered += 1;
                }
                Sink::Channel(tx) => match tx.try_send(message.clone()) {
                    Ok(()) => delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let n = self
                            .stats
                            .dropped_slow_subscriber
                            .fetch_add(1, Ordering::Relaxed)
                            + 1;
                        if n.is_power_of_two() {
                            tracing::warn!(topic = %message.topic, dropped = n, "a subscriber is not keeping up; messages to it are dropped");
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                },
            }
        }
        self.stats
            .delivered
            .fetch_add(delivered as u64, Ordering::Relaxed);
        Ok(delivered)
    }

    /// Number of subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.trie.read().len()
    }
}
