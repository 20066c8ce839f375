//! The router: where messages come from (the local bus, MQTT, functions) and where they go
//! (function invocations, IPC streams, MQTT, the legacy subscriptions' targets).
//!
//! A function's `pubsubTopics` subscribe it: each matching message becomes an asynchronous
//! invocation through the durable queue (so queue limits, retries and destinations apply),
//! with the topic in `context.client_context.custom.subject` as Greengrass V1 passed it. A
//! `json` function only gets JSON messages; others are refused, logged and counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use lambdalet_core::lifecycle::{PubsubTopic, TopicType};
use lambdalet_core::{Encoding, LambdaError};
use lambdalet_invoker::{AsyncQueue, AsyncRequest, TopicSink};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::bus::{LocalBus, Message, PublishError, ReceiveMode, Sink, Source, Subscription};
use crate::legacy::{self, Endpoint, LegacySubscription, Origin};
use crate::mqtt::{Delivery, Incoming, Mqtt, MqttMessage, PendingAck, Qos};
use crate::topic::{SubscriptionId, TopicFilter, TopicName, TopicTrie};

/// An invocation being queued for a message: true once it is stored.
type Queued = tokio::task::JoinHandle<bool>;

/// Counters of the router, for `/metrics`.
#[derive(Debug, Default)]
pub struct RouterStats {
    pub mqtt_received: AtomicU64,
    pub mqtt_published: AtomicU64,
    pub invocations: AtomicU64,
    pub rejected_not_json: AtomicU64,
    pub rejected_too_large: AtomicU64,
    pub invoke_failures: AtomicU64,
}

/// Why the router refused something.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(
        "no MQTT broker is configured (lambdalet runs with --mqtt-listen off and no --mqtt-remote)"
    )]
    NoMqtt,
    #[error("{0}")]
    Mqtt(#[from] crate::mqtt::MqttError),
    #[error("{0}")]
    Invalid(#[from] LambdaError),
}

impl lambdalet_core::HasErrorCode for RouteError {
    fn error_code(&self) -> lambdalet_core::ErrorCode {
        use lambdalet_core::ErrorCode;
        match self {
            Self::Publish(e) => e.error_code(),
            Self::NoMqtt => ErrorCode::ResourceNotFound,
            Self::Mqtt(_) => ErrorCode::Service,
            Self::Invalid(e) => e.error_code(),
        }
    }
}

#[derive(Clone)]
enum MqttSink {
    Function { name: String, encoding: Encoding },
    Channel(mpsc::Sender<MqttMessage>),
}

/// A function's current subscriptions.
#[derive(Default)]
struct FunctionSubs {
    local: Vec<Subscription>,
    mqtt: Vec<(SubscriptionId, String)>,
}

pub struct EventRouter {
    pub bus: Arc<LocalBus>,
    mqtt: Option<Mqtt>,
    mqtt_subs: RwLock<TopicTrie<MqttSink>>,
    queue: Arc<AsyncQueue>,
    functions: Mutex<HashMap<String, FunctionSubs>>,
    legacy: RwLock<Vec<LegacySubscription>>,
    /// MQTT filters subscribed for legacy subscriptions whose source is `cloud`.
    legacy_mqtt: Mutex<Vec<String>>,
    /// Function → its IPC authorization policies (`accessControl`), where it has some.
    policies: RwLock<HashMap<String, serde_json::Value>>,
    pub stats: RouterStats,
}

/// An MQTT subscription for a stream (IPC, `lambdalet subscribe`); ends when dropped.
pub struct MqttSubscription {
    router: Arc<EventRouter>,
    id: Option<SubscriptionId>,
    filter: String,
}

impl Drop for MqttSubscription {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.router.mqtt_subs.write().remove(id);
            if let Some(m) = &self.router.mqtt {
                let _ = m.unsubscribe(&self.filter);
            }
        }
    }
}

