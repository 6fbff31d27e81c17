//! `/netabase/store/1.0.0`: how a Netabase node stores a record at another Netabase node and
//! learns whether that node's gate kept it.
//!
//! A kad `PUT_VALUE` is acknowledged by the receiving kad behaviour before the receiver's
//! application has seen the record, so a kad acknowledgement says "received", never "stored". This
//! request-response protocol carries the same record (key, value, publisher, seconds left) and is
//! answered only after the receiver's gate (`EventLoop::admit_record`) decided: `Stored`, or
//! `Refused` with the reason. Peers that do not speak it (plain kad peers) are sent a kad
//! `PUT_VALUE` instead, and their acknowledgements are reported as kad acknowledgements.
//!
//! Messages are CBOR (libp2p-request-response's `cbor` codec); a request is at most the node's
//! largest value plus [`PACKET_OVERHEAD`](crate::PACKET_OVERHEAD), an answer at most
//! [`MAX_RESPONSE_SIZE`].

use std::time::{Duration, Instant};

use libp2p::kad::{Record, RecordKey};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::{PeerId, StreamProtocol};
use serde::{Deserialize, Serialize};

use crate::registry::Rejection;

/// The protocol name of validated stores between Netabase nodes.
pub const STORE_PROTOCOL: StreamProtocol = StreamProtocol::new("/netabase/store/1.0.0");

/// The largest answer a node reads: a refusal's message is cut to [`MAX_REFUSAL_MESSAGE`] bytes.
const MAX_RESPONSE_SIZE: u64 = 1024;

/// The longest refusal message a node sends or keeps from a peer, in bytes.
pub(crate) const MAX_REFUSAL_MESSAGE: usize = 256;

/// The request-response behaviour of the store protocol.
pub(crate) type StoreBehaviour = request_response::cbor::Behaviour<StoreRequest, StoreResponse>;

/// Builds the store protocol's behaviour: requests up to `max_request` bytes, answered within
/// `timeout`.
pub(crate) fn behaviour(max_request: usize, timeout: Duration) -> StoreBehaviour {
    let codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(max_request as u64)
        .set_response_size_maximum(MAX_RESPONSE_SIZE);
    request_response::Behaviour::with_codec(
        codec,
        [(STORE_PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(timeout),
    )
}

/// A record sent to be stored: what kad's `PUT_VALUE` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoreRequest {
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
    /// The publisher's peer id bytes.
    #[serde(with = "serde_bytes")]
    publisher: Option<Vec<u8>>,
    /// Whole seconds the record has left (at least 1); `None`: it never expires.
    ttl_secs: Option<u32>,
}

impl StoreRequest {
    /// The request carrying `record`, with the time it has left from `now` in whole seconds, as kad
    /// sends it. A record whose deadline is less than a second away is not sent: `None`. (kad
    /// rounds such a lifetime to 0 s, which on its wire means "never expires".)
    pub(crate) fn from_record(record: &Record, now: Instant) -> Option<Self> {
        let ttl_secs = match record.expires {
            None => None,
            Some(expires) => {
                let left = expires.checked_duration_since(now)?.as_secs();
                if left == 0 {
                    return None;
                }
                Some(u32::try_from(left).unwrap_or(u32::MAX))
            }
        };
        Some(StoreRequest {
            key: record.key.to_vec(),
            value: record.value.clone(),
            publisher: record.publisher.map(|peer| peer.to_bytes()),
            ttl_secs,
        })
    }

    /// The key of the record the request carries.
    pub(crate) fn key(&self) -> RecordKey {
        RecordKey::new(&self.key)
    }

    /// The record a peer sent, received at `now`. Fails on a publisher that is no peer id, or a
    /// lifetime of 0 s (which no Netabase node sends).
    pub(crate) fn into_record(self, now: Instant) -> Result<Record, Rejection> {
        let publisher = match self.publisher {
            None => None,
            Some(bytes) => Some(
                PeerId::from_bytes(&bytes)
                    .map_err(|_| Rejection::Malformed("the publisher is not a peer id"))?,
            ),
        };
        let expires = match self.ttl_secs {
            None => None,
            Some(0) => return Err(Rejection::Expired),
            Some(secs) => now.checked_add(Duration::from_secs(u64::from(secs))),
        };
        Ok(Record {
            key: RecordKey::from(self.key),
            value: self.value,
            publisher,
            expires,
        })
    }
}

/// A receiver's answer: its gate's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoreResponse {
    /// The record passed validation and the store accepted it (or already held this value).
    Stored,
    /// The record was not stored.
    Refused {
        /// Why, as a reason a program can match on.
        reason: RefusalReason,
        /// The receiver's explanation, at most [`MAX_REFUSAL_MESSAGE`] bytes.
        message: String,
    },
}

impl StoreResponse {
    /// The answer to a record the gate refused for `rejection`.
    pub(crate) fn refused(rejection: &Rejection) -> Self {
        StoreResponse::Refused {
            reason: RefusalReason::of(rejection),
            message: truncate(rejection.to_string()),
        }
    }
}

