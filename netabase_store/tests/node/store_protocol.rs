//! A hostile peer on the store protocol (`/netabase/store/1.0.0`): a plain rust-libp2p swarm with
//! its own copy of the wire types (no Netabase code) sends forged requests. Each is refused with
//! the reason the gate found, or dropped when it does not decode; the node counts them, stores
//! nothing of them, and keeps answering honest requests.

use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Swarm, SwarmBuilder, noise, tcp, yamux};
use netabase_store::{NetabaseSchema, STORE_PROTOCOL};
use serde::{Deserialize, Serialize};

use crate::support::*;

/// The request as the protocol documents it (`docs/node.md`), written independently.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
    #[serde(with = "serde_bytes")]
    publisher: Option<Vec<u8>>,
    ttl_secs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Response {
    Stored,
    Refused { reason: String, message: String },
}

/// Something that is no request at all.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Garbage(String, u64);

type Forger = request_response::cbor::Behaviour<Request, Response>;
type Junk = request_response::cbor::Behaviour<Garbage, Response>;

#[derive(libp2p::swarm::NetworkBehaviour)]
struct Hostile {
    forged: Forger,
    junk: Junk,
}

fn hostile_swarm() -> Swarm<Hostile> {
    let config =
        || request_response::Config::default().with_request_timeout(Duration::from_secs(5));
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|_| Hostile {
            forged: Forger::new([(STORE_PROTOCOL, ProtocolSupport::Outbound)], config()),
            junk: Junk::new([(STORE_PROTOCOL, ProtocolSupport::Outbound)], config()),
        })
        .expect("behaviour")
        .build()
}

/// Sends `request` and waits for its answer: `Ok(response)`, or `Err(what failed)`.
async fn send(
    swarm: &mut Swarm<Hostile>,
    peer: PeerId,
    request: Request,
) -> Result<Response, String> {
    let id = swarm.behaviour_mut().forged.send_request(&peer, request);
    within("the node answers", async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(HostileEvent::Forged(request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                })) if request_id == id => return Ok(response),
                SwarmEvent::Behaviour(HostileEvent::Forged(
                    request_response::Event::OutboundFailure {
                        request_id, error, ..
                    },
                )) if request_id == id => return Err(error.to_string()),
                _ => {}
            }
        }
    })
    .await
}

fn refused(reason: &str) -> impl Fn(&Result<Response, String>) -> bool + '_ {
    move |answer| matches!(answer, Ok(Response::Refused { reason: r, .. }) if r == reason)
}

#[tokio::test]
async fn forged_store_requests_are_refused_counted_and_never_stored() {
    let mut config = fast_config(Net::Tcp);
    config.set_max_value_size(1024);
    let target = start_node(config, memory_store(), None).await;
    let node = &target.handle;
    let peer = node.peer_id();
    let mut swarm = hostile_swarm();
    swarm.dial(target.dial_addr()).expect("dial");

    let good = Profile {
        id: 40,
        name: "honest".into(),
    }
    .to_record()
    .expect("record");
    let honest = Request {
        key: good.key.to_vec(),
        value: good.value.clone(),
        publisher: None,
        ttl_secs: Some(3600),
    };

    // A value that does not decode as the registered schema.
    let mut undecodable = honest.clone();
    undecodable.value = vec![0xff; 9];
    let answer = send(&mut swarm, peer, undecodable).await;
    assert!(refused("Invalid")(&answer), "{answer:?}");
    // A publisher that is no peer id.
    let mut forged_publisher = honest.clone();
    forged_publisher.publisher = Some(b"not a peer id".to_vec());
    let answer = send(&mut swarm, peer, forged_publisher).await;
    assert!(refused("Malformed")(&answer), "{answer:?}");
    // A lifetime of 0 s, which kad would read as "never expires".
    let mut forever = honest.clone();
    forever.ttl_secs = Some(0);
    let answer = send(&mut swarm, peer, forever).await;
    assert!(refused("Expired")(&answer), "{answer:?}");
    // A value over the node's limit.
    let mut huge = honest.clone();
    huge.key = b"/elsewhere/Blob/1".to_vec();
    huge.value = vec![7; 2048];
    let answer = send(&mut swarm, peer, huge).await;
    assert!(refused("TooLarge")(&answer), "{answer:?}");
    // A request far over the size the node reads is cut off, not buffered.
    let mut enormous = honest.clone();
    enormous.value = vec![1; 4 * 1024 * 1024];
    let answer = send(&mut swarm, peer, enormous).await;
    assert!(answer.is_err(), "{answer:?}");
    // Something that is not a request: no answer, and the connection survives.
    let junk = swarm
        .behaviour_mut()
        .junk
        .send_request(&peer, Garbage("junk".into(), 7));
    let failed = within("junk fails", async {
        loop {
            if let SwarmEvent::Behaviour(HostileEvent::Junk(
                request_response::Event::OutboundFailure { request_id, .. },
            )) = swarm.select_next_some().await
                && request_id == junk
            {
                return true;
            }
        }
    })
    .await;
    assert!(failed);

    // None of it is stored; the honest request still is, and reads back typed.
    assert_eq!(
        node.get_local_record(&b"/elsewhere/Blob/1".to_vec().into())
            .await
            .unwrap(),
        None
    );
    let answer = send(&mut swarm, peer, honest).await;
    assert_eq!(answer, Ok(Response::Stored));
    assert_eq!(
        node.get_local::<Profile>(&ProfileKey(40)).await.unwrap(),
        Some(Profile {
            id: 40,
            name: "honest".into()
        })
    );
    let stats = node.stats().await.expect("stats");
    let rejected = stats.records_rejected;
    assert_eq!(
        (rejected.invalid, rejected.expired, rejected.too_large),
        (2, 1, 1),
        "{rejected:?}"
    );
    assert_eq!(stats.records_stored, 1);
    target.stop().await;
}
