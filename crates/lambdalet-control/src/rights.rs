//! What a [`Principal`] may do through the Lambda API.
//!
//! An administrator may do everything. A function (its own credentials, or a request from one
//! of its sandboxes) may invoke functions and publish/subscribe as its `accessControl`
//! allows, and manage functions only with `allowManagement: true`. Invoking follows the rule
//! of Greengrass's IPC policies: a function without `accessControl` is not restricted; with
//! it, a policy of the `lambdalet.lambda` service must list `lambda:InvokeFunction` (or `*`)
//! and a resource matching the target function's name (`*` for any characters):
//!
//! ```json
//! {"lambdalet.lambda": {"invoke-orders": {"operations": ["lambda:InvokeFunction"],
//!                                         "resources": ["orders-*"]}}}
//! ```
//!
//! The rights follow the function's `$LATEST` configuration.

use lambdalet_core::{ErrorCode, LambdaError, LifecycleConfig, Principal};

use crate::control::Control;

/// The `accessControl` service whose policies say which functions a function may invoke.
pub const LAMBDA_SERVICE: &str = "lambdalet.lambda";
/// The operation of [`LAMBDA_SERVICE`] that invoking needs.
pub const INVOKE_OPERATION: &str = "lambda:InvokeFunction";

/// Where a message goes or comes from, for [`Control::authorize_topic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAccess {
    Publish { mqtt: bool },
    Subscribe { mqtt: bool },
}

fn denied(message: String) -> LambdaError {
    LambdaError::new(ErrorCode::AccessDenied, message)
}

impl Control {
    fn lifecycle_of(&self, function: &str) -> Option<LifecycleConfig> {
        self.table
            .read()
            .get(function)
            .map(|e| e.latest.record.config.lifecycle.clone())
    }

    /// Whether `who` may manage functions (everything but invoking and publish/subscribe).
    pub fn authorize_management(&self, who: &Principal, action: &str) -> Result<(), LambdaError> {
        let Principal::Function(f) = who else {
            return Ok(());
        };
        if self
            .lifecycle_of(f.as_str())
            .is_some_and(|l| l.allow_management)
        {
            return Ok(());
        }
        Err(denied(format!(
            "function {f} is not authorized to perform {action}: a function's own credentials may invoke functions, not manage them (give it `allowManagement: true` in its lambdalet configuration, or use an administrator's key from `lambdalet keys create`)"
        )))
    }

    /// Whether function `f`'s credentials and sandboxes may use `bucket` of the embedded S3
    /// endpoint: every bucket unless its configuration lists `allowedBuckets`.
    pub fn function_may_use_bucket(&self, f: &str, bucket: &str) -> bool {
        self.lifecycle_of(f).is_none_or(|l| {
            l.allowed_buckets.is_empty() || l.allowed_buckets.iter().any(|b| b == bucket)
        })
    }

    /// Whether `who` may invoke function `target` (a name).
    pub fn authorize_invoke(&self, who: &Principal, target: &str) -> Result<(), LambdaError> {
        let Principal::Function(f) = who else {
            return Ok(());
        };
        let lifecycle = self.lifecycle_of(f.as_str()).unwrap_or_default();
        if lifecycle.allow_management
            || lambdalet_events::ipc::allowed(
                lifecycle.access_control.as_ref(),
                LAMBDA_SERVICE,
                INVOKE_OPERATION,
                target,
            )
        {
            return Ok(());
        }
        Err(denied(format!(
            "function {f} is not authorized to perform {INVOKE_OPERATION} on function {target}: its accessControl has no {LAMBDA_SERVICE} policy that allows it (add {{\"{LAMBDA_SERVICE}\": {{\"<policy id>\": {{\"operations\": [\"{INVOKE_OPERATION}\"], \"resources\": [\"{target}\"]}}}}}})"
        )))
    }

    /// Whether `who` may publish to or subscribe to `topic` (a filter when subscribing).
    pub fn authorize_topic(
        &self,
        who: &Principal,
        access: TopicAccess,
        topic: &str,
    ) -> Result<(), LambdaError> {
        let Principal::Function(f) = who else {
            return Ok(());
        };
        use lambdalet_events::ipc as p;
        let (service, operation) = match access {
            TopicAccess::Publish { mqtt: false } => (p::PUBSUB, p::PUBLISH_TO_TOPIC),
            TopicAccess::Subscribe { mqtt: false } => (p::PUBSUB, p::SUBSCRIBE_TO_TOPIC),
            TopicAccess::Publish { mqtt: true } => (p::MQTT_PROXY, p::PUBLISH_TO_IOT_CORE),
            TopicAccess::Subscribe { mqtt: true } => (p::MQTT_PROXY, p::SUBSCRIBE_TO_IOT_CORE),
        };
        let lifecycle = self.lifecycle_of(f.as_str()).unwrap_or_default();
        if lifecycle.allow_management
            || p::allowed(lifecycle.access_control.as_ref(), service, operation, topic)
        {
            return Ok(());
        }
        Err(denied(format!(
            "function {f} is not authorized to perform {service}:{operation} on resource {topic}"
        )))
    }
}
