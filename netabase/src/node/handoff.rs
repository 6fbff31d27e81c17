//! Handing records to peers that join closer to them, as the Kademlia paper has it (§2.5: "any
//! node learning of a new node issues STORE RPCs to transfer relevant key-value pairs to the new
//! node"). kad's own answer, its replication job, re-sends every stored record from every holder
//! every hour; without either, a record's holders only ever leave (churn) until its publisher
//! republishes it, and a peer that joined among its closest never receives it.
//!
//! When a peer enters the routing table, the node walks its store, a page at a time, and sends a
//! record to the newcomer when [`hands_off`] says so: the newcomer is among the replication
//! factor's closest peers this node knows for the record's key, it is closer to the key than this
//! node, and at most [`HANDOFF_SENDERS`]` - 1` known peers lie between them. So of the holders
//! (which are the closest peers of the key) only the few just behind the newcomer send it, not all
//! twenty; the few, rather than one, because a routing table keeps peers that have gone until a
//! lookup fails to reach them.
//!
//! This file holds the decision and the bounded state; the event loop (`jobs.rs`) reads the
//! pages and sends the records, as publications to the newcomers, through the store protocol and
//! so through their gates.

use libp2p::PeerId;
use libp2p::kad::{KBucketKey, Record, RecordKey};

/// How many of the holders just behind a newcomer (by distance to the key) send it a record.
pub(crate) const HANDOFF_SENDERS: usize = 3;

/// The most newcomers waiting for the next walk of the store. Peers entering the routing table
/// beyond this are not handed records by this walk (their records reach them with the next
/// republication), so a flood of new identities costs a bounded amount of memory and work.
pub(crate) const MAX_NEWCOMERS: usize = 64;

/// How many records one step of a walk reads; a full page means the next step runs as soon as
/// the node has served what is waiting.
pub(crate) const HANDOFF_PAGE: usize = 64;

/// Whether this node (`local`) hands the record under `key` to `newcomer`, given the peers it
/// knows (`known`, which may include the newcomer): the newcomer is one of the `replication`
/// closest of them to the key, it is closer to the key than this node, and fewer than
/// [`HANDOFF_SENDERS`] known peers lie between the two.
pub(crate) fn hands_off(
    key: &KBucketKey<RecordKey>,
    local: &KBucketKey<PeerId>,
    newcomer: &KBucketKey<PeerId>,
    known: &[KBucketKey<PeerId>],
    replication: usize,
) -> bool {
    let to_newcomer = key.distance(newcomer);
    let to_local = key.distance(local);
    if to_newcomer >= to_local {
        return false;
    }
    let (mut closer, mut between) = (0, 0);
    for peer in known.iter().filter(|peer| *peer != newcomer) {
        let distance = key.distance(peer);
        if distance < to_newcomer {
            closer += 1;
            if closer >= replication {
                return false;
            }
        } else if distance < to_local {
            between += 1;
            if between >= HANDOFF_SENDERS {
                return false;
            }
        }
    }
    true
}

/// The newcomers waiting to be handed records, and the walk of the store in progress.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    waiting: Vec<PeerId>,
    walk: Option<Walk>,
}

/// One walk of the store on behalf of the newcomers it started with.
#[derive(Debug)]
pub(crate) struct Walk {
    /// The peers this walk hands records to.
    pub(crate) newcomers: Vec<KBucketKey<PeerId>>,
    /// The last key considered; `None` before the first page.
    pub(crate) after: Option<RecordKey>,
}

/// What a step of a walk left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// The walk has read the whole store.
    Nothing,
    /// The page was full: the next one follows as soon as the node has served what is waiting.
    NextPage,
    /// The background budget ran out within the page: the walk goes on from the first record
    /// it did not consider once the budget allows.
    Budget,
}

