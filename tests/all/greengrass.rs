//! Greengrass Lambda components: the seed's recipe exactly as written (JSON, and as YAML),
//! deployed with the Greengrass CLI's flags, its artifact built here with its digest computed;
//! the runtime rule (`--runtime-fallback`); a digest mismatch; a pinned component started at
//! daemon start and triggered from MQTT.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::harness::{Daemon, eventually, free_port, mqtt_pub, repo, zip_bytes};
use crate::runtimes::Interpreters;

/// The digest the seed's recipe carries (of an artifact we do not have).
const SEED_DIGEST: &str = "zxTD8KBV2eciihYJ2aSzJyDkia74Bp0gu66930kYKoI=";
pub const SEED: &str = "example-lambda-python";

/// A recipe directory and an artifact directory as the Greengrass CLI takes them.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let w = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(w.recipes()).expect("recipes");
        std::fs::create_dir_all(w.artifacts()).expect("artifacts");
        w
    }

    pub fn recipes(&self) -> PathBuf {
        self.dir.path().join("recipes")
    }

    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    pub fn add_recipe(&self, file: &str, text: &str) {
        std::fs::write(self.recipes().join(file), text).expect("write recipe");
    }

    /// Puts `bytes` at ARTIFACT_DIR/NAME/VERSION/FILE; returns its base64 SHA-256.
    pub fn add_artifact(&self, name: &str, version: &str, file: &str, bytes: &[u8]) -> String {
        let d = self.artifacts().join(name).join(version);
        std::fs::create_dir_all(&d).expect("artifact dir");
        std::fs::write(d.join(file), bytes).expect("write artifact");
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    }

    /// `lambdalet deployment create --recipeDir R --artifactDir A EXTRA... --wait`.
    pub fn deploy(&self, d: &Daemon, extra: &[&str]) -> Output {
        let (r, a) = (self.recipes(), self.artifacts());
        let mut args = vec![
            "deployment",
            "create",
            "--recipeDir",
            r.to_str().expect("utf-8"),
            "--artifactDir",
            a.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        args.push("--wait");
        d.cli(&args)
    }
}

/// `tests/fixtures/greengrass/PATH`.
fn gg_fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures/greengrass").join(path)
}

/// The seed's recipe, its digest replaced by the one of the artifact built here.
pub fn seed_workspace(format: &str) -> Workspace {
    let w = Workspace::new();
    let zip = zip_bytes(&gg_fixture("lambda-artifact"));
    let digest = w.add_artifact(SEED, "8.0.0", "lambda-artifact.zip", &zip);
    let file = format!("{SEED}-8.0.0.{format}");
    let text = std::fs::read_to_string(gg_fixture(&file)).expect("seed recipe");
    assert!(text.contains(SEED_DIGEST));
    w.add_recipe(&file, &text.replace(SEED_DIGEST, &digest));
    w
}

pub fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn components(d: &Daemon) -> Vec<Value> {
    let o = d.cli(&["component", "list", "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    serde_json::from_slice(&o.stdout).expect("component list --json")
}

pub fn component<'a>(all: &'a [Value], name: &str) -> Option<&'a Value> {
    all.iter().find(|c| c["componentName"] == name)
}

