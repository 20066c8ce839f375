//! Components running now: starting one (its artifacts laid out, a Lambda component's function
//! created or updated, a generic component installed and started), stopping one, and the state
//! each reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lambdalet_control::{Control, ControlError, CreateFunctionInput, UpdateCodeInput};
use lambdalet_core::{ErrorCode, FunctionConfigPatch};
use lambdalet_package::recipe::{ArtifactUri, ComponentType, DigestAlgorithm, Unarchive};

use crate::artifacts::{ArtifactStore, LaidOut};
use crate::engine::ComponentsConfig;
use crate::error::DeployError;
use crate::generic::{Surroundings, plan_of, vars_of};
use crate::lambda::lambda_spec;
use crate::lifecycle::{ComponentRunner, State};
use crate::resolve::Resolved;
use crate::runtime;

/// The tag that marks a function as a Lambda component's.
pub const COMPONENT_TAG: &str = "lambdalet:component";

/// A component that runs now.
#[derive(Clone)]
pub struct Live {
    pub resolved: Resolved,
    pub kind: Kind,
    /// What lambdalet did differently from Greengrass, for `component details`.
    pub notes: Vec<String>,
}

#[derive(Clone)]
pub enum Kind {
    Generic(Arc<ComponentRunner>),
    Lambda { function: String, pinned: bool },
}

/// How long a deployment waits for a component to settle (install, start, a pinned function's
/// first sandbox).
const SETTLE: Duration = Duration::from_secs(150);

/// Lays out a component's artifacts after checking them against the recipe: present, digest
/// as written, URI scheme lambdalet serves.
pub fn artifacts_of(
    c: &Resolved,
    stored: &BTreeMap<String, String>,
    store: &ArtifactStore,
) -> Result<Vec<LaidOut>, DeployError> {
    // `s3://` artifacts come from lambdalet's own S3 endpoint's buckets.
    let Some(m) = c.manifest.and_then(|i| c.recipe.manifests.get(i)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, a) in m.artifacts.iter().enumerate() {
        let at = format!(
            "{} {}: Manifests[{}].Artifacts[{i}] {}",
            c.name,
            c.version,
            c.manifest.unwrap_or(0),
            a.uri
        );
        let file = a.uri.file_name().to_owned();
        let sha = match &a.uri {
            ArtifactUri::Greengrass(_) | ArtifactUri::File(_) => stored.get(&file).cloned().ok_or_else(|| {
                DeployError::Artifact(format!(
                    "{at}: not found; put it at ARTIFACT_DIR/{}/{}/{file} and deploy with --artifactDir ARTIFACT_DIR",
                    c.name, c.version
                ))
            })?,
            ArtifactUri::S3 { bucket, key } => store.put_from_object_store(bucket, key).map_err(|e| {
                DeployError::Artifact(format!("{at}: {e}"))
            })?,
            ArtifactUri::Https(_) => {
                return Err(DeployError::Artifact(format!(
                    "{at}: lambdalet does not download artifacts; put the file in the artifact directory and use greengrass:{file}"
                )));
            }
        };
        if let Some(expected) = &a.digest {
            let algorithm = a.algorithm.unwrap_or(DigestAlgorithm::Sha256);
            let actual = match algorithm {
                DigestAlgorithm::Sha256 => hex_to_base64(&sha),
                other => other.digest_base64(&store.read(&sha)?),
            };
            if &actual != expected {
                return Err(DeployError::Artifact(format!(
                    "{at}: digest mismatch: the recipe says {expected}, the file has {actual} ({}); rebuild the recipe's Digest from the file, or put the right file in the artifact directory",
                    algorithm.as_str()
                )));
            }
        }
        out.push(LaidOut {
            file_name: file,
            sha256_hex: sha,
            mode: a.permission.file_mode(),
            unarchive_to: (a.unarchive == Unarchive::Zip)
                .then(|| a.unarchived_dir_name().to_owned()),
        });
    }
    Ok(out)
}

/// The base64 form of a hex digest (the store's form to the recipe's).
fn hex_to_base64(hex_digest: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_digest).unwrap_or_default())
}

/// How a component is being started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// By a deployment (or its rollback): a Lambda component's function is brought in line
    /// with the recipe.
    Deploy,
    /// At daemon start: a Lambda component's function is as the last deployment left it.
    Boot,
}

