//! `lambdalet keys create|list|delete`: administrators' access keys, through the API of a
//! running daemon or, with `--data-dir`, straight in a stopped daemon's data directory (how the
//! first key of a daemon that listens on a network is made).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::Client;
use super::credentials::{self, Key};
use super::doc::Doc;
use super::output::{self, Output};

/// The fields of a key in `keys list --output table` and `text`, in this order (`Function`:
/// the function whose own key it is, `None` for an administrator's).
const COLUMNS: &[&str] = &["AccessKeyId", "Created", "Function", "Description"];

/// The fields of `keys create --output text`.
const CREATE_COLUMNS: &[&str] = &["AccessKeyId", "SecretAccessKey"];

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make an administrator's key, print it and save it for the client commands
    /// (~/.config/lambdalet/credentials). The secret is shown only now.
    Create {
        /// What the key is for (shown by `keys list`), e.g. "ci runner".
        #[arg(long, default_value = "")]
        description: String,
        /// Work on this data directory directly instead of asking the daemon (it must be
        /// stopped): how a daemon that listens on a network gets its first key.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print the key without saving it.
        #[arg(long)]
        no_save: bool,
    },
    /// List the keys (never their secrets): administrators' and each function's own.
    List {
        /// Read this data directory directly (the daemon must be stopped).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Delete an administrator's key. To rotate a key: create a new one, move the clients to
    /// it, delete the old one.
    Delete {
        /// The access key id (LKIA...).
        id: String,
        /// Work on this data directory directly (the daemon must be stopped).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub async fn run(
    endpoint: &str,
    out: Output,
    args: KeysArgs,
) -> anyhow::Result<std::process::ExitCode> {
    match args.command {
        KeysCommand::Create {
            description,
            data_dir,
            no_save,
        } => {
            let (key, section, answer) = match data_dir {
                Some(dir) => {
                    let key = offline::create(&dir, &description)?;
                    let answer = Doc::object([
                        ("AccessKeyId", Doc::from(key.id.as_str())),
                        ("Description", Doc::from(description.as_str())),
                        ("SecretAccessKey", Doc::from(key.secret.as_str())),
                    ]);
                    (key, "default".to_owned(), answer)
                }
                None => {
                    let client = Client::new(endpoint)?;
                    let body = json!({ "Description": description });
                    let d = client
                        .doc(
                            client
                                .request(Method::POST, "/lambdalet/v1/keys")
                                .json(&body),
                        )
                        .await?;
                    let key = Key {
                        id: d["AccessKeyId"].as_str().unwrap_or_default().to_owned(),
                        secret: d["SecretAccessKey"].as_str().unwrap_or_default().to_owned(),
                    };
                    (key, endpoint.trim_end_matches('/').to_owned(), d)
                }
            };
            if let Some(f) = out.format {
                // The key on stdout; where it was saved (or not), on stderr.
                output::object(f, &answer, &answer, CREATE_COLUMNS)?;
                if no_save {
                    eprintln!("not saved (--no-save): keep the secret now, it is not shown again");
                } else {
                    let path = credentials::save(&section, &key)?;
                    eprintln!("saved in {} [{section}]", path.display());
                }
                return Ok(std::process::ExitCode::SUCCESS);
            }
            println!("AccessKeyId:     {}", key.id);
            println!("SecretAccessKey: {}", key.secret);
            println!();
            if no_save {
                println!("Not saved (--no-save): keep the secret now, it is not shown again.");
            } else {
                let path = credentials::save(&section, &key)?;
                println!(
                    "Saved in {} [{section}]: the lambdalet commands use it.",
                    path.display()
                );
            }
            println!("For the AWS CLI and SDKs:");
            println!(
                "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                key.id, key.secret
            );
        }
        KeysCommand::List { data_dir } => {
            let d = match data_dir {
                Some(dir) => {
                    let keys = offline::list(&dir)?;
                    Doc::object([(
                        "Keys",
                        Doc::Array(keys.into_iter().map(Doc::from).collect()),
                    )])
                }
                None => {
                    let client = Client::new(endpoint)?;
                    client
                        .doc(client.request(Method::GET, "/lambdalet/v1/keys"))
                        .await?
                }
            };
            match out.format {
                Some(f) => output::list(f, &d, d["Keys"].items(), COLUMNS)?,
                None => print_keys(&d["Keys"].value().as_array().cloned().unwrap_or_default()),
            }
        }
        KeysCommand::Delete { id, data_dir } => {
            match data_dir {
                Some(dir) => offline::delete(&dir, &id)?,
                None => {
                    let client = Client::new(endpoint)?;
                    let path = format!("/lambdalet/v1/keys/{}", super::segment(&id));
                    client.json(client.request(Method::DELETE, &path)).await?;
                }
            }
            if out.is_human() {
                println!("deleted {id}");
            } else {
                eprintln!("deleted {id}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn print_keys(keys: &[Value]) {
    if keys.is_empty() {
        println!("no keys");
        return;
    }
    println!(
        "{:<22} {:<26} {:<20} DESCRIPTION",
        "ACCESS KEY ID", "CREATED", "FOR"
    );
    for k in keys {
        let owner = k["Function"]
            .as_str()
            .map_or_else(|| "administrator".to_owned(), |f| format!("function {f}"));
        println!(
            "{:<22} {:<26} {:<20} {}",
            k["AccessKeyId"].as_str().unwrap_or(""),
            k["Created"].as_str().unwrap_or(""),
            owner,
            k["Description"].as_str().unwrap_or("")
        );
    }
}

/// The data directory, opened directly: only while no daemon uses it.
mod offline {
    use std::path::Path;

    use anyhow::{Context, bail};
    use lambdalet_control::{check_description, make_key};
    use lambdalet_store::Store;
    use serde_json::{Value, json};

    use super::Key;

    fn open(dir: &Path) -> anyhow::Result<(std::fs::File, Store)> {
        if !dir.join("state.db").is_file() {
            bail!(
                "{} holds no lambdalet state (no state.db): start the daemon once with this --data-dir, or check the path",
                dir.display()
            );
        }
        let lock = crate::sandboxes::lock_data_dir(dir).map_err(|_| {
            anyhow::anyhow!(
                "a lambdalet daemon is running on {}: manage keys through it (leave out --data-dir), or stop it first",
                dir.display()
            )
        })?;
        let store = Store::open(dir).context("cannot open the state database")?;
        Ok((lock, store))
    }

    pub fn create(dir: &Path, description: &str) -> anyhow::Result<Key> {
        check_description(description).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (_lock, store) = open(dir)?;
        let master = crate::keyfile::load_or_create(dir)?;
        let (record, new) = make_key(&master, None, description);
        store.insert_key(&record)?;
        store.checkpoint()?;
        Ok(Key {
            id: new.credentials.access_key_id,
            secret: new.credentials.secret_access_key,
        })
    }

    pub fn list(dir: &Path) -> anyhow::Result<Vec<Value>> {
        let (_lock, store) = open(dir)?;
        Ok(store
            .keys()?
            .into_iter()
            .map(|k| {
                let created =
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(k.created_ms);
                json!({
                    "AccessKeyId": k.id,
                    "Function": k.function,
                    "Description": k.description,
                    "Created": lambdalet_core::timefmt::rfc3339_millis(created),
                })
            })
            .collect())
    }

    pub fn delete(dir: &Path, id: &str) -> anyhow::Result<()> {
        let (_lock, store) = open(dir)?;
        match store.key(id)? {
            None => bail!("no access key {id} in {}", dir.display()),
            Some(k) if k.function.is_some() => bail!(
                "{id} is function {}'s own key: it is deleted with the function",
                k.function.unwrap_or_default()
            ),
            Some(_) => {
                store.delete_key(id)?;
                store.checkpoint()?;
                Ok(())
            }
        }
    }
}
