//! Schemas of several shapes and proptest strategies for them, shared by the property tests.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::BTreeMap;

use netabase::{NetabaseSchema, NetabaseSchemaKey};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Strings, an option, a nested struct, a vec and two maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Profile {
    #[key]
    pub handle: String,
    pub display: String,
    pub bio: Option<String>,
    pub address: Address,
    pub tags: Vec<String>,
    pub scores: BTreeMap<String, i64>,
    pub flags: BTreeMap<u8, bool>,
}

/// Nested in [`Profile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub number: u16,
    pub coordinates: Option<(f64, f64)>,
}

/// A composite key of a string and an integer, and an enum field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "groups")]
pub struct Membership {
    #[key]
    pub group: String,
    pub role: Role,
    #[key]
    pub member: u64,
    pub joined: i64,
}

/// Held by [`Membership`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Admin { since: u32 },
    Member(String),
}

/// An enum schema whose variants all carry a `u64` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub enum Activity {
    Post {
        #[key]
        id: u64,
        text: String,
    },
    Like(#[key] u64, u64),
    Share {
        from: String,
        #[key]
        id: u64,
        to: Vec<String>,
    },
}

/// A tuple struct with a tuple key of two fields, and bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Sample(#[key] u32, #[key] i8, pub Vec<f32>, pub Vec<u8>);

/// A key type of the user's own.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, NetabaseSchemaKey,
)]
pub struct Coordinates {
    pub x: i32,
    pub y: i32,
}

/// A schema keyed by a function, with a `#[version]` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = Coordinates, key_fn = Tile::coordinates)]
pub struct Tile {
    pub x: i32,
    pub y: i32,
    #[version]
    pub revision: u8,
    pub terrain: String,
}

impl Tile {
    fn coordinates(&self) -> Coordinates {
        Coordinates {
            x: self.x,
            y: self.y,
        }
    }
}

/// A schema with a resolver: the longer text wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver = longer_text)]
pub struct Draft {
    #[key]
    pub id: u8,
    pub text: String,
    pub priority: u8,
}

fn longer_text(a: &Draft, b: &Draft) -> Ordering {
    a.text.len().cmp(&b.text.len())
}

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, short: lengths and multi-byte characters are what the encoding cares about.
    ".{0,12}"
}

fn finite_f64() -> impl Strategy<Value = f64> {
    -1.0e9..1.0e9
}

pub fn address() -> impl Strategy<Value = Address> {
    (
        text(),
        any::<u16>(),
        option::of((finite_f64(), finite_f64())),
    )
        .prop_map(|(street, number, coordinates)| Address {
            street,
            number,
            coordinates,
        })
}

pub fn profile() -> impl Strategy<Value = Profile> {
    (
        text(),
        text(),
        option::of(text()),
        address(),
        vec(text(), 0..4),
        btree_map(text(), any::<i64>(), 0..4),
        btree_map(any::<u8>(), any::<bool>(), 0..4),
    )
        .prop_map(
            |(handle, display, bio, address, tags, scores, flags)| Profile {
                handle,
                display,
                bio,
                address,
                tags,
                scores,
                flags,
            },
        )
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Owner),
        any::<u32>().prop_map(|since| Role::Admin { since }),
        text().prop_map(Role::Member),
    ]
}

pub fn membership() -> impl Strategy<Value = Membership> {
    (text(), role(), any::<u64>(), any::<i64>()).prop_map(|(group, role, member, joined)| {
        Membership {
            group,
            role,
            member,
            joined,
        }
    })
}

pub fn activity() -> impl Strategy<Value = Activity> {
    prop_oneof![
        (any::<u64>(), text()).prop_map(|(id, text)| Activity::Post { id, text }),
        (any::<u64>(), any::<u64>()).prop_map(|(id, by)| Activity::Like(id, by)),
        (text(), any::<u64>(), vec(text(), 0..3)).prop_map(|(from, id, to)| Activity::Share {
            from,
            id,
            to
        }),
    ]
}

pub fn sample() -> impl Strategy<Value = Sample> {
    (
        any::<u32>(),
        any::<i8>(),
        vec(-1.0e6f32..1.0e6, 0..4),
        vec(any::<u8>(), 0..16),
    )
        .prop_map(|(a, b, floats, bytes)| Sample(a, b, floats, bytes))
}

pub fn tile() -> impl Strategy<Value = Tile> {
    (any::<i32>(), any::<i32>(), any::<u8>(), text()).prop_map(|(x, y, revision, terrain)| Tile {
        x,
        y,
        revision,
        terrain,
    })
}

pub fn draft() -> impl Strategy<Value = Draft> {
    (any::<u8>(), text(), any::<u8>()).prop_map(|(id, text, priority)| Draft { id, text, priority })
}
