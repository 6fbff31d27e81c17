//! Owned records: signed by their owner or an authorised writer, verified wherever a record of
//! the schema is decoded, and ordered by (generation, sequence).

use std::time::{Duration, Instant, SystemTime};

use netabase::kad::Record;
use netabase::owned::{
    Author, Delegation, HEADER_LEN, MAX_CLOCK_SKEW, OwnedWrite, Owner, OwnershipProblem, header,
};
use netabase::prelude::*;
use netabase::tombstone::{Stored, decode_record};
use netabase::{SchemaRegistry, compare_values};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "social", owned)]
struct Profile {
    #[key]
    owner: Owner,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "social", owned)]
struct Post {
    #[key]
    author: Owner,
    #[key]
    id: u32,
    text: String,
}

fn profile(author: &Author, name: &str) -> Profile {
    Profile {
        owner: author.owner(),
        name: name.into(),
    }
}

fn post(owner: Owner, id: u32, text: &str) -> Post {
    Post {
        author: owner,
        id,
        text: text.into(),
    }
}

fn write_at(sequence: u64) -> OwnedWrite {
    OwnedWrite {
        generation: 0,
        sequence,
        expires: None,
        deleted: false,
    }
}

/// The problem a record of `V` is refused for, or a panic when it is accepted.
fn problem<V: NetabaseSchema + std::fmt::Debug>(record: &Record) -> OwnershipProblem {
    match decode_record::<V>(record) {
        Err(DatabaseError::Ownership { problem, .. }) => problem,
        other => panic!("expected an ownership refusal, got {other:?}"),
    }
}

#[test]
fn an_owner_signs_and_every_decoder_verifies() {
    let alice = Author::generate();
    let value = profile(&alice, "alice");
    let record = alice.sign(&value, &OwnedWrite::after(None)).unwrap();
    assert!(record.key.as_ref().starts_with(b"/social/Profile/"));
    assert_eq!(&record.key.as_ref()[16..], alice.owner().0);
    assert_eq!(Profile::from_record(&record).unwrap(), value);
    assert_eq!(
        decode_record::<Profile>(&record).unwrap(),
        Stored::Value(value.clone())
    );
    let mut registry = SchemaRegistry::new();
    registry.register::<Profile>();
    assert!(registry.validate(&record, 1024, Instant::now()).is_ok());
    assert!(registry.schema_of(record.key.as_ref()).unwrap().is_owned());
}

#[test]
fn an_owned_value_is_never_an_unsigned_record() {
    let alice = Author::generate();
    let error = profile(&alice, "alice").to_record().unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::OwnedNeedsSignature { schema: "Profile" }
        ),
        "{error}"
    );
    // Nor are the plain postcard bytes under its key a valid record.
    let key = Profile::record_key(&ProfileKey(alice.owner())).unwrap();
    let plain = Record::new(key, profile(&alice, "alice").to_bytes().unwrap());
    assert!(matches!(
        problem::<Profile>(&plain),
        OwnershipProblem::Malformed(_)
    ));
}

#[test]
fn nobody_signs_for_an_owner_they_are_not() {
    let (alice, mallory) = (Author::generate(), Author::generate());
    let error = mallory
        .sign(&profile(&alice, "mallory's"), &OwnedWrite::after(None))
        .unwrap_err();
    assert!(matches!(error, DatabaseError::NotOwner { .. }), "{error}");
    assert!(error.to_string().contains(&alice.owner().to_string()));

    // Mallory's own valid record moved under alice's key fails: the signature covers the key.
    let mut moved = mallory
        .sign(&profile(&mallory, "mallory"), &OwnedWrite::after(None))
        .unwrap();
    moved.key = Profile::record_key(&ProfileKey(alice.owner())).unwrap();
    // The payload names mallory, so the key check refuses it before any signature...
    assert!(decode_record::<Profile>(&moved).is_err());
    // ...and a payload naming alice signed by mallory fails the signature.
    let forged = forge_signature(&mallory, &alice, "alice, says mallory");
    assert_eq!(problem::<Profile>(&forged), OwnershipProblem::BadSignature);
}

