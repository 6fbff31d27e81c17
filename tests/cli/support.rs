//! Running the binary: bounded commands, and long-running nodes read line by line.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command as StdCommand, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// The longest any one command of these tests may run.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The path of the built `netabase` binary.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_netabase"))
}

/// `netabase <args>`, bounded by [`LIMIT`], with logs kept quiet.
pub fn netabase<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(binary());
    command.args(args).timeout(LIMIT).env("RUST_LOG", "warn");
    command
}

/// Checks the shape of every error: exactly one line on stderr, starting with `error: `.
pub fn one_line_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {text}");
    assert!(lines[0].starts_with("error: "), "not an error line: {text}");
    lines[0].to_owned()
}

/// A `netabase node` process, killed if the test ends without stopping it.
pub struct RunningNode {
    child: Option<Child>,
    lines: Receiver<String>,
    /// What the node printed so far.
    pub printed: Vec<String>,
}

impl RunningNode {
    /// Starts `netabase node --data-dir <dir> --listen /ip4/127.0.0.1/tcp/0 <extra>` and waits
    /// until it printed its listen address.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = StdCommand::new(binary())
            .arg("node")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("netabase node starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut node = RunningNode {
            child: Some(child),
            lines: read_lines(stdout),
            printed: Vec::new(),
        };
        node.wait_for_line("serving; stop with Ctrl-C");
        node
    }

    /// Waits (at most [`LIMIT`]) for a line starting with `prefix` and returns it.
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        if let Some(line) = self.printed.iter().find(|line| line.starts_with(prefix)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.printed.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(error) => panic!(
                    "node printed no line starting with {prefix:?} ({error}); it printed {:?}",
                    self.printed
                ),
            }
        }
    }

    /// The address the node printed, with its `/p2p/` suffix.
    pub fn address(&mut self) -> String {
        self.wait_for_line("listening on ")
            .trim_start_matches("listening on ")
            .to_owned()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the node to exit; returns whether it
    /// exited successfully, with everything it printed.
    pub fn interrupt(mut self) -> (bool, Vec<String>) {
        let mut child = self.child.take().expect("the node runs");
        let status = StdCommand::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT failed");
        let deadline = Instant::now() + LIMIT;
        let exit = loop {
            if let Some(exit) = child.try_wait().expect("wait for the node") {
                break exit;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not stop within {LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut printed = std::mem::take(&mut self.printed);
        // The reader thread ends at the end of the output, which the exit closed.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            printed.push(line);
        }
        (exit.success(), printed)
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read_lines(stdout: ChildStdout) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}
