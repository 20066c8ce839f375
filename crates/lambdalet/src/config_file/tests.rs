use clap::{CommandFactory, Parser};

use super::flags;
use crate::cli::{Cli, Command};

/// The settings `toml` adds to `lambdalet serve <args>`, as `serve` then sees them.
fn serve_with(args: &[&str], toml: &str) -> Result<crate::cli::ServeArgs, String> {
    let mut argv: Vec<std::ffi::OsString> = ["lambdalet", "serve"].iter().map(Into::into).collect();
    argv.extend(args.iter().map(Into::into));
    let command = Cli::command();
    let matches = command
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| e.to_string())?;
    let (_, sub) = matches.subcommand().ok_or("no subcommand")?;
    let serve = command.find_subcommand("serve").ok_or("no serve")?;
    argv.extend(flags(toml, serve, sub)?);
    match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Command::Serve(a) => Ok(a),
        _ => Err("not serve".into()),
    }
}

#[test]
fn the_file_sets_what_the_command_line_leaves_unset() {
    let a = serve_with(
        &["--max-concurrency", "3"],
        "max-concurrency = 8\nregion = \"eu-west-1\"\nmax_connections = 7\n",
    )
    .unwrap();
    assert_eq!(a.max_concurrency, Some(3), "the command line wins");
    assert_eq!(a.memory, None);
    assert_eq!(a.region, "eu-west-1");
    assert_eq!(a.max_connections, 7, "snake_case names work too");
}

#[test]
fn switches_lists_and_values_that_start_with_a_dash() {
    let a = serve_with(
        &[],
        "trust-services = true\nasync-retry-delays = [1, 2]\nthing-name = \"-edge-1\"\n",
    )
    .unwrap();
    assert!(a.trust_services);
    assert_eq!(a.async_retry_delays, vec![1, 2]);
    assert_eq!(a.thing_name, "-edge-1");
    let a = serve_with(&[], "trust-services = false\n").unwrap();
    assert!(!a.trust_services);
}

#[test]
fn mistakes_are_named() {
    let e = serve_with(&[], "max-concurency = 8\n").unwrap_err();
    assert!(e.contains("`max-concurency` is not a setting"), "{e}");
    let e = serve_with(&[], "trust-services = \"yes\"\n").unwrap_err();
    assert!(e.contains("is a switch"), "{e}");
    let e = serve_with(&[], "listen = \n").unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    let e = serve_with(&[], "config = \"/other.toml\"\n").unwrap_err();
    assert!(e.contains("`config` is not a setting"), "{e}");
    // clap checks the values themselves, with its own message.
    let e = serve_with(&[], "max-concurrency = \"many\"\n").unwrap_err();
    assert!(e.contains("--max-concurrency"), "{e}");
}
