//! Errors of starting a node and of the operations of its handle.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::kad::RecordKey;

use super::events::RejectionCounts;
use super::ops::PutReport;
use super::store_protocol::RefusalReason;
use crate::error::DatabaseError;
use crate::registry::PrefixClash;

/// How many value bytes a plain Kademlia peer takes in one message: rust-libp2p and go-libp2p
/// read at most 16 KiB per kad message, of which the key, publisher and peers take some.
pub(crate) const PLAIN_KAD_VALUE_LIMIT: usize = 16 * 1024 - 1024;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// Two types were registered under one record key prefix, on the configuration or between
    /// the configuration and the store.
    #[error(transparent)]
    SchemaClash(#[from] PrefixClash),
    /// The identity file could not be read, created or decoded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The transport could not be built (for example the noise handshake keys).
    #[error("cannot build the transport: {0}")]
    Transport(String),
    /// The node could not listen on an address.
    #[error(
        "cannot listen on {address}: {reason}; {advice}",
        advice = listen_advice(.address)
    )]
    Listen {
        /// The address from the configuration.
        address: Multiaddr,
        /// What the transport said.
        reason: String,
    },
    /// No listener reported an address within the startup timeout.
    #[error("listeners reported no address within {0:?}; check the listen addresses")]
    ListenTimeout(Duration),
    /// The configuration enables mDNS but this build of netabase has no mDNS support.
    #[error(
        "mDNS is enabled in the configuration but netabase was built without its `mdns` feature"
    )]
    MdnsUnavailable,
    /// mDNS could not start (no multicast-capable interface, socket error, ...).
    #[error("cannot start mDNS: {0}")]
    Mdns(#[source] std::io::Error),
    /// A schema registered on the node with a conflict rule other than byte order is not registered
    /// on the store, which resolves conflicts of records it stores with its own registry.
    #[error(
        "schema `{namespace}/{name}` is registered on the node but not on its store; register it \
         on the store too so both resolve its conflicts by the same rule"
    )]
    SchemaNotInStore {
        /// The schema's namespace.
        namespace: &'static str,
        /// The schema's name.
        name: &'static str,
    },
    /// The node is configured with [`UnknownSchemas::AcceptReplacing`](crate::UnknownSchemas) but
    /// its store resolves conflicts of unknown schemas by byte order, so the store would keep the
    /// values the node lets replace.
    #[error(
        "the node lets records of unknown schemas replace stored values but its store resolves them \
         by byte order ({store:?}); give the store's registry the same policy \
         (SchemaRegistry::set_unknown_schemas(UnknownSchemas::AcceptReplacing))"
    )]
    UnknownSchemasNotInStore {
        /// The store's policy.
        store: crate::UnknownSchemas,
    },
}

/// A bootstrap address that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The address does not name the peer to expect there.
    #[error(
        "bootstrap address {address} does not end in /p2p/<peer id>; use the full address the \
         node printed (`listening on ...`), or NodeConfig::add_bootstrap_peer with the peer id"
    )]
    MissingPeerId {
        /// The address given.
        address: Multiaddr,
    },
}

/// What to do about an address the node could not listen on.
fn listen_advice(address: &Multiaddr) -> &'static str {
    match unsupported(address) {
        Some(advice) => advice,
        None => "pick a free port (or port 0) on an interface of this machine",
    }
}

/// What to do about an address the node could not dial, when the address is the cause.
fn dial_advice(address: &Multiaddr) -> String {
    unsupported(address).map_or_else(String::new, |advice| format!("; {advice}"))
}

/// Advice for an address of a kind this build has no transport for.
fn unsupported(address: &Multiaddr) -> Option<&'static str> {
    use libp2p::multiaddr::Protocol;
    address.iter().find_map(|protocol| match protocol {
        Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_) => Some(
            "netabase does not resolve DNS names: use an /ip4/ or /ip6/ address (for example from \
             `getent hosts NAME`)",
        ),
        Protocol::QuicV1 | Protocol::Quic if !cfg!(feature = "quic") => Some(
            "QUIC needs the `quic` feature of netabase (or netabase_store): enable it in \
             Cargo.toml, or use a /tcp/ address",
        ),
        _ => None,
    })
}

/// Why a node's identity file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the file failed.
    #[error("cannot {action} identity file {path}: {source}")]
    Io {
        /// `"read"`, `"create"`, ...
        action: &'static str,
        /// The identity file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a protobuf-encoded libp2p keypair.
    #[error(
        "identity file {path} does not hold a protobuf-encoded libp2p keypair ({reason}); restore \
         it from a backup, or delete it to start with a new peer id"
    )]
    Decode {
        /// The identity file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The keypair could not be encoded (a key type without protobuf encoding).
    #[error("cannot encode the node's keypair: {0}")]
    Encode(String),
}

