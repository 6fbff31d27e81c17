//! Integration tests of `Node`: Netabase nodes (and plain rust-libp2p Kademlia nodes) in one
//! process, over loopback TCP, QUIC on 127.0.0.1 or libp2p's memory transport. One module per
//! topic; `support` holds the schemas, node configurations and networks they share, and is also
//! compiled into the `node_latency` benchmark.
//!
//! All topics build into this one test binary, so the crate links its dependencies (libp2p among
//! them) once for the node tests rather than once per topic.

mod support;

mod acknowledgements;
mod deletes;
mod durability;
mod flood;
mod handoff;
mod hostile;
mod interop;
mod js_interop;
mod limits;
mod network;
mod owned;
mod store_protocol;
mod unique;
mod unknown_schemas;
mod versions;
mod watch;
