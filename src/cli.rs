//! The command-line arguments, parsed with clap's derive API.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use netabase_store::{Multiaddr, StoreLimits};

/// Netabase: a typed, persistent, distributed database on libp2p Kademlia and redb.
///
/// Start with `netabase demo`. Logs go to stderr and follow RUST_LOG (for example
/// RUST_LOG=netabase=debug).
#[derive(Debug, Parser)]
#[command(
    name = "netabase",
    version,
    propagate_version = true,
    args_override_self = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local network of nodes in this process and watch it store, serve, expire and
    /// reconcile typed records (loopback only, well under a minute).
    Demo(DemoArgs),
    /// Run a long-lived storage node that stores and serves records of every schema.
    Node(NodeArgs),
    /// Show what a store holds: records per schema, sizes, expiry, publishers, providers.
    Inspect(InspectArgs),
    /// Read one raw record from a running network.
    Get(GetArgs),
    /// Store one raw record on a running network.
    Put(PutArgs),
    /// Create or show an author key, which signs the records of owned schemas.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the shell completion script for SHELL, for example
    /// `netabase completions bash > ~/.local/share/bash-completion/completions/netabase`.
    Completions(CompletionsArgs),
}

/// `netabase completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `netabase key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new ed25519 author key in FILE (readable only by you) and print its public key.
    /// Refuses to replace an existing file.
    Create(KeyArgs),
    /// Print the public key (the owner an owned record key names) of the author key in FILE.
    Show(KeyArgs),
}

/// The arguments of `netabase key create` and `netabase key show`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key file, for example `netabase-data/alice.author`.
    pub file: PathBuf,
    /// Print JSON (`{"file": ..., "public_key": ...}`) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `netabase demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the nodes' store files go (created if missing). Default: a new directory under the
    /// system's temporary directory, printed at the start and kept for `netabase inspect`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// How many nodes to run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(3..=16))]
    pub nodes: u8,
    /// How many notes the first node writes.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub records: u32,
    /// How many of its closest peers each record is stored at (Kademlia's replication factor);
    /// below the node count, so reads really go through the DHT.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=20))]
    pub replication: u8,
    /// The time to live of the record that shows expiry. At least 3s: kad sends whole seconds and
    /// peers refuse records with under a second left; the default leaves room for a loaded machine.
    #[arg(long, default_value = "5s", value_parser = parse_expiry)]
    pub expiry: Duration,
}

