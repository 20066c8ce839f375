//! Which host interpreter runs a runtime: the one resolver behind CreateFunction,
//! UpdateFunctionConfiguration, UpdateFunctionCode, PublishVersion, Greengrass deployments and
//! every cold start.
//!
//! A runtime is served only by an interpreter that starts and reports the version its id
//! names (`python3.12`: Python 3.12; `nodejs22.x`: Node.js 22). Candidates (`search.rs`) are
//! run once each (`probe.rs`); a shim that does not start (pyenv's `python3.12` when 3.12 is
//! not selected) is skipped, one that does is replaced by the executable it runs. When no
//! interpreter of that version is installed, the daemon's `--runtime-fallback` decides: `none`
//! refuses, naming what to install; `nearest` runs the function on the nearest newer installed
//! version of the same language, and says so.

mod probe;
mod report;
pub mod sdk;
pub mod sdk_install;
mod search;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use lambdalet_core::{LanguageVersion, Runtime, RuntimeFallback, RuntimeFamily};
use parking_lot::Mutex;

pub use probe::Interpreter;
use probe::ProbeCache;
pub use report::{RuntimeReport, RuntimesReport};
use search::Candidate;
pub use search::InterpreterSearch;

use crate::error::InvokeError;

/// The interpreter a runtime runs on here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRuntime {
    /// The runtime asked for.
    pub runtime: Runtime,
    /// The runtime id the interpreter serves (`python3.13` when python3.12 falls back to it).
    pub runs_on: String,
    pub interpreter: Interpreter,
    /// Set when the interpreter is not of the version asked for (`--runtime-fallback nearest`).
    pub notice: Option<String>,
}

/// An interpreter found on this host, or why a candidate is not one.
#[derive(Debug, Clone)]
pub struct Found {
    pub candidate: PathBuf,
    pub answer: Result<Interpreter, String>,
}

/// Finds and remembers the interpreters of runtimes.
pub struct Resolver {
    search: InterpreterSearch,
    fallback: RuntimeFallback,
    probes: Arc<ProbeCache>,
    resolved: Mutex<HashMap<String, ResolvedRuntime>>,
    /// Why the last search for a runtime found nothing (shown, never reused).
    failed: Mutex<HashMap<String, String>>,
}