/// What went wrong in an operation of a [`NodeHandle`](crate::NodeHandle).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Every closest peer answered and fewer than the quorum stored the record. The record is
    /// stored locally and durably and is republished, so it may still reach more peers later.
    /// The report says who stored, refused (and why) or could not be reached.
    #[error(
        "record {key} is stored locally, but only {reached} of the {needed} peers the quorum needs \
         stored it ({summary}); {advice}",
        key = escape_key(&.report.key),
        reached = .report.reached(),
        summary = report_summary(.report),
        advice = quorum_advice(.report),
    )]
    QuorumFailed {
        /// Peers the quorum needed.
        needed: usize,
        /// What each closest peer answered.
        report: Box<PutReport>,
    },
    /// The quorum asks for more peers than the lookup found, so it could not be met however the
    /// peers answered. The record is stored locally and was sent to the peers found. A quorum is
    /// never lowered to fit the network.
    #[error(
        "record {key} is stored locally, but the quorum needs {needed} peers and the lookup found \
         only {found} ({summary}); connect more nodes (bootstrap, dial) or lower the quorum",
        key = escape_key(&.report.key),
        found = .report.peers_found,
        summary = report_summary(.report),
    )]
    QuorumUnreachable {
        /// Peers the quorum needed.
        needed: usize,
        /// What each closest peer answered.
        report: Box<PutReport>,
    },
    /// A local write would lose against the value stored under its key by the schema's conflict
    /// rule, so the peers holding the stored value would refuse it: writer and replicas would
    /// disagree. Nothing was written.
    #[error(
        "record {key} was not written: the stored value wins over it under the schema's conflict \
         rule (a higher #[version], or greater bytes); read the stored value and write one that \
         wins, for example with a higher version",
        key = escape_key(.key)
    )]
    StaleWrite {
        /// The record key.
        key: RecordKey,
    },
    /// No local copy and no peer returned a valid record under the key, or the value found was
    /// deleted (its tombstone won).
    #[error(
        "{}{refused}",
        not_found(.key, *.deleted),
        refused = refused_answers(.refused)
    )]
    NotFound {
        /// The record key.
        key: RecordKey,
        /// Whether what was found is a tombstone: the value was removed.
        deleted: bool,
        /// Answers that were refused (did not validate, or expired), by reason. Boxed: it is
        /// large and most errors are not this one.
        refused: Box<RejectionCounts>,
    },
    /// The node did not reach the number of peers
    /// [`NodeHandle::wait_for_peers`](crate::NodeHandle::wait_for_peers) asked for in time.
    #[error(
        "the node reached {found} of the {wanted} peers it waited for within {after:?}; check the \
         bootstrap addresses and that those nodes are running"
    )]
    NotEnoughPeers {
        /// Peers waited for.
        wanted: usize,
        /// Connected peers in the routing table when the wait ended.
        found: usize,
        /// How long it waited.
        after: Duration,
    },
    /// The operation did not finish in time.
    #[error(
        "{operation} did not finish within {after:?}; the network may be slow or unreachable, or \
         raise the node's operation timeout"
    )]
    Timeout {
        /// The operation, for example `"put"`.
        operation: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The routing table is empty, so there is no peer to ask.
    #[error("the node knows no peers; add a bootstrap peer or dial one first")]
    NoKnownPeers,
    /// Dialing a peer failed.
    #[error("cannot connect to {address}: {reason}{advice}", advice = dial_advice(.address))]
    Dial {
        /// The address dialed.
        address: Multiaddr,
        /// What the swarm said.
        reason: String,
    },
    /// The value is larger than the node's maximum value size.
    #[error(
        "value of {size} bytes is over the node's limit of {max} bytes; store a smaller value or \
         raise `NodeConfig::set_max_value_size` (on this node and its peers)"
    )]
    ValueTooLarge {
        /// The encoded value's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The record expires too soon to publish: peers refuse records with less than
    /// [`MIN_INBOUND_TTL`](crate::MIN_INBOUND_TTL) left, and kad carries expiry in whole seconds.
    #[error(
        "record {key} expires in under {min:?}, too soon to publish; give it a longer time to live",
        key = escape_key(.key)
    )]
    ExpiresTooSoon {
        /// The record key.
        key: RecordKey,
        /// The least lifetime a published record must have left.
        min: Duration,
    },
    /// Encoding, decoding or storing failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The node's event loop has stopped (shut down or failed), so the handle can do nothing.
    #[error("the node has stopped; start a new node")]
    Stopped,
}

/// The result of a node operation.
pub type NodeResult<T> = Result<T, NodeError>;

/// A record key as errors print it: quoted, printable ASCII as is, other bytes as `\xNN`.
pub(crate) fn escape_key(key: &RecordKey) -> String {
    format!("\"{}\"", key.as_ref().escape_ascii())
}

