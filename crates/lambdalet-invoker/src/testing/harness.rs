//! The production [`Invoker`] over a [`FakeBackend`], and hand-built function versions for it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambdalet_core::{
    AccountInfo, DeployedVersion, FunctionConfig, FunctionConfigPatch, FunctionName, LifecyclePatch,
};
use lambdalet_store::{RecordWriter, Store};
use tokio::task::JoinHandle;

use super::FakeBackend;
use crate::{
    Invocation, InvocationResult, InvokeError, Invoker, InvokerConfig, PoolStats, Sandboxes,
};

/// How long [`Harness::until`] waits for a condition, and an invocation may take, before the
/// test fails (rather than hangs).
const PATIENCE: Duration = Duration::from_secs(5);

/// An invoker whose every sandbox is fake, in a temporary data directory.
pub(crate) struct Harness {
    pub invoker: Arc<Invoker>,
    pub backend: Arc<FakeBackend>,
    account: AccountInfo,
    dir: tempfile::TempDir,
}

impl Harness {
    /// An invoker with the daemon-wide limit `max_concurrency` (`--max-concurrency`).
    pub(crate) fn new(max_concurrency: usize) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&dir.path().join("store")).expect("the store opens");
        let records = RecordWriter::start(&store).expect("the record writer starts");
        let backend = Arc::new(FakeBackend::default());
        let account = AccountInfo::default();
        let invoker = Invoker::new(
            dir.path(),
            account.clone(),
            Sandboxes::process_only(backend.clone()),
            records,
            InvokerConfig {
                max_concurrency,
                ..InvokerConfig::default()
            },
        )
        .expect("the invoker starts");
        Self {
            invoker,
            backend,
            account,
            dir,
        }
    }

    /// `$LATEST` of function `name` on runtime `provided.al2023`, whose fake runtime behaves as
    /// `handler` says (see [`super::Behaviour`]), with a `timeout_secs` timeout and `lifecycle`.
    pub(crate) fn function(
        &self,
        name: &str,
        handler: &str,
        timeout_secs: i64,
        lifecycle: LifecyclePatch,
    ) -> Arc<DeployedVersion> {
        let config = FunctionConfig::create(FunctionConfigPatch {
            runtime: Some("provided.al2023".to_owned()),
            handler: Some(handler.to_owned()),
            timeout_secs: Some(timeout_secs),
            lifecycle,
            ..FunctionConfigPatch::default()
        })
        .expect("a valid configuration");
        let code_dir = self.dir.path().join("code").join(name);
        std::fs::create_dir_all(&code_dir).expect("the code directory");
        Arc::new(DeployedVersion {
            name: FunctionName::new(name).expect("a valid function name"),
            version: "$LATEST".to_owned(),
            revision_id: format!("{name}-revision-1"),
            config,
            code_sha256: "0".repeat(64),
            code_dir,
            image: None,
            layers: Vec::new(),
            function_arn: self.account.function_arn(name),
            credentials: None,
            uid_index: 0,
        })
    }

    /// Builds the function and deploys it, as the control plane does at CreateFunction.
    pub(crate) fn deploy(
        &self,
        name: &str,
        handler: &str,
        timeout_secs: i64,
        lifecycle: LifecyclePatch,
    ) -> Arc<DeployedVersion> {
        let f = self.function(name, handler, timeout_secs, lifecycle);
        self.invoker.deploy(f.clone());
        f
    }

    /// A synchronous invocation of `f` with `payload`, asking for the log tail.
    pub(crate) async fn invoke(
        &self,
        f: &Arc<DeployedVersion>,
        payload: &str,
    ) -> Result<InvocationResult, InvokeError> {
        within_patience(&self.invoker, self.invocation(f, payload)).await
    }

    /// The same, running in the background.
    pub(crate) fn spawn_invoke(
        &self,
        f: &Arc<DeployedVersion>,
        payload: &str,
    ) -> JoinHandle<Result<InvocationResult, InvokeError>> {
        let invoker = self.invoker.clone();
        let inv = self.invocation(f, payload);
        tokio::spawn(async move { within_patience(&invoker, inv).await })
    }

    fn invocation(&self, f: &Arc<DeployedVersion>, payload: &str) -> Invocation {
        Invocation {
            target: f.clone(),
            invoked_arn: f.function_arn.clone(),
            payload: Bytes::from(payload.to_owned()),
            client_context: None,
            trace_id: None,
            want_log_tail: true,
            request_id: None,
        }
    }

    /// The scheduler's counts for `f`.
    pub(crate) fn stats(&self, f: &DeployedVersion) -> PoolStats {
        self.invoker.stats(f.name.as_str(), &f.version)
    }

    /// Waits until `cond` holds, failing the test with `what` after a few seconds.
    pub(crate) async fn until(&self, what: &str, cond: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !cond(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {PATIENCE:?} for: {what}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn within_patience(
    invoker: &Invoker,
    inv: Invocation,
) -> Result<InvocationResult, InvokeError> {
    tokio::time::timeout(PATIENCE, invoker.invoke(inv))
        .await
        .unwrap_or_else(|_| panic!("the invocation did not end within {PATIENCE:?}"))
}

/// Lifecycle settings with `maxInstancesCount` and `maxQueueSize`.
pub(crate) fn limits(max_instances: i64, max_queue: i64) -> LifecyclePatch {
    LifecyclePatch {
        max_instances_count: Some(max_instances),
        max_queue_size: Some(max_queue),
        ..LifecyclePatch::default()
    }
}

/// Lifecycle settings of a pinned function.
pub(crate) fn pinned() -> LifecyclePatch {
    LifecyclePatch {
        pinned: Some(true),
        ..LifecyclePatch::default()
    }
}
