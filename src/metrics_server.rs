//! `netabase node --metrics ADDR`: the node's Prometheus endpoint. `GET /metrics` asks the node
//! for its stats (which refreshes its `netabase_` families), reads the store's figures, and
//! answers with the whole registry in Prometheus' text format, libp2p's families included. Served
//! with hyper, one task per connection; any other path is a 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use netabase_store::prometheus_client::encoding::text::encode;
use netabase_store::prometheus_client::registry::Registry;
use netabase_store::{NodeHandle, RedbStore, StoreMetrics};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::error::{CliError, CliResult};

/// Scrapes served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 16;
/// The longest a connection stays open (Prometheus reconnects as it needs).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The content type of Prometheus' text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a scrape reads. The store is taken out when the server stops, so that the node's
/// shutdown closes the file even while a scraper keeps its connection open.
struct Scrape {
    registry: Registry,
    store_metrics: StoreMetrics,
    store: Mutex<Option<RedbStore>>,
    node: NodeHandle,
}

/// A running metrics endpoint.
pub struct MetricsServer {
    /// The address it listens on.
    pub address: SocketAddr,
    task: JoinHandle<()>,
    scrape: Arc<Scrape>,
}

impl MetricsServer {
    /// Stops accepting scrapes and lets go of the store.
    pub fn stop(self) {
        self.task.abort();
        self.scrape
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Parses `--metrics`: `PORT` (on 127.0.0.1) or `IP:PORT`.
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not PORT or IP:PORT (for example 9464 or 127.0.0.1:9464)")
    })
}

/// Binds `address` and serves the registry until [`MetricsServer::stop`].
pub async fn serve(
    address: SocketAddr,
    registry: Registry,
    store_metrics: StoreMetrics,
    store: RedbStore,
    node: NodeHandle,
) -> CliResult<MetricsServer> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| CliError::io("listen for metrics on", address.to_string(), source))?;
    let bound = listener
        .local_addr()
        .map_err(|source| CliError::io("listen for metrics on", address.to_string(), source))?;
    let scrape = Arc::new(Scrape {
        registry,
        store_metrics,
        store: Mutex::new(Some(store)),
        node,
    });
    let served = scrape.clone();
    let task = tokio::spawn(async move {
        let scrape = served;
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            // At most MAX_CONNECTIONS at once: a client that opens connections and sends nothing
            // cannot make the node hold more.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let scrape = scrape.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(scrape.clone(), request));
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::debug!(%error, %peer, "metrics endpoint: connection failed");
                    }
                    Err(_) => tracing::debug!(%peer, "metrics endpoint: connection timed out"),
                }
                drop(slot);
            });
        }
    });
    Ok(MetricsServer {
        address: bound,
        task,
        scrape,
    })
}

async fn answer(
    scrape: Arc<Scrape>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::GET || request.uri().path() != "/metrics" {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "not found: scrape GET /metrics\n",
        ));
    }
    // Refreshes the node's families; a node that stopped still serves its last figures.
    if let Err(error) = scrape.node.stats().await {
        tracing::debug!(%error, "metrics endpoint: the node did not answer");
    }
    let store = scrape
        .store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(store) = store {
        let metrics = scrape.store_metrics.clone();
        // Counting records is a read transaction: off the async threads.
        if tokio::task::spawn_blocking(move || metrics.update(&store))
            .await
            .is_err()
        {
            tracing::warn!("metrics endpoint: reading the store's figures failed");
        }
    }
    let mut text = String::new();
    if let Err(error) = encode(&mut text, &scrape.registry) {
        tracing::error!(%error, "metrics endpoint: encoding failed");
        return Ok(plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding failed\n",
        ));
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    if let Ok(value) = CONTENT_TYPE.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_is_loopback() {
        assert_eq!(
            parse_address("9464"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(parse_address("[::1]:80"), Ok("[::1]:80".parse().unwrap()));
        assert!(parse_address("localhost").unwrap_err().contains("IP:PORT"));
    }
}
