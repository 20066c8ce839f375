//! `lambdalet install --systemd`: the files, the dedicated user and a unit systemd accepts.

use std::process::Command;

use crate::harness::{LAMBDALET, repo};

fn install(args: &[&str]) -> (bool, String) {
    let out = Command::new(LAMBDALET)
        .args(["install", "--systemd"])
        .args(args)
        .output()
        .expect("run lambdalet install");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `--root` stages the files (for an image being built) and says what is left to do.
#[test]
fn install_stages_the_binary_unit_and_settings_and_keeps_edited_settings() {
    let tmp = tempfile::tempdir().expect("run lambdalet install");
    let root = tmp.path().to_str().expect("run lambdalet install");
    let (ok, out) = install(&["--root", root]);
    assert!(ok, "{out}");
    let bin = tmp.path().join("usr/local/bin/lambdalet");
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run lambdalet install");
    assert!(version.status.success(), "the copy runs");
    let unit =
        std::fs::read_to_string(tmp.path().join("etc/systemd/system/lambdalet.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/lambdalet serve\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nType=notify\n") && unit.contains("\nWatchdogSec="),
        "{unit}"
    );
    let config = tmp.path().join("etc/lambdalet/config.toml");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        std::fs::read_to_string(repo().join("packaging/config.toml")).unwrap()
    );
    assert!(
        out.contains("useradd --system"),
        "the steps left are printed: {out}"
    );

    std::fs::write(&config, "max-concurrency = 4\n").unwrap();
    let (ok, out) = install(&["--root", root, "--bin", "/opt/lambdalet/bin/lambdalet"]);
    assert!(ok && out.contains("kept yours"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "max-concurrency = 4\n"
    );
    let unit =
        std::fs::read_to_string(tmp.path().join("etc/systemd/system/lambdalet.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/opt/lambdalet/bin/lambdalet serve\n"),
        "{unit}"
    );

    let (ok, out) = install(&["--root", root, "--bin", "relative/lambdalet"]);
    assert!(
        !ok && out.contains("--bin must be an absolute path"),
        "{out}"
    );
}

/// On the host itself (here inside a private mount namespace, over a copy of /etc): the
/// system user with its reserved uids, files systemd's own checker accepts without a
/// warning, and no systemctl where systemd does not run.
#[test]
fn install_creates_the_user_and_a_unit_systemd_accepts() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: installing a service needs root");
        return;
    }
    let Ok(analyze) = which("systemd-analyze") else {
        println!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"
        set -e
        cp -a /etc "$T/etc"
        mkdir -p "$T/bin" "$T/run"
        mount --bind "$T/etc" /etc
        mount --bind "$T/bin" /usr/local/bin
        mount --bind "$T/run" /run
        "$LAMBDALET" install --systemd
        "$LAMBDALET" install --systemd
        echo "--- passwd"; grep '^lambdalet:' /etc/passwd
        echo "--- subuid"; grep -c '^lambdalet:2000000:1000000$' /etc/subuid /etc/subgid
        echo "--- nobody"
        mkdir -p "$T/nobody" && chown 65534:65534 "$T/nobody"
        timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups "$LAMBDALET" serve \
            --listen 127.0.0.1:0 --data-dir "$T/nobody/data" --mqtt-listen off --s3-listen off \
            --url-listen off --sandbox process 2>&1 | grep -m1 -o "not readable by this user; not using it" || true
        echo "--- verify"
        "$ANALYZE" verify --man=no /etc/systemd/system/lambdalet.service 2>&1
        echo "--- verified $?"
    "#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("T", tmp.path())
        .env("LAMBDALET", LAMBDALET)
        .env("ANALYZE", &analyze)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("lambdalet (new system user and group)"),
        "{text}"
    );
    assert!(
        text.contains("lambdalet (exists)"),
        "a second install is idempotent: {text}"
    );
    assert!(
        text.contains("systemd is not running on this host"),
        "{text}"
    );
    let passwd = section(&text, "passwd");
    assert!(
        passwd.contains(":/var/lib/lambdalet:") && passwd.contains("nologin"),
        "{passwd}"
    );
    assert_eq!(
        section(&text, "subuid").trim(),
        "/etc/subuid:1\n/etc/subgid:1",
        "the range is reserved once: {text}"
    );
    assert_eq!(
        section(&text, "nobody").trim(),
        "not readable by this user; not using it",
        "another user's daemon goes on without the service's settings: {text}"
    );
    assert_eq!(
        section(&text, "verify").trim(),
        "",
        "systemd-analyze has no complaint: {text}"
    );
    assert!(text.contains("--- verified 0"), "{text}");
    assert!(
        tmp.path().join("etc/lambdalet/config.toml").exists(),
        "written to /etc"
    );
}

/// What follows `--- NAME` up to the next `---`.
fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("--- {name}\n"))
        .map(|i| i + name.len() + 5)
        .unwrap_or(text.len());
    let rest = &text[start..];
    &rest[..rest.find("--- ").unwrap_or(rest.len())]
}

fn which(program: &str) -> Result<String, ()> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map_err(|_| ())?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !path.is_empty() {
        Ok(path)
    } else {
        Err(())
    }
}
