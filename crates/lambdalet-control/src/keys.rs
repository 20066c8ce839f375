//! Access keys: administrators' (`lambdalet keys create`) and each function's own.
//!
//! Every key lives in the store with its secret sealed by the master key (a file beside the
//! database, see `lambdalet`'s `keyfile`), and in memory in the clear, so verifying a request
//! is a map lookup and an HMAC. A function's key is made with the function, in the same
//! transaction, and goes with it; administrators' keys are made and deleted on request.
//! Rotating an administrator's key: create a new one, move clients to it, delete the old.

use std::collections::HashMap;

use lambdalet_auth::MasterKey;
use lambdalet_core::{Credentials, FunctionName, LambdaError, Principal};
use lambdalet_store::{KeyRecord, Store};

use crate::control::{Control, now_ms};
use crate::error::ControlError;

/// A key as `lambdalet keys list` shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub access_key_id: String,
    /// The function whose own key this is; `None`: an administrator's key.
    pub function: Option<String>,
    pub description: String,
    pub created_ms: u64,
}

/// A key just made: the only time its secret is shown.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub info: KeyInfo,
    pub credentials: Credentials,
}

/// One key in memory.
#[derive(Clone)]
pub(crate) struct LiveKey {
    pub secret: String,
    pub info: KeyInfo,
}

impl LiveKey {
    pub(crate) fn principal(&self) -> Principal {
        match &self.info.function {
            None => Principal::Admin,
            Some(f) => Principal::Function(
                FunctionName::new(f).expect("stored function names were validated"),
            ),
        }
    }
}

/// Makes a key and its stored form. `function`: whose own key it is (`None`: an
/// administrator's).
pub fn make_key(
    master: &MasterKey,
    function: Option<&str>,
    description: &str,
) -> (KeyRecord, NewKey) {
    let (id, secret) = lambdalet_auth::new_access_key();
    let info = KeyInfo {
        access_key_id: id.clone(),
        function: function.map(str::to_owned),
        description: description.to_owned(),
        created_ms: now_ms(),
    };
    let record = KeyRecord {
        id: id.clone(),
        sealed_secret: master.seal(&secret),
        function: info.function.clone(),
        description: info.description.clone(),
        created_ms: info.created_ms,
    };
    let new = NewKey {
        info,
        credentials: Credentials {
            access_key_id: id,
            session_token: lambdalet_auth::session_token(&secret),
            secret_access_key: secret,
        },
    };
    (record, new)
}

/// Checks an administrator's key description: what it is for, so a list says which to delete.
pub fn check_description(description: &str) -> Result<(), LambdaError> {
    if description.chars().count() > 256 || description.chars().any(char::is_control) {
        return Err(LambdaError::invalid(
            "a key description is at most 256 characters without control characters",
        ));
    }
    Ok(())
}

/// Reads every stored key and opens its secret. Functions in `functions` without a key get
/// one (databases from before keys existed). A key the master key cannot open is skipped
/// with a warning (the master key file was replaced): such a key can never verify.
pub(crate) fn load(
    store: &Store,
    master: &MasterKey,
    functions: &[String],
) -> Result<HashMap<String, LiveKey>, ControlError> {
    let mut live = HashMap::new();
    for k in store.keys()? {
        match master.open(&k.sealed_secret) {
            Ok(secret) => {
                let info = KeyInfo {
                    access_key_id: k.id.clone(),
                    function: k.function,
                    description: k.description,
                    created_ms: k.created_ms,
                };
                live.insert(k.id, LiveKey { secret, info });
            }
            Err(e) => tracing::warn!(
                access_key_id = %k.id,
                "cannot open this access key's secret ({e}); was master.key replaced? The key cannot be used: delete it with `lambdalet keys delete {}`",
                k.id
            ),
        }
    }
    for name in functions {
        let has = live
            .values()
            .any(|k| k.info.function.as_deref() == Some(name));
        if !has {
            let (record, new) = make_key(master, Some(name), "the function's own credentials");
            store.insert_key(&record)?;
            live.insert(
                new.info.access_key_id.clone(),
                LiveKey {
                    secret: new.credentials.secret_access_key,
                    info: new.info,
                },
            );
        }
    }
    Ok(live)
}

/// Each function's own credentials, from the loaded keys (the newest key when it has several).
pub(crate) fn function_credentials(
    keys: &HashMap<String, LiveKey>,
) -> HashMap<String, Credentials> {
    let mut out: HashMap<String, (u64, Credentials)> = HashMap::new();
    for k in keys.values() {
        let Some(f) = &k.info.function else { continue };
        let newer = out
            .get(f)
            .is_none_or(|(created, _)| k.info.created_ms >= *created);
        if newer {
            out.insert(
                f.clone(),
                (
                    k.info.created_ms,
                    Credentials {
                        access_key_id: k.info.access_key_id.clone(),
                        secret_access_key: k.secret.clone(),
                        session_token: lambdalet_auth::session_token(&k.secret),
                    },
                ),
            );
        }
    }
    out.into_iter().map(|(f, (_, c))| (f, c)).collect()
}