/// Starts (or updates in place) one component.
pub async fn start(
    c: &Resolved,
    stored_artifacts: &BTreeMap<String, String>,
    store: &ArtifactStore,
    control: &Control,
    config: &ComponentsConfig,
    how: Start,
) -> Result<Live, DeployError> {
    let laid = artifacts_of(c, stored_artifacts, store)?;
    match c.recipe.component_type {
        ComponentType::Lambda => start_lambda(c, &laid, store, control, how).await,
        ComponentType::Generic => start_generic(c, &laid, store, config).await,
        other => Err(DeployError::Invalid(format!(
            "{} {}: ComponentType {} runs inside Greengrass's Java nucleus; lambdalet runs aws.greengrass.generic and aws.greengrass.lambda components",
            c.name,
            c.version,
            other.as_str()
        ))),
    }
}

async fn start_generic(
    c: &Resolved,
    laid: &[LaidOut],
    store: &ArtifactStore,
    config: &ComponentsConfig,
) -> Result<Live, DeployError> {
    let paths = store.lay_out(&c.name, &c.version, laid)?;
    let work = store.work_dir(&c.name)?;
    let log = store.log_file(&c.name);
    let mut deps = BTreeMap::new();
    // Direct dependencies' variables: their laid-out paths (they started first).
    for dep in c.recipe.dependencies.keys() {
        if let Some(v) = config.running_vars.read().get(dep) {
            deps.insert(dep.clone(), v.clone());
        }
    }
    let env = config.component_env(&c.name, &c.version);
    let plan = plan_of(
        c,
        &Surroundings {
            paths: &paths,
            work_dir: &work,
            log_file: &log,
            deps,
            kernel_root: &config.kernel_root,
            thing_name: &config.thing_name,
            env,
        },
    );
    config
        .running_vars
        .write()
        .insert(c.name.clone(), vars_of(&paths, &work, &c.configuration));
    (config.access_control)(&c.name, c.configuration.get("accessControl"));
    let runner = Arc::new(ComponentRunner::new(plan));
    if let Err(e) = runner.install().await {
        runner.stop().await;
        return Err(DeployError::Component(format!(
            "{} {}: install failed: {e}",
            c.name, c.version
        )));
    }
    runner.start();
    let (state, error) = runner.wait_settled(SETTLE).await;
    if !matches!(state, State::Running | State::Finished) {
        runner.stop().await;
        return Err(DeployError::Component(format!(
            "{} {} did not start: {state}{}",
            c.name,
            c.version,
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        )));
    }
    Ok(Live {
        resolved: c.clone(),
        kind: Kind::Generic(runner),
        notes: Vec::new(),
    })
}

