//! What a failed `#[derive(NetabaseSchema)]` still emits next to its errors (thiserror's
//! `fallback.rs`): a stub impl of the trait, the key type when its rules held, and the record
//! conversions, so the user sees the derive's own errors and not a cascade from every use of the type.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Input;
use crate::expand;
use crate::valid::{KeyPlan, Schema};

/// The compile `error` followed by stub impls that make the rest of the crate type-check.
pub(crate) fn schema(
    input: &Input<'_>,
    schema: &Schema<'_>,
    runtime: &TokenStream,
    error: syn::Error,
) -> TokenStream {
    let error = error.to_compile_error();
    let ident = input.ident();
    let private = quote!(#runtime::__private);
    // Deferred like the stub impl's own bound, so the conversions add no errors either.
    let bound = quote!(where for<'__netabase_workaround> #ident: #private::NetabaseSchema);
    let (generated_key, key_ty) = match &schema.key {
        Some(key @ (KeyPlan::Fields { .. } | KeyPlan::Variants { .. })) => (
            expand::generated_key(input, key, runtime, &bound),
            expand::key_type(input, key),
        ),
        // A custom key type may be the mistake itself; the stand-in implements the key trait.
        _ => (TokenStream::new(), quote!(#private::FallbackKey)),
    };

    let mut generics = input.original.generics.clone();
    let (_, ty_generics, _) = input.original.generics.split_for_impl();
    // The higher-ranked bound defers the supertrait check to uses of the impl (trivial bounds are
    // unstable), so a type that is not also `Serialize` gets no second error from the stub.
    generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote! {
            for<'__netabase_workaround> #ident #ty_generics: #private::serde::Serialize
                + #private::serde::de::DeserializeOwned
                + ::core::marker::Send
                + ::core::marker::Sync
                + 'static
        });
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let record_conversions = input
        .original
        .generics
        .params
        .is_empty()
        .then(|| expand::record_conversions(ident, &private, &bound));

    quote! {
        #error

        #generated_key

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #private::NetabaseSchema for #ident #ty_generics #where_clause {
                type Key = #key_ty;
                const NAMESPACE: &'static str = "";
                const NAME: &'static str = "";

                fn key(&self) -> Self::Key {
                    ::core::unreachable!()
                }
            }

            #record_conversions
        };
    }
}
