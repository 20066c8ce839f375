//! lambdalet's vocabulary, shared by every other crate.
//!
//! This crate holds the types that describe *what* lambdalet runs (function names, ARNs,
//! qualifiers, runtimes, the validated function configuration), the limits AWS Lambda
//! documents, and the error codes that every failure is eventually reported as. It must not
//! do I/O: no files, no sockets, no processes. Everything here is plain data and validation.

pub mod config;
pub mod container;
pub mod deployed;
pub mod destination;
pub mod error;
pub mod ids;
pub mod image;
pub mod layer;
pub mod lifecycle;
pub mod limits;
pub mod logging;
pub mod policy;
pub mod policy_eval;
pub mod principal;
pub mod runtime;
pub mod tags;
pub mod timefmt;
pub mod tokens;
pub mod triggers;

pub use config::{FunctionConfig, FunctionConfigPatch, parse_switch};
pub use container::{
    ContainerMode, ContainerParams, DeviceMount, NetworkMode, Permission, VolumeMount,
};
pub use deployed::{DeployedImage, DeployedVersion};
pub use destination::{DeliveryPolicy, Destination, EventInvokeConfig};
pub use error::{ErrorCode, HasErrorCode, LambdaError};
pub use ids::{AccountInfo, FunctionName, FunctionRef, Qualifier};
pub use image::{ImageCode, ImageOverrides, ImageRun, PackageType};
pub use layer::{LayerName, LayerRef};
pub use lifecycle::{Encoding, LifecycleConfig, LifecyclePatch};
pub use logging::{LoggingConfig, LoggingPatch};
pub use policy::{PermissionInput, Policy, PolicyPrincipal, Statement};
pub use policy_eval::PolicyRequest;
pub use principal::{Credentials, Principal};
pub use runtime::{LanguageVersion, Runtime, RuntimeFallback, RuntimeFamily};
pub use tokens::Tokens;
pub use triggers::{Trigger, TriggerSource, TriggerSources};
