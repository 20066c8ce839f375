//! The control plane: what the Lambda management API does, as typed operations.
//!
//! `lambdalet-api` parses requests and calls [`Control`]; `Control` validates them (through
//! `lambdalet-core`), stores code (`lambdalet-package`) and rows (`lambdalet-store`), keeps an
//! in-memory table of every deployed version (and of every layer version) for fast lookups on
//! the invoke path, and tells the invoker when warm environments are out of date. It never
//! touches HTTP or sandboxes.

mod account;
mod aliases;
mod code;
mod code_url;
mod concurrency;
mod control;
mod error;
mod event_config;
mod events;
mod functions;
mod image_code;
mod images;
mod keys;
mod layer_table;
mod layer_uses;
mod layers;
mod order;
mod policies;
mod records;
mod resolve;
mod rights;
mod runtimes;
mod table;
mod tags;
mod targets;
mod url_config;
mod urls;
mod versions;

pub use account::AccountSettings;
pub use aliases::AliasInput;
pub use code::{CreateFunctionInput, UpdateCodeInput};
pub use code_url::CODE_URL_SECONDS;
pub use concurrency::ProvisionedStatus;
pub use control::Control;
pub use error::ControlError;
pub use functions::{FunctionDetails, ListPage};
pub use keys::{KeyInfo, NewKey, check_description, make_key};
pub use layer_table::LayerUse;
pub use layers::{LayerFilter, PublishLayerInput};
pub use resolve::Resolved;
pub use rights::{INVOKE_OPERATION, LAMBDA_SERVICE, TopicAccess};
pub use table::VersionView;
pub use url_config::{Cors, FunctionUrl, InvokeMode, MAX_CORS_AGE, UrlAuthType, UrlInput};
pub use urls::INVOKE_URL_ACTION;
