//! The low-level path: you own the libp2p `Swarm` with its Kademlia behaviour, and move records
//! between it and a Netabase database yourself.
//!
//! Netabase values are plain `kad::Record`s, so no wrapper or adapter sits between the database
//! and kad: `to_record` / `sync_to_network` give records to `kad::Behaviour::put_record`, and
//! `from_record` / `put_record` take what `get_record` found. Use this when your application
//! already runs a swarm; otherwise `netabase_store::Node` does all of this for you (see
//! `two_nodes`).
//!
//! Run it with `cargo run --example swarm_integration`.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::kad::store::MemoryStore;
use libp2p::kad::{self, Quorum};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder, noise, tcp, yamux};
use netabase_store::prelude::*;
use netabase_store::{NetabaseDatabaseExt, RedbStore};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};

/// An article, identified by its slug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Article {
    #[key]
    slug: String,
    title: String,
    words: u32,
}

type Error = Box<dyn std::error::Error>;
type KadSwarm = Swarm<kad::Behaviour<MemoryStore>>;

/// A swarm whose only behaviour is Kademlia, on TCP + noise + yamux, in server mode (a peer on
/// loopback never gets a confirmed external address, so kad would stay a client otherwise).
fn build_swarm() -> Result<KadSwarm, Error> {
    let swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let peer = key.public().to_peer_id();
            let config = kad::Config::new(netabase_store::DEFAULT_KAD_PROTOCOL);
            let mut kad = kad::Behaviour::with_config(peer, MemoryStore::new(peer), config);
            kad.set_mode(Some(kad::Mode::Server));
            kad
        })?
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    Ok(swarm)
}

/// Which swarm an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Writer,
    Reader,
}

/// Drives both swarms and returns the next event of either, failing at `deadline`.
async fn next_event(
    writer: &mut KadSwarm,
    reader: &mut KadSwarm,
    deadline: Instant,
) -> Result<(Side, SwarmEvent<kad::Event>), Error> {
    let next = async {
        tokio::select! {
            event = writer.select_next_some() => (Side::Writer, event),
            event = reader.select_next_some() => (Side::Reader, event),
        }
    };
    timeout_at(deadline, next)
        .await
        .map_err(|_| "the swarms did not finish within 20 s".into())
}

/// Listens on 127.0.0.1 and returns the address once the swarm reports it.
async fn listen(swarm: &mut KadSwarm) -> Result<Multiaddr, Error> {
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return Ok(address);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(20);

    // Two swarms on loopback that know each other's address.
    let mut writer = build_swarm()?;
    let mut reader = build_swarm()?;
    let writer_addr = listen(&mut writer).await?;
    let reader_addr = listen(&mut reader).await?;
    let (writer_id, reader_id): (PeerId, PeerId) =
        (*writer.local_peer_id(), *reader.local_peer_id());
    writer.behaviour_mut().add_address(&reader_id, reader_addr);
    reader.behaviour_mut().add_address(&writer_id, writer_addr);

    // Each side keeps its data in a Netabase database (here in memory; `RedbStore::create` for a
    // file).
    let mut writer_db = RedbStore::builder().register::<Article>().in_memory()?;
    let mut reader_db = RedbStore::builder().register::<Article>().in_memory()?;

    // The writer stores typed values locally...
    let articles = [
        Article {
            slug: "kademlia".into(),
            title: "How Kademlia routes".into(),
            words: 1200,
        },
        Article {
            slug: "redb".into(),
            title: "An embedded database".into(),
            words: 800,
        },
    ];
    for article in &articles {
        writer_db.put(article.key(), article.clone()).await?;
    }

    // ...and publishes them: `sync_to_network` returns every record of the schema, ready for kad.
    // (`to_record(key, value)` converts a single value the same way.)
    let records =
        NetabaseDatabaseExt::<ArticleKey, Article>::sync_to_network(&mut writer_db).await?;
    let single = writer_db
        .to_record(articles[0].key(), articles[0].clone())
        .await?;
    assert!(
        records.contains(&single),
        "to_record and sync_to_network give the same record"
    );
    let mut puts = Vec::new();
    for record in records {
        puts.push(writer.behaviour_mut().put_record(record, Quorum::One)?);
    }
    while !puts.is_empty() {
        let (side, event) = next_event(&mut writer, &mut reader, deadline).await?;
        if let (
            Side::Writer,
            SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::PutRecord(result),
                ..
            }),
        ) = (side, event)
        {
            result?;
            puts.retain(|put| *put != id);
        }
    }
    println!("writer {writer_id} published {} articles", articles.len());

    // The reader looks the keys up in the DHT and stores what it finds in its own database.
    let mut gets: HashMap<kad::QueryId, ArticleKey> = HashMap::new();
    for article in &articles {
        let key = Article::record_key(&article.key())?;
        gets.insert(reader.behaviour_mut().get_record(key), article.key());
    }
    while !gets.is_empty() {
        let (side, event) = next_event(&mut writer, &mut reader, deadline).await?;
        let (
            Side::Reader,
            SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { id, result, .. }),
        ) = (side, event)
        else {
            continue;
        };
        match result {
            kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) => {
                if gets.remove(&id).is_none() {
                    continue;
                }
                // Check and decode the record as an Article, then store it through the typed API.
                let (key, value): (ArticleKey, Article) =
                    reader_db.from_record(found.record.clone()).await?;
                reader_db.put(key, value).await?;
                // `put_record` stores a record as is, after the same checks (and resolves a
                // conflict with a stored value by the schema's rule).
                NetabaseDatabase::<ArticleKey, Article>::put_record(&mut reader_db, found.record)
                    .await?;
                if let Some(mut query) = reader.behaviour_mut().query_mut(&id) {
                    query.finish();
                }
            }
            kad::QueryResult::GetRecord(Err(error)) => return Err(error.into()),
            _ => {}
        }
    }

    for article in &articles {
        let stored: Option<Article> = reader_db.get(&article.key()).await?;
        println!("reader {reader_id} holds {stored:?}");
        assert_eq!(stored.as_ref(), Some(article));
    }
    Ok(())
}