/// A record under `owner`'s key whose value is signed by `signer` as if it were the owner.
fn forge_signature(signer: &Author, owner: &Author, name: &str) -> Record {
    let real = owner
        .sign(&profile(owner, name), &OwnedWrite::after(None))
        .unwrap();
    let theirs = signer
        .sign(&profile(signer, name), &OwnedWrite::after(None))
        .unwrap();
    let mut forged = real.clone();
    let at = forged.value.len() - 64;
    forged.value[at..].copy_from_slice(&theirs.value[theirs.value.len() - 64..]);
    forged
}

#[test]
fn deletes_are_signed_writes_that_win_by_sequence() {
    let alice = Author::generate();
    let value = profile(&alice, "alice");
    let first = alice.sign(&value, &write_at(1_000)).unwrap();
    let delete = alice
        .sign(&value, &OwnedWrite::after(Some(&first.value)).deleting())
        .unwrap();
    assert_eq!(
        decode_record::<Profile>(&delete).unwrap(),
        Stored::Deleted(value.clone())
    );
    assert!(matches!(
        Profile::from_record(&delete),
        Err(DatabaseError::Ownership {
            problem: OwnershipProblem::Deleted,
            ..
        })
    ));
    let later = alice
        .sign(&value, &OwnedWrite::after(Some(&delete.value)))
        .unwrap();
    assert!(header(&later.value).unwrap().sequence > header(&delete.value).unwrap().sequence);
    assert_eq!(
        compare_values::<Profile>(&delete.value, &first.value).unwrap(),
        std::cmp::Ordering::Greater
    );
    assert_eq!(
        compare_values::<Profile>(&later.value, &delete.value).unwrap(),
        std::cmp::Ordering::Greater
    );
}

#[test]
fn the_next_write_is_later_even_when_the_clock_is_behind() {
    let far = u64::MAX - 5;
    let alice = Author::generate();
    let previous = alice.sign(&profile(&alice, "a"), &write_at(far)).unwrap();
    assert_eq!(OwnedWrite::after(Some(&previous.value)).sequence, far + 1);
    assert!(OwnedWrite::after(None).sequence > 1_700_000_000_000);
}

#[test]
fn a_writer_with_a_delegation_writes_and_one_without_cannot() {
    let (alice, bob, mallory) = (Author::generate(), Author::generate(), Author::generate());
    let deadline = SystemTime::now() + Duration::from_secs(3600);
    let for_post_1 = alice
        .delegate_record::<Post>(
            &PostKey {
                author: alice.owner(),
                id: 1,
            },
            bob.owner(),
            0,
            deadline,
        )
        .unwrap();
    let record = bob
        .sign_delegated(
            &post(alice.owner(), 1, "by bob"),
            &OwnedWrite::after(None),
            &for_post_1,
        )
        .unwrap();
    assert_eq!(Post::from_record(&record).unwrap().text, "by bob");

    // The record delegation does not reach post 2.
    let other = bob
        .sign_delegated(
            &post(alice.owner(), 2, "by bob"),
            &OwnedWrite::after(None),
            &for_post_1,
        )
        .unwrap();
    assert_eq!(problem::<Post>(&other), OwnershipProblem::NotAWriter);

    // A collection delegation reaches every post of alice.
    let all_posts = alice.delegate_collection::<Post>(bob.owner(), 0, deadline);
    for id in [2, 3] {
        let record = bob
            .sign_delegated(
                &post(alice.owner(), id, "by bob"),
                &OwnedWrite::after(None),
                &all_posts,
            )
            .unwrap();
        assert!(Post::from_record(&record).is_ok());
    }
    // But not another owner's posts, nor another schema.
    let carols = Author::generate();
    let foreign = bob
        .sign_delegated(
            &post(carols.owner(), 1, "by bob"),
            &OwnedWrite::after(None),
            &all_posts,
        )
        .unwrap();
    assert_eq!(problem::<Post>(&foreign), OwnershipProblem::NotAWriter);

    // Mallory's signature is valid, but her self-made delegation is not the owner's: not a writer.
    let self_made = mallory.delegate_collection::<Post>(mallory.owner(), 0, deadline);
    let record = mallory
        .sign_delegated(
            &post(alice.owner(), 1, "by mallory"),
            &OwnedWrite::after(None),
            &self_made,
        )
        .unwrap();
    assert_eq!(problem::<Post>(&record), OwnershipProblem::NotAWriter);

    // A writer cannot sign with a delegation made for someone else.
    let error = mallory
        .sign_delegated(
            &post(alice.owner(), 1, "x"),
            &OwnedWrite::after(None),
            &for_post_1,
        )
        .unwrap_err();
    assert!(matches!(error, DatabaseError::NotOwner { .. }), "{error}");
}