impl Walk {
    /// One step of the walk over `page` (read after [`Self::after`], at most [`HANDOFF_PAGE`]
    /// records): the records to send, each with the newcomers `to` picks for it, in key order
    /// and at most `budget` of them. The walk moves past each record it considered, and stops
    /// before the first record that would exceed the budget, so no record is skipped.
    pub(crate) fn step(
        &mut self,
        page: Vec<Record>,
        budget: usize,
        mut to: impl FnMut(&[KBucketKey<PeerId>], &Record) -> Vec<PeerId>,
    ) -> (Vec<(Record, Vec<PeerId>)>, Left) {
        let full = page.len() >= HANDOFF_PAGE;
        let mut sends = Vec::new();
        for record in page {
            if sends.len() >= budget {
                return (sends, Left::Budget);
            }
            self.after = Some(record.key.clone());
            let peers = to(&self.newcomers, &record);
            if !peers.is_empty() {
                sends.push((record, peers));
            }
        }
        (sends, if full { Left::NextPage } else { Left::Nothing })
    }
}

impl Handoff {
    /// Notes a peer that entered the routing table; ignored beyond [`MAX_NEWCOMERS`] waiting, or
    /// when it already waits.
    pub(crate) fn on_new_peer(&mut self, peer: PeerId) {
        if self.waiting.len() < MAX_NEWCOMERS && !self.waiting.contains(&peer) {
            self.waiting.push(peer);
        }
    }

    /// The walk to take the next step of: the one in progress, else a new one for the waiting
    /// newcomers, else none. The caller puts it back with [`Self::resume`] if it is not done.
    pub(crate) fn next_walk(&mut self) -> Option<Walk> {
        if let Some(walk) = self.walk.take() {
            return Some(walk);
        }
        if self.waiting.is_empty() {
            return None;
        }
        let newcomers = self.waiting.drain(..).map(KBucketKey::from).collect();
        Some(Walk {
            newcomers,
            after: None,
        })
    }

    /// Keeps `walk` for the next step.
    pub(crate) fn resume(&mut self, walk: Walk) {
        self.walk = Some(walk);
    }

    /// Whether a walk is in progress or newcomers wait for one.
    pub(crate) fn pending(&self) -> bool {
        self.walk.is_some() || !self.waiting.is_empty()
    }

    /// How many newcomers wait for the next walk.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` random peers, sorted by distance to `key`, closest first.
    fn peers_by_distance(key: &KBucketKey<RecordKey>, count: usize) -> Vec<KBucketKey<PeerId>> {
        let mut peers: Vec<KBucketKey<PeerId>> = (0..count)
            .map(|_| KBucketKey::from(PeerId::random()))
            .collect();
        peers.sort_by_key(|peer| key.distance(peer));
        peers
    }

    fn key() -> KBucketKey<RecordKey> {
        KBucketKey::from(RecordKey::new(&b"/netabase/Note/\x01"))
    }