fn assert_seed_runs(d: &Daemon, o: &Output) {
    let text = out(o);
    assert!(o.status.success(), "{text}\n--- daemon ---\n{}", d.log());
    assert!(
        text.contains("Local deployment submitted! Deployment Id: "),
        "{text}"
    );
    assert!(text.contains(": SUCCEEDED"), "{text}");
    let all = components(d);
    let c = component(&all, SEED).expect("the component is listed");
    assert_eq!(c["version"], "8.0.0");
    assert_eq!(c["state"], "RUNNING", "{c}");
    assert_eq!(c["functionName"], SEED);
    assert_eq!(c["configuration"]["pinned"], true);
    let notes = c["notes"].to_string();
    assert!(notes.contains("lambda-launcher"), "{notes}");
    assert!(
        notes.contains(
            "runs on python3.11 (python3.8 is not installed; --runtime-fallback nearest)"
        ),
        "{notes}"
    );
    // The function keeps the recipe's runtime and says what runs it.
    let f = d
        .http("GET", &format!("/2015-03-31/functions/{SEED}"), None, &[])
        .json();
    assert_eq!(f["Configuration"]["Runtime"], "python3.8", "{f}");
    assert_eq!(
        f["Configuration"]["LambdaletRuntime"]["RunsOn"], "python3.11",
        "{f}"
    );
    // The function is a Lambda function like any other, with the recipe's settings.
    let r = d.invoke(SEED, r#"{"from": "test"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["received"]["from"], "test");
    assert_eq!(r.json()["function"], SEED);
    let l = d.lifecycle(SEED);
    assert_eq!(l["pinned"], true, "{l}");
    assert_eq!(l["maxQueueSize"], 1000, "{l}");
    assert_eq!(l["containerMode"], "GreengrassContainer", "{l}");
    assert_eq!(l["containerParams"]["memorySize"], 16384, "{l}");
    assert_eq!(l["pubsubTopics"]["1"]["topic"], "local/topic", "{l}");
}

#[test]
fn the_seed_recipe_deploys_as_written_in_json_and_in_yaml() {
    // Python 3.11 is installed, 3.8 is not.
    let interpreters = Interpreters::standard();
    for format in ["json", "yaml"] {
        let d = Daemon::start_with(
            tempfile::tempdir().expect("tempdir").keep().as_path(),
            "serve",
            &["--runtime-fallback", "nearest", &interpreters.flag()],
        );
        let w = seed_workspace(format);
        let o = w.deploy(&d, &["--merge", &format!("{SEED}=8.0.0")]);
        assert_seed_runs(&d, &o);
        // Local pub/sub reaches it (PUB_SUB topic of the recipe).
        let p = d.cli(&["publish", "local/topic", r#"{"via": "bus"}"#]);
        assert!(p.status.success(), "{}", out(&p));
        eventually(
            Duration::from_secs(10),
            "the bus message to invoke it",
            || {
                d.logs(SEED)
                    .iter()
                    .any(|r| r["log"].as_str().unwrap_or("").contains(r#""via": "bus""#))
            },
        );
    }
}

#[test]
fn a_runtime_that_is_not_installed_fails_the_deployment_and_names_it() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(tmp.path(), "serve", &[&interpreters.flag()]);
    let w = seed_workspace("json");
    let o = w.deploy(&d, &["--merge", &format!("{SEED}=8.0.0")]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains(": FAILED"), "{text}");
    assert!(
        text.contains("runtime python3.8 is not installed"),
        "{text}"
    );
    assert!(text.contains("install Python 3.8"), "{text}");
    assert!(text.contains("--runtime-fallback nearest"), "{text}");
    assert!(components(&d).is_empty());
    let l = d.http("GET", &format!("/2015-03-31/functions/{SEED}"), None, &[]);
    assert_eq!(l.status, 404, "nothing of a failed deployment stays");
}

#[test]
fn a_digest_mismatch_fails_and_says_both_digests() {
    let d = Daemon::start_with(
        tempfile::tempdir().expect("tempdir").keep().as_path(),
        "serve",
        &["--runtime-fallback", "nearest"],
    );
    let w = seed_workspace("json");
    // The artifact changes after the recipe was written.
    let actual = w.add_artifact(
        SEED,
        "8.0.0",
        "lambda-artifact.zip",
        b"not the zip the recipe names",
    );
    let o = w.deploy(&d, &["--merge", &format!("{SEED}=8.0.0")]);
    let text = out(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("digest mismatch"), "{text}");
    assert!(text.contains(&actual), "the file's digest: {text}");
    assert!(text.contains("the recipe says"), "{text}");
}

#[test]
fn a_pinned_component_starts_with_the_daemon_and_takes_mqtt_messages() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mqtt = format!("127.0.0.1:{port}");
    let interpreters = Interpreters::standard();
    let flag = interpreters.flag();
    let args = [
        "--runtime-fallback",
        "nearest",
        "--mqtt-listen",
        &mqtt,
        &flag,
    ];
    let mut d = Daemon::start_with(tmp.path(), "serve", &args);
    let w = seed_workspace("json");
    let o = w.deploy(&d, &["--merge", &format!("{SEED}=8.0.0")]);
    assert!(o.status.success(), "{}", out(&o));
    d.stop();
    let d = Daemon::start_with(tmp.path(), "serve", &args);
    eventually(
        Duration::from_secs(20),
        "the pinned component to run again",
        || component(&components(&d), SEED).is_some_and(|c| c["state"] == "RUNNING"),
    );
    assert_eq!(
        d.lifecycle(SEED)["instances"]["idle"],
        1,
        "started before any event"
    );
    mqtt_pub(port, "core/topic", r#"{"temperature": 21}"#);
    eventually(
        Duration::from_secs(10),
        "the MQTT message to invoke it",
        || {
            d.logs(SEED).iter().any(|r| {
                r["log"]
                    .as_str()
                    .unwrap_or("")
                    .contains(r#""temperature": 21"#)
            })
        },
    );
}

/// A file's text, or nothing if it is not there (yet).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
