//! `lambdalet`: the daemon (`serve`, `up`), a client for a running daemon (`deploy`,
//! `invoke`, `functions`, `logs`, ...), and its own completion script and man pages.

#[cfg(feature = "broker")]
mod broker;
#[cfg(not(feature = "broker"))]
#[path = "broker_absent.rs"]
mod broker;
mod cli;
mod client;
mod components;
mod config_file;
mod example_background;
mod examples;
mod install;
mod keyfile;
mod manuals;
mod open_files;
mod otlp;
mod resources;
#[cfg(feature = "s3")]
mod s3;
#[cfg(not(feature = "s3"))]
#[path = "s3_absent.rs"]
mod s3;
mod sandboxes;
mod serve;
mod systemd;
mod telemetry;
mod urls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // A container sandbox's init is this binary started again with a hidden argument; it
    // must run before anything else (no async runtime, no threads).
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            lambdalet_sandbox::container::init::INIT_ARG,
        ))
    {
        lambdalet_sandbox::container::init::main();
    }
    // Whatever descriptors the daemon inherited (from a shell, a supervisor) are not for the
    // runtimes it starts.
    lambdalet_sandbox::seal_inherited_fds();
    let argv = match config_file::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(argv);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let out = client::output::Output::new(cli.output);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args, false).await.map(|()| ExitCode::SUCCESS),
            Command::Up(args) => serve::run(args, true).await.map(|()| ExitCode::SUCCESS),
            Command::Deploy(args) => client::deploy::run(&cli.endpoint, out, args).await,
            Command::Invoke(args) => client::invoke::run(&cli.endpoint, out, args).await,
            Command::Functions(args) => client::functions::run(&cli.endpoint, out, args).await,
            Command::Logs(args) => client::logs::run(&cli.endpoint, out, args).await,
            Command::Queue(args) => client::queue::run(&cli.endpoint, out, args).await,
            Command::Top(args) => client::top::run(&cli.endpoint, out, args).await,
            Command::Publish(args) => client::events::publish(&cli.endpoint, out, args).await,
            Command::Subscribe(args) => client::events::subscribe(&cli.endpoint, out, args).await,
            Command::Keys(args) => client::keys::run(&cli.endpoint, out, args).await,
            Command::Layers(args) => client::layers::run(&cli.endpoint, out, args).await,
            Command::Deployment(args) => client::deployment::run(&cli.endpoint, out, args).await,
            Command::Component(args) => client::component::run(&cli.endpoint, out, args).await,
            Command::Image(args) => client::image::run(&cli.endpoint, out, args).await,
            Command::Schedule(args) => client::schedule::run(&cli.endpoint, out, args).await,
            Command::Runtimes(args) => client::runtimes::run(&cli.endpoint, out, args).await,
            Command::Completions(args) => manuals::completions(&args),
            Command::Man(args) => manuals::man(&args),
            Command::Install(args) => install::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Subscriptions(args) => {
                client::events::subscriptions(&cli.endpoint, out, args).await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