async fn start_lambda(
    c: &Resolved,
    laid: &[LaidOut],
    store: &ArtifactStore,
    control: &Control,
    how: Start,
) -> Result<Live, DeployError> {
    let spec = lambda_spec(c)?;
    let refused = |e: String| DeployError::Component(format!("{} {}: {e}", c.name, c.version));
    let (runtime, renamed) =
        runtime::function_runtime(&spec.runtime, control.runtime_fallback()).map_err(refused)?;
    // The one resolver of CreateFunction: the exact version, or the fallback's, or a refusal.
    let resolved = control
        .check_runtime_of(&runtime)
        .await
        .map_err(|e| refused(e.to_string()))?;
    let mut notes = vec![format!(
        "runs as function {}: the recipe's startup and shutdown scripts call Greengrass's lambda-launcher, whose work lambdalet does itself",
        spec.function
    )];
    for n in renamed.into_iter().chain(resolved.and_then(|r| r.notice)) {
        tracing::warn!(component = %c.name, "{n}");
        notes.push(n);
    }
    let code_file = spec.artifact.uri.file_name();
    let sha = laid
        .iter()
        .find(|l| l.file_name == code_file)
        .map(|l| l.sha256_hex.clone())
        .ok_or_else(|| {
            DeployError::Artifact(format!(
                "{} {}: its code artifact {code_file} is missing",
                c.name, c.version
            ))
        })?;
    let zip = store.read(&sha)?;
    let patch = FunctionConfigPatch {
        runtime: Some(runtime.id().to_owned()),
        handler: Some(spec.handler.clone()),
        description: Some(c.recipe.description.clone().unwrap_or_default()),
        ..spec.config.clone()
    };
    let fail = |e: ControlError| DeployError::Component(format!("{} {}: {e}", c.name, c.version));
    match control.get_function(&spec.function, None) {
        Ok(existing) if how == Start::Boot && existing.tags.get(COMPONENT_TAG) == Some(&c.name) => {
        }
        Ok(existing) => {
            if existing.tags.get(COMPONENT_TAG) != Some(&c.name) {
                return Err(DeployError::Component(format!(
                    "{} {}: function {} already exists and is not this component's; delete it or name the component's function differently in ComponentSource",
                    c.name, c.version, spec.function
                )));
            }
            control
                .update_code(
                    &spec.function,
                    UpdateCodeInput {
                        zip,
                        // An artifact, not a direct upload: the 250 MB unzipped limit holds.
                        zip_from_bucket: true,
                        ..Default::default()
                    },
                )
                .await
                .map_err(fail)?;
            control
                .update_configuration(&spec.function, patch, None)
                .await
                .map_err(fail)?;
            let _ = control.delete_reserved_concurrency(&spec.function).await;
        }
        Err(e) if is_not_found(&e) => {
            let tags = [
                (COMPONENT_TAG.to_owned(), c.name.clone()),
                ("lambdalet:component-version".to_owned(), c.version.clone()),
            ];
            control
                .create_function(CreateFunctionInput {
                    name: spec.function.clone(),
                    config: patch,
                    zip,
                    zip_from_bucket: true,
                    publish: false,
                    tags: tags.into_iter().collect(),
                    image_uri: None,
                })
                .await
                .map_err(fail)?;
        }
        Err(e) => return Err(fail(e)),
    }
    let pinned = spec.config.lifecycle.pinned.unwrap_or(true);
    if pinned {
        wait_pinned(control, &spec.function).await.map_err(|e| {
            DeployError::Component(format!(
                "{} {}: its pinned function did not start: {e}",
                c.name, c.version
            ))
        })?;
    }
    Ok(Live {
        resolved: c.clone(),
        kind: Kind::Lambda {
            function: spec.function,
            pinned,
        },
        notes,
    })
}

fn is_not_found(e: &ControlError) -> bool {
    matches!(e, ControlError::Lambda(l) if l.code == ErrorCode::ResourceNotFound)
}

/// Waits for a pinned function's sandbox to be up (or to have failed).
async fn wait_pinned(control: &Control, function: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        if let Some(lambdalet_invoker::Health::Failed(why)) =
            control.invoker().health(function, "$LATEST")
        {
            return Err(why);
        }
        let s = control.invoker().stats(function, "$LATEST");
        if s.idle + s.busy > 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("no sandbox was up after {} s", SETTLE.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops a component; a removed Lambda component's function is deleted.
pub async fn stop(live: &Live, control: &Control, removed: bool) {
    match &live.kind {
        Kind::Generic(r) => r.stop().await,
        Kind::Lambda { function, .. } if removed => {
            if let Err(e) = control.delete_function(function, None).await {
                tracing::warn!(
                    function,
                    "could not delete the removed component's function: {e}"
                );
            }
        }
        Kind::Lambda { .. } => {}
    }
}

/// The state `component list` reports.
pub fn state_of(live: &Live, control: &Control) -> (String, Option<String>) {
    match &live.kind {
        Kind::Generic(r) => {
            let (s, e) = r.state();
            (s.to_string(), e)
        }
        Kind::Lambda { function, pinned } => {
            if let Some(lambdalet_invoker::Health::Failed(why)) =
                control.invoker().health(function, "$LATEST")
            {
                return ("BROKEN".to_owned(), Some(why));
            }
            if control.reserved_concurrency(function).ok().flatten() == Some(0) {
                return (
                    "FINISHED".to_owned(),
                    Some("stopped (component stop)".to_owned()),
                );
            }
            let s = control.invoker().stats(function, "$LATEST");
            if *pinned && s.idle + s.busy == 0 {
                return ("STARTING".to_owned(), None);
            }
            ("RUNNING".to_owned(), None)
        }
    }
}

/// Components that depend HARD on any of `changed`, directly or through others.
pub fn hard_dependents(all: &[Resolved], changed: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = out.len();
        for c in all {
            if changed.contains(&c.name) || out.contains(&c.name) {
                continue;
            }
            let hit = c.recipe.dependencies.iter().any(|(d, dep)| {
                dep.dependency_type == lambdalet_package::recipe::DependencyType::Hard
                    && (changed.contains(d) || out.contains(d))
            });
            if hit {
                out.insert(c.name.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}
