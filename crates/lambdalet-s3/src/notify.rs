//! Bucket notifications the AWS way: `PutBucketNotificationConfiguration` with
//! `LambdaFunctionConfigurations`, stored in the state database; each matching change is
//! queued as an asynchronous invocation with S3's event JSON, on disk before the client gets
//! its 200 (the durable async queue then delivers it, with its retries, across restarts).
//! With `--s3-require-permission`, as on AWS, a function's resource-based policy must let
//! `s3.amazonaws.com` invoke it for the bucket, when the notification is configured and at each
//! delivery.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use lambdalet_control::Control;
use lambdalet_core::FunctionRef;
use lambdalet_invoker::{AsyncQueue, AsyncRequest};
use lambdalet_store::Store;
use parking_lot::RwLock;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

use crate::access::Origin;
use crate::event::{Record, event_json};
use crate::rules::{Rule, check_event, check_overlaps};

/// What a successful operation changed.
#[derive(Debug, Clone)]
pub enum Change {
    Created {
        bucket: String,
        key: String,
        how: &'static str,
    },
    Removed {
        bucket: String,
        keys: Vec<String>,
    },
}

/// Stores the rules and turns changes into queued invocations.
pub struct Notifier {
    store: Store,
    queue: Arc<AsyncQueue>,
    control: Arc<Control>,
    /// Where s3s-fs keeps the buckets (a bucket is a directory).
    root: PathBuf,
    rules: RwLock<HashMap<String, Arc<Vec<Rule>>>>,
    sequence: AtomicU64,
    require_permission: bool,
}

