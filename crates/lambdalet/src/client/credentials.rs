//! The key the client commands sign with: `LAMBDALET_ACCESS_KEY_ID` and
//! `LAMBDALET_SECRET_ACCESS_KEY`, else `~/.config/lambdalet/credentials` (0600), where
//! `lambdalet keys create` saves the key it makes:
//!
//! ```ini
//! [http://10.0.0.5:9001]
//! access_key_id = LKIA...
//! secret_access_key = ...
//!
//! [default]
//! access_key_id = LKIA...
//! secret_access_key = ...
//! ```
//!
//! The section named after the endpoint wins, then `[default]`. Without a key, requests go
//! unsigned (a daemon on loopback with `--auth none` takes them).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::Context;

/// An access key id and its secret.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `~/.config/lambdalet/credentials` (or under `$XDG_CONFIG_HOME`).
pub fn path() -> Option<PathBuf> {
    Some(dirs::config_dir()?.join("lambdalet").join("credentials"))
}

/// The key for `endpoint`, if there is one.
pub fn for_endpoint(endpoint: &str) -> anyhow::Result<Option<Key>> {
    let id = std::env::var("LAMBDALET_ACCESS_KEY_ID").ok();
    let secret = std::env::var("LAMBDALET_SECRET_ACCESS_KEY").ok();
    match (id, secret) {
        (Some(id), Some(secret)) => return Ok(Some(Key { id, secret })),
        (Some(_), None) | (None, Some(_)) => anyhow::bail!(
            "set both LAMBDALET_ACCESS_KEY_ID and LAMBDALET_SECRET_ACCESS_KEY, or neither"
        ),
        (None, None) => {}
    }
    let Some(path) = path() else { return Ok(None) };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let sections = parse(&text);
    let pick = |name: &str| {
        sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k.clone())
    };
    Ok(pick(endpoint.trim_end_matches('/')).or_else(|| pick("default")))
}

fn parse(text: &str) -> Vec<(String, Key)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Option<String>, Option<String>)> = None;
    let mut flush = |c: Option<(String, Option<String>, Option<String>)>| {
        if let Some((name, Some(id), Some(secret))) = c {
            out.push((name, Key { id, secret }));
        }
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(current.take());
            current = Some((name.trim().to_owned(), None, None));
        } else if let (Some((k, v)), Some(c)) = (line.split_once('='), current.as_mut()) {
            match k.trim() {
                "access_key_id" => c.1 = Some(v.trim().to_owned()),
                "secret_access_key" => c.2 = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    flush(current);
    out
}

/// Saves `key` as the section `name` (replacing one of that name), the file 0600.
pub fn save(name: &str, key: &Key) -> anyhow::Result<PathBuf> {
    let path = path().context("cannot find the configuration directory (is HOME set?)")?;
    let dir = path.parent().expect("the path has a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut text = String::new();
    for (n, k) in parse(&old).into_iter().filter(|(n, _)| n != name) {
        text.push_str(&section(&n, &k));
    }
    text.push_str(&section(name, key));
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn section(name: &str, k: &Key) -> String {
    format!(
        "[{name}]\naccess_key_id = {}\nsecret_access_key = {}\n\n",
        k.id, k.secret
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_read_and_incomplete_ones_skipped() {
        let text = "# keys\n[http://h:9001]\naccess_key_id = A\nsecret_access_key = S\n\n[default]\naccess_key_id=B\n[x]\naccess_key_id = C\nsecret_access_key = T = U\n";
        let s = parse(text);
        let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["http://h:9001", "x"]);
        assert_eq!(s[0].1.secret, "S");
        assert_eq!(s[1].1.secret, "T = U");
    }
}