/// `netabase node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Read settings from this TOML file: each key is a flag of this command without its dashes
    /// (`max-records = 2000000`, `listen = ["/ip4/0.0.0.0/tcp/4001"]`, `mdns = true`). Flags given
    /// on the command line win over the file; repeatable flags add to it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The node's directory: its store `node.redb` and its identity `node.key` (so its peer id
    /// survives restarts). Created if missing.
    #[arg(long, value_name = "DIR", default_value = "netabase-data")]
    pub data_dir: PathBuf,
    /// An address to listen on; repeat for several. The default listens on loopback only; use
    /// /ip4/0.0.0.0/tcp/4001 to serve other machines.
    #[arg(long, value_name = "MULTIADDR", default_value = "/ip4/127.0.0.1/tcp/0")]
    pub listen: Vec<Multiaddr>,
    /// A peer to join the network through, as printed by `netabase node`
    /// (/ip4/.../tcp/.../p2p/<peer id>); repeat for several.
    #[arg(long, value_name = "MULTIADDR")]
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS.
    #[arg(long)]
    pub mdns: bool,
    /// How long records live: peers keep what this node publishes this long, and this node keeps
    /// what it receives at most this long ("none": no limit).
    #[arg(long, value_name = "DURATION", default_value = "48h", value_parser = parse_optional_duration)]
    pub record_ttl: Limit,
    /// How often this node republishes its own records ("none": never).
    #[arg(long, value_name = "DURATION", default_value = "22h", value_parser = parse_optional_duration)]
    pub republish_interval: Limit,
    /// How many republications the node starts per second, so a backlog (many records due at
    /// once) does not slow its users' puts and gets ("none": as fast as the in-flight budget
    /// allows). It goes faster when needed to get through all its records in half the republish
    /// interval.
    #[arg(long, value_name = "PER_SECOND", default_value_t = RepublishRate(NonZeroU32::new(netabase_store::DEFAULT_REPUBLISH_RATE)), value_parser = parse_republish_rate)]
    pub republish_rate: RepublishRate,
    /// How often expired records are swept from the store.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub expiry_sweep_interval: Duration,
    /// How often records received from peers are committed to disk; a crash loses at most this
    /// window of them (their publishers republish).
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,
    /// The largest record value, in bytes, the node stores or accepts.
    #[arg(long, value_name = "BYTES", default_value_t = netabase_store::DEFAULT_MAX_VALUE_SIZE)]
    pub max_value_size: usize,
    /// The most records the node stores, of every application together; beyond it the node
    /// refuses records of new keys (updates of stored keys still land).
    #[arg(long, value_name = "COUNT", default_value_t = StoreLimits::default().max_records)]
    pub max_records: usize,
    /// The most records of one namespace (`/<namespace>/...`, one application), so one
    /// application cannot take the whole node.
    #[arg(long, value_name = "COUNT", default_value_t = StoreLimits::default().max_unknown_per_namespace)]
    pub max_records_per_namespace: usize,
    /// The most records stored from one peer (the peer that sent them), so one peer cannot take a
    /// namespace's share alone.
    #[arg(long, value_name = "COUNT", default_value_t = StoreLimits::default().max_unknown_per_peer)]
    pub max_records_per_peer: usize,
    /// The store's page cache in MiB: the most memory it uses to cache the file, whatever the
    /// file's size (the operating system caches the rest).
    #[arg(long, value_name = "MIB", default_value_t = netabase_store::DEFAULT_CACHE_BYTES >> 20)]
    pub cache_mib: usize,
    /// Serve Prometheus metrics (libp2p's and the node's and store's) at http://ADDR/metrics:
    /// PORT (on 127.0.0.1, this machine only) or IP:PORT.
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics_server::parse_address)]
    pub metrics: Option<std::net::SocketAddr>,
    /// How often to log one line of the node's figures ("none": never).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_optional_duration)]
    pub stats_interval: Limit,
    /// Verify every page of the store file on start, even when the node closed it cleanly and
    /// nothing changed it since (a file that was not closed cleanly, or was changed, is always
    /// verified). Reads the whole file: about 0.3 s per million records.
    #[arg(long)]
    pub verify_on_open: bool,
    /// What the node does when a different value arrives for a record it holds. It knows no
    /// schema, so it cannot apply an application's conflict rule (`#[version]`, custom). The
    /// default, replace, lets the applications' own nodes decide: their updates and repairs are
    /// always accepted, where byte order would refuse forever a newer version whose bytes sort
    /// lower. Replicas that only generic nodes hold may differ until an application node repairs
    /// them.
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = UnknownSchemasArg::Replace)]
    pub unknown_schemas: UnknownSchemasArg,
}

/// `netabase node --unknown-schemas`: what a node that knows no schema does with records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnknownSchemasArg {
    /// Store records; a different incoming value replaces the stored one, so the nodes that know
    /// the schema decide.
    Replace,
    /// Store records; of two different values the one whose bytes sort higher stays. Replicas
    /// converge without help, possibly on a value that is wrong for the schema.
    ByteOrder,
    /// Refuse every record and provider record: the node only routes (a bootstrap node).
    Reject,
}

impl From<UnknownSchemasArg> for netabase_store::UnknownSchemas {
    fn from(arg: UnknownSchemasArg) -> Self {
        match arg {
            UnknownSchemasArg::Replace => netabase_store::UnknownSchemas::AcceptReplacing,
            UnknownSchemasArg::ByteOrder => netabase_store::UnknownSchemas::Accept,
            UnknownSchemasArg::Reject => netabase_store::UnknownSchemas::Reject,
        }
    }
}

/// How `get` and `put` reach a running network: a running node of this machine (`--node`), or a
/// client peer of their own (`--bootstrap`).
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// A node of the network, as printed by `netabase node` (/ip4/.../tcp/.../p2p/<peer id>);
    /// repeat for several.
    #[arg(long, value_name = "MULTIADDR", required_unless_present = "node")]
    pub bootstrap: Vec<Multiaddr>,
    /// Instead of --bootstrap: ask the `netabase node` running on this data directory, through
    /// its control socket (`DIR/control.sock`), without starting a peer of this command's own.
    #[arg(long, value_name = "DIR", conflicts_with = "bootstrap")]
    pub node: Option<PathBuf>,
    /// How long to wait for the network before giving up.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// `netabase inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A store file (*.redb) or a directory holding store files (a node's --data-dir, or the
    /// demo's data directory). The store must not be open in a running node.
    pub path: PathBuf,
    /// Show this one record: its value, size, publisher and expiry. Escaped text as Netabase
    /// prints keys (`/netabase/Note/\x07`), or hex with --hex.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Read --key and --prefix as hex.
    #[arg(long)]
    pub hex: bool,
    /// List the records (key, size, expiry, publisher) in key order instead of the summary. With
    /// --json, one JSON object per line: `{"store": ..., "record": {...}}`.
    #[arg(long, conflicts_with = "key")]
    pub list: bool,
    /// With --list: only records whose key starts with this (escaped text as Netabase prints keys,
    /// `/netabase/Note/`, or hex with --hex).
    #[arg(long, value_name = "PREFIX", requires = "list")]
    pub prefix: Option<String>,
    /// With --list: list at most this many records of each store.
    #[arg(long, value_name = "COUNT", requires = "list")]
    pub limit: Option<u64>,
    /// Print JSON for scripts instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Verify every page of each file, even one its node closed cleanly and nothing changed since
    /// (a file that was not closed cleanly, or was changed, is always verified).
    #[arg(long)]
    pub verify: bool,
}

