//! What the nodes this command starts have in common: peer addresses, joining a network, and
//! logging what a node reports.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use netabase_store::{Multiaddr, NodeError, NodeEvent, NodeHandle, PeerId};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{CliError, CliResult};

/// How often a node is asked whether a peer became routable.
const POLL: Duration = Duration::from_millis(20);

/// `address` with `/p2p/<peer>` at the end, the form other nodes bootstrap from.
pub fn with_peer(address: &Multiaddr, peer: PeerId) -> Multiaddr {
    match address.iter().last() {
        Some(Protocol::P2p(_)) => address.clone(),
        _ => address.clone().with(Protocol::P2p(peer)),
    }
}

/// Checks that a bootstrap address ends in `/p2p/<peer id>`: the peer must be known before the
/// connection, or the noise handshake cannot tell an impostor from the node meant.
pub fn check_bootstrap(address: &Multiaddr) -> CliResult<()> {
    match address.iter().last() {
        Some(Protocol::P2p(_)) => Ok(()),
        _ => Err(CliError::BootstrapWithoutPeerId(address.clone())),
    }
}

/// Connects to the bootstrap peers and joins their network: dials each (all at once), fails with
/// [`CliError::Unreachable`] when none answers, waits until one is in the routing table, then
/// bootstraps (a lookup of this node's own id, which fills the routing table). Returns how many
/// bootstrap peers answered. Everything happens within `timeout`.
pub async fn join(handle: &NodeHandle, peers: &[Multiaddr], timeout: Duration) -> CliResult<usize> {
    for address in peers {
        check_bootstrap(address)?;
    }
    let deadline = Instant::now() + timeout;
    let dials = peers.iter().map(|address| async move {
        let result = tokio::time::timeout_at(deadline, handle.dial(address.clone())).await;
        (address, result)
    });
    let mut reached = 0;
    let mut failures = Vec::new();
    for (address, result) in futures::future::join_all(dials).await {
        match result {
            Ok(Ok(_)) => reached += 1,
            Ok(Err(NodeError::Dial { reason, .. })) => {
                failures.push(format!("{address}: {}", one_line(&reason)));
            }
            Ok(Err(error)) => failures.push(format!("{address}: {}", one_line(&error.to_string()))),
            Err(_) => failures.push(format!(
                "{address}: no answer within {}",
                humantime::format_duration(timeout)
            )),
        }
    }
    if reached == 0 {
        return Err(CliError::Unreachable {
            details: failures.join("; "),
        });
    }
    for failure in &failures {
        tracing::warn!(%failure, "a bootstrap peer is unreachable");
    }
    wait_routable(handle, 1, deadline).await?;
    match tokio::time::timeout_at(deadline, handle.bootstrap()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "bootstrap did not complete"),
        Err(_) => tracing::warn!("bootstrap did not complete in time; carrying on"),
    }
    Ok(reached)
}

/// Waits until the node's routing table holds at least `peers` peers, or fails at `deadline`.
pub async fn wait_routable(handle: &NodeHandle, peers: usize, deadline: Instant) -> CliResult<()> {
    loop {
        if handle.stats().await?.routing_table_size >= peers {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CliError::Unreachable {
                details: format!(
                    "connected, but no peer speaking Netabase's Kademlia protocol ({}) became \
                     routable",
                    netabase_store::DEFAULT_KAD_PROTOCOL
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Logs the node's events with `tracing` until aborted: connections at info level, stored
/// records at debug, rejections at info, storage errors at error.
pub fn log_events(handle: &NodeHandle) -> JoinHandle<()> {
    let mut events = handle.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => log_event(&event),
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event log fell behind; events skipped");
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}

fn log_event(event: &NodeEvent) {
    match event {
        NodeEvent::PeerConnected { peer, address } => {
            tracing::info!(%peer, %address, "peer connected");
        }
        NodeEvent::PeerDisconnected { peer } => tracing::info!(%peer, "peer disconnected"),
        NodeEvent::RecordStored { key, from } => {
            tracing::debug!(key = %key.as_ref().escape_ascii(), %from, "stored a record");
        }
        NodeEvent::RecordRejected { key, from, reason } => {
            tracing::info!(key = %key.as_ref().escape_ascii(), %from, %reason, "rejected a record");
        }
        NodeEvent::RecordsExpired { count } => tracing::info!(count, "expired records removed"),
        NodeEvent::StorageError { message } => tracing::error!(%message, "storage error"),
        other => tracing::debug!(?other, "node event"),
    }
}

/// Joins the lines of a multi-line message, so errors stay on one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
