//! `netabase`: the command-line tool of Netabase, a typed, persistent, distributed database on
//! libp2p Kademlia and redb.
//!
//! - `netabase demo` runs a local network of nodes in this process and shows what Netabase does.
//! - `netabase node` runs a long-lived storage node.
//! - `netabase inspect` shows what a store file holds.
//! - `netabase get` / `netabase put` read and write raw records on a running network.
//! - `netabase key` creates and shows author keys; `netabase completions` prints shell
//!   completions.
//!
//! Every failure prints one line starting with `error: ` that says what to do, and exits with
//! status 1 (2 for arguments clap rejects, 3 for a `get` that found no record).

mod bytes;
mod cli;
mod client;
mod config_file;
mod control;
mod demo;
mod error;
mod inspect;
mod key_cmd;
mod metrics_server;
mod network;
mod node_cmd;
mod output;
mod progress;
mod record_json;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::error::{CliError, CliResult};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match config_file::expand(&args) {
        Ok(Some(expanded)) => Cli::parse_from(expanded),
        Ok(None) => Cli::parse_from(args),
        Err(error) => {
            eprintln!("error: {}", network::one_line(&error.to_string()));
            return ExitCode::from(error.exit_code());
        }
    };
    init_logging(&cli.command);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", network::one_line(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Logs go to stderr (coloured only on a terminal, and never when `NO_COLOR` is set), filtered by
/// `RUST_LOG`; without it a node logs its own activity at info level and every other command only
/// warnings.
fn init_logging(command: &Command) {
    let default = match command {
        Command::Node(_) => "warn,netabase=info,netabase_store=info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
}

/// Whether to colour output on a stream: only a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

fn run(command: Command) -> CliResult<()> {
    match &command {
        Command::Inspect(args) => return inspect::run(args),
        Command::Key(key) => return key_cmd::run(key),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "netabase", &mut std::io::stdout());
            return Ok(());
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::io("start", "the tokio runtime", source))?;
    runtime.block_on(async move {
        match command {
            Command::Demo(args) => demo::run(args).await,
            Command::Node(args) => node_cmd::run(args).await,
            Command::Get(args) => client::get(args).await,
            Command::Put(args) => client::put(args).await,
            Command::Inspect(args) => inspect::run(&args),
            Command::Key(key) => key_cmd::run(&key),
            Command::Completions(_) => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_colour_off_unless_empty() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())));
    }
}
