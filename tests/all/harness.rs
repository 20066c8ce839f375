//! Starting the daemon, talking to it, and building function zips.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use serde_json::Value;

pub const LAMBDALET: &str = env!("CARGO_BIN_EXE_lambdalet");

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A fixture function's directory under tests/fixtures/functions.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/functions").join(name)
}

/// A running `lambdalet serve`, killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    log: Arc<Mutex<String>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts a daemon with a fresh data directory.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut d = Self::start_in(tmp.path());
        d._tmp = Some(tmp);
        d
    }

    /// Starts a daemon on `data_dir` (which may hold state from an earlier daemon).
    pub fn start_in(data_dir: &Path) -> Self {
        Self::start_with(data_dir, "serve", &[])
    }

    pub fn start_with(data_dir: &Path, command: &str, extra: &[&str]) -> Self {
        Self::start_env(data_dir, command, extra, &[])
    }

    /// Starts a daemon with extra environment variables.
    pub fn start_env(data_dir: &Path, command: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_cmd(Command::new(LAMBDALET), data_dir, command, extra, env)
    }

    /// Starts `serve` on `listen` (e.g. `0.0.0.0:0`) instead of a loopback port.
    pub fn start_listen(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let mut all = vec!["--listen", listen];
        all.extend_from_slice(extra);
        Self::start_cmd(Command::new(LAMBDALET), data_dir, "serve", &all, &[])
    }

    /// Starts a daemon as an unprivileged user (`setpriv`), as on a host where lambdalet does
    /// not run as root. `data_dir` must be that user's.
    pub fn start_as(uid: u32, data_dir: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "--",
            LAMBDALET,
        ]);
        Self::start_cmd(cmd, data_dir, "serve", extra, &[])
    }

    /// Starts `serve` holding `file` open as descriptor 9, not close-on-exec, as a careless
    /// shell or supervisor would leave it.
    pub fn start_holding(data_dir: &Path, file: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exec 9<\"$0\" && exec \"$@\""])
            .arg(file)
            .arg(LAMBDALET);
        Self::start_cmd(cmd, data_dir, "serve", extra, &[])
    }

    pub fn start_cmd(
        mut cmd: Command,
        data_dir: &Path,
        command: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        // Tests run in parallel: no daemon takes the default MQTT port unless a test asks.
        let mqtt_default: &[&str] = if extra.iter().any(|a| a.starts_with("--mqtt")) {
            &[]
        } else {
            &["--mqtt-listen", "off"]
        };
        let s3_default: &[&str] = if extra.contains(&"--s3-listen") {
            &[]
        } else {
            &["--s3-listen", "off"]
        };
        let url_default: &[&str] = if extra.contains(&"--url-listen") {
            &[]
        } else {
            &["--url-listen", "off"]
        };
        let listen: &[&str] = if extra.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = cmd
            .arg(command)
            .args(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .args(mqtt_default)
            .args(s3_default)
            .args(url_default)
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lambdalet");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Logged before the address is handed over: a test may look for it at once.
                {
                    let mut l = log2.lock().expect("log lock");
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(i) = line.find("listening on http://")
                    && let Some(tx) = tx.take()
                {
                    // The URL ends the line, or its JSON string (`--log-format json`).
                    let url = line[i + "listening on ".len()..]
                        .split(|c: char| c == '"' || c.is_whitespace())
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("lambdalet did not start:\n{}", log.lock().expect("log"));
            }
        };
        Self {
            child: Some(child),
            url,
            data_dir: data_dir.to_owned(),
            log,
            _tmp: None,
        }
    }

    /// Keeps `tmp` (the data directory) alive as long as the daemon.
    pub fn keep(&mut self, tmp: tempfile::TempDir) {
        self._tmp = Some(tmp);
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the daemon has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Sends SIGTERM and waits for the daemon to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        wait_timeout(&mut child, Duration::from_secs(30)).expect("daemon exits after SIGTERM")
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs the AWS CLI against this daemon.
    pub fn aws(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.args(["--endpoint-url", &self.url, "--output", "json"])
            .args(args);
        aws_env(&mut cmd);
        cmd.output()
            .expect("run aws (is the AWS CLI installed? `make test` installs it)")
    }

    /// Runs the AWS CLI and parses its JSON output, failing the test on error.
    pub fn aws_ok(&self, args: &[&str]) -> Value {
        let out = self.aws(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).expect("aws prints JSON")
        }
    }

    /// `aws lambda invoke`: returns (CLI JSON, response body).
    pub fn aws_invoke(&self, args: &[&str], payload: &str) -> (Value, Value) {
        let out_file = tempfile::NamedTempFile::new().expect("tempfile");
        let out_path = out_file.path().to_str().expect("utf-8").to_owned();
        let mut all = vec!["lambda", "invoke"];
        all.extend_from_slice(args);
        if aws_cli_v2() {
            all.extend_from_slice(&["--cli-binary-format", "raw-in-base64-out"]);
        }
        all.extend_from_slice(&["--payload", payload, &out_path]);
        let meta = self.aws_ok(&all);
        let body = std::fs::read(&out_path).expect("invoke output");
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (meta, body)
    }

    /// Creates a function from a directory with the AWS CLI.
    pub fn create(
        &self,
        name: &str,
        dir: &Path,
        runtime: &str,
        handler: &str,
        extra: &[&str],
    ) -> Value {
        let zip = zip_file(dir);
        let zip_arg = format!("fileb://{}", zip.path().display());
        let mut args = vec![
            "lambda",
            "create-function",
            "--function-name",
            name,
            "--runtime",
            runtime,
            "--handler",
            handler,
            "--role",
            "arn:aws:iam::000000000000:role/test",
            "--zip-file",
            &zip_arg,
        ];
        args.extend_from_slice(extra);
        self.aws_ok(&args)
    }

    /// Raw HTTP with curl.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        curl(method, &format!("{}{path}", self.url), body, headers)
    }

    /// Invokes through the HTTP API with curl.
    pub fn invoke(&self, name: &str, payload: &str) -> HttpResponse {
        self.http(
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            Some(payload.as_bytes()),
            &[],
        )
    }

    /// Invocation log records of a function (oldest first).
    pub fn logs(&self, name: &str) -> Vec<Value> {
        let r = self.http(
            "GET",
            &format!("/lambdalet/v1/functions/{name}/logs?limit=100"),
            None,
            &[],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["records"].as_array().cloned().unwrap_or_default()
    }

    /// lambdalet's view of a function: lifecycle settings, state, instance counts.
    pub fn lifecycle(&self, name: &str) -> Value {
        let r = self.http(
            "GET",
            &format!("/lambdalet/v1/functions/{name}/configuration"),
            None,
            &[],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Sends an asynchronous (`Event`) invocation; returns its request id.
    pub fn invoke_async(&self, name: &str, payload: &str) -> String {
        let r = self.http(
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            Some(payload.as_bytes()),
            &[("X-Amz-Invocation-Type", "Event")],
        );
        assert_eq!(r.status, 202, "{}", r.text());
        r.header("x-amzn-requestid").expect("request id").to_owned()
    }

    /// Lets function `name` write into the host directory `dir`: the directory becomes a rw
    /// volume at the same path inside its container, writable by the function's own user.
    pub fn share(&self, name: &str, dir: &Path) {
        let r = self.http(
            "PUT",
            &format!("/2015-03-31/functions/{name}/configuration"),
            Some(share_config(dir).to_string().as_bytes()),
            &[("content-type", "application/json")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// `lambdalet deploy DIR --name NAME --runtime python3.11 --handler HANDLER EXTRA...`,
    /// which must succeed.
    pub fn deploy_python(&self, dir: &Path, name: &str, handler: &str, extra: &[&str]) {
        self.deploy_runtime(dir, name, "python3.11", handler, extra);
    }

    /// [`Self::deploy_python`] on any runtime.
    pub fn deploy_runtime(
        &self,
        dir: &Path,
        name: &str,
        runtime: &str,
        handler: &str,
        extra: &[&str],
    ) {
        let dir = dir.to_str().expect("utf-8");
        let mut args = vec![
            "deploy",
            dir,
            "--name",
            name,
            "--runtime",
            runtime,
            "--handler",
            handler,
        ];
        args.extend_from_slice(extra);
        let o = self.cli(&args);
        assert!(
            o.status.success(),
            "deploy {name}: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
    }

    /// Runs `lambdalet <args>` as a client of this daemon (without the user's saved keys).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(LAMBDALET)
            .args(args)
            .env("LAMBDALET_ENDPOINT", &self.url)
            .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
            .env("NO_COLOR", "1")
            .output()
            .expect("run lambdalet")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Environment for the AWS CLI and boto3: dummy credentials, no user config, no retries.
pub fn aws_env(cmd: &mut Command) {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/lambdalet-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/lambdalet-test-credentials",
        )
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE");
}

/// AWS CLI v2 needs `--cli-binary-format raw-in-base64-out` to send raw JSON payloads.
pub fn aws_cli_v2() -> bool {
    static V2: OnceLock<bool> = OnceLock::new();
    *V2.get_or_init(|| {
        let out = Command::new("aws")
            .arg("--version")
            .output()
            .expect("aws --version");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        text.contains("aws-cli/2.")
    })
}

/// Zips a directory the way `lambdalet deploy` does, into a temp file.
pub fn zip_file(dir: &Path) -> tempfile::NamedTempFile {
    let bytes = zip_bytes(dir);
    let f = tempfile::Builder::new()
        .suffix(".zip")
        .tempfile()
        .expect("tempfile");
    std::fs::write(f.path(), bytes).expect("write zip");
    f
}

pub fn zip_bytes(dir: &Path) -> Vec<u8> {
    lambdalet_package::zip_directory(dir, &mut |_, _| {}).expect("zip fixture")
}

/// An HTTP response as curl saw it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    /// The response's head as received (repeated headers, such as `set-cookie`, all there).
    pub head: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The Lambda error type of an API error (header and body must agree).
    pub fn error_type(&self) -> String {
        let header = self
            .header("x-amzn-errortype")
            .unwrap_or_default()
            .to_owned();
        let body = self.json()["errorType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            header,
            body,
            "x-amzn-ErrorType and errorType differ: {}",
            self.text()
        );
        header
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub fn curl(
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> HttpResponse {
    curl_with(&[], method, url, body, headers)
}

/// [`curl`] with extra curl arguments (`--aws-sigv4 ...`, `--resolve ...`).
pub fn curl_with(
    extra: &[&str],
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hfile, bfile, infile) = (
        dir.path().join("h"),
        dir.path().join("b"),
        dir.path().join("in"),
    );
    let mut cmd = Command::new("curl");
    cmd.args(extra)
        .args(["-sS", "-X", method, "-D"])
        .arg(&hfile)
        .arg("-o")
        .arg(&bfile)
        .args(["-w", "%{http_code}"]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    if let Some(b) = body {
        std::fs::write(&infile, b).expect("write body");
        cmd.arg("--data-binary")
            .arg(format!("@{}", infile.display()));
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            cmd.args(["-H", "content-type: application/json"]);
        }
    }
    cmd.arg(url);
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("status code");
    let raw = std::fs::read_to_string(&hfile).unwrap_or_default();
    let headers = raw
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = std::fs::read(&bfile).unwrap_or_default();
    HttpResponse {
        status,
        headers,
        head: raw,
        body,
    }
}

/// Decodes the base64 `LogResult` of an invoke.
pub fn decode_log(b64: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64"),
    )
    .expect("utf-8")
}

/// Python with boto3 for a script under tests/py, printing one JSON document.
pub fn python_script(script: &str, args: &[&str]) -> Value {
    python_script_env(script, args, &[])
}

/// [`python_script`] with extra environment variables (e.g. real credentials).
pub fn python_script_env(script: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/py").join(script)).args(args);
    aws_env(&mut cmd);
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run python3");
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `--volume DIR:DIR:rw` for `lambdalet deploy`, with `dir` made writable by any function's
/// user (see [`Daemon::share`]).
pub fn volume_flag(dir: &Path) -> String {
    writable(dir);
    format!("{0}:{0}:rw", dir.display())
}

fn writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
}

fn share_config(dir: &Path) -> Value {
    writable(dir);
    let d = dir.display().to_string();
    serde_json::json!({"LambdaletConfig": {"containerParams": {"volumes": [
        {"sourcePath": d, "destinationPath": d, "permission": "rw"}
    ]}}})
}

/// Waits until `f` is true or panics after `limit`.
pub fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Process ids whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Process ids whose environment has the entry `needle` (`NAME=value`).
pub fn processes_with_env(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|e| e == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A PyPI package (and its dependencies) installed once into target/test-cache, for vendoring
/// into function code the way a Lambda or Greengrass package bundles its dependencies.
pub fn pip_cache(package: &str) -> PathBuf {
    let cache = repo().join("target/test-cache").join(package);
    let marker = cache.join(".complete");
    if !marker.exists() {
        let tmp = cache.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let out = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&tmp)
            .arg(package)
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "pip install {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(tmp.join(".complete"), "").expect("marker");
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::rename(&tmp, &cache).expect("move into the cache");
    }
    cache
}

/// Copies the contents of `src` into `dst` (created if needed).
pub fn copy_into(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(dst)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// A background `mosquitto_sub` collecting `topic payload` lines.
pub struct MqttSub {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl MqttSub {
    pub fn start(port: u16, filter: &str) -> Self {
        let mut child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                filter,
                "-v",
                "-q",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "run mosquitto_sub (Debian package mosquitto-clients; `make test` installs it)",
            );
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().expect("lines").push(line);
            }
        });
        // mosquitto_sub has no "subscribed" signal; give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        Self { child, lines }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for MqttSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `mosquitto_pub` aimed at the broker on `port` (add the topic, message, QoS ...).
pub fn mosquitto_pub(port: u16) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    cmd
}

/// `mosquitto_pub` one message with QoS 1.
pub fn mqtt_pub(port: u16, topic: &str, message: &str) {
    let status = mosquitto_pub(port)
        .args(["-t", topic, "-m", message, "-q", "1"])
        .status()
        .expect("run mosquitto_pub (Debian package mosquitto-clients; `make test` installs it)");
    assert!(status.success(), "mosquitto_pub to {topic} failed");
}
