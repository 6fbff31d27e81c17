//! `netabase key create` and `netabase key show`: author keys, which sign owned records.

use std::path::Path;

use netabase_store::owned::Author;
use serde::Serialize;

use crate::cli::{KeyArgs, KeyCommand};
use crate::error::{CliError, CliResult};

/// What `key create` and `key show` print with `--json`.
#[derive(Debug, Serialize)]
struct KeyReport<'a> {
    file: &'a Path,
    /// The public key in hexadecimal: the `Owner` of the records this key owns.
    public_key: String,
}

/// Runs `netabase key ...`.
pub fn run(command: &KeyCommand) -> CliResult<()> {
    let (args, author) = match command {
        KeyCommand::Create(args) => (args, create(&args.file)?),
        KeyCommand::Show(args) => (args, show(&args.file)?),
    };
    print(args, &author)
}

fn create(file: &Path) -> CliResult<Author> {
    if file.exists() {
        return Err(CliError::KeyExists(file.to_path_buf()));
    }
    Ok(Author::load_or_create(file)?)
}

fn show(file: &Path) -> CliResult<Author> {
    if !file.exists() {
        return Err(CliError::KeyMissing(file.to_path_buf()));
    }
    Ok(Author::load(file)?)
}

fn print(args: &KeyArgs, author: &Author) -> CliResult<()> {
    let public_key = author.owner().to_string();
    if args.json {
        let report = KeyReport {
            file: &args.file,
            public_key,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{public_key}  {}", args.file.display());
    }
    Ok(())
}
