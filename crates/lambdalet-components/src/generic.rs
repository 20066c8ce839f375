//! A generic component (`aws.greengrass.generic`): its lifecycle with the recipe variables
//! filled in, ready for [`ComponentRunner`](crate::lifecycle::ComponentRunner).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lambdalet_package::recipe::{self, ComponentVars, VarContext, interpolate};

use crate::artifacts::ArtifactPaths;
use crate::lifecycle;
use crate::resolve::Resolved;

/// What a generic component's steps see of lambdalet and of its direct dependencies.
#[derive(Debug, Clone)]
pub struct Surroundings<'a> {
    pub paths: &'a ArtifactPaths,
    pub work_dir: &'a Path,
    pub log_file: &'a Path,
    /// The direct dependencies' variables, by component name.
    pub deps: BTreeMap<String, ComponentVars>,
    pub kernel_root: &'a Path,
    pub thing_name: &'a str,
    /// What lambdalet adds to every step's environment (`SVCUID`, the IPC socket, ...).
    pub env: BTreeMap<String, String>,
}

/// A component's own recipe variables.
pub fn vars_of(
    paths: &ArtifactPaths,
    work_dir: &Path,
    configuration: &serde_json::Value,
) -> ComponentVars {
    ComponentVars {
        artifacts_path: paths.path.display().to_string(),
        decompressed_path: paths.decompressed.display().to_string(),
        work_path: work_dir.display().to_string(),
        configuration: configuration.clone(),
    }
}

/// The runner's plan for a resolved generic component.
pub fn plan_of(c: &Resolved, s: &Surroundings<'_>) -> lifecycle::Plan {
    let ctx = VarContext {
        own: vars_of(s.paths, s.work_dir, &c.configuration),
        deps: s
            .deps
            .iter()
            .filter(|(n, _)| c.recipe.dependencies.contains_key(*n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
        kernel_root: s.kernel_root.display().to_string(),
        thing_name: s.thing_name.to_owned(),
    };
    let fill = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .map(|(k, v)| (k.clone(), interpolate(v, &ctx)))
            .collect()
    };
    let step = |st: &Option<recipe::Step>| {
        st.as_ref().map(|st| lifecycle::Step {
            script: interpolate(&st.script, &ctx),
            timeout: st.timeout_seconds.map(Duration::from_secs),
            skipif: st.skipif.as_ref().map(|k| match k {
                recipe::SkipIf::OnPath(x) => lifecycle::SkipIf::OnPath(interpolate(x, &ctx)),
                recipe::SkipIf::Exists(x) => lifecycle::SkipIf::Exists(interpolate(x, &ctx).into()),
            }),
            setenv: fill(&st.setenv),
            requires_privilege: st.requires_privilege,
        })
    };
    let l = &c.lifecycle;
    lifecycle::Plan {
        name: c.name.clone(),
        version: c.version.clone(),
        setenv: fill(&l.setenv),
        env: s.env.clone(),
        bootstrap: step(&l.bootstrap),
        install: step(&l.install),
        run: step(&l.run),
        startup: step(&l.startup),
        shutdown: step(&l.shutdown),
        recover: step(&l.recover),
        work_dir: s.work_dir.to_owned(),
        log_file: s.log_file.to_owned(),
        user: None,
    }
}
