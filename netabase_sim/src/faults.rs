//! Faults of the in-process network: partitions that split it and heal, and lost traffic.
//!
//! Every node of a [`SimNetwork`](crate::SimNetwork) dials through a [`FaultTransport`] over
//! libp2p's memory transport, which asks the network's shared [`Faults`] on every dial and on
//! every read and write of the connections it dialled:
//!
//! - across a partition, a dial is refused and an open connection breaks at its next byte either
//!   way, so nothing crosses until the partition heals;
//! - with a loss rate, each write breaks its connection with that probability. On a reliable
//!   stream a lost packet is retransmitted, not skipped; what a node sees of a lossy link is a
//!   connection that fails, and that is what this models;
//! - with a delay, every byte either side receives is held back that long (a one-way delay), so
//!   each request's round trip, and each step of a handshake, is longer by twice the delay.
//!   Bytes keep their order.
//!
//! The dialling side enforces partitions and loss, for both directions: the listening side of a
//! memory connection only knows the dialler's ephemeral port. Both sides delay what they read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{AsyncRead, AsyncWrite, FutureExt};
use libp2p::core::transport::{
    Boxed, DialOpts, ListenerId, MemoryTransport, Transport, TransportError, TransportEvent,
};
use netabase_store::multiaddr::Protocol;
use netabase_store::{BoxedMemoryStream, MemoryTransportFactory, Multiaddr};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The faults a network suffers now, shared by all of its nodes' transports. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// Node indices by the memory port they listen on.
    nodes: HashMap<u64, usize>,
    /// One side of the partition, if there is one: these nodes reach only each other, the rest
    /// only the rest.
    side: Option<HashSet<usize>>,
    /// The probability that a write breaks its connection.
    loss: f64,
    /// How long the bytes each side of a connection receives are held back.
    delay: Duration,
    rng: StdRng,
    counts: FaultCounts,
}

/// What the faults did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Connections dialled (refused ones not included): the network's connection setups, each
    /// a handshake, multiplexer and identify exchange.
    pub dials: u64,
    /// Dials refused across a partition.
    pub refused_dials: u64,
    /// Connections broken across a partition.
    pub cut_connections: u64,
    /// Connections broken by loss.
    pub lost_connections: u64,
}