/// "2 stored, 1 acknowledged by plain kad peers, 3 refused (lost conflict: 3), 1 unreachable".
fn report_summary(report: &PutReport) -> String {
    let mut parts = vec![format!("{} stored", report.stored.len())];
    if !report.acknowledged.is_empty() {
        parts.push(format!(
            "{} acknowledged by plain kad peers",
            report.acknowledged.len()
        ));
    }
    if !report.refused.is_empty() {
        let mut reasons: Vec<(RefusalReason, usize)> = Vec::new();
        for refusal in &report.refused {
            match reasons
                .iter_mut()
                .find(|(reason, _)| *reason == refusal.reason)
            {
                Some((_, count)) => *count += 1,
                None => reasons.push((refusal.reason, 1)),
            }
        }
        let reasons: Vec<String> = reasons
            .iter()
            .map(|(reason, count)| format!("{reason}: {count}"))
            .collect();
        parts.push(format!(
            "{} refused ({})",
            report.refused.len(),
            reasons.join(", ")
        ));
    }
    if !report.unreachable.is_empty() {
        parts.push(format!("{} unreachable", report.unreachable.len()));
    }
    if report.unanswered > 0 {
        parts.push(format!("{} did not answer", report.unanswered));
    }
    parts.join(", ")
}

/// What to do about a quorum the peers' answers did not meet.
fn quorum_advice(report: &PutReport) -> &'static str {
    let refused = |reason| report.refused.iter().any(|r| r.reason == reason);
    if refused(RefusalReason::TooLarge)
        || (report.value_bytes > PLAIN_KAD_VALUE_LIMIT && !report.unreachable.is_empty())
    {
        "the value is too large for some peers (plain kad peers take about 16 KiB per message); \
         store a smaller value"
    } else if refused(RefusalReason::LostConflict) {
        "peers hold a value that wins under the schema's conflict rule; read the current value \
         and write one that wins"
    } else if refused(RefusalReason::StoreFull) {
        "the peers' stores are full; add storage nodes or raise their record limits"
    } else if refused(RefusalReason::UnknownSchema) || refused(RefusalReason::Invalid) {
        "peers do not accept this schema or version of it; run the same schema on every node"
    } else if !report.unreachable.is_empty() {
        "peers could not be reached; check the network or raise the query timeout"
    } else {
        "connect to more peers (bootstrap, dial) or lower the quorum"
    }
}

/// The first part of a `NotFound` message.
fn not_found(key: &RecordKey, deleted: bool) -> String {
    if deleted {
        format!(
            "record {} was removed (its tombstone is what the node and its peers hold); a put of a \
             value that wins over the removed one stores it again",
            escape_key(key)
        )
    } else {
        format!(
            "no record under {} locally or on the peers asked",
            escape_key(key)
        )
    }
}

/// "; 3 answers were refused (invalid: 2, expired: 1)", or nothing.
fn refused_answers(refused: &RejectionCounts) -> String {
    let total = refused.total();
    if total == 0 {
        return String::new();
    }
    let reasons: Vec<String> = refused
        .by_reason()
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(reason, count)| format!("{reason}: {count}"))
        .collect();
    format!(
        "; {total} answer(s) were refused ({}), see the node's RecordRejected events",
        reasons.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("valid multiaddr")
    }

    #[test]
    fn unsupported_addresses_get_advice_that_fits_them() {
        let dns = SpawnError::Listen {
            address: addr("/dns4/example.org/tcp/4001"),
            reason: "Multiaddr is not supported".into(),
        }
        .to_string();
        assert!(dns.contains("does not resolve DNS names"), "{dns}");
        assert!(!dns.contains("free port"), "{dns}");
        let dial = NodeError::Dial {
            address: addr("/dns4/example.org/tcp/4001"),
            reason: "Multiaddr is not supported".into(),
        }
        .to_string();
        assert!(dial.contains("use an /ip4/ or /ip6/ address"), "{dial}");
        let quic = SpawnError::Listen {
            address: addr("/ip4/127.0.0.1/udp/0/quic-v1"),
            reason: "Multiaddr is not supported".into(),
        }
        .to_string();
        assert_eq!(
            quic.contains("`quic` feature"),
            !cfg!(feature = "quic"),
            "{quic}"
        );
        let taken = SpawnError::Listen {
            address: addr("/ip4/127.0.0.1/tcp/4001"),
            reason: "Address already in use".into(),
        }
        .to_string();
        assert!(taken.contains("pick a free port"), "{taken}");
        let plain_dial = NodeError::Dial {
            address: addr("/ip4/127.0.0.1/tcp/4001"),
            reason: "Connection refused".into(),
        }
        .to_string();
        assert_eq!(
            plain_dial,
            "cannot connect to /ip4/127.0.0.1/tcp/4001: Connection refused"
        );
    }
}
