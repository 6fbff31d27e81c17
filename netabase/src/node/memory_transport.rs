//! A node's own transport for `/memory` addresses, for tests and simulations that need to shape
//! what the in-process network does: refuse dials, cut connections, lose or delay traffic.
//!
//! By default a node dials and listens on `/memory` addresses with libp2p's `MemoryTransport`.
//! [`NodeConfig::set_memory_transport`](crate::NodeConfig::set_memory_transport) replaces it with
//! any transport that yields byte streams; the node still secures each connection with noise and
//! multiplexes it with yamux on top, so a wrapper only ever sees encrypted bytes, as a network
//! would. A [`plaintext`](MemoryTransportFactory::plaintext) factory skips the encryption, for
//! simulations of many nodes in one process.

use std::fmt;
use std::sync::Arc;

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::transport::Boxed;

/// A raw byte stream of a memory transport, before noise and yamux.
pub trait MemoryStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> MemoryStream for T {}

/// A boxed [`MemoryStream`], what a custom memory transport yields.
pub type BoxedMemoryStream = Box<dyn MemoryStream>;

/// Makes the transport a node uses for `/memory` addresses; called once, when the node starts.
#[derive(Clone)]
pub struct MemoryTransportFactory {
    make: Arc<dyn Fn() -> Boxed<BoxedMemoryStream> + Send + Sync>,
    security: MemorySecurity,
}

/// How a node secures the connections of its memory transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemorySecurity {
    /// Noise, as on every other transport.
    Noise,
    /// libp2p's plaintext protocol: the two sides exchange public keys, and the peer id is still
    /// checked against the key, but nothing is encrypted or proven.
    Plaintext,
}

impl MemoryTransportFactory {
    /// A factory that calls `make` for each node started with it; the node runs noise on top.
    pub fn new(make: impl Fn() -> Boxed<BoxedMemoryStream> + Send + Sync + 'static) -> Self {
        MemoryTransportFactory {
            make: Arc::new(make),
            security: MemorySecurity::Noise,
        }
    }

    /// A factory like [`new`](Self::new) whose connections skip noise: they are authenticated
    /// with libp2p's plaintext protocol, which exchanges public keys without encrypting anything
    /// or proving that the other side holds its key. A memory address is reachable only from
    /// inside the process, so this gives up nothing a network attacker could use; it is for
    /// simulations of many nodes in one process, where noise's key exchanges are a third of
    /// the work of forming the network. Nodes on either security only connect to nodes on the
    /// same one.
    pub fn plaintext(make: impl Fn() -> Boxed<BoxedMemoryStream> + Send + Sync + 'static) -> Self {
        MemoryTransportFactory {
            make: Arc::new(make),
            security: MemorySecurity::Plaintext,
        }
    }

    pub(crate) fn make(&self) -> Boxed<BoxedMemoryStream> {
        (self.make)()
    }

    pub(crate) fn security(&self) -> MemorySecurity {
        self.security
    }
}

impl fmt::Debug for MemoryTransportFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransportFactory")
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}
