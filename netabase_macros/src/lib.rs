//! Derive macros for Netabase schemas. Use them through `netabase` or `netabase_store`.
use proc_macro::TokenStream;

/// Derives `NetabaseSchema`.
#[proc_macro_derive(NetabaseSchema, attributes(key, version, netabase))]
pub fn derive_schema(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// Derives `NetabaseSchemaKey`.
#[proc_macro_derive(NetabaseSchemaKey, attributes(netabase))]
pub fn derive_schema_key(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