/// `netabase get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The record key: escaped text as Netabase prints keys (`/netabase/Note/\x07`), or hex with
    /// --hex.
    pub key: String,
    /// Read KEY as hex.
    #[arg(long)]
    pub hex: bool,
    /// Print JSON for scripts.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Write only the value's bytes to stdout, unchanged.
    #[arg(long)]
    pub raw: bool,
    /// How to reach the network.
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// `netabase put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The record key: escaped text (`/myapp/Thing/\x01`), or hex with --hex.
    pub key: String,
    /// The value: escaped text, or hex with --hex. Or use --value-file.
    #[arg(required_unless_present = "value_file", conflicts_with = "value_file")]
    pub value: Option<String>,
    /// Read the value's bytes from this file.
    #[arg(long, value_name = "PATH")]
    pub value_file: Option<PathBuf>,
    /// Read KEY and VALUE as hex.
    #[arg(long)]
    pub hex: bool,
    /// When the record expires everywhere. Without it, peers keep it for 48h; nothing
    /// republishes a record put with this command.
    #[arg(long, value_name = "DURATION", value_parser = parse_expiry)]
    pub ttl: Option<Duration>,
    /// How many peers must store the record for the put to succeed. Never lowered to fit: a
    /// network with fewer peers fails the put and says how many it found.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=20))]
    pub quorum: u16,
    /// Print JSON for scripts: which peers stored, acknowledged or refused the record.
    #[arg(long)]
    pub json: bool,
    /// How to reach the network.
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// A duration that may be switched off: `None` for `none` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Duration>);

/// A duration, or `none`/`never` for no limit.
fn parse_optional_duration(text: &str) -> Result<Limit, String> {
    match text {
        "none" | "never" => Ok(Limit(None)),
        _ => humantime::parse_duration(text)
            .map(|duration| Limit(Some(duration)))
            .map_err(|error| format!("{error} (examples: 90s, 48h, none)")),
    }
}

/// A rate that may be switched off: `None` for `none` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepublishRate(pub Option<NonZeroU32>);

impl std::fmt::Display for RepublishRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(rate) => write!(f, "{rate}"),
            None => f.write_str("none"),
        }
    }
}

/// A positive count per second, or `none` for no limit.
fn parse_republish_rate(text: &str) -> Result<RepublishRate, String> {
    match text {
        "none" => Ok(RepublishRate(None)),
        _ => match text.parse::<u32>() {
            Ok(rate) => NonZeroU32::new(rate)
                .map(|rate| RepublishRate(Some(rate)))
                .ok_or_else(|| "a rate of 0 would never republish; use --republish-interval none to stop republishing".to_string()),
            Err(error) => Err(format!("{error} (examples: 50, 500, none)")),
        },
    }
}

/// A record lifetime long enough to publish.
fn parse_expiry(text: &str) -> Result<Duration, String> {
    let ttl =
        humantime::parse_duration(text).map_err(|error| format!("{error} (examples: 3s, 10m)"))?;
    // Peers refuse records with under MIN_INBOUND_TTL left, kad sends whole seconds, and the
    // record must still have that left when the publication starts.
    let min = netabase_store::MIN_INBOUND_TTL + Duration::from_secs(2);
    if ttl < min {
        return Err(format!(
            "{} is too short: peers refuse records with under {} left, so use at least {}",
            humantime::format_duration(ttl),
            humantime::format_duration(netabase_store::MIN_INBOUND_TTL),
            humantime::format_duration(min)
        ));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_accept_none_and_reject_short_expiry() {
        assert_eq!(parse_optional_duration("none"), Ok(Limit(None)));
        assert_eq!(
            parse_optional_duration("90s"),
            Ok(Limit(Some(Duration::from_secs(90))))
        );
        assert!(parse_optional_duration("soon").is_err());
        assert!(parse_expiry("1s").is_err());
        assert!(parse_expiry("2s").is_err());
        assert_eq!(parse_expiry("3s"), Ok(Duration::from_secs(3)));
    }
}
