//! What the handlers share.

use std::sync::Arc;

use lambdalet_control::Control;
use lambdalet_invoker::{AsyncQueue, Invoker};
use lambdalet_store::RecordWriter;

/// The handlers' shared state: one reference count to bump per request and middleware layer,
/// however many parts it has.
#[derive(Clone)]
pub struct ApiState(Arc<ApiParts>);

impl ApiState {
    pub fn new(parts: ApiParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiParts;

    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

/// What [`ApiState`] holds.
pub struct ApiParts {
    pub control: Arc<Control>,
    /// Greengrass components and deployments.
    pub components: Arc<lambdalet_components::Components>,
    pub invoker: Arc<Invoker>,
    pub records: RecordWriter,
    pub queue: Arc<AsyncQueue>,
    /// EventBridge Scheduler's schedules.
    pub schedules: Arc<lambdalet_schedule::Schedules>,
    pub router: Arc<lambdalet_events::EventRouter>,
    pub tokens: Arc<lambdalet_core::Tokens>,
    pub ipc_stats: Option<Arc<lambdalet_events::ipc::IpcStats>>,
    /// How requests are authenticated (`serve --auth`).
    pub auth: crate::auth::AuthMode,
    /// The API listener's connections (see [`crate::Server::with_stats`]).
    pub connections: Arc<crate::ConnectionStats>,
    /// What invokes each function, for the console (bucket notifications; schedules, topics
    /// and URLs the console reads itself).
    pub triggers: lambdalet_core::TriggerSources,
}
