//! The control socket of a running `netabase node`: `control.sock` in its data directory, a Unix
//! socket only its owner may use (mode 0600, and the node's identity and store are in the same
//! directory). `netabase get/put --node DIR` send one request as one line of JSON and read one
//! line of JSON back; the node runs the request through its own handle, so the command needs no
//! peer of its own and the node's log shows no connection for it.
//!
//! Requests: `{"op": "get", "key_hex": ...}`, `{"op": "put", "key_hex": ..., "value_hex": ...,
//! "ttl_ms": ..., "quorum": ...}` and `{"op": "inspect", "key_hex": null}`. Answers:
//! `{"got": <get --json>}`, `{"put": <put --json>}`, `{"inspected": <a store of inspect --json>}`
//! or `{"error": {"message": ..., "not_found": bool}}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use netabase_store::NodeHandle;
use netabase_store::kad::{Record, RecordKey};
use serde::{Deserialize, Serialize};
#[cfg(unix)]
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::bytes;
use crate::client::{self, GetOutput, PutOutput};
use crate::error::{CliError, CliResult};
use crate::inspect::{LiveStore, StoreReport};

/// The socket's file name in a node's data directory.
pub const SOCKET_FILE: &str = "control.sock";

/// The longest request line a node reads: a value of the largest size the node would accept, as
/// hex, and room for the rest.
const MAX_REQUEST_BYTES: u64 = 8 << 20;

/// Requests answered at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 16;

/// How long the node waits for a request line once a client connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to the node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// `netabase get`.
    Get {
        /// The record key, hex.
        key_hex: String,
    },
    /// `netabase put`.
    Put {
        /// The record key, hex.
        key_hex: String,
        /// The value, hex.
        value_hex: String,
        /// How long the record lives, in milliseconds.
        ttl_ms: u64,
        /// How many peers must store it.
        quorum: u16,
    },
    /// `netabase inspect` of the node's store while the node holds it.
    Inspect {
        /// With `--key`: that record too, hex.
        key_hex: Option<String>,
    },
}

/// The node's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The record a get found.
    Got(GetOutput),
    /// What a put did.
    Put(PutOutput),
    /// The summary of the node's store.
    Inspected(Box<StoreReport>),
    /// Why the request failed.
    Error {
        /// The message the command prints.
        message: String,
        /// Whether no record was found (the command's exit status 3).
        not_found: bool,
    },
}

impl Response {
    /// The command's error for an answer that is not the one asked for.
    pub fn into_error(self, key: &RecordKey) -> CliError {
        match self {
            Response::Error {
                not_found: true, ..
            } => CliError::RecordNotFound {
                key: bytes::escape(key.as_ref()),
            },
            Response::Error { message, .. } => CliError::Control { message },
            Response::Got(_) | Response::Put(_) | Response::Inspected(_) => CliError::Control {
                message: "the node answered a different request".to_owned(),
            },
        }
    }
}

/// The control socket of the node whose data directory is `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_FILE)
}

/// Sends `request` to the node running on `dir` and reads its answer, within `timeout`.
#[cfg(unix)]
pub async fn ask(dir: &Path, request: &Request, timeout: Duration) -> CliResult<Response> {
    let path = socket_path(dir);
    let exchange = async {
        let mut stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| CliError::NoControlSocket {
                    path: path.clone(),
                    source,
                })?;
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        let io = |source| CliError::io("talk to the node through", path.clone(), source);
        stream.write_all(&line).await.map_err(io)?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .map_err(io)?;
        serde_json::from_str::<Response>(&answer).map_err(|error| CliError::Control {
            message: format!("the node's answer is not one this netabase reads ({error})"),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CliError::Timeout {
            operation: "the request to the node",
            after: timeout,
        })?
}

/// Control sockets are Unix sockets: elsewhere `--node` fails and says so.
#[cfg(not(unix))]
pub async fn ask(_dir: &Path, _request: &Request, _timeout: Duration) -> CliResult<Response> {
    Err(CliError::Control {
        message: "--node talks to a node through a Unix socket, which this system lacks; use \
                  --bootstrap"
            .to_owned(),
    })
}

/// What the socket's requests run on. The store is taken out when the server stops, so that the
/// node's shutdown closes the file even while a client is connected.
struct Served {
    node: NodeHandle,
    store: std::sync::Mutex<Option<Arc<LiveStore>>>,
}

/// A running control socket.
pub struct ControlServer {
    path: PathBuf,
    task: JoinHandle<()>,
    served: Arc<Served>,
}

impl ControlServer {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops answering, lets go of the store and removes the socket file.
    pub fn stop(self) {
        self.task.abort();
        self.served
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::debug!(%error, "could not remove the control socket");
        }
    }
}