impl Control {
    /// Makes an administrator's key.
    pub async fn create_key(&self, description: &str) -> Result<NewKey, ControlError> {
        check_description(description)?;
        let (record, new) = make_key(&self.master, None, description);
        self.blocking(move |s| s.insert_key(&record)).await?;
        self.keys.write().insert(
            new.info.access_key_id.clone(),
            LiveKey {
                secret: new.credentials.secret_access_key.clone(),
                info: new.info.clone(),
            },
        );
        tracing::info!(access_key_id = %new.info.access_key_id, "key.created");
        Ok(new)
    }

    /// Every key, administrators' first, then by age.
    pub fn list_keys(&self) -> Vec<KeyInfo> {
        let mut all: Vec<KeyInfo> = self.keys.read().values().map(|k| k.info.clone()).collect();
        all.sort_by(|a, b| {
            (a.function.is_some(), a.created_ms, &a.access_key_id).cmp(&(
                b.function.is_some(),
                b.created_ms,
                &b.access_key_id,
            ))
        });
        all
    }

    /// Deletes an administrator's key. A function's own key goes with the function.
    pub async fn delete_key(&self, access_key_id: &str) -> Result<(), ControlError> {
        let info = self
            .keys
            .read()
            .get(access_key_id)
            .map(|k| k.info.clone())
            .ok_or_else(|| {
                LambdaError::not_found(format!(
                    "no access key {access_key_id}: `lambdalet keys list` shows the keys"
                ))
            })?;
        if let Some(f) = info.function {
            return Err(LambdaError::invalid(format!(
                "{access_key_id} is function {f}'s own key: it is deleted with the function"
            ))
            .into());
        }
        let id = access_key_id.to_owned();
        self.blocking(move |s| s.delete_key(&id)).await?;
        self.keys.write().remove(access_key_id);
        tracing::info!(access_key_id, "key.deleted");
        Ok(())
    }

    /// The secret of a key and who it stands for, to verify a signature with.
    pub fn secret_of(&self, access_key_id: &str) -> Option<(String, Principal)> {
        let keys = self.keys.read();
        let k = keys.get(access_key_id)?;
        Some((k.secret.clone(), k.principal()))
    }

    /// Who a key id and secret given as such (an MQTT username and password) stand for.
    /// Compared in constant time.
    pub fn check_secret(&self, access_key_id: &str, secret: &str) -> Option<Principal> {
        let keys = self.keys.read();
        let k = keys.get(access_key_id)?;
        let (a, b) = (k.secret.as_bytes(), secret.as_bytes());
        let differ =
            a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
        (!differ).then(|| k.principal())
    }

    /// The token of function `f`'s S3 event webhook, if the function exists.
    pub fn webhook_token(&self, f: &str) -> Option<String> {
        self.credentials_of(f)
            .map(|c| lambdalet_auth::webhook_token(&c.secret_access_key))
    }

    /// Whether `token` is function `f`'s webhook token (compared in constant time).
    pub fn check_webhook_token(&self, f: &str, token: &str) -> bool {
        let Some(want) = self.webhook_token(f) else {
            return false;
        };
        let (a, b) = (want.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Whether any administrator's key exists (a network listen with `--auth sigv4` needs one).
    pub fn has_admin_key(&self) -> bool {
        self.keys.read().values().any(|k| k.info.function.is_none())
    }

    /// A function's own credentials.
    pub fn credentials_of(&self, function: &str) -> Option<Credentials> {
        function_credentials(&self.keys.read()).remove(function)
    }

    /// Forgets the keys of a deleted function (the store deleted them with it).
    pub(crate) fn forget_keys_of(&self, function: &str) {
        self.keys
            .write()
            .retain(|_, k| k.info.function.as_deref() != Some(function));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_without_keys_get_one_and_unreadable_keys_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let master = MasterKey::generate();
        let (admin, _) = make_key(&master, None, "ops laptop");
        store.insert_key(&admin).expect("admin");
        let (foreign, _) = make_key(&MasterKey::generate(), None, "from another master key");
        store.insert_key(&foreign).expect("foreign");
        let live = load(&store, &master, &[]).expect("load");
        assert!(live.contains_key(&admin.id) && !live.contains_key(&foreign.id));
        assert_eq!(live[&admin.id].principal(), Principal::Admin);
    }

    #[test]
    fn descriptions_are_checked() {
        assert!(check_description("ci runner").is_ok());
        assert!(check_description("line\nbreak").is_err());
        assert!(check_description(&"x".repeat(257)).is_err());
    }
}