#[test]
fn an_expired_delegation_is_refused_as_revoked() {
    let (alice, bob) = (Author::generate(), Author::generate());
    let past = SystemTime::now() - MAX_CLOCK_SKEW - Duration::from_secs(60);
    let expired = alice.delegate_collection::<Post>(bob.owner(), 0, past);
    let record = bob
        .sign_delegated(
            &post(alice.owner(), 1, "late"),
            &OwnedWrite::after(None),
            &expired,
        )
        .unwrap();
    assert_eq!(problem::<Post>(&record), OwnershipProblem::Revoked);
}

#[test]
fn a_delegation_travels_as_bytes() {
    let (alice, bob) = (Author::generate(), Author::generate());
    let delegation = alice.delegate_collection::<Post>(
        bob.owner(),
        7,
        SystemTime::now() + Duration::from_secs(60),
    );
    let bytes = delegation.to_bytes();
    assert_eq!(Delegation::from_bytes(&bytes).unwrap(), delegation);
    assert!(matches!(
        Delegation::from_bytes(&bytes[1..]),
        Err(DatabaseError::MalformedDelegation { .. })
    ));
    let record = bob
        .sign_delegated(
            &post(alice.owner(), 1, "x"),
            &OwnedWrite::after(None),
            &delegation,
        )
        .unwrap();
    assert_eq!(header(&record.value).unwrap().generation, 7);
}

#[test]
fn times_too_far_ahead_are_refused() {
    let alice = Author::generate();
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let ahead = now_ms + MAX_CLOCK_SKEW.as_millis() as u64 + 60_000;
    let future = alice.sign(&profile(&alice, "a"), &write_at(ahead)).unwrap();
    assert_eq!(
        problem::<Profile>(&future),
        OwnershipProblem::FutureTimestamp
    );

    let forever = SystemTime::now() + Duration::from_secs(400 * 86_400);
    let too_long = alice
        .sign(
            &profile(&alice, "a"),
            &OwnedWrite::after(None).expiring_at(forever),
        )
        .unwrap();
    assert_eq!(
        problem::<Profile>(&too_long),
        OwnershipProblem::FutureTimestamp
    );
}

#[test]
fn a_copy_may_not_outlive_its_signed_expiry() {
    let alice = Author::generate();
    let expires = SystemTime::now() + Duration::from_secs(3600);
    let record = alice
        .sign(
            &profile(&alice, "a"),
            &OwnedWrite::after(None).expiring_at(expires),
        )
        .unwrap();
    assert!(record.expires.is_some(), "signing sets the Kademlia expiry");
    assert!(decode_record::<Profile>(&record).is_ok());

    let mut extended = record.clone();
    extended.expires = Some(Instant::now() + Duration::from_secs(48 * 3600));
    assert_eq!(
        problem::<Profile>(&extended),
        OwnershipProblem::ExpiryExtended
    );
    let mut immortal = record.clone();
    immortal.expires = None;
    assert_eq!(
        problem::<Profile>(&immortal),
        OwnershipProblem::ExpiryExtended
    );
    let mut shorter = record;
    shorter.expires = Some(Instant::now() + Duration::from_secs(60));
    assert!(
        decode_record::<Profile>(&shorter).is_ok(),
        "a relayer may shorten"
    );

    let gone = alice
        .sign(
            &profile(&alice, "a"),
            &OwnedWrite::after(None).expiring_at(SystemTime::now() - Duration::from_secs(1)),
        )
        .unwrap();
    assert_eq!(problem::<Profile>(&gone), OwnershipProblem::Expired);
}

#[test]
fn a_key_that_is_not_an_ed25519_key_owns_nothing() {
    // Not every 32 bytes are a point on the curve; a record under such bytes never verifies.
    let bogus = (0..=255u8)
        .map(|byte| Owner([byte; 32]))
        .find(|owner| owner.public_key().is_none())
        .expect("some repeated byte is not a curve point");
    let alice = Author::generate();
    let mut record = alice
        .sign(&profile(&alice, "a"), &OwnedWrite::after(None))
        .unwrap();
    record.key = Profile::record_key(&ProfileKey(bogus)).unwrap();
    assert!(decode_record::<Profile>(&record).is_err());
}

