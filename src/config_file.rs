//! `netabase node --config FILE`: settings from a TOML file, as if they were flags. Each key is a
//! long flag of `netabase node` without its dashes; the file's settings go before the command
//! line's, so a flag given there wins (a repeatable flag, such as `--listen`, adds to the file's).

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{CliError, CliResult};

/// The command line with the settings of the `--config` file of `netabase node` inserted after
/// `node`, or `None` when the command line names no config file.
pub fn expand(args: &[OsString]) -> CliResult<Option<Vec<OsString>>> {
    if args.get(1).is_none_or(|command| command != "node") {
        return Ok(None);
    }
    let Some(path) = config_path(&args[2..]) else {
        return Ok(None);
    };
    let flags = read(Path::new(&path))?;
    let mut expanded = args[..2].to_vec();
    expanded.extend(flags);
    expanded.extend_from_slice(&args[2..]);
    Ok(Some(expanded))
}

/// The value of `--config FILE` or `--config=FILE` among `args`.
fn config_path(args: &[OsString]) -> Option<OsString> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().cloned();
        }
        if let Some(path) = arg.to_str().and_then(|arg| arg.strip_prefix("--config=")) {
            return Some(path.into());
        }
    }
    None
}

/// The flags the file at `path` stands for.
fn read(path: &Path) -> CliResult<Vec<OsString>> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CliError::io("read", path, source))?;
    let bad = |reason: String| CliError::Config {
        path: path.to_path_buf(),
        reason,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| bad(error.message().to_owned()))?;
    let command = Cli::command();
    let node = command
        .find_subcommand("node")
        .ok_or_else(|| bad("this netabase has no node command".to_owned()))?;
    let known: Vec<&str> = node
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|long| *long != "config" && *long != "help")
        .collect();
    let mut flags = Vec::new();
    for (key, value) in table {
        if !known.contains(&key.as_str()) {
            return Err(bad(format!(
                "unknown setting `{key}`; the settings are the flags of `netabase node --help`: {}",
                known.join(", ")
            )));
        }
        let flag = format!("--{key}");
        let values = match value {
            toml::Value::Array(values) => values,
            other => vec![other],
        };
        for value in values {
            match value {
                toml::Value::Boolean(true) => flags.push(flag.clone().into()),
                toml::Value::Boolean(false) => {}
                toml::Value::String(text) => flags.push(format!("{flag}={text}").into()),
                toml::Value::Integer(number) => flags.push(format!("{flag}={number}").into()),
                other => {
                    return Err(bad(format!(
                        "`{key}` is a {}; give a string, a number, true or a list of them",
                        other.type_str()
                    )));
                }
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_file_goes_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "max-records = 5\nlisten = [\"/ip4/127.0.0.1/tcp/1\", \"/ip4/127.0.0.1/tcp/2\"]\nmdns = true\nverify-on-open = false\n",
        )
        .unwrap();
        let line = args(&[
            "netabase",
            "node",
            "--config",
            file.to_str().unwrap(),
            "--max-records",
            "7",
        ]);
        let expanded = expand(&line).unwrap().unwrap();
        let expected = args(&[
            "netabase",
            "node",
            "--listen=/ip4/127.0.0.1/tcp/1",
            "--listen=/ip4/127.0.0.1/tcp/2",
            "--max-records=5",
            "--mdns",
            "--config",
            file.to_str().unwrap(),
            "--max-records",
            "7",
        ]);
        assert_eq!(expanded, expected);
        assert_eq!(
            expand(&args(&["netabase", "node", "--mdns"])).unwrap(),
            None
        );
        assert_eq!(
            expand(&args(&["netabase", "demo", "--config", "x"])).unwrap(),
            None
        );
    }

    #[test]
    fn unknown_settings_and_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "max-recrods = 5\n").unwrap();
        let line = args(&["netabase", "node", "--config", file.to_str().unwrap()]);
        let error = expand(&line).unwrap_err().to_string();
        assert!(error.contains("unknown setting `max-recrods`"), "{error}");
        assert!(error.contains("max-records"), "{error}");
        std::fs::write(&file, "max-records = 1.5\n").unwrap();
        let error = expand(&line).unwrap_err().to_string();
        assert!(error.contains("is a float"), "{error}");
        std::fs::write(&file, "max-records = \n").unwrap();
        assert!(expand(&line).unwrap_err().to_string().contains("node.toml"));
    }
}
