//! Secondary indexes: what a schema declares (`#[index]` and `#[index(unique)]` on its fields),
//! and the order-preserving encoding of index values.
//!
//! Indexes are local: a store keeps them in its own tables, in the same transaction as each
//! record, and they never travel with the record (`docs/record-format.md` is unchanged). Index
//! values are encoded with [memcomparable](https://docs.rs/memcomparable), whose bytes sort as the
//! values do: integers numerically (signed ones too), strings and byte strings lexicographically,
//! `Option` with `None` first, tuples and structs field by field, enums by variant then fields.
//! Floats sort numerically with NaN last.

use std::marker::PhantomData;

use serde::Serialize;

use crate::error::{DatabaseError, DatabaseResult};
use crate::schema::NetabaseSchema;

/// One secondary index of a schema, as its derive declares it: the field's name, and whether two
/// values of the schema may share an index value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    /// The index's name: the field's.
    pub name: &'static str,
    /// Whether at most one value of the schema may hold each index value (`#[index(unique)]`).
    pub unique: bool,
}

/// A typed handle on index number `position` of schema `V`, whose values are `T`: what a query
/// takes. The derive writes one per indexed field, `V::by_<field>()`.
pub struct Index<V, T> {
    position: usize,
    _types: PhantomData<fn() -> (V, T)>,
}

impl<V, T> Clone for Index<V, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V, T> Copy for Index<V, T> {}

impl<V, T> std::fmt::Debug for Index<V, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("schema", &std::any::type_name::<V>())
            .field("position", &self.position)
            .finish()
    }
}

impl<V: NetabaseSchema, T: Serialize> Index<V, T> {
    /// The handle on `V::INDEXES[position]`. Written by the derive; a position outside
    /// `V::INDEXES` makes every query with the handle fail with
    /// [`DatabaseError::NoSuchIndex`].
    #[doc(hidden)]
    pub const fn new(position: usize) -> Self {
        Index {
            position,
            _types: PhantomData,
        }
    }

    /// The index's position in `V::INDEXES`.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The index's declaration.
    pub fn def(&self) -> DatabaseResult<&'static IndexDef> {
        V::INDEXES
            .get(self.position)
            .ok_or(DatabaseError::NoSuchIndex {
                schema: V::NAME,
                position: self.position,
            })
    }

    /// The order-preserving bytes of an index value (or of a tuple of its leading fields, for a
    /// prefix query on a tuple-valued index).
    pub fn encode(&self, value: &impl Serialize) -> DatabaseResult<Vec<u8>> {
        order_key::<V>(value)
    }
}

/// The order-preserving (memcomparable) bytes of an index value of schema `V`.
pub fn order_key<V: NetabaseSchema>(value: &(impl Serialize + ?Sized)) -> DatabaseResult<Vec<u8>> {
    memcomparable::to_vec(&value).map_err(|error| DatabaseError::IndexEncode {
        schema: V::NAME,
        detail: error.to_string(),
    })
}

/// The index values of one value of a schema: `(position in INDEXES, order key)` pairs, which a
/// schema's [`NetabaseSchema::index_keys`] fills.
pub type IndexKeys = Vec<(usize, Vec<u8>)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize, NetabaseSchema)]
    struct Plain {
        #[key]
        id: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, NetabaseSchema)]
    struct Person {
        #[key]
        id: u64,
        #[index(unique)]
        email: String,
        #[index]
        age: u32,
    }

    #[test]
    fn the_derive_declares_each_index_and_computes_its_values() {
        assert_eq!(
            Person::INDEXES,
            [
                IndexDef {
                    name: "email",
                    unique: true
                },
                IndexDef {
                    name: "age",
                    unique: false
                },
            ]
        );
        let person = Person {
            id: 1,
            email: "a@example.org".into(),
            age: 42,
        };
        assert_eq!(
            person.index_keys().unwrap(),
            [(0, key("a@example.org")), (1, key(&42u32))]
        );
        assert_eq!(Person::by_email().def().unwrap().name, "email");
        assert_eq!(Person::by_age().position(), 1);
        assert_eq!(Person::by_age().encode(&42u32).unwrap(), key(&42u32));
    }

    #[derive(Debug, Clone, Serialize, Deserialize, NetabaseSchema)]
    #[netabase(index(name = "domain", with = Account::domain, of = String, unique))]
    struct Account {
        #[key]
        email: String,
        #[index]
        age: u32,
    }

    impl Account {
        fn domain(&self) -> String {
            self.email.rsplit('@').next().unwrap_or_default().to_owned()
        }
    }

    #[test]
    fn a_computed_index_follows_the_field_indexes_and_indexes_what_its_function_returns() {
        assert_eq!(
            Account::INDEXES,
            [
                IndexDef {
                    name: "age",
                    unique: false
                },
                IndexDef {
                    name: "domain",
                    unique: true
                },
            ]
        );
        let account = Account {
            email: "ada@example.org".into(),
            age: 36,
        };
        assert_eq!(
            account.index_keys().unwrap(),
            [(0, key(&36u32)), (1, key("example.org"))]
        );
        assert_eq!(Account::by_domain().position(), 1);
    }

    #[derive(Debug, Clone, Serialize, Deserialize, NetabaseSchema)]
    struct Numbered {
        #[key]
        #[index]
        id: u64,
    }

    #[test]
    fn a_key_field_can_be_indexed_for_its_numeric_order() {
        assert_eq!(
            Numbered::INDEXES,
            [IndexDef {
                name: "id",
                unique: false
            }]
        );
        assert_eq!(
            Numbered { id: 256 }.index_keys().unwrap(),
            [(0, key(&256u64))]
        );
        assert!(key(&129u64) < key(&256u64));
    }

    fn key(value: &(impl Serialize + ?Sized)) -> Vec<u8> {
        order_key::<Plain>(value).unwrap()
    }

    #[test]
    fn order_keys_sort_as_their_values() {
        assert!(key(&2u64) < key(&129u64) && key(&129u64) < key(&256u64));
        assert!(key(&-5i64) < key(&-1i64) && key(&-1i64) < key(&3i64));
        assert!(key("alice") < key("bob") && key("al") < key("alice"));
        assert!(key(&None::<u32>) < key(&Some(0u32)));
        assert!(key(&("alice", 9u32)) < key(&("alice", 10u32)));
        assert!(key(&("alice", 10u32)) < key(&("bob", 0u32)));
        assert!(key(&-1.5f64) < key(&0.0f64) && key(&0.0f64) < key(&f64::NAN));
    }

    #[test]
    fn a_tuples_leading_fields_are_a_prefix_of_its_key() {
        let whole = key(&("alice", 2026u32, "a.example"));
        assert!(whole.starts_with(&key(&("alice", 2026u32))));
        assert!(whole.starts_with(&key("alice")));
        assert!(!key(&("alicea", 1u32)).starts_with(&key("alice")));
    }

    #[test]
    fn a_handle_outside_the_schemas_indexes_is_a_clear_error() {
        let error = Index::<Plain, u64>::new(3).def().unwrap_err();
        assert!(
            matches!(
                error,
                DatabaseError::NoSuchIndex {
                    schema: "Plain",
                    position: 3
                }
            ),
            "{error}"
        );
    }
}
