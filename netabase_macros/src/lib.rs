//! Derive macros for Netabase schemas. Use them through `netabase` (or `netabase_store`), which
//! re-export them under the names of the traits they implement.
//!
//! The pipeline is visible in the modules: `ast` models the input, `attr` parses the attributes
//! (their names are constants there), `valid` checks the rules, `expand` generates code, and
//! `fallback` emits stub impls next to errors so that one mistake gives one error.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod runtime;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

#[doc = include_str!("schema.md")]
#[proc_macro_derive(NetabaseSchema, attributes(key, version, index, netabase))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_schema(&input).into()
}

#[doc = include_str!("schema_key.md")]
#[proc_macro_derive(NetabaseSchemaKey, attributes(netabase))]
pub fn derive_schema_key(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_schema_key(&input).into()
}
