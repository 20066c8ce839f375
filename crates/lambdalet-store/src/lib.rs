//! lambdalet's durable state: one SQLite database (WAL mode) in the data directory.
//!
//! The store is the only place state lives; every in-memory table in the daemon is rebuilt
//! from it at start. It knows rows, not rules: validation and Lambda semantics live in
//! `lambdalet-control`; the store only guarantees that each operation is one transaction.
//! Code zips themselves are files managed by `lambdalet-package`; rows reference them by hash.

mod async_queue;
mod components;
mod db;
mod error;
mod functions;
mod keys;
mod layers;
mod policies;
mod records;
mod schedules;
mod settings;
mod urls;
mod writer;

pub use async_queue::{AsyncEventMeta, AsyncQueueStore, FailedAsyncEvent, NewAsyncEvent};
pub use components::{ComponentRecord, DeploymentRecord, KEPT_DEPLOYMENTS, RecipeRecord};
pub use db::Store;
pub use error::StoreError;
pub use functions::{AliasRecord, FunctionRecord, LATEST, StoredFunction, VersionRecord};
pub use keys::KeyRecord;
pub use layers::LayerVersionRecord;
pub use policies::{PolicyRecord, UNQUALIFIED};
pub use records::{InvocationRecord, Outcome};
pub use schedules::{AlongWith, DEFAULT_SCHEDULE_GROUP, ScheduleGroupRecord, ScheduleRecord};
pub use settings::EventConfigRecord;
pub use urls::FunctionUrlRecord;
pub use writer::RecordWriter;
