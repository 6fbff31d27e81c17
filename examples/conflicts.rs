//! Conflicts: two replicas receive the same writes in opposite orders and end with the same
//! value, by a `#[version]` field or by a resolver of your own.
//!
//! Kademlia has no coordinator: two peers may write one key at the same time, and records reach
//! replicas in any order. Every Netabase conflict rule is a total order on values (ties fall back
//! to comparing the encoded bytes), so whatever the order of arrival, replicas keep the same winner.
//!
//! Run it with `cargo run --example conflicts`.

use std::cmp::Ordering;

use netabase_store::kad::Record;
use netabase_store::prelude::*;
use netabase_store::{ConflictRule, RedbStore, resolve_records};
use serde::{Deserialize, Serialize};

/// A wiki page: the higher `revision` wins, whatever the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Page {
    #[key]
    slug: String,
    text: String,
    #[version]
    revision: u64,
}

/// A player's best score: the resolver keeps the higher score (a max register), so a late,
/// lower score never overwrites a better one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver = higher_score)]
struct BestScore {
    #[key]
    player: String,
    score: u64,
    level: String,
}

/// The resolver: `Greater` means `a` wins. Equal scores fall back to byte order.
fn higher_score(a: &BestScore, b: &BestScore) -> Ordering {
    a.score.cmp(&b.score)
}

/// Delivers `records` to a replica in the given order, as the network would.
async fn deliver<V: NetabaseSchema>(
    replica: &mut RedbStore,
    records: impl IntoIterator<Item = Record>,
) -> DatabaseResult<()> {
    for record in records {
        NetabaseDatabase::<V::Key, V>::put_record(replica, record).await?;
    }
    Ok(())
}

/// Builds two replicas, delivers `values` to one in order and to the other in reverse, and
/// returns what each ended with.
async fn replicate<V>(values: &[V]) -> Result<(V, V), Box<dyn std::error::Error>>
where
    V: NetabaseSchema + Clone,
{
    let records = values
        .iter()
        .map(NetabaseSchema::to_record)
        .collect::<Result<Vec<_>, _>>()?;
    let mut first = RedbStore::builder().register::<V>().in_memory()?;
    let mut second = RedbStore::builder().register::<V>().in_memory()?;
    deliver::<V>(&mut first, records.clone()).await?;
    deliver::<V>(&mut second, records.into_iter().rev()).await?;
    let key = values[0].key();
    let a = first
        .get_value::<V>(&key)?
        .ok_or("first replica lost the value")?;
    let b = second
        .get_value::<V>(&key)?
        .ok_or("second replica lost the value")?;
    Ok((a, b))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. `#[version]`: the highest revision wins, even when it arrives first.
    assert_eq!(Page::CONFLICT_RULE, ConflictRule::Version);
    let edits = [
        Page {
            slug: "home".into(),
            text: "draft".into(),
            revision: 1,
        },
        Page {
            slug: "home".into(),
            text: "final".into(),
            revision: 3,
        },
        Page {
            slug: "home".into(),
            text: "review".into(),
            revision: 2,
        },
    ];
    let (a, b) = replicate(&edits).await?;
    println!("pages:  replica A kept {a:?}\n        replica B kept {b:?}");
    assert_eq!(a, b);
    assert_eq!(a.revision, 3);

    // 2. A resolver: the higher score wins; a tie (same score, other level) is still decided the
    //    same way everywhere, by the bytes of the two values.
    assert_eq!(BestScore::CONFLICT_RULE, ConflictRule::Custom);
    let scores = [
        BestScore {
            player: "ada".into(),
            score: 120,
            level: "cave".into(),
        },
        BestScore {
            player: "ada".into(),
            score: 340,
            level: "forest".into(),
        },
        BestScore {
            player: "ada".into(),
            score: 90,
            level: "beach".into(),
        },
        BestScore {
            player: "ada".into(),
            score: 340,
            level: "castle".into(),
        },
    ];
    let (a, b) = replicate(&scores).await?;
    println!("scores: replica A kept {a:?}\n        replica B kept {b:?}");
    assert_eq!(a, b);
    assert_eq!(a.score, 340);

    // 3. The rule itself, without a store: `resolve_records` is what a node applies when a record
    //    arrives for a key it already holds. It is commutative and idempotent.
    let old = edits[0].to_record()?;
    let new = edits[1].to_record()?;
    let forward = resolve_records::<Page>(old.clone(), new.clone())?;
    let backward = resolve_records::<Page>(new.clone(), old)?;
    assert_eq!(forward.value, backward.value);
    assert_eq!(
        resolve_records::<Page>(new.clone(), new.clone())?.value,
        new.value
    );
    println!(
        "resolve_records picks revision {} either way round",
        Page::from_record(&forward)?.revision
    );
    Ok(())
}