impl EventRouter {
    /// Starts routing: MQTT messages (if a broker is configured) flow from now on.
    pub fn start(
        bus: Arc<LocalBus>,
        mqtt: Option<(Mqtt, Incoming)>,
        queue: Arc<AsyncQueue>,
    ) -> Arc<Self> {
        let (mqtt, incoming) = match mqtt {
            Some((m, i)) => (Some(m), Some(i)),
            None => (None, None),
        };
        let router = Arc::new(Self {
            bus,
            mqtt,
            mqtt_subs: RwLock::new(TopicTrie::new()),
            queue,
            functions: Mutex::new(HashMap::new()),
            legacy: RwLock::new(Vec::new()),
            legacy_mqtt: Mutex::new(Vec::new()),
            policies: RwLock::new(HashMap::new()),
            stats: RouterStats::default(),
        });
        if let Some(mut incoming) = incoming {
            let weak = Arc::downgrade(&router);
            // Acknowledgements go out in the order the messages came (MQTT 3.1.1 §4.6), each
            // once its invocations are queued.
            let (acks_tx, mut acks_rx) = mpsc::channel::<(Vec<Queued>, PendingAck)>(1024);
            tokio::spawn(async move {
                while let Some((queued, ack)) = acks_rx.recv().await {
                    let mut all = true;
                    for q in queued {
                        all &= q.await.unwrap_or(false);
                    }
                    if all {
                        ack.send().await;
                    } else {
                        tracing::warn!(
                            topic = ack.topic(),
                            "an MQTT message was not acknowledged because an invocation could not be queued: the broker will send it again after reconnecting"
                        );
                    }
                }
            });
            tokio::spawn(async move {
                while let Some(Delivery { message, ack }) = incoming.recv().await {
                    let Some(r) = weak.upgrade() else { break };
                    let queued = r.on_mqtt_message(message);
                    if let Some(ack) = ack
                        && acks_tx.send((queued, ack)).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
        router
    }

    pub fn mqtt(&self) -> Option<&Mqtt> {
        self.mqtt.as_ref()
    }

    /// Checks `pubsubTopics` filters (at deploy, before anything is stored).
    pub fn validate_topics(topics: &[&PubsubTopic]) -> Result<(), LambdaError> {
        for t in topics {
            TopicFilter::new(t.topic.clone())
                .map_err(|e| LambdaError::invalid(format!("pubsubTopics: {e}")))?;
        }
        Ok(())
    }

    /// Replaces a function's subscriptions (its `$LATEST` configuration's `pubsubTopics`).
    pub fn set_function(
        self: &Arc<Self>,
        name: &str,
        topics: &[&PubsubTopic],
        encoding: Encoding,
        access_control: Option<&serde_json::Value>,
    ) {
        match access_control {
            Some(policies) => self
                .policies
                .write()
                .insert(name.to_owned(), policies.clone()),
            None => self.policies.write().remove(name),
        };
        let mut subs = FunctionSubs::default();
        for t in topics {
            let Ok(filter) = TopicFilter::new(t.topic.clone()) else {
                tracing::warn!(function = name, topic = %t.topic, "ignoring an invalid subscription");
                continue;
            };
            match t.kind {
                TopicType::PubSub => {
                    let weak = Arc::downgrade(self);
                    let (function, enc) = (name.to_owned(), encoding);
                    let sink = Sink::Callback(Arc::new(move |m: &Message| {
                        if let Some(r) = weak.upgrade() {
                            r.invoke(&function, enc, m.topic.as_str(), m.payload.clone());
                        }
                    }));
                    // Greengrass's default for a wildcard subscription: not one's own messages.
                    let mode = if filter.is_wildcard() {
                        ReceiveMode::FromOthers
                    } else {
                        ReceiveMode::All
                    };
                    subs.local.push(
                        self.bus
                            .subscribe(&filter, Some(name.to_owned()), mode, sink),
                    );
                }
                TopicType::IotCore => {
                    let sink = MqttSink::Function {
                        name: name.to_owned(),
                        encoding,
                    };
                    let id = self.mqtt_subs.write().insert(&filter, sink);
                    match &self.mqtt {
                        Some(m) => {
                            if let Err(e) = m.subscribe(filter.as_str()) {
                                tracing::warn!(function = name, filter = %filter, "cannot subscribe on MQTT: {e}");
                            }
                        }
                        None => tracing::warn!(
                            function = name,
                            filter = %filter,
                            "the function subscribes to an IOT_CORE topic but no MQTT broker is configured"
                        ),
                    }
                    subs.mqtt.push((id, filter.to_string()));
                }
            }
        }
        let old = self.functions.lock().insert(name.to_owned(), subs);
        if let Some(old) = old {
            self.drop_mqtt(old.mqtt);
        }
    }

    /// Sets (or with `None` removes) the IPC authorization policies of a generic component,
    /// which has no subscriptions of its own.
    pub fn set_component_policies(&self, name: &str, access_control: Option<&serde_json::Value>) {
        match access_control {
            Some(p) => self.policies.write().insert(name.to_owned(), p.clone()),
            None => self.policies.write().remove(name),
        };
    }

    /// A function's IPC authorization policies, if it has any.
    pub fn access_control(&self, name: &str) -> Option<serde_json::Value> {
        self.policies.read().get(name).cloned()
    }

    /// Removes a deleted function's subscriptions.
    pub fn remove_function(&self, name: &str) {
        self.policies.write().remove(name);
        if let Some(old) = self.functions.lock().remove(name) {
            self.drop_mqtt(old.mqtt);
        }
    }

    fn drop_mqtt(&self, subs: Vec<(SubscriptionId, String)>) {
        for (id, filter) in subs {
            self.mqtt_subs.write().remove(id);
            if let Some(m) = &self.mqtt {
                let _ = m.unsubscribe(&filter);
            }
        }
    }

    /// Replaces the legacy subscriptions. Those whose source is `cloud` subscribe lambdalet's
    /// MQTT connection to their subject.
    pub fn set_legacy(&self, subs: Vec<LegacySubscription>) {
        let filters: Vec<String> = subs
            .iter()
            .filter(|s| s.source == Endpoint::Cloud)
            .map(|s| s.subject.to_string())
            .collect();
        if let Some(m) = &self.mqtt {
            for f in &filters {
                if let Err(e) = m.subscribe(f) {
                    tracing::warn!(filter = %f, "cannot subscribe on MQTT for a legacy subscription: {e}");
                }
            }
            for old in std::mem::replace(&mut *self.legacy_mqtt.lock(), filters) {
                let _ = m.unsubscribe(&old);
            }
        }
        *self.legacy.write() = subs;
    }

    /// Publishes on the local bus (and routes by the legacy subscriptions when a function
    /// published it). Returns how many subscribers got it.
    pub fn publish_local(
        &self,
        topic: &str,
        payload: Bytes,
        json: bool,
        source: Source,
    ) -> Result<usize, RouteError> {
        let topic = TopicName::new(topic.to_owned()).map_err(PublishError::from)?;
        if let Source::Function { name, version } = &source {
            let origin = Origin::Function {
                name: name.clone(),
                version: version.clone(),
            };
            self.route_legacy(&origin, &topic, &payload, false, &mut Vec::new());
        }
        Ok(self.bus.publish(Message {
            topic,
            payload,
            json,
            source,
        })?)
    }

    /// Publishes on the MQTT broker.
    pub fn publish_mqtt(&self, topic: &str, payload: Bytes, qos: Qos) -> Result<(), RouteError> {
        let topic = TopicName::new(topic.to_owned()).map_err(PublishError::from)?;
        if payload.len() > self.bus.max_message() {
            return Err(PublishError::TooLarge {
                topic: topic.to_string(),
                size: payload.len(),
                limit: self.bus.max_message(),
            }
            .into());
        }
        let mqtt = self.mqtt.as_ref().ok_or(RouteError::NoMqtt)?;
        mqtt.publish(topic.as_str(), payload, qos)?;
        self.stats.mqtt_published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Subscribes a stream to MQTT messages matching `filter`.
    pub fn subscribe_mqtt(
        self: &Arc<Self>,
        filter: &TopicFilter,
        tx: mpsc::Sender<MqttMessage>,
    ) -> Result<MqttSubscription, RouteError> {
        let mqtt = self.mqtt.as_ref().ok_or(RouteError::NoMqtt)?;
        let id = self.mqtt_subs.write().insert(filter, MqttSink::Channel(tx));
        mqtt.subscribe(filter.as_str())?;
        Ok(MqttSubscription {
            router: self.clone(),
            id: Some(id),
            filter: filter.to_string(),
        })
    }

    /// A message a Greengrass V1 function published with `greengrasssdk` (through the router
    /// function `GGRouter`): routed by the legacy subscriptions only, and an error when none
    /// matches, as on a Greengrass core.
    pub fn publish_legacy(
        &self,
        function: &str,
        version: &str,
        function_arn: &str,
        subject: &str,
        payload: Bytes,
    ) -> Result<usize, RouteError> {
        let topic = TopicName::new(subject.to_owned()).map_err(PublishError::from)?;
        let origin = Origin::Function {
            name: function.to_owned(),
            version: version.to_owned(),
        };
        let n = self.route_legacy(&origin, &topic, &payload, true, &mut Vec::new());
        if n == 0 {
            return Err(LambdaError::invalid(format!(
                "No subscription exists for the source {function_arn} and subject {subject}. Add a subscription with lambdalet subscriptions (source {function_arn}, subject {subject}) to route it."
            ))
            .into());
        }
        Ok(n)
    }

    /// Delivers a message to the targets of the legacy subscriptions; returns how many.
    fn route_legacy(
        &self,
        origin: &Origin,
        topic: &TopicName,
        payload: &Bytes,
        include_local: bool,
        queued: &mut Vec<Queued>,
    ) -> usize {
        let subs = self.legacy.read().clone();
        let targets: Vec<Endpoint> = legacy::targets(&subs, origin, topic)
            .into_iter()
            .cloned()
            .collect();
        let from = match origin {
            Origin::Cloud => Source::Mqtt,
            Origin::Function { name, version } => Source::Function {
                name: name.clone(),
                version: version.clone(),
            },
        };
        let json = serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok();
        let mut n = 0;
        for target in targets {
            let delivered = match &target {
                Endpoint::Cloud => self
                    .publish_mqtt(topic.as_str(), payload.clone(), Qos::AtLeastOnce)
                    .map(|_| ()),
                Endpoint::Component(_) if include_local => self
                    .bus
                    .publish(Message {
                        topic: topic.clone(),
                        payload: payload.clone(),
                        json,
                        source: from.clone(),
                    })
                    .map(|_| ())
                    .map_err(RouteError::from),
                Endpoint::Component(_) => Ok(()),
                Endpoint::Function { name, .. } => {
                    queued.push(self.invoke_raw(name, topic.as_str(), payload.clone()));
                    Ok(())
                }
            };
            match delivered {
                Ok(()) => n += 1,
                Err(e) => {
                    tracing::warn!(topic = %topic, "a legacy subscription could not deliver: {e}")
                }
            }
        }
        n
    }

    /// Delivers a message from MQTT; returns the invocations it queues.
    fn on_mqtt_message(&self, msg: MqttMessage) -> Vec<Queued> {
        self.stats.mqtt_received.fetch_add(1, Ordering::Relaxed);
        let mut queued = Vec::new();
        let Ok(topic) = TopicName::new(msg.topic.clone()) else {
            return queued;
        };
        let mut sinks = Vec::new();
        sinks.extend(self.mqtt_subs.read().matches(&topic).cloned());
        for sink in sinks {
            match sink {
                MqttSink::Function { name, encoding } => {
                    queued.extend(self.invoke(&name, encoding, &msg.topic, msg.payload.clone()))
                }
                MqttSink::Channel(tx) => {
                    let _ = tx.try_send(msg.clone());
                }
            }
        }
        self.route_legacy(&Origin::Cloud, &topic, &msg.payload, true, &mut queued);
        queued
    }

    /// Turns a message into an asynchronous invocation of `function`.
    fn invoke(
        &self,
        function: &str,
        encoding: Encoding,
        topic: &str,
        payload: Bytes,
    ) -> Option<Queued> {
        if encoding == Encoding::Json
            && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err()
        {
            let n = self.stats.rejected_not_json.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                function,
                topic,
                rejected = n,
                "a message that is not JSON was not delivered: the function's inputPayloadEncodingType is json (use binary to take raw bytes)"
            );
            return None;
        }
        Some(self.invoke_raw(function, topic, payload))
    }

    /// Queues an asynchronous invocation of `function` for a message. The event takes its
    /// place in the queue now (messages keep their order); storing it finishes in the
    /// background.
    fn invoke_raw(&self, function: &str, topic: &str, payload: Bytes) -> Queued {
        self.stats.invocations.fetch_add(1, Ordering::Relaxed);
        let request = AsyncRequest {
            function: function.to_owned(),
            qualifier: None,
            payload,
            client_context: Some(serde_json::json!({ "custom": { "subject": topic } }).to_string()),
        };
        let accepted = self.queue.submit(request);
        let (function, topic) = (function.to_owned(), topic.to_owned());
        tokio::spawn(async move {
            match accepted.stored().await {
                Ok(_) => true,
                Err(e) => {
                    tracing::error!(function = %function, topic = %topic, "cannot queue the invocation for a message: {e}");
                    false
                }
            }
        })
    }
}

impl TopicSink for EventRouter {
    fn publish(&self, mqtt: bool, topic: &str, payload: Bytes) -> Result<(), String> {
        let r = if mqtt {
            self.publish_mqtt(topic, payload, Qos::AtLeastOnce)
        } else {
            self.publish_local(topic, payload, true, Source::Api)
                .map(|_| ())
        };
        r.map_err(|e| e.to_string())
    }
}