    /// What node `local` of `nodes` knows: every other node.
    fn known_by(nodes: &[KBucketKey<PeerId>], local: usize) -> Vec<KBucketKey<PeerId>> {
        nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != local)
            .map(|(_, peer)| *peer)
            .collect()
    }

    #[test]
    fn only_the_few_holders_just_behind_a_newcomer_send_it_the_record() {
        let key = key();
        // 30 nodes by distance: the newcomer is the 5th closest, the replication factor 20.
        let nodes = peers_by_distance(&key, 30);
        let newcomer = &nodes[4];
        let senders: Vec<usize> = (0..nodes.len())
            .filter(|&local| {
                local != 4 && hands_off(&key, &nodes[local], newcomer, &known_by(&nodes, local), 20)
            })
            .collect();
        assert_eq!(senders, vec![5, 6, 7], "the three nodes just behind it");
    }

    #[test]
    fn a_newcomer_outside_the_closest_or_farther_than_this_node_gets_nothing() {
        let key = key();
        let nodes = peers_by_distance(&key, 30);
        let known = |local: usize| known_by(&nodes, local);
        // The 21st closest is outside a replication factor of 20, though closer than node 21.
        assert!(!hands_off(&key, &nodes[21], &nodes[20], &known(21), 20));
        assert!(hands_off(&key, &nodes[21], &nodes[20], &known(21), 21));
        // A newcomer farther from the key than this node is for the nodes behind it.
        assert!(!hands_off(&key, &nodes[3], &nodes[4], &known(3), 20));
        // A node that knows only the newcomer (a sparse table) sends it.
        assert!(hands_off(
            &key,
            &nodes[29],
            &nodes[0],
            std::slice::from_ref(&nodes[0]),
            20
        ));
    }

    /// Records under keys `from..to`, in key order.
    fn records(from: u8, to: u8) -> Vec<Record> {
        (from..to)
            .map(|key| Record::new(RecordKey::new(&[key]), vec![key]))
            .collect()
    }

    /// A walk for one newcomer.
    fn walk() -> (Walk, PeerId) {
        let newcomer = PeerId::random();
        let walk = Walk {
            newcomers: vec![KBucketKey::from(newcomer)],
            after: None,
        };
        (walk, newcomer)
    }

    /// Sends the records with an even key to every newcomer.
    fn even(newcomers: &[KBucketKey<PeerId>], record: &Record) -> Vec<PeerId> {
        if record.key.as_ref()[0] % 2 == 0 {
            newcomers
                .iter()
                .map(|newcomer| *newcomer.preimage())
                .collect()
        } else {
            Vec::new()
        }
    }

    fn sent_keys(sends: &[(Record, Vec<PeerId>)]) -> Vec<u8> {
        sends
            .iter()
            .map(|(record, _)| record.key.as_ref()[0])
            .collect()
    }

    #[test]
    fn a_step_sends_no_more_than_the_budget_and_goes_on_where_it_stopped() {
        let (mut walk, newcomer) = walk();
        let (sends, left) = walk.step(records(0, 10), 3, even);
        assert_eq!(sent_keys(&sends), vec![0, 2, 4]);
        assert!(sends.iter().all(|(_, peers)| peers == &vec![newcomer]));
        assert_eq!(left, Left::Budget);
        assert_eq!(
            walk.after,
            Some(RecordKey::new(&[4u8])),
            "5 not considered yet"
        );

        // The next page is read after key 4.
        let (sends, left) = walk.step(records(5, 10), 32, even);
        assert_eq!(sent_keys(&sends), vec![6, 8]);
        assert_eq!(left, Left::Nothing, "a short page ends the walk");
        assert_eq!(walk.after, Some(RecordKey::new(&[9u8])));
    }

    #[test]
    fn a_full_page_within_the_budget_asks_for_the_next() {
        let (mut walk, _) = walk();
        let page = u8::try_from(HANDOFF_PAGE).expect("a page fits in u8 keys");
        let (sends, left) = walk.step(records(0, page), HANDOFF_PAGE, even);
        assert_eq!(sends.len(), HANDOFF_PAGE / 2);
        assert_eq!(left, Left::NextPage);
        assert_eq!(walk.after, Some(RecordKey::new(&[page - 1])));
        // Records no newcomer takes cost no budget: 3 sends among 5 records fit a budget of 3.
        let (mut walk, _) = self::walk();
        let (sends, left) = walk.step(records(0, 5), 3, even);
        assert_eq!(sent_keys(&sends), vec![0, 2, 4]);
        assert_eq!(left, Left::Nothing);
    }

    #[test]
    fn a_flood_of_new_identities_waits_in_bounded_memory() {
        let mut handoff = Handoff::default();
        let first = PeerId::random();
        handoff.on_new_peer(first);
        handoff.on_new_peer(first);
        assert_eq!(handoff.waiting(), 1, "a peer waits once");
        for _ in 0..10_000 {
            handoff.on_new_peer(PeerId::random());
        }
        assert_eq!(handoff.waiting(), MAX_NEWCOMERS);
        assert!(handoff.pending());
        let walk = handoff.next_walk().expect("newcomers wait");
        assert_eq!(walk.newcomers.len(), MAX_NEWCOMERS);
        assert!(walk.after.is_none());
        assert!(handoff.next_walk().is_none(), "the walk took them all");
        assert!(!handoff.pending(), "the walk is out being stepped");
        handoff.resume(walk);
        assert!(handoff.pending());
        handoff.on_new_peer(PeerId::random());
        let resumed = handoff.next_walk().expect("the walk in progress");
        assert_eq!(resumed.newcomers.len(), MAX_NEWCOMERS, "resumed first");
        assert_eq!(
            handoff.next_walk().expect("then the next").newcomers.len(),
            1
        );
    }
}