impl Faults {
    /// No faults yet; `seed` drives the loss rolls.
    pub fn new(seed: u64) -> Self {
        Faults {
            state: Arc::new(Mutex::new(State {
                nodes: HashMap::new(),
                side: None,
                loss: 0.0,
                delay: Duration::ZERO,
                rng: StdRng::seed_from_u64(seed),
                counts: FaultCounts::default(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records that node `index` listens on `address`.
    pub(crate) fn register(&self, index: usize, address: &Multiaddr) {
        if let Some(port) = memory_port(address) {
            self.state().nodes.insert(port, index);
        }
    }

    /// Splits the network in two: the nodes in `side`, and all the others (nodes that join later
    /// included). Replaces any partition before.
    pub fn split(&self, side: impl IntoIterator<Item = usize>) {
        self.state().side = Some(side.into_iter().collect());
    }

    /// Ends the partition.
    pub fn heal(&self) {
        self.state().side = None;
    }

    /// Sets the probability (0 to 1, clamped) that a write breaks its connection.
    pub fn set_loss(&self, probability: f64) {
        self.state().loss = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
    }

    /// Holds back every byte either side of a connection receives by `delay` (zero: none), from
    /// now on: a one-way delay, so each round trip is twice that longer.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// What the faults have done so far.
    pub fn counts(&self) -> FaultCounts {
        self.state().counts
    }

    /// The memory transport of node `index`, for its configuration: with noise on top, or
    /// libp2p's plaintext protocol.
    pub(crate) fn transport(&self, index: usize, noise: bool) -> MemoryTransportFactory {
        let faults = self.clone();
        let make = move || faults.stream_transport(index);
        if noise {
            MemoryTransportFactory::new(make)
        } else {
            MemoryTransportFactory::plaintext(make)
        }
    }

    /// The byte streams node `index` dials and listens with, before noise and yamux.
    pub(crate) fn stream_transport(&self, index: usize) -> Boxed<BoxedMemoryStream> {
        FaultTransport {
            inner: MemoryTransport::default(),
            node: index,
            faults: self.clone(),
        }
        .boxed()
    }
}

impl State {
    /// Whether `from` and the node on `port` are on different sides of the partition.
    fn partitioned(&self, from: usize, port: u64) -> bool {
        match (&self.side, self.nodes.get(&port)) {
            (Some(side), Some(to)) => side.contains(&from) != side.contains(to),
            _ => false,
        }
    }
}

/// The memory port of a `/memory/<port>` address.
fn memory_port(address: &Multiaddr) -> Option<u64> {
    address.iter().find_map(|protocol| match protocol {
        Protocol::Memory(port) => Some(port),
        _ => None,
    })
}

/// libp2p's memory transport, with the network's faults applied to what node `node` dials.
struct FaultTransport {
    inner: MemoryTransport,
    node: usize,
    faults: Faults,
}

impl Transport for FaultTransport {
    type Output = BoxedMemoryStream;
    type Error = io::Error;
    type ListenerUpgrade = BoxFuture<'static, Result<BoxedMemoryStream, io::Error>>;
    type Dial = BoxFuture<'static, Result<BoxedMemoryStream, io::Error>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        address: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        self.inner
            .listen_on(id, address)
            .map_err(|error| error.map(io::Error::other))
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(
        &mut self,
        address: Multiaddr,
        options: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        let port = memory_port(&address);
        if let Some(port) = port {
            let mut state = self.faults.state();
            if state.partitioned(self.node, port) {
                state.counts.refused_dials += 1;
                return Err(TransportError::Other(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "the simulated network is partitioned between these nodes",
                )));
            }
            state.counts.dials += 1;
        }
        let dial = self
            .inner
            .dial(address, options)
            .map_err(|error| error.map(io::Error::other))?;
        let faults = self.faults.clone();
        let node = self.node;
        Ok(async move {
            let inner = dial.await.map_err(io::Error::other)?;
            Ok(Box::new(FaultStream {
                inner,
                node,
                port,
                dialled: true,
                faults,
                held: Held::default(),
            }) as BoxedMemoryStream)
        }
        .boxed())
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        let faults = self.faults.clone();
        let node = self.node;
        Pin::new(&mut self.inner).poll(cx).map(|event| {
            event
                .map_upgrade(|upgrade| {
                    async move {
                        let inner = upgrade.await.map_err(io::Error::other)?;
                        // The listening side only delays: it does not know who dialled.
                        Ok(Box::new(FaultStream {
                            inner,
                            node,
                            port: None,
                            dialled: false,
                            faults,
                            held: Held::default(),
                        }) as BoxedMemoryStream)
                    }
                    .boxed()
                })
                .map_err(io::Error::other)
        })
    }
}

/// One side of a connection, which delays what it receives and, on the dialling side, breaks
/// when the faults say so.
struct FaultStream<S> {
    inner: S,
    node: usize,
    /// The port dialled, if this is the dialling side and it dialled a memory address.
    port: Option<u64>,
    /// Whether this is the dialling side, which rolls for loss.
    dialled: bool,
    faults: Faults,
    held: Held,
}

/// Bytes received and held back until their time, in order.
#[derive(Default)]
struct Held {
    chunks: VecDeque<(tokio::time::Instant, Vec<u8>)>,
    /// When the end of the stream, once received, may be read.
    end: Option<tokio::time::Instant>,
    /// Wakes the reader when the first chunk (or the end) is due.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Where arriving bytes are read into before they are queued.
    scratch: Vec<u8>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.end.is_none()
    }

    /// Copies out what is due into `buf`: `Ready(n)` with the bytes (0 at a due end of stream),
    /// else `Pending` with the timer set for the next.
    fn poll_due(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<usize> {
        let now = tokio::time::Instant::now();
        let next = match (self.chunks.front_mut(), self.end) {
            (Some((due, chunk)), _) if *due <= now => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                chunk.drain(..n);
                if chunk.is_empty() {
                    self.chunks.pop_front();
                }
                return Poll::Ready(n);
            }
            (Some((due, _)), _) => *due,
            (None, Some(end)) if end <= now => return Poll::Ready(0),
            (None, Some(end)) => end,
            (None, None) => return Poll::Pending,
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(next)));
        timer.as_mut().reset(next);
        match timer.as_mut().poll(cx) {
            // Due by now after all: the caller polls again.
            Poll::Ready(()) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S> FaultStream<S> {
    /// An error if the connection breaks now: across a partition, or (for a write) lost.
    fn broken(&self, writing: bool) -> Option<io::Error> {
        let mut state = self.faults.state();
        if self
            .port
            .is_some_and(|port| state.partitioned(self.node, port))
        {
            state.counts.cut_connections += 1;
            return Some(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the simulated network was partitioned between these nodes",
            ));
        }
        let loss = state.loss;
        if writing && self.dialled && loss > 0.0 && state.rng.random_bool(loss) {
            state.counts.lost_connections += 1;
            return Some(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the simulated network lost this connection's traffic",
            ));
        }
        None
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.broken(false) {
            return Poll::Ready(Err(error));
        }
        let delay = self.faults.state().delay;
        let this = &mut *self;
        if delay.is_zero() && this.held.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        // Take in whatever has arrived, each chunk stamped with when it may be read.
        let held = &mut this.held;
        held.scratch.resize(buf.len().max(1), 0);
        while held.end.is_none() {
            match Pin::new(&mut this.inner).poll_read(cx, &mut held.scratch) {
                Poll::Ready(Ok(0)) => {
                    held.end = Some(tokio::time::Instant::now() + delay);
                }
                Poll::Ready(Ok(n)) => {
                    let due = tokio::time::Instant::now() + delay;
                    held.chunks.push_back((due, held.scratch[..n].to_vec()));
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => break,
            }
        }
        held.poll_due(cx, buf).map(Ok)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.broken(true) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delayed_stream_holds_its_bytes_back_in_order_then_ends() {
        use futures::AsyncReadExt;
        let delay = Duration::from_millis(30);
        let faults = Faults::new(1);
        faults.set_delay(delay);
        let mut stream = FaultStream {
            inner: futures::io::Cursor::new(b"hello, delayed world".to_vec()),
            node: 0,
            port: None,
            dialled: false,
            faults,
            held: Held::default(),
        };
        let started = std::time::Instant::now();
        // Reads smaller than what arrived take it out piece by piece.
        let mut read = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = stream.read(&mut buf).await.expect("a read");
            if n == 0 {
                break;
            }
            read.extend_from_slice(&buf[..n]);
        }
        assert_eq!(read, b"hello, delayed world");
        assert!(
            started.elapsed() >= delay,
            "nothing was read before its time"
        );
    }

    fn address(port: u64) -> Multiaddr {
        Multiaddr::empty().with(Protocol::Memory(port))
    }

    #[test]
    fn a_split_separates_the_two_sides_and_a_heal_joins_them() {
        let faults = Faults::new(1);
        for (index, port) in [(0, 10), (1, 11), (2, 12)] {
            faults.register(index, &address(port));
        }
        faults.split([0]);
        let state = faults.state();
        assert!(state.partitioned(0, 11), "across");
        assert!(state.partitioned(1, 10), "across, the other way");
        assert!(!state.partitioned(1, 12), "the same side");
        assert!(!state.partitioned(0, 99), "an address no node listens on");
        drop(state);
        faults.heal();
        assert!(!faults.state().partitioned(0, 11));
    }

    #[test]
    fn a_loss_rate_is_clamped_to_a_probability() {
        let faults = Faults::new(1);
        faults.set_loss(3.0);
        assert_eq!(faults.state().loss, 1.0);
        faults.set_loss(f64::NAN);
        assert_eq!(faults.state().loss, 0.0);
    }
}