impl Resolver {
    pub fn new(search: InterpreterSearch, fallback: RuntimeFallback) -> Self {
        Self {
            search,
            fallback,
            probes: Arc::default(),
            resolved: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    pub fn fallback(&self) -> RuntimeFallback {
        self.fallback
    }

    pub fn search(&self) -> &InterpreterSearch {
        &self.search
    }

    /// The interpreter of `runtime` as last resolved, without looking again.
    pub fn cached(&self, runtime: &Runtime) -> Option<ResolvedRuntime> {
        self.resolved.lock().get(runtime.id()).cloned()
    }

    /// The last search's answer for `runtime`: its interpreter, or why it has none (`None`
    /// when it was not searched for yet).
    pub fn last_status(&self, runtime: &Runtime) -> Option<Result<ResolvedRuntime, String>> {
        if let Some(r) = self.cached(runtime) {
            return Some(Ok(r));
        }
        self.failed.lock().get(runtime.id()).cloned().map(Err)
    }

    /// The interpreter a new sandbox of `runtime` starts: the one resolved before while it is
    /// still there, else a new search.
    pub async fn for_start(&self, runtime: &Runtime) -> Result<ResolvedRuntime, InvokeError> {
        if let Some(r) = self.cached(runtime)
            && r.interpreter.exe.exists()
            && r.interpreter.found_as.exists()
        {
            return Ok(r);
        }
        self.resolve(runtime).await
    }

    /// Searches again for `runtime`'s interpreter (at every deploy): an interpreter installed
    /// or removed since is seen.
    pub async fn resolve(&self, runtime: &Runtime) -> Result<ResolvedRuntime, InvokeError> {
        let result = self.search_for(runtime).await;
        let mut resolved = self.resolved.lock();
        match &result {
            Ok(r) => {
                let changed = resolved.get(runtime.id()) != Some(r);
                if changed {
                    match &r.notice {
                        Some(n) => {
                            tracing::warn!(runtime = %runtime, interpreter = %r.interpreter.exe.display(), version = %r.interpreter.full_version, "{n}");
                        }
                        None => {
                            tracing::info!(runtime = %runtime, interpreter = %r.interpreter.exe.display(), version = %r.interpreter.full_version, "runtime.interpreter");
                        }
                    }
                }
                resolved.insert(runtime.id().to_owned(), r.clone());
                self.failed.lock().remove(runtime.id());
            }
            Err(e) => {
                resolved.remove(runtime.id());
                self.failed
                    .lock()
                    .insert(runtime.id().to_owned(), e.to_string());
            }
        }
        result
    }

    async fn search_for(&self, runtime: &Runtime) -> Result<ResolvedRuntime, InvokeError> {
        let family = runtime.family();
        let Some(wanted) = runtime.language_version() else {
            return Err(InvokeError::Internal(format!(
                "runtime {runtime} runs the function's own bootstrap, not an interpreter"
            )));
        };
        let candidates = self.search.candidates(family);
        let mut seen: Vec<Interpreter> = Vec::new();
        // The names that promise the version first, then python3 / python / node / nodejs.
        let named = candidates
            .iter()
            .filter(|c| c.named.is_some_and(|n| wanted.served_by(&n)));
        let generic = candidates.iter().filter(|c| c.named.is_none());
        for c in named.chain(generic) {
            if let Ok(i) = self.probes.probe(family, &c.path).await {
                if wanted.served_by(&i.version) {
                    return Ok(ResolvedRuntime {
                        runtime: runtime.clone(),
                        runs_on: runtime.id().to_owned(),
                        interpreter: i,
                        notice: None,
                    });
                }
                seen.push(i);
            }
        }
        if self.fallback == RuntimeFallback::Nearest {
            let newer: Vec<Candidate> = candidates
                .iter()
                .filter(|c| c.named.is_some_and(|n| wanted.older_than(&n)))
                .cloned()
                .collect();
            let probed = self.probe_all(family, &newer).await;
            seen.extend(probed.into_iter().filter_map(|f| f.answer.ok()));
            let nearest = seen
                .iter()
                .filter(|i| wanted.older_than(&i.version))
                .min_by_key(|i| i.version);
            if let Some(i) = nearest {
                let runs_on = runtime.id_for(&i.version);
                return Ok(ResolvedRuntime {
                    runtime: runtime.clone(),
                    notice: Some(format!(
                        "runs on {runs_on} ({runtime} is not installed; --runtime-fallback nearest)"
                    )),
                    runs_on,
                    interpreter: i.clone(),
                });
            }
        }
        // Say what is installed: every candidate, run once (their answers are kept).
        for f in self.probe_all(family, &candidates).await {
            if let Ok(i) = f.answer
                && !seen.iter().any(|s| s.exe == i.exe)
            {
                seen.push(i);
            }
        }
        Err(self.missing(runtime, &wanted, &seen))
    }

    /// The refusal for a runtime without an interpreter, naming what to install.
    fn missing(
        &self,
        runtime: &Runtime,
        wanted: &LanguageVersion,
        seen: &[Interpreter],
    ) -> InvokeError {
        let language = match runtime.family() {
            RuntimeFamily::Node => "Node.js",
            _ => "Python",
        };
        let mut versions: Vec<String> = Vec::new();
        // Python 2 is no candidate for a Python 3 runtime: not worth naming.
        for i in seen
            .iter()
            .filter(|i| i.version.major == wanted.major || wanted.minor.is_none())
        {
            let v = format!("{language} {} ({})", i.full_version, i.exe.display());
            if !versions.contains(&v) {
                versions.push(v);
            }
        }
        let found = if versions.is_empty() {
            format!("no {language} was found")
        } else {
            format!("found {}", versions.join(", "))
        };
        let hint = runtime.install_hint();
        let message = match self.fallback {
            RuntimeFallback::None => format!(
                "runtime {runtime} is not installed on this host ({language} {wanted} is needed; {found}): {hint}, or start lambdalet with --runtime-fallback nearest to run it on the nearest newer installed {language}. lambdalet looks in {}",
                self.search.describe()
            ),
            RuntimeFallback::Nearest => format!(
                "runtime {runtime} is not installed on this host and no newer {language} is either ({found}): {hint}. lambdalet looks in {}",
                self.search.describe()
            ),
        };
        InvokeError::MissingInterpreter {
            runtime: runtime.id().to_owned(),
            message,
        }
    }

    /// Every candidate of `family` and what it is (for `lambdalet runtimes`).
    pub async fn scan(&self, family: RuntimeFamily) -> Vec<Found> {
        let candidates = self.search.candidates(family);
        self.probe_all(family, &candidates).await
    }

    /// Probes `candidates` a few at a time; answers in their order.
    async fn probe_all(&self, family: RuntimeFamily, candidates: &[Candidate]) -> Vec<Found> {
        let limit = Arc::new(tokio::sync::Semaphore::new(4));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, c) in candidates.iter().enumerate() {
            let (probes, limit, path) = (self.probes.clone(), limit.clone(), c.path.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let answer = probes.probe(family, &path).await;
                (
                    i,
                    Found {
                        candidate: path,
                        answer,
                    },
                )
            });
        }
        let mut out: Vec<(usize, Found)> = Vec::with_capacity(candidates.len());
        while let Some(done) = tasks.join_next().await {
            if let Ok(found) = done {
                out.push(found);
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, f)| f).collect()
    }
}
