//! The control plane's side of event routing: functions' topic subscriptions follow their
//! `$LATEST` configuration, and the legacy subscriptions are stored and applied.

use std::sync::Arc;

use lambdalet_core::{FunctionConfig, LambdaError};
use lambdalet_events::EventRouter;
use lambdalet_events::legacy::{self, SubscriptionsDoc};

use crate::control::Control;
use crate::error::ControlError;

/// The settings key the legacy subscriptions are stored under.
const LEGACY_KEY: &str = "legacySubscriptions";

impl Control {
    /// Connects the router: every function's subscriptions and the stored legacy subscriptions
    /// take effect now, and later changes follow.
    pub async fn attach_router(&self, router: Arc<EventRouter>) -> Result<(), ControlError> {
        let _ = self.router.set(router.clone());
        for name in self.function_names() {
            self.sync_router(&name);
        }
        let doc = self.legacy_subscriptions().await?;
        match legacy::parse(&doc) {
            Ok(subs) => router.set_legacy(subs),
            Err(e) => tracing::error!(
                "the stored legacy subscriptions are not valid and were not applied: {}",
                e.message
            ),
        }
        Ok(())
    }

    /// Applies a function's current `$LATEST` subscriptions to the router (or removes them).
    pub(crate) fn sync_router(&self, name: &str) {
        let Some(router) = self.router.get() else {
            return;
        };
        let latest = self
            .table
            .read()
            .get(name)
            .map(|e| e.latest.record.config.clone());
        match latest {
            Some(config) => {
                let l = &config.lifecycle;
                let topics: Vec<_> = l.pubsub_topics.values().collect();
                router.set_function(
                    name,
                    &topics,
                    l.input_payload_encoding_type,
                    l.access_control.as_ref(),
                );
            }
            None => router.remove_function(name),
        }
    }

    /// The legacy subscriptions as stored (Greengrass's configuration document).
    pub async fn legacy_subscriptions(&self) -> Result<SubscriptionsDoc, ControlError> {
        let stored = self.blocking(|s| s.setting(LEGACY_KEY)).await?;
        Ok(match stored {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| LambdaError::invalid(format!("stored legacy subscriptions: {e}")))?,
            None => SubscriptionsDoc::default(),
        })
    }

    /// Replaces the legacy subscriptions after checking every one of them.
    pub async fn put_legacy_subscriptions(
        &self,
        doc: SubscriptionsDoc,
    ) -> Result<usize, ControlError> {
        let subs = legacy::parse(&doc)?;
        let n = subs.len();
        let json = serde_json::to_string(&doc).map_err(|e| LambdaError::invalid(e.to_string()))?;
        self.blocking(move |s| s.put_setting(LEGACY_KEY, &json))
            .await?;
        if let Some(router) = self.router.get() {
            router.set_legacy(subs);
        }
        tracing::info!(subscriptions = n, "legacy subscriptions updated");
        Ok(n)
    }
}

/// Checks the event settings of a configuration (topic filters) before it is stored.
pub(crate) fn check(config: &FunctionConfig) -> Result<(), ControlError> {
    let topics: Vec<_> = config.lifecycle.pubsub_topics.values().collect();
    EventRouter::validate_topics(&topics)?;
    Ok(())
}
