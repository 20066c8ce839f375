//! `/etc/lambdalet/config.toml`: the daemon's flags from a file.
//!
//! Every `serve`/`up` flag can be set by its long name without the dashes (`max-concurrency =
//! 8`). The file only fills in what the command line and the environment leave unset, so a
//! flag wins over its `LAMBDALET_*` variable, which wins over the file. It works on the
//! arguments before the real parse: the file's settings become flags appended to the command
//! line, and clap then checks and converts them like any other, with the same messages.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory};

use crate::cli::Cli;

/// Where the service's configuration lives; read when it exists and no other is named.
pub const DEFAULT_PATH: &str = "/etc/lambdalet/config.toml";

/// `argv` with the configuration file's settings added as flags, for `serve` and `up`
/// (unchanged for every other command, and when it does not parse: clap reports that).
pub fn apply(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    // Client commands (most runs) skip the extra parse.
    if !argv.iter().skip(1).any(|a| a == "serve" || a == "up") {
        return Ok(argv);
    }
    let command = Cli::command();
    let Ok(matches) = command.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some((name @ ("serve" | "up"), sub)) = matches.subcommand() else {
        return Ok(argv);
    };
    let (path, named) = match sub.get_one::<PathBuf>("config") {
        Some(p) => (p.clone(), true),
        None if Path::new(DEFAULT_PATH).exists() => (PathBuf::from(DEFAULT_PATH), false),
        None => return Ok(argv),
    };
    let text = match std::fs::read_to_string(&path) {
        // The service's file, kept from other users (it may hold a broker's password): a user
        // running their own daemon goes on without it.
        Err(e) if !named && e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!(
                "note: {} is not readable by this user; not using it (--config names another)",
                path.display()
            );
            return Ok(argv);
        }
        r => r,
    };
    let text = text.map_err(|e| {
        format!(
            "cannot read the configuration file {}: {e}{}",
            path.display(),
            if named {
                ""
            } else {
                " (it is read when it exists; name another with --config or LAMBDALET_CONFIG)"
            }
        )
    })?;
    let serve = command
        .find_subcommand(name)
        .ok_or_else(|| format!("no `{name}` command"))?;
    let mut out = argv;
    out.extend(flags(&text, serve, sub).map_err(|e| format!("{}: {e}", path.display()))?);
    if !named {
        out.push("--config".into());
        out.push(path.into_os_string());
    }
    Ok(out)
}

/// The flags `text` (TOML) sets that `given` (the parsed command line and environment) does
/// not.
fn flags(text: &str, command: &clap::Command, given: &ArgMatches) -> Result<Vec<OsString>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && !a.is_hide_set())
            .filter(|a| a.get_id() != "config")
            .ok_or_else(|| {
                format!(
                    "`{key}` is not a setting: settings are the flags of `lambdalet serve --help` without their dashes"
                )
            })?;
        if matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let flag = OsString::from(format!("--{long}"));
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue);
        match value {
            toml::Value::Boolean(b) if is_switch => {
                if *b {
                    out.push(flag);
                }
            }
            _ if is_switch => {
                return Err(format!(
                    "`{key}` is a switch: write `{key} = true` or `false`"
                ));
            }
            toml::Value::Array(items) => {
                let words = items
                    .iter()
                    .map(|v| scalar(key, v))
                    .collect::<Result<Vec<_>, _>>()?;
                match arg.get_value_delimiter() {
                    Some(d) => {
                        out.push(flag);
                        out.push(words.join(&d.to_string()).into());
                    }
                    None if matches!(arg.get_action(), ArgAction::Append) => {
                        for w in words {
                            out.push(flag.clone());
                            out.push(w.into());
                        }
                    }
                    None => return Err(format!("`{key}` takes one value, not a list")),
                }
            }
            v => {
                // `--flag=value`, so a value that starts with a dash is not taken for a flag.
                let mut f = flag;
                f.push("=");
                f.push(scalar(key, v)?);
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// A value as it would be written after its flag.
fn scalar(key: &str, v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(format!(
            "`{key}` must be a string, a number, a boolean or a list of them"
        )),
    }
}

#[cfg(test)]
mod tests;