/// Serves the control socket of the node `node` in its data directory `dir`. A socket file left
/// by a node that did not stop cleanly is replaced (the store's lock already proved that no other
/// node runs on `dir`).
#[cfg(unix)]
pub fn serve(dir: &Path, node: NodeHandle, store: LiveStore) -> CliResult<Option<ControlServer>> {
    use std::os::unix::fs::PermissionsExt;

    let path = socket_path(dir);
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::debug!("replaced a control socket left by an earlier node"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(CliError::io("replace", &path, source)),
    }
    let listener =
        UnixListener::bind(&path).map_err(|source| CliError::io("create", &path, source))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| CliError::io("restrict", &path, source))?;
    let served = Arc::new(Served {
        node,
        store: std::sync::Mutex::new(Some(Arc::new(store))),
    });
    let serving = served.clone();
    let task = tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok((stream, _)) => {
                    let served = serving.clone();
                    tokio::spawn(async move {
                        answer(stream, &served).await;
                        drop(slot);
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(Some(ControlServer { path, task, served }))
}

/// No control socket where there are no Unix sockets: the node runs without one.
#[cfg(not(unix))]
pub fn serve(
    _dir: &Path,
    _node: NodeHandle,
    _store: LiveStore,
) -> CliResult<Option<ControlServer>> {
    Ok(None)
}

/// Reads one request from `stream`, runs it and writes the answer.
#[cfg(unix)]
async fn answer(stream: UnixStream, served: &Served) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => return,
        Ok(Err(error)) => failure(format!("cannot read the request: {error}")),
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(request) => run(request, served).await,
            Err(error) => failure(format!("not a request this node reads: {error}")),
        },
    };
    let Ok(mut bytes) = serde_json::to_vec(&response) else {
        return;
    };
    bytes.push(b'\n');
    if let Err(error) = write.write_all(&bytes).await {
        tracing::debug!(%error, "control socket: the client left before the answer");
    }
}

#[cfg(unix)]
async fn run(request: Request, served: &Served) -> Response {
    let node = &served.node;
    let hex = |what: &'static str, text: &str| {
        bytes::from_hex(text).map_err(|source| CliError::BadBytes {
            what,
            input: text.to_owned(),
            source,
        })
    };
    let result = match request {
        Request::Get { key_hex } => match hex("key", &key_hex) {
            Ok(key) => client::get_through(node, &RecordKey::from(key))
                .await
                .map(Response::Got),
            Err(error) => Err(error),
        },
        Request::Put {
            key_hex,
            value_hex,
            ttl_ms,
            quorum,
        } => match (hex("key", &key_hex), hex("value", &value_hex)) {
            (Ok(key), Ok(value)) => client::put_through(
                node,
                Record::new(key, value),
                Duration::from_millis(ttl_ms),
                quorum.max(1),
                true,
            )
            .await
            .map(Response::Put),
            (Err(error), _) | (_, Err(error)) => Err(error),
        },
        Request::Inspect { key_hex } => match key_hex.as_deref().map(|key| hex("key", key)) {
            Some(Err(error)) => Err(error),
            key => inspect(served, key.and_then(Result::ok)).await,
        },
    };
    result.unwrap_or_else(|error| Response::Error {
        not_found: matches!(error, CliError::RecordNotFound { .. }),
        message: crate::network::one_line(&error.to_string()),
    })
}

/// The summary of the node's store, walked on a blocking thread (a large store takes seconds).
#[cfg(unix)]
async fn inspect(served: &Served, key: Option<Vec<u8>>) -> CliResult<Response> {
    let store = served
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .ok_or_else(|| CliError::Control {
            message: "the node is stopping".to_owned(),
        })?;
    let walked =
        tokio::task::spawn_blocking(move || crate::inspect::live_summary(&store, key.as_deref()))
            .await
            .map_err(|error| CliError::Control {
                message: format!("the walk of the store failed: {error}"),
            })?;
    Ok(Response::Inspected(Box::new(walked?)))
}

#[cfg(unix)]
fn failure(message: String) -> Response {
    Response::Error {
        message,
        not_found: false,
    }
}
