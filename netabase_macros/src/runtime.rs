//! Finds the path of the runtime crate that generated code reaches everything through.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::attr::{self, Opt};
use crate::ctxt::Ctxt;

/// The crates that expose `__private`, in the order they are looked for. `netabase_store`
/// re-exports `netabase`, so a user may depend on either.
const RUNTIME_CRATES: &[&str] = &["netabase", "netabase_store"];

/// The runtime crate's path: `#[netabase(crate = ...)]` if given, else the name under which the
/// user's `Cargo.toml` depends on `netabase` or `netabase_store` (renamed dependencies included).
///
/// Records an error spanning `span_of` when neither crate is a dependency.
pub(crate) fn path<T: ToTokens>(
    cx: &mut Ctxt,
    explicit: Option<&Opt<syn::Path>>,
    span_of: T,
) -> Option<TokenStream> {
    if let Some(opt) = explicit {
        return Some(opt.value.to_token_stream());
    }
    for name in RUNTIME_CRATES {
        match crate_name(name) {
            // `netabase` declares `extern crate self as netabase`, so its own tests and doctests
            // reach themselves by the same absolute path as every other crate.
            Ok(FoundCrate::Itself) => return crate_path(cx, name, &span_of),
            Ok(FoundCrate::Name(found)) => return crate_path(cx, &found, &span_of),
            Err(_) => continue,
        }
    }
    cx.error_spanned_by(
        span_of,
        format!(
            "cannot find the `netabase` crate: add `netabase` (or `netabase_store`) to \
             `[dependencies]` in Cargo.toml, or give its path with `#[{}({} = \"path::to::netabase\")]`",
            attr::NETABASE,
            attr::CRATE
        ),
    );
    None
}

/// `::name`, or an error when the dependency's name is not usable as an identifier (a keyword).
fn crate_path<T: ToTokens>(cx: &mut Ctxt, name: &str, span_of: &T) -> Option<TokenStream> {
    match syn::parse_str::<syn::Ident>(name) {
        Ok(ident) => Some(quote!(::#ident)),
        Err(_) => {
            cx.error_spanned_by(
                span_of,
                format!(
                    "the runtime crate is renamed to `{name}`, which is not a usable identifier; \
                     give its path with `#[{}({} = \"...\")]`",
                    attr::NETABASE,
                    attr::CRATE
                ),
            );
            None
        }
    }
}
