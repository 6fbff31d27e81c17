//! Code generation for both derives.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident};

use crate::ast::{Input, Style};
use crate::attr::{self, Container};
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::runtime;
use crate::valid::{self, ConflictPlan, IndexPlan, IndexValue, KeyPlan, Schema};

/// `#[derive(NetabaseSchema)]`.
pub(crate) fn derive_schema(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::new();
    let ast = Input::from_ast(&mut cx, input);
    let schema = valid::check(&mut cx, &ast);
    let runtime = runtime::path(&mut cx, ast.attrs.krate.as_ref(), &input.ident);
    match (cx.check(), runtime) {
        (Ok(()), Some(runtime)) => match &schema.key {
            Some(key) => schema_impl(&ast, &schema, key, &runtime),
            // `valid::check` records an error whenever it yields no key plan.
            None => TokenStream::new(),
        },
        (Err(error), Some(runtime)) => fallback::schema(&ast, &schema, &runtime, error),
        (Err(error), None) => error.to_compile_error(),
        // `runtime::path` records an error whenever it yields no path.
        (Ok(()), None) => TokenStream::new(),
    }
}

/// `#[derive(NetabaseSchemaKey)]`.
pub(crate) fn derive_schema_key(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::new();
    let attrs = Container::from_attrs(&mut cx, &input.attrs, attr::KEY_OPTIONS);
    if let syn::Data::Union(data) = &input.data {
        cx.error_spanned_by(
            data.union_token,
            "`NetabaseSchemaKey` cannot be derived for a union: a key is a struct or an enum that \
             serde can encode",
        );
    }
    for lifetime in input.generics.lifetimes() {
        cx.error_spanned_by(
            lifetime,
            "a key type cannot borrow: keys are decoded from record keys into owned data \
             (`NetabaseSchemaKey: DeserializeOwned + 'static`); use owned types such as `String`",
        );
    }
    let runtime = runtime::path(&mut cx, attrs.krate.as_ref(), &input.ident);
    let Some(runtime) = runtime else {
        return cx
            .check()
            .err()
            .map_or_else(TokenStream::new, |e| e.to_compile_error());
    };
    match cx.check() {
        Ok(()) => schema_key_impl(input, &runtime, false),
        Err(error) => {
            let error = error.to_compile_error();
            let stub = (input.generics.lifetimes().next().is_none())
                .then(|| schema_key_impl(input, &runtime, true));
            quote!(#error #stub)
        }
    }
}

/// `impl NetabaseSchemaKey for T {}`, bounded on the supertraits when `T` is generic (and, for a
/// fallback, always, so that a failed derive adds no errors of its own).
fn schema_key_impl(input: &DeriveInput, runtime: &TokenStream, deferred: bool) -> TokenStream {
    let ident = &input.ident;
    let private = quote!(#runtime::__private);
    let mut generics = input.generics.clone();
    let (_, ty_generics, _) = input.generics.split_for_impl();
    if deferred || !input.generics.params.is_empty() {
        let workaround = deferred.then(|| quote!(for<'__netabase_workaround>));
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote! {
                #workaround #ident #ty_generics: #private::serde::Serialize
                    + #private::serde::de::DeserializeOwned
                    + ::core::clone::Clone
                    + ::core::fmt::Debug
                    + ::core::cmp::Eq
                    + ::core::hash::Hash
                    + ::core::cmp::Ord
                    + ::core::marker::Send
                    + ::core::marker::Sync
                    + 'static
            });
    }
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #private::NetabaseSchemaKey for #ident #ty_generics #where_clause {}
        };
    }
}

/// The full expansion for a schema whose rules hold.
fn schema_impl(
    input: &Input<'_>,
    schema: &Schema<'_>,
    key: &KeyPlan<'_>,
    runtime: &TokenStream,
) -> TokenStream {
    let ident = input.ident();
    let private = quote!(#runtime::__private);
    let bound = quote!(where #ident: #private::NetabaseSchema);
    let generated_key = generated_key(input, key, runtime, &bound);
    let key_ty = key_type(input, key);
    let key_body = key_body(input, key);
    let name = &schema.name;
    let namespace = match &schema.namespace {
        Some(namespace) => quote!(#namespace),
        None => quote!(#private::DEFAULT_NAMESPACE),
    };
    let (rule, conflict_order) = conflict(&schema.conflict, &private);
    let record_conversions = record_conversions(ident, &private, &bound);
    let owned = schema.owned.map(|_| {
        quote!(
            const OWNED: bool = true;
        )
    });
    // A type error on the key's first field when it is not the owner.
    let owner_check = schema.owned.flatten().map(|ty| {
        quote_spanned! {ty.span()=>
            const _: fn() = || {
                fn owner_first<T: #private::OwnerField>() {}
                owner_first::<#ty>();
            };
        }
    });
    let (index_items, index_handles) = indexes(input, &schema.indexes, &private);
    let version_items = versions(schema.version, &private);
    quote! {
        #generated_key
        #index_handles

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #private::NetabaseSchema for #ident {
                type Key = #key_ty;
                const NAMESPACE: &'static str = #namespace;
                const NAME: &'static str = #name;
                const CONFLICT_RULE: #private::ConflictRule = #private::ConflictRule::#rule;
                #owned
                #index_items
                #version_items

                #[inline]
                fn key(&self) -> Self::Key {
                    #key_body
                }

                #conflict_order
            }

            #owner_check
            #record_conversions
        };
    }
}

/// For `#[netabase(version = N, from = Previous)]`: `VERSION`, and `from_older` reading an older
/// value as `Previous` (which reads its own older ones) and converting it with `From`.
fn versions(version: Option<(u32, Option<&syn::Path>)>, private: &TokenStream) -> TokenStream {
    let Some((number, from)) = version else {
        return TokenStream::new();
    };
    let from_older = from.map(|from| {
        let message = format!(
            "`from` must name an older version of the schema: its `version` is below {number}"
        );
        quote! {
            fn from_older(
                version: u32,
                bytes: &[u8],
            ) -> #private::DatabaseResult<Self> {
                const _: () = ::core::assert!(
                    <#from as #private::NetabaseSchema>::VERSION < #number,
                    #message
                );
                let _ = version;
                <#from as #private::NetabaseSchema>::from_bytes(bytes)
                    .map(<Self as ::core::convert::From<#from>>::from)
            }
        }
    });
    quote! {
        const VERSION: u32 = #number;
        #from_older
    }
}

/// For a schema with `#[index]` fields: its `INDEXES` and `index_keys` (inside the trait impl),
/// and a `by_<field>()` handle per index (an inherent impl). Nothing without indexes.
fn indexes(
    input: &Input<'_>,
    plans: &[IndexPlan<'_>],
    private: &TokenStream,
) -> (TokenStream, TokenStream) {
    if plans.is_empty() {
        return (TokenStream::new(), TokenStream::new());
    }
    let ident = input.ident();
    let vis = &input.original.vis;
    let defs = plans.iter().map(|plan| {
        let name = &plan.name;
        let unique = plan.unique;
        quote!(#private::IndexDef { name: #name, unique: #unique })
    });
    let keys = plans.iter().enumerate().map(|(position, plan)| {
        let value = match plan.value {
            IndexValue::Field(field) => quote!(&self.#field),
            IndexValue::Computed(function) => {
                let ty = plan.ty;
                quote_spanned!(function.span()=> &{
                    let value: #ty = #function(self);
                    value
                })
            }
        };
        quote!((#position, #private::order_key::<Self>(#value)?))
    });
    let items = quote! {
        const INDEXES: &'static [#private::IndexDef] = &[#(#defs,)*];

        fn index_keys(&self) -> #private::DatabaseResult<#private::IndexKeys> {
            #private::Result::Ok(::std::vec![#(#keys,)*])
        }
    };
    let handles = plans.iter().enumerate().map(|(position, plan)| {
        let name = &plan.name;
        let function = format_ident!("by_{}", name);
        let ty = plan.ty;
        let kind = if plan.unique { "unique index" } else { "index" };
        let on = match plan.value {
            IndexValue::Field(_) => format!("the `{name}` field"),
            IndexValue::Computed(path) => {
                format!("`{}`", quote!(#path).to_string().replace(' ', ""))
            }
        };
        let doc = format!(
            "The {kind} `{name}` of [`{ident}`], on {on}, for the store's index queries \
             (`RedbStore::find`, `find_range`, ...). Generated by `#[derive(NetabaseSchema)]`."
        );
        quote! {
            #[doc = #doc]
            #[must_use]
            #vis const fn #function() -> #private::Index<#ident, #ty> {
                #private::Index::new(#position)
            }
        }
    });
    let handles = quote! {
        #[automatically_derived]
        impl #ident {
            #(#handles)*
        }
    };
    (items, handles)
}

/// The name of the key type the derive generates: `#[netabase(key_name = ...)]`, else `{Name}Key`.
pub(crate) fn key_ident(input: &Input<'_>) -> Ident {
    match &input.attrs.key_name {
        Some(name) => name.value.clone(),
        None => format_ident!("{}Key", input.ident()),
    }
}

/// The type named by `type Key = ...;`.
pub(crate) fn key_type(input: &Input<'_>, key: &KeyPlan<'_>) -> TokenStream {
    match key {
        KeyPlan::Custom { ty, .. } => quote!(#ty),
        KeyPlan::Fields { .. } | KeyPlan::Variants { .. } => {
            let key_ident = key_ident(input);
            quote!(#key_ident)
        }
    }
}

/// The generated `{Name}Key` type with its `NetabaseSchemaKey` impl and its conversions to and from
/// `RecordKey`; nothing for a custom key type (orphan rules forbid conversions on it, and several
/// schemas may share it, so users call `T::record_key` instead).
pub(crate) fn generated_key(
    input: &Input<'_>,
    key: &KeyPlan<'_>,
    runtime: &TokenStream,
    bound: &TokenStream,
) -> TokenStream {
    let private = quote!(#runtime::__private);
    let ident = input.ident();
    let vis = &input.original.vis;
    let key_ident = key_ident(input);
    let body = match key {
        KeyPlan::Custom { .. } => return TokenStream::new(),
        KeyPlan::Fields { fields, .. } if fields.len() == 1 => {
            let field = public(fields[0].ty.span(), fields[0].ty);
            quote!((#field);)
        }
        KeyPlan::Fields {
            style: Style::Named,
            fields,
        } => {
            let fields = fields.iter().map(|field| {
                let member = &field.member;
                let ty = field.ty;
                let doc = format!("The `{}` field of [`{ident}`].", quote!(#member));
                let field = public(member.span(), quote!(#member: #ty));
                quote!(#[doc = #doc] #field)
            });
            quote!({ #(#fields,)* })
        }
        KeyPlan::Fields { fields, .. } => {
            let fields = fields.iter().map(|field| public(field.ty.span(), field.ty));
            quote!(( #(#fields,)* );)
        }
        KeyPlan::Variants { ty, .. } => {
            let field = public(ty.span(), ty);
            quote!((#field);)
        }
    };
    let doc = format!(
        "The key of a [`{ident}`]: what identifies one value, encoded into its record key. \
         Generated by `#[derive(NetabaseSchema)]`."
    );
    let serde_crate = quote!(#private::serde).to_string();
    let conversions = key_conversions(ident, &key_ident, &private, bound);
    quote! {
        #[doc = #doc]
        // The name follows the schema's; a schema that silences this lint for itself should not
        // get the warning back on its key.
        #[allow(non_camel_case_types)]
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
            #private::serde::Serialize,
            #private::serde::Deserialize,
        )]
        #[serde(crate = #serde_crate)]
        #vis struct #key_ident #body

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #private::NetabaseSchemaKey for #key_ident {}

            #conversions
        };
    }
}

/// `pub` followed by `field`, with `pub` spanned like the field: errors the key type's derives
/// report on a field (`f64: Ord` is not satisfied) then point at the user's field, not the derive.
fn public(span: Span, field: impl quote::ToTokens) -> TokenStream {
    quote_spanned!(span=> pub #field)
}

/// The body of `fn key(&self) -> Self::Key`.
fn key_body(input: &Input<'_>, key: &KeyPlan<'_>) -> TokenStream {
    let key_ident = key_ident(input);
    let clone = |value: TokenStream| quote!(::core::clone::Clone::clone(#value));
    match key {
        KeyPlan::Fields { fields, .. } if fields.len() == 1 => {
            let member = &fields[0].member;
            let value = clone(quote!(&self.#member));
            quote!(#key_ident(#value))
        }
        KeyPlan::Fields {
            style: Style::Named,
            fields,
        } => {
            let members = fields.iter().map(|field| &field.member);
            let values = fields.iter().map(|field| {
                let member = &field.member;
                clone(quote!(&self.#member))
            });
            quote!(#key_ident { #(#members: #values,)* })
        }
        KeyPlan::Fields { fields, .. } => {
            let values = fields.iter().map(|field| {
                let member = &field.member;
                clone(quote!(&self.#member))
            });
            quote!(#key_ident(#(#values,)*))
        }
        KeyPlan::Variants { variants, .. } => {
            let value = clone(quote!(__netabase_key));
            let arms = variants.iter().map(|(variant, field)| {
                let variant = variant.ident;
                let member = &field.member;
                quote!(Self::#variant { #member: __netabase_key, .. } => #key_ident(#value),)
            });
            quote!(match self { #(#arms)* })
        }
        KeyPlan::Custom { ty, function } => quote_spanned! {function.span()=>
            let key_fn: fn(&Self) -> #ty = #function;
            key_fn(self)
        },
    }
}

/// The `ConflictRule` variant and the `conflict_order` override, if any.
fn conflict(plan: &ConflictPlan<'_>, private: &TokenStream) -> (Ident, TokenStream) {
    let rule = |name: &str| Ident::new(name, Span::call_site());
    let signature = quote!(fn conflict_order(a: &Self, b: &Self) -> #private::Ordering);
    match plan {
        ConflictPlan::ByteOrder => (rule("ByteOrder"), TokenStream::new()),
        ConflictPlan::StructVersion(field) => {
            let member = &field.member;
            let compare = quote_spanned! {field.ty.span()=>
                ::core::cmp::Ord::cmp(&a.#member, &b.#member)
            };
            (rule("Version"), quote!(#signature { #compare }))
        }
        ConflictPlan::VariantVersion { ty, variants } => {
            let arms = variants.iter().map(|(variant, field)| {
                let variant = variant.ident;
                let member = &field.member;
                quote!(Self::#variant { #member: __netabase_version, .. } => __netabase_version,)
            });
            let arms: Vec<TokenStream> = arms.collect();
            let body = quote_spanned! {ty.span()=>
                <#ty as ::core::cmp::Ord>::cmp(
                    match a { #(#arms)* },
                    match b { #(#arms)* },
                )
            };
            (rule("Version"), quote!(#signature { #body }))
        }
        ConflictPlan::Resolver(path) => {
            let body = quote_spanned! {path.span()=>
                let resolver: fn(&Self, &Self) -> #private::Ordering = #path;
                resolver(a, b)
            };
            (rule("Custom"), quote!(#signature { #body }))
        }
    }
}

/// `TryFrom` between the schema (owned and borrowed) and `kad::Record`.
///
/// `bound` is `where T: NetabaseSchema`: it holds through the impl above, and lets the bodies assume
/// the trait's supertraits, so a type that is not `Serialize` gets the error once, on the trait
/// impl, rather than once per conversion.
pub(crate) fn record_conversions(
    ident: &Ident,
    private: &TokenStream,
    bound: &TokenStream,
) -> TokenStream {
    let schema = quote!(<#ident as #private::NetabaseSchema>);
    let record = quote!(#private::Record);
    let to_record = try_from_owned_and_borrowed(
        &quote!(#ident),
        &record,
        &quote!(#schema::to_record),
        private,
        bound,
    );
    let from_record = try_from_owned_and_borrowed(
        &record,
        &quote!(#ident),
        &quote!(#schema::from_record),
        private,
        bound,
    );
    quote!(#to_record #from_record)
}

/// `TryFrom` between the generated key type (owned and borrowed) and `kad::RecordKey`.
fn key_conversions(
    ident: &Ident,
    key_ident: &Ident,
    private: &TokenStream,
    bound: &TokenStream,
) -> TokenStream {
    let schema = quote!(<#ident as #private::NetabaseSchema>);
    let record_key = quote!(#private::RecordKey);
    let to_record_key = try_from_owned_and_borrowed(
        &quote!(#key_ident),
        &record_key,
        &quote!(#schema::record_key),
        private,
        bound,
    );
    let from_record_key = try_from_owned_and_borrowed(
        &record_key,
        &quote!(#key_ident),
        &quote!(#schema::key_from_record_key),
        private,
        bound,
    );
    quote!(#to_record_key #from_record_key)
}

/// `impl TryFrom<Source> for Target` and `impl TryFrom<&Source> for Target`, both calling
/// `convert(&Source) -> Result<Target, DatabaseError>`.
fn try_from_owned_and_borrowed(
    source: &TokenStream,
    target: &TokenStream,
    convert: &TokenStream,
    private: &TokenStream,
    bound: &TokenStream,
) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl #private::TryFrom<#source> for #target
        #bound
        {
            type Error = #private::DatabaseError;

            #[inline]
            fn try_from(source: #source) -> #private::Result<Self, Self::Error> {
                #convert(&source)
            }
        }

        #[automatically_derived]
        impl<'__netabase> #private::TryFrom<&'__netabase #source> for #target
        #bound
        {
            type Error = #private::DatabaseError;

            #[inline]
            fn try_from(source: &'__netabase #source) -> #private::Result<Self, Self::Error> {
                #convert(source)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: DeriveInput) -> String {
        derive_schema(&input).to_string()
    }

    #[test]
    fn a_valid_schema_expands_to_the_impl_and_its_key_type() {
        let output = expand(syn::parse_quote! {
            pub struct User {
                #[key]
                id: u64,
                name: String,
            }
        });
        assert!(
            output.contains("pub struct UserKey (pub u64) ;"),
            "{output}"
        );
        assert!(
            output.contains("impl :: netabase :: __private :: NetabaseSchema for User"),
            "{output}"
        );
        assert!(
            output.contains("const NAME : & 'static str = \"User\""),
            "{output}"
        );
        assert!(!output.contains("compile_error"), "{output}");
    }

    #[test]
    fn every_mistake_becomes_a_compile_error_next_to_a_stub_impl() {
        let inputs: Vec<DeriveInput> = vec![
            syn::parse_quote!(
                struct NoKey {
                    id: u64,
                }
            ),
            syn::parse_quote!(
                struct Unit;
            ),
            syn::parse_quote!(
                struct Generic<T> {
                    #[key]
                    id: T,
                }
            ),
            syn::parse_quote!(
                struct Borrowing<'a> {
                    #[key]
                    id: &'a str,
                }
            ),
            syn::parse_quote!(union Bits { a: u32 }),
            syn::parse_quote!(
                enum Empty {}
            ),
            syn::parse_quote!(
                enum Mixed {
                    A {
                        #[key]
                        id: u8,
                    },
                    B(#[key] u16),
                    C,
                }
            ),
            syn::parse_quote!(
                #[netabase(name = "", nope, key = u8)]
                struct Options {
                    id: u8,
                }
            ),
            syn::parse_quote!(
                #[netabase(name = 1, name = "x/y")]
                struct Names {
                    #[key]
                    id: u8,
                }
            ),
            syn::parse_quote!(
                #[netabase]
                struct Bare {
                    #[key]
                    id: u8,
                }
            ),
            syn::parse_quote!(
                #[netabase(resolver = r, key_fn)]
                struct Fns {
                    #[key]
                    #[version]
                    #[version]
                    id: u8,
                }
            ),
            syn::parse_quote!(
                #[key]
                struct Misplaced {
                    #[netabase(name = "x")]
                    #[key(a)]
                    id: u8,
                }
            ),
        ];
        for input in inputs {
            let name = input.ident.to_string();
            let output = expand(input);
            assert!(output.contains("compile_error"), "{name}: {output}");
            assert!(output.contains("NetabaseSchema for"), "{name}: {output}");
        }
    }

    #[test]
    fn errors_are_collected_not_stopped_at_the_first() {
        let output = expand(syn::parse_quote! {
            #[netabase(name = "a/b", colour = "blue")]
            struct Doc {
                id: u64,
                #[version]
                a: u64,
                #[version]
                b: u64,
            }
        });
        assert_eq!(output.matches("compile_error").count(), 4, "{output}");
    }

    #[test]
    fn the_key_derive_rejects_unions_and_lifetimes() {
        let union: DeriveInput = syn::parse_quote!(union Bits { a: u32 });
        assert!(
            derive_schema_key(&union)
                .to_string()
                .contains("compile_error")
        );
        let borrowed: DeriveInput = syn::parse_quote!(
            struct Key<'a>(&'a str);
        );
        let output = derive_schema_key(&borrowed).to_string();
        assert!(output.contains("compile_error"), "{output}");
        assert!(!output.contains("NetabaseSchemaKey for"), "{output}");
        let generic: DeriveInput = syn::parse_quote!(
            struct Id<T>(u64, T);
        );
        let output = derive_schema_key(&generic).to_string();
        assert!(output.contains("where Id < T > :"), "{output}");
    }
}