fn signed_post(sequence: u64, generation: u64) -> (Author, Record) {
    let alice = Author::generate();
    let write = OwnedWrite {
        generation,
        sequence,
        expires: None,
        deleted: false,
    };
    let record = alice.sign(&post(alice.owner(), 9, "text"), &write).unwrap();
    (alice, record)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_round_trips(text in ".{0,40}", id in any::<u32>(), sequence in 0u64..1_700_000_000_000, generation in any::<u64>(), deleted in any::<bool>()) {
        let alice = Author::generate();
        let value = post(alice.owner(), id, &text);
        let write = OwnedWrite { generation, sequence, expires: None, deleted };
        let record = alice.sign(&value, &write).unwrap();
        let expected = if deleted { Stored::Deleted(value) } else { Stored::Value(value) };
        prop_assert_eq!(decode_record::<Post>(&record).unwrap(), expected);
        let header = header(&record.value).unwrap();
        prop_assert_eq!((header.generation, header.sequence, header.deleted), (generation, sequence, deleted));
    }

    #[test]
    fn any_single_byte_change_fails_verification(at in any::<prop::sample::Index>(), flip in 1u8..=255, in_key in any::<bool>()) {
        let (_, record) = signed_post(1_000, 0);
        let mut changed = record.clone();
        if in_key {
            let mut key = record.key.to_vec();
            let i = at.index(key.len());
            key[i] ^= flip;
            changed.key = netabase::kad::RecordKey::from(key);
        } else {
            let i = at.index(changed.value.len());
            changed.value[i] ^= flip;
        }
        prop_assert!(decode_record::<Post>(&changed).is_err());
    }

    #[test]
    fn write_order_is_total_and_follows_generation_then_sequence(a in (0u64..4, 0u64..1_000), b in (0u64..4, 0u64..1_000)) {
        let (_, first) = signed_post(a.1, a.0);
        let (_, second) = signed_post(b.1, b.0);
        let order = compare_values::<Post>(&first.value, &second.value).unwrap();
        let reverse = compare_values::<Post>(&second.value, &first.value).unwrap();
        prop_assert_eq!(order, reverse.reverse(), "antisymmetric");
        if a != b {
            prop_assert_eq!(order, a.cmp(&b), "(generation, sequence) decides");
        }
        prop_assert_eq!(compare_values::<Post>(&first.value, &first.value).unwrap(), std::cmp::Ordering::Equal);
        // The order lives in the leading bytes, so byte-order nodes agree.
        prop_assert_eq!(first.value[..HEADER_LEN].cmp(&second.value[..HEADER_LEN]) == std::cmp::Ordering::Less, a < b);
    }
}

/// The worked example of `docs/record-format.md` ("Owned records"): a fixed key signs a fixed
/// write, and ed25519 signatures are deterministic, so every byte is pinned.
#[test]
fn worked_example_has_the_documented_bytes() {
    let keypair = netabase::Keypair::ed25519_from_bytes([1u8; 32]).unwrap();
    let ada = Author::from_keypair(keypair).unwrap();
    let value = profile(&ada, "ada");
    let record = ada.sign(&value, &write_at(1_767_225_600_000)).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    println!("key   {}", hex(record.key.as_ref()));
    println!("value {}", hex(&record.value));
    assert_eq!(
        ada.owner().to_string(),
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    );
    assert_eq!(hex(record.key.as_ref()), DOCUMENTED_KEY);
    assert_eq!(hex(&record.value), DOCUMENTED_VALUE);
    assert_eq!(Profile::from_record(&record).unwrap(), value);
}

const DOCUMENTED_KEY: &str = "2f736f6369616c2f50726f66696c652f8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
const DOCUMENTED_VALUE: &str = concat!(
    "01",
    "0000000000000000",
    "0000019b76daa800",
    "0000000000000000",
    "00",
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
    "03616461",
    "f03c3488fd84e786ce5efdc418e61597c94be8450f606f1d509a92c35df13518",
    "725bb6b3c11758f9496769e6b495f506e9ea3b67b0bd315649a954802be24a01",
);