/// Why a peer refused a record it was sent, as it reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The peer does not store records of this schema.
    UnknownSchema,
    /// The record does not decode as its schema, or its key and value disagree.
    Invalid,
    /// The value is over the peer's size limit.
    TooLarge,
    /// The record expired, or would within a second.
    Expired,
    /// The peer holds a value that wins over this one under the schema's conflict rule.
    LostConflict,
    /// The peer's store is full (its record limit) or refused the record for its own size limit.
    StoreFull,
    /// The message was not a well-formed record.
    Malformed,
}

impl RefusalReason {
    /// The reason a gate's rejection is reported with.
    pub(crate) fn of(rejection: &Rejection) -> Self {
        match rejection {
            Rejection::UnknownSchema => RefusalReason::UnknownSchema,
            Rejection::Invalid(_) => RefusalReason::Invalid,
            Rejection::TooLarge { .. } => RefusalReason::TooLarge,
            Rejection::Expired => RefusalReason::Expired,
            Rejection::LostConflict => RefusalReason::LostConflict,
            Rejection::Refused(_) => RefusalReason::StoreFull,
            Rejection::Malformed(_) => RefusalReason::Malformed,
        }
    }

    /// A short name: `lost conflict`, `store full`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::UnknownSchema => "unknown schema",
            RefusalReason::Invalid => "invalid",
            RefusalReason::TooLarge => "too large",
            RefusalReason::Expired => "expired",
            RefusalReason::LostConflict => "lost conflict",
            RefusalReason::StoreFull => "store full",
            RefusalReason::Malformed => "malformed",
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Cuts `message` to at most [`MAX_REFUSAL_MESSAGE`] bytes, at a character boundary.
pub(crate) fn truncate(mut message: String) -> String {
    if message.len() > MAX_REFUSAL_MESSAGE {
        let mut end = MAX_REFUSAL_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires: Option<Instant>) -> Record {
        Record {
            key: RecordKey::new(&b"/netabase/Note/\x01"),
            value: b"\x01\x02hi".to_vec(),
            publisher: Some(PeerId::random()),
            expires,
        }
    }

    #[test]
    fn a_record_travels_with_its_key_value_publisher_and_whole_seconds_left() {
        let now = Instant::now();
        let sent = record(Some(now + Duration::from_millis(5_900)));
        let request = StoreRequest::from_record(&sent, now).expect("5 s left");
        assert_eq!(request.ttl_secs, Some(5));
        let received = request.into_record(now).expect("well formed");
        assert_eq!(
            (&received.key, &received.value, received.publisher),
            (&sent.key, &sent.value, sent.publisher)
        );
        assert_eq!(received.expires, Some(now + Duration::from_secs(5)));

        let forever = StoreRequest::from_record(&record(None), now).expect("no expiry");
        assert_eq!(forever.ttl_secs, None);
        assert_eq!(forever.into_record(now).expect("well formed").expires, None);
    }

    #[test]
    fn a_record_with_under_a_second_left_is_never_sent() {
        let now = Instant::now();
        let almost = record(Some(now + Duration::from_millis(999)));
        assert_eq!(StoreRequest::from_record(&almost, now), None);
        let past = record(Some(now));
        assert_eq!(
            StoreRequest::from_record(&past, now + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn forged_requests_are_refused_not_trusted() {
        let now = Instant::now();
        let mut request = StoreRequest::from_record(&record(None), now).expect("no expiry");
        request.ttl_secs = Some(0);
        assert!(matches!(
            request.clone().into_record(now),
            Err(Rejection::Expired)
        ));
        request.ttl_secs = None;
        request.publisher = Some(b"not a peer id".to_vec());
        assert!(matches!(
            request.into_record(now),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn a_refusal_message_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_REFUSAL_MESSAGE);
        let cut = truncate(long);
        assert!(cut.len() <= MAX_REFUSAL_MESSAGE);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short".into()), "short");
    }

    #[test]
    fn messages_round_trip_through_the_codec_and_garbage_is_an_error() {
        use futures::executor::block_on;
        use futures::io::Cursor;
        use request_response::Codec as _;

        let mut codec =
            request_response::cbor::codec::Codec::<StoreRequest, StoreResponse>::default()
                .set_request_size_maximum(4096)
                .set_response_size_maximum(MAX_RESPONSE_SIZE);
        let request = StoreRequest::from_record(&record(None), Instant::now()).expect("no expiry");
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_request(&STORE_PROTOCOL, &mut wire, request.clone())).expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let read = block_on(codec.read_request(&STORE_PROTOCOL, &mut wire)).expect("reads");
        assert_eq!(read, request);

        let refused = StoreResponse::refused(&Rejection::LostConflict);
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_response(&STORE_PROTOCOL, &mut wire, refused.clone()))
            .expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let read = block_on(codec.read_response(&STORE_PROTOCOL, &mut wire)).expect("reads");
        assert_eq!(read, refused);

        for garbage in [&b""[..], b"\xff\xff", b"\xa4\x63key\x40"] {
            let mut wire = Cursor::new(garbage.to_vec());
            assert!(block_on(codec.read_request(&STORE_PROTOCOL, &mut wire)).is_err());
        }
    }
}
