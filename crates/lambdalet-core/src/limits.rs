//! Limits of the Lambda service that lambdalet enforces (spec digest §3.1).

/// Largest zip accepted in a direct upload (`Code.ZipFile`), in bytes.
pub const MAX_ZIP_BYTES: u64 = 50 * 1024 * 1024;
/// Largest total size of a function's code once unpacked, in bytes.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// Largest synchronous invoke request payload, in bytes.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Largest response a runtime may post (the Runtime API accepts 100 bytes of slack).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;
/// Largest response a runtime may stream (`Lambda-Runtime-Function-Response-Mode: streaming`)
/// to a caller of `InvokeWithResponseStream`: the service's limit since July 2025 (20 MB
/// before). A streamed response read by the buffered Invoke API keeps [`MAX_RESPONSE_BYTES`].
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;
/// Largest asynchronous (`Event`) invoke payload, in bytes (1 MB since October 2025).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Aggregate size of a function's environment variables (keys plus values), in bytes.
pub const MAX_ENV_BYTES: usize = 4 * 1024;
/// Function timeout bounds and default, in seconds.
pub const MIN_TIMEOUT_SECS: u32 = 1;
pub const MAX_TIMEOUT_SECS: u32 = 900;
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
/// Function memory bounds and default, in MB.
pub const MIN_MEMORY_MB: u32 = 128;
pub const MAX_MEMORY_MB: u32 = 10240;
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Ephemeral storage (`/tmp`) bounds and default, in MB.
pub const MIN_EPHEMERAL_MB: u32 = 512;
pub const MAX_EPHEMERAL_MB: u32 = 10240;
/// The runtime must call `next` for the first time within this many seconds.
pub const INIT_TIMEOUT_SECS: u64 = 10;
/// Longest function name (bare, without ARN parts).
pub const MAX_FUNCTION_NAME_LEN: usize = 64;
/// Longest alias name.
pub const MAX_ALIAS_NAME_LEN: usize = 128;
/// Longest handler string.
pub const MAX_HANDLER_LEN: usize = 128;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 256;
/// How much of an invocation's log `X-Amz-Log-Type: Tail` returns, in bytes.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;
/// Largest `X-Amz-Client-Context` header (base64), in bytes.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
/// `ListFunctions` and friends: the largest page a caller may ask for.
pub const MAX_LIST_ITEMS: usize = 10_000;
/// Page size when the caller does not say (`MaxItems` absent).
pub const DEFAULT_LIST_ITEMS: usize = 50;