/// A bucket's notification rules as stored (none when there are none or they cannot be read).
pub(crate) fn stored_rules(store: &Store, bucket: &str) -> Vec<Rule> {
    store
        .setting(&format!("{SETTING}{bucket}"))
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// The service principal S3 invokes functions as.
pub const S3_PRINCIPAL: &str = "s3.amazonaws.com";

/// The settings key prefix a bucket's rules are stored under (`s3.notifications.BUCKET`).
pub const SETTING: &str = "s3.notifications.";

impl Notifier {
    pub fn new(
        store: Store,
        queue: Arc<AsyncQueue>,
        control: Arc<Control>,
        root: PathBuf,
        require_permission: bool,
    ) -> Self {
        let start = lambdalet_core::timefmt::epoch_millis(std::time::SystemTime::now()) << 16;
        Self {
            store,
            queue,
            control,
            root,
            rules: RwLock::default(),
            sequence: AtomicU64::new(start),
            require_permission,
        }
    }

    /// Whether S3 may invoke `function` (its version or alias `qualifier`) for `bucket`: always
    /// unless `--s3-require-permission`; then as the function's policy says.
    fn permitted(&self, function: &str, qualifier: Option<&str>, bucket: &str) -> bool {
        !self.require_permission
            || self.control.permits(
                function,
                qualifier,
                S3_PRINCIPAL,
                "lambda:InvokeFunction",
                Some(&format!("arn:aws:s3:::{bucket}")),
            )
    }

    fn rules_of(&self, bucket: &str) -> Arc<Vec<Rule>> {
        if let Some(r) = self.rules.read().get(bucket) {
            return r.clone();
        }
        let rules = Arc::new(stored_rules(&self.store, bucket));
        self.rules.write().insert(bucket.to_owned(), rules.clone());
        rules
    }

    fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.root.join(bucket).is_dir() {
            Ok(())
        } else {
            Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ))
        }
    }

    /// `PutBucketNotificationConfiguration`: replaces the bucket's rules whole, or refuses.
    pub async fn put_configuration(
        &self,
        _fs: &FileSystem,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        self.check_bucket(&input.bucket)?;
        let c = input.notification_configuration;
        if c.topic_configurations
            .as_ref()
            .is_some_and(|t| !t.is_empty())
            || c.queue_configurations
                .as_ref()
                .is_some_and(|q| !q.is_empty())
            || c.event_bridge_configuration.is_some()
        {
            return Err(s3_error!(
                InvalidArgument,
                "lambdalet delivers notifications to Lambda functions only: use LambdaFunctionConfigurations"
            ));
        }
        let skip_validation = input.skip_destination_validation.unwrap_or(false);
        let mut rules = Vec::new();
        for (i, l) in c
            .lambda_function_configurations
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            rules.push(self.rule_of(&input.bucket, i, l, skip_validation)?);
        }
        check_overlaps(&rules).map_err(|m| s3_error!(InvalidArgument, "{m}"))?;
        let json = serde_json::to_string(&rules).map_err(|e| s3_error!(InternalError, "{e}"))?;
        let (store, key) = (self.store.clone(), format!("{SETTING}{}", input.bucket));
        tokio::task::spawn_blocking(move || store.put_setting(&key, &json))
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))?
            .map_err(|e| s3_error!(InternalError, "cannot store the configuration: {e}"))?;
        tracing::info!(bucket = %input.bucket, rules = rules.len(), "s3.notifications.set");
        self.rules.write().insert(input.bucket, Arc::new(rules));
        Ok(S3Response::new(
            PutBucketNotificationConfigurationOutput::default(),
        ))
    }

    fn rule_of(
        &self,
        bucket: &str,
        i: usize,
        l: LambdaFunctionConfiguration,
        skip_validation: bool,
    ) -> S3Result<Rule> {
        let arn = l.lambda_function_arn;
        let r = FunctionRef::parse(&arn)
            .map_err(|_| s3_error!(InvalidArgument, "The ARN could not be parsed: {arn}"))?;
        if !skip_validation && self.control.resolve(&r).is_err() {
            return Err(s3_error!(
                InvalidArgument,
                "Unable to validate the following destination configurations: {arn} (no such function in lambdalet)"
            ));
        }
        let qualifier = r.qualifier.as_ref().map(ToString::to_string);
        if !skip_validation && !self.permitted(r.name.as_str(), qualifier.as_deref(), bucket) {
            return Err(s3_error!(
                InvalidArgument,
                "Unable to validate the following destination configurations: {arn} (its resource-based policy does not let {S3_PRINCIPAL} invoke it for arn:aws:s3:::{bucket}; grant it with: aws lambda add-permission --function-name {arn} --statement-id s3-{bucket} --action lambda:InvokeFunction --principal {S3_PRINCIPAL} --source-arn arn:aws:s3:::{bucket})"
            ));
        }
        let mut events = Vec::new();
        for e in l.events {
            let e: &str = e.as_ref();
            check_event(e).map_err(|m| s3_error!(InvalidArgument, "{m}"))?;
            events.push(e.to_owned());
        }
        if events.is_empty() {
            return Err(s3_error!(
                InvalidArgument,
                "a configuration needs at least one Event"
            ));
        }
        let (mut prefix, mut suffix) = (None, None);
        let filter_rules = l.filter.and_then(|f| f.key).and_then(|k| k.filter_rules);
        for fr in filter_rules.unwrap_or_default() {
            let name = fr.name.as_ref().map(|n| n.as_str().to_ascii_lowercase());
            let value = fr.value.unwrap_or_default();
            let slot = match name.as_deref() {
                Some("prefix") => &mut prefix,
                Some("suffix") => &mut suffix,
                _ => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "filter rule name must be either prefix or suffix"
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "Cannot specify more than one {} rule in a filter.",
                    name.unwrap_or_default()
                ));
            }
        }
        Ok(Rule {
            id: l
                .id
                .unwrap_or_else(|| format!("lambdalet-notification-{}", i + 1)),
            function_arn: arn,
            function: r.name.to_string(),
            qualifier: r.qualifier.map(|q| q.to_string()),
            events,
            prefix,
            suffix,
        })
    }

    /// `GetBucketNotificationConfiguration`.
    pub async fn get_configuration(
        &self,
        _fs: &FileSystem,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let rules = self.rules_of(&req.input.bucket);
        let configs: Vec<LambdaFunctionConfiguration> = rules
            .iter()
            .map(|r| {
                let mut filter_rules = Vec::new();
                for (name, v) in [("Prefix", &r.prefix), ("Suffix", &r.suffix)] {
                    if let Some(v) = v {
                        filter_rules.push(FilterRule {
                            name: Some(FilterRuleName::from(name.to_owned())),
                            value: Some(v.clone()),
                        });
                    }
                }
                LambdaFunctionConfiguration {
                    events: r.events.iter().map(|e| Event::from(e.clone())).collect(),
                    filter: (!filter_rules.is_empty()).then_some(NotificationConfigurationFilter {
                        key: Some(S3KeyFilter {
                            filter_rules: Some(filter_rules),
                        }),
                    }),
                    id: Some(r.id.clone()),
                    lambda_function_arn: r.function_arn.clone(),
                }
            })
            .collect();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            lambda_function_configurations: (!configs.is_empty()).then_some(configs),
            ..Default::default()
        }))
    }

    /// Queues the invocations a successful change calls for; returns once they are on disk.
    pub async fn changed(
        &self,
        change: Change,
        etag: Option<String>,
        req_ext: &http::Extensions,
        credentials: Option<&s3s::auth::Credentials>,
    ) -> S3Result<()> {
        let (bucket, items): (String, Vec<(String, String, Option<u64>)>) = match change {
            Change::Created { bucket, key, how } => {
                let size = std::fs::metadata(self.root.join(&bucket).join(&key))
                    .ok()
                    .map(|m| m.len());
                let name = format!("ObjectCreated:{how}");
                (bucket, vec![(name, key, size)])
            }
            Change::Removed { bucket, keys } => {
                let items = keys
                    .into_iter()
                    .map(|k| ("ObjectRemoved:Delete".to_owned(), k, None))
                    .collect();
                (bucket, items)
            }
        };
        let rules = self.rules_of(&bucket);
        if rules.is_empty() {
            return Ok(());
        }
        let source_ip = req_ext
            .get::<Origin>()
            .map(|o| o.peer_ip())
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let principal = credentials.map_or_else(
            || "anonymous".to_owned(),
            |c| format!("AWS:{}", c.access_key),
        );
        let now = lambdalet_core::timefmt::epoch_millis(std::time::SystemTime::now());
        let mut pending = Vec::new();
        for (name, key, size) in items {
            let sequencer = format!("{:018X}", self.sequence.fetch_add(1, Ordering::Relaxed));
            for rule in rules.iter().filter(|r| r.matches(&name, &key)) {
                if !self.permitted(&rule.function, rule.qualifier.as_deref(), &bucket) {
                    tracing::warn!(bucket = %bucket, key = %key, function = %rule.function, "s3.notification_denied: the function's resource-based policy no longer lets {S3_PRINCIPAL} invoke it for this bucket; the event is dropped (aws lambda add-permission grants it)");
                    continue;
                }
                let record = Record {
                    event_name: name.clone(),
                    bucket: bucket.clone(),
                    key: key.clone(),
                    size: if name.starts_with("ObjectCreated") {
                        size
                    } else {
                        None
                    },
                    etag: if name.starts_with("ObjectCreated") {
                        etag.clone()
                    } else {
                        None
                    },
                    sequencer: sequencer.clone(),
                    time_ms: now,
                    region: self.control.account().region.clone(),
                    principal: principal.clone(),
                    source_ip: source_ip.clone(),
                    request_id: format!("{:016X}", self.sequence.load(Ordering::Relaxed)),
                    host_id: sequencer.clone(),
                    configuration_id: rule.id.clone(),
                    owner: self.control.account().account_id.clone(),
                };
                let payload = serde_json::to_vec(&event_json(&record)).unwrap_or_default();
                pending.push(self.queue.submit(AsyncRequest {
                    function: rule.function.clone(),
                    qualifier: rule.qualifier.clone(),
                    payload: Bytes::from(payload),
                    client_context: None,
                }));
                tracing::debug!(bucket = %bucket, key = %key, function = %rule.function, event = %name, "s3.notification");
            }
        }
        for p in pending {
            p.stored().await.map_err(|e| {
                s3_error!(
                    InternalError,
                    "the object was stored but its notification could not be queued: {e}"
                )
            })?;
        }
        Ok(())
    }
}
