//! A node's own transport for `/memory` addresses, for tests and simulations that need to shape
//! what the in-process network does: refuse dials, cut connections, lose or delay traffic.
//!
//! By default a node dials and listens on `/memory` addresses with libp2p's `MemoryTransport`.
//! [`NodeConfig::set_memory_transport`](crate::NodeConfig::set_memory_transport) replaces it with
//! any transport that yields byte streams; the node still secures each connection with noise and
//! multiplexes it with yamux on top, so a wrapper only ever sees encrypted bytes, as a network
//! would.

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
pub struct MemoryTransportFactory(Arc<dyn Fn() -> Boxed<BoxedMemoryStream> + Send + Sync>);

impl MemoryTransportFactory {
    /// A factory that calls `make` for each node started with it.
    pub fn new(make: impl Fn() -> Boxed<BoxedMemoryStream> + Send + Sync + 'static) -> Self {
        MemoryTransportFactory(Arc::new(make))
    }

    pub(crate) fn make(&self) -> Boxed<BoxedMemoryStream> {
        (self.0)()
    }
}

impl fmt::Debug for MemoryTransportFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryTransportFactory(..)")
    }
}
