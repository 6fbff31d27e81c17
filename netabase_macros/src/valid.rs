//! The rules a schema must follow, checked on the model from `ast.rs`, and the plan they yield.

use quote::ToTokens;
use syn::{Attribute, Ident, LitStr, Path, Type};

use crate::ast::{Data, Field, Input, Style, Variant};
use crate::attr::{self, Opt};
use crate::ctxt::Ctxt;

/// What `expand.rs` generates for a schema, once the rules hold.
pub(crate) struct Schema<'a> {
    /// The schema name in record keys.
    pub(crate) name: String,
    /// The namespace in record keys, or `None` for `netabase::DEFAULT_NAMESPACE`.
    pub(crate) namespace: Option<String>,
    /// How the key is computed (`None` when the key rules do not hold).
    pub(crate) key: Option<KeyPlan<'a>>,
    /// How conflicts are resolved.
    pub(crate) conflict: ConflictPlan<'a>,
    /// The `#[index]` fields, in declaration order.
    pub(crate) indexes: Vec<IndexPlan<'a>>,
    /// `#[netabase(version = N, from = Previous)]`: the version, and the previous version's type.
    pub(crate) version: Option<(u32, Option<&'a Path>)>,
    /// For `#[netabase(owned)]`: the type of the key's first field, which must be `Owner` (`None`
    /// when the derive cannot see it: a custom key type, checked when records are signed).
    pub(crate) owned: Option<Option<&'a Type>>,
}

/// One secondary index: on a named field of a struct, or on what a function of the value returns.
pub(crate) struct IndexPlan<'a> {
    /// The index's name: the field's, or the computed index's `name`.
    pub(crate) name: String,
    /// The type of its values.
    pub(crate) ty: &'a Type,
    /// Where its value comes from.
    pub(crate) value: IndexValue<'a>,
    /// `#[index(unique)]`, `index(..., unique)`.
    pub(crate) unique: bool,
}

/// Where an index value comes from.
pub(crate) enum IndexValue<'a> {
    /// `self.<field>`.
    Field(&'a Ident),
    /// `<path>(self)`.
    Computed(&'a Path),
}

/// How a schema's key is computed.
pub(crate) enum KeyPlan<'a> {
    /// A generated `{Name}Key` holding clones of the struct's `#[key]` fields.
    Fields {
        /// Whether the struct's fields are named; the key struct is written the same way.
        style: Style,
        /// The `#[key]` fields, in declaration order.
        fields: Vec<&'a Field<'a>>,
    },
    /// A generated newtype `{Name}Key` holding the `#[key]` field every variant carries.
    Variants {
        /// The type of the key field, shared by every variant.
        ty: &'a Type,
        /// Each variant with its `#[key]` field.
        variants: Vec<(&'a Variant<'a>, &'a Field<'a>)>,
    },
    /// The user's own key type and function: `#[netabase(key = ty, key_fn = function)]`.
    Custom {
        /// The key type.
        ty: &'a Type,
        /// A `fn(&Self) -> ty`.
        function: &'a Path,
    },
}

/// How a schema resolves conflicts.
pub(crate) enum ConflictPlan<'a> {
    /// Byte order only.
    ByteOrder,
    /// The struct's `#[version]` field.
    StructVersion(&'a Field<'a>),
    /// The `#[version]` field every variant carries, all of one type.
    VariantVersion {
        /// The version type.
        ty: &'a Type,
        /// Each variant with its `#[version]` field.
        variants: Vec<(&'a Variant<'a>, &'a Field<'a>)>,
    },
    /// `#[netabase(resolver = path)]`.
    Resolver(&'a Path),
}

/// Checks every rule on `input`, recording each violation in `cx`.
pub(crate) fn check<'a>(cx: &mut Ctxt, input: &'a Input<'a>) -> Schema<'a> {
    let generics_ok = check_generics(cx, input);
    let name = match &input.attrs.name {
        Some(opt) => check_segment(cx, opt, "schema name"),
        None => unraw(input.ident()),
    };
    let namespace = input
        .attrs
        .namespace
        .as_ref()
        .map(|opt| check_segment(cx, opt, "namespace"));
    let custom = custom_key(cx, input);
    let key = match &input.data {
        Data::Struct(style, fields) => struct_key(cx, input, *style, fields, custom),
        Data::Enum(variants) => enum_key(cx, input, variants, custom),
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "`NetabaseSchema` cannot be derived for a union: a schema is a struct or an enum",
            );
            None
        }
    };
    check_deterministic(cx, input);
    let conflict = conflict_plan(cx, input);
    let owned = owned_plan(cx, input, key.as_ref(), &conflict);
    let indexes = index_plan(cx, input);
    let version = version_plan(cx, input);
    Schema {
        name,
        namespace,
        key: key.filter(|_| generics_ok),
        conflict,
        indexes,
        version,
        owned,
    }
}

/// `version = N` (at least 1) and `from = Previous` (only with a version above 1); not on owned
/// schemas, whose signed envelopes carry no version yet.
fn version_plan<'a>(cx: &mut Ctxt, input: &'a Input<'a>) -> Option<(u32, Option<&'a Path>)> {
    let from = input.attrs.from.as_ref();
    let Some(version) = &input.attrs.version else {
        if let Some(from) = from {
            cx.error_spanned_by(
                &from.keyword,
                "`from` names the previous version of the schema; give this one its version too: \
                 `#[netabase(version = 2, from = ...)]`",
            );
        }
        return None;
    };
    let number = match version.value.base10_parse::<u32>() {
        Ok(number) if number >= 1 => number,
        _ => {
            cx.error_spanned_by(
                &version.value,
                "a schema version is a whole number from 1 (the unversioned format) up",
            );
            return None;
        }
    };
    if number == 1
        && let Some(from) = from
    {
        cx.error_spanned_by(
            &from.keyword,
            "version 1 is the first: no version comes before it to read `from`",
        );
    }
    if let Some(owned) = &input.attrs.owned {
        cx.error_spanned_by(
            &owned.keyword,
            "versions of an owned schema are not supported yet: its signed values carry no \
             version; keep the owned schema unversioned",
        );
    }
    Some((number, from.map(|from| &from.value)))
}

/// The indexes: the `#[index]` fields (named fields of a struct only: the name names the index
/// and its `by_<field>()` handle), then the computed `index(...)` options; names are unique.
fn index_plan<'a>(cx: &mut Ctxt, input: &'a Input<'a>) -> Vec<IndexPlan<'a>> {
    let mut plans: Vec<IndexPlan<'a>> = match &input.data {
        Data::Struct(_, fields) => fields
            .iter()
            .filter_map(|field| {
                let (attr, unique) = field.index?;
                match &field.member {
                    syn::Member::Named(ident) => Some(IndexPlan {
                        name: unraw(ident),
                        ty: field.ty,
                        value: IndexValue::Field(ident),
                        unique,
                    }),
                    syn::Member::Unnamed(_) => {
                        cx.error_spanned_by(
                            attr,
                            "`#[index]` needs a named field: the field's name names the index \
                             and its `by_<field>()` handle; give the struct named fields",
                        );
                        None
                    }
                }
            })
            .collect(),
        Data::Enum(variants) => {
            for field in variants.iter().flat_map(|variant| &variant.fields) {
                if let Some((attr, _)) = field.index {
                    cx.error_spanned_by(
                        attr,
                        "`#[index]` on an enum variant's field is not supported: a value of \
                         another variant would have no index value; index a field of a struct, \
                         or compute the value: `#[netabase(index(name = ..., with = ..., of = ...))]`",
                    );
                }
            }
            Vec::new()
        }
        Data::Union(_) => Vec::new(),
    };
    for computed in &input.attrs.computed {
        let name = computed.value.name.value();
        if syn::parse_str::<Ident>(&name).is_err() {
            cx.error_spanned_by(
                &computed.value.name,
                "a computed index's name must be an identifier: it names the index and its \
                 `by_<name>()` handle",
            );
            continue;
        }
        if plans.iter().any(|plan| plan.name == name) {
            cx.error_spanned_by(
                &computed.value.name,
                format!("two indexes are named `{name}`; give each index its own name"),
            );
            continue;
        }
        plans.push(IndexPlan {
            name,
            ty: &computed.value.of,
            value: IndexValue::Computed(&computed.value.with),
            unique: computed.value.unique,
        });
    }
    plans
}

/// Generic schemas are rejected: a schema name and its records must describe one concrete type,
/// but `Foo<u32>` and `Foo<String>` would share one name and decode each other's bytes as garbage.
fn check_generics(cx: &mut Ctxt, input: &Input<'_>) -> bool {
    let generics = &input.original.generics;
    let mut ok = true;
    for param in &generics.params {
        ok = false;
        match param {
            syn::GenericParam::Lifetime(lifetime) => cx.error_spanned_by(
                lifetime,
                "a schema cannot borrow: values are decoded from records into owned data \
                 (`NetabaseSchema: DeserializeOwned + 'static`); use owned types such as `String` \
                 instead of `&str`",
            ),
            _ => cx.error_spanned_by(
                param,
                "`NetabaseSchema` cannot be derived for a generic type: one schema name must \
                 describe one byte layout, but every instantiation would share it; define a \
                 concrete struct per instantiation instead",
            ),
        }
    }
    if let Some(where_clause) = &generics.where_clause
        && ok
        && !where_clause.predicates.is_empty()
    {
        ok = false;
        cx.error_spanned_by(
            where_clause,
            "`NetabaseSchema` cannot be derived with a `where` clause; a schema is one concrete type",
        );
    }
    ok
}

/// Field types that encode in no fixed order are rejected: a value's record must be one byte
/// string (conflict resolution compares bytes, and records that are not their value's canonical
/// encoding are refused), but a `HashMap` or `HashSet` serialises in its hasher's order, which
/// differs between runs. Only the written type can be seen here: an alias hides it, and the
/// runtime check of canonical bytes then refuses such records.
fn check_deterministic(cx: &mut Ctxt, input: &Input<'_>) {
    let fields: Vec<&Field<'_>> = match &input.data {
        Data::Struct(_, fields) => fields.iter().collect(),
        Data::Enum(variants) => variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    for field in fields {
        if let Some(ident) = unordered_collection(field.ty) {
            let ordered = if ident == "HashMap" {
                "BTreeMap"
            } else {
                "BTreeSet"
            };
            cx.error_spanned_by(
                ident,
                format!(
                    "a schema cannot hold a `{ident}`: it encodes its entries in hash order, which \
                     differs between runs, so one value would have many encodings and records \
                     would be refused as not canonical; use `std::collections::{ordered}`"
                ),
            );
        }
    }
}

/// The first `HashMap` or `HashSet` named anywhere in `ty` (also as a type argument).
fn unordered_collection(ty: &Type) -> Option<&Ident> {
    use syn::visit::Visit;

    struct Finder<'a>(Option<&'a Ident>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_path_segment(&mut self, segment: &'a syn::PathSegment) {
            if self.0.is_none() && (segment.ident == "HashMap" || segment.ident == "HashSet") {
                self.0 = Some(&segment.ident);
            }
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// A name or namespace is a segment of `/<namespace>/<name>/`: not empty and without `/`.
fn check_segment(cx: &mut Ctxt, opt: &Opt<LitStr>, what: &str) -> String {
    let value = opt.value.value();
    if value.is_empty() {
        cx.error_spanned_by(
            &opt.value,
            format!("the {what} must not be empty: it is a segment of record keys `/<namespace>/<name>/`"),
        );
    } else if value.contains('/') {
        cx.error_spanned_by(
            &opt.value,
            format!(
                "the {what} must not contain `/`: it is a segment of record keys \
                 `/<namespace>/<name>/`, which `/` separates"
            ),
        );
    }
    value
}

/// The type's name as written, without a raw identifier's `r#`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(stripped) => stripped.to_owned(),
        None => name,
    }
}

/// `key = Type` and `key_fn = path` come together, and without `key_name` (which names a key
/// type the derive generates).
fn custom_key<'a>(cx: &mut Ctxt, input: &'a Input<'a>) -> Option<KeyPlan<'a>> {
    if let (Some(name), true) = (&input.attrs.key_name, has_custom_key(input)) {
        cx.error_spanned_by(
            &name.keyword,
            format!(
                "`{}` names the key type the derive generates, and with `{}` it generates none: \
                 drop `{}`, or rename your own key type",
                attr::KEY_NAME,
                attr::KEY_TYPE,
                attr::KEY_NAME
            ),
        );
    }
    match (&input.attrs.key, &input.attrs.key_fn) {
        (Some(key), Some(function)) => Some(KeyPlan::Custom {
            ty: &key.value,
            function: &function.value,
        }),
        (Some(key), None) => {
            cx.error_spanned_by(
                &key.keyword,
                format!(
                    "`{}` needs `{}`: name the function that computes the key, \
                     `#[netabase(key = MyKey, key_fn = my_key)]` with `fn my_key(&Self) -> MyKey`",
                    attr::KEY_TYPE,
                    attr::KEY_FN
                ),
            );
            None
        }
        (None, Some(function)) => {
            cx.error_spanned_by(
                &function.keyword,
                format!(
                    "`{}` needs `{}`: name the key type the function returns, \
                     `#[netabase(key = MyKey, key_fn = my_key)]`",
                    attr::KEY_FN,
                    attr::KEY_TYPE
                ),
            );
            None
        }
        (None, None) => None,
    }
}

/// True when `key = ...` or `key_fn = ...` is given, valid or not: `#[key]` fields then conflict,
/// and a missing `#[key]` is not an error.
fn has_custom_key(input: &Input<'_>) -> bool {
    input.attrs.key.is_some() || input.attrs.key_fn.is_some()
}

/// With a custom key, every `#[key]` is an error.
fn reject_key_fields<'a>(cx: &mut Ctxt, fields: impl IntoIterator<Item = &'a Field<'a>>) {
    for field in fields {
        if let Some(key) = field.key {
            cx.error_spanned_by(
                key,
                format!(
                    "`#[key]` cannot be combined with `#[netabase({} = ..., {} = ...)]`: the key \
                     comes either from `#[key]` fields or from the key function; remove one",
                    attr::KEY_TYPE,
                    attr::KEY_FN
                ),
            );
        }
    }
}

fn struct_key<'a>(
    cx: &mut Ctxt,
    input: &'a Input<'a>,
    style: Style,
    fields: &'a [Field<'a>],
    custom: Option<KeyPlan<'a>>,
) -> Option<KeyPlan<'a>> {
    if style == Style::Unit {
        cx.error_spanned_by(
            input.ident(),
            "a unit struct has no data to store; a schema needs fields, one of them marked `#[key]`",
        );
        return None;
    }
    if has_custom_key(input) {
        reject_key_fields(cx, fields);
        return custom;
    }
    let keys: Vec<&Field<'_>> = fields.iter().filter(|field| field.key.is_some()).collect();
    if keys.is_empty() {
        cx.error_spanned_by(
            input.ident(),
            "missing `#[key]`: mark the field (or fields, for a composite key) that identify a \
             value with `#[key]`, or compute the key with `#[netabase(key = MyKey, key_fn = my_key)]`",
        );
        return None;
    }
    Some(KeyPlan::Fields {
        style,
        fields: keys,
    })
}

fn enum_key<'a>(
    cx: &mut Ctxt,
    input: &'a Input<'a>,
    variants: &'a [Variant<'a>],
    custom: Option<KeyPlan<'a>>,
) -> Option<KeyPlan<'a>> {
    if variants.is_empty() {
        cx.error_spanned_by(
            input.ident(),
            "an enum without variants has no values to store; add variants, each with a `#[key]` field",
        );
        return None;
    }
    if has_custom_key(input) {
        reject_key_fields(cx, variants.iter().flat_map(|variant| &variant.fields));
        return custom;
    }
    let picked = pick_per_variant(cx, variants, |field| field.key, attr::KEY)?;
    Some(KeyPlan::Variants {
        ty: picked.ty,
        variants: picked.fields,
    })
}

/// One marked field per variant, all of one type.
struct PerVariant<'a> {
    ty: &'a Type,
    fields: Vec<(&'a Variant<'a>, &'a Field<'a>)>,
}

/// Finds the field marked `#[marker]` in every variant: each variant must have exactly one, and all
/// must have the same type (compared by tokens). Returns `None` after recording the errors.
fn pick_per_variant<'a>(
    cx: &mut Ctxt,
    variants: &'a [Variant<'a>],
    mark: fn(&Field<'a>) -> Option<&'a Attribute>,
    marker: &str,
) -> Option<PerVariant<'a>> {
    let mut ok = true;
    let mut fields = Vec::with_capacity(variants.len());
    for variant in variants {
        let mut marked = variant.fields.iter().filter(|field| mark(field).is_some());
        let Some(first) = marked.next() else {
            ok = false;
            let message = if variant.style == Style::Unit {
                format!(
                    "unit variant `{}` has no field to mark `#[{marker}]`; every variant of a \
                     schema enum needs exactly one `#[{marker}]` field",
                    variant.ident
                )
            } else {
                format!(
                    "variant `{}` has no `#[{marker}]` field; every variant of a schema enum needs \
                     exactly one `#[{marker}]` field",
                    variant.ident
                )
            };
            cx.error_spanned_by(variant.ident, message);
            continue;
        };
        for extra in marked {
            ok = false;
            cx.error_spanned_by(
                mark(extra),
                format!(
                    "variant `{}` has a second `#[{marker}]` field; each variant of a schema enum \
                     has exactly one (composite keys are supported on structs only)",
                    variant.ident
                ),
            );
        }
        fields.push((variant, first));
    }
    let (_, first) = fields.first()?;
    let expected = first.ty;
    let expected_tokens = tokens(expected);
    for (variant, field) in &fields[1..] {
        if tokens(field.ty) != expected_tokens {
            ok = false;
            cx.error_spanned_by(
                field.ty,
                format!(
                    "the `#[{marker}]` fields of all variants must have one type: variant `{}` has \
                     `{}`, but variant `{}` has `{}`",
                    variant.ident,
                    tokens(field.ty),
                    fields[0].0.ident,
                    expected_tokens
                ),
            );
        }
    }
    ok.then_some(PerVariant {
        ty: expected,
        fields,
    })
}

/// A type as text, for comparing types and naming them in messages.
fn tokens(ty: &Type) -> String {
    ty.to_token_stream().to_string()
}

/// An owned schema's conflicts are decided by its writes' (generation, sequence), so it takes
/// no `#[version]` or resolver; its key's first field must be the owner.
fn owned_plan<'a>(
    cx: &mut Ctxt,
    input: &'a Input<'a>,
    key: Option<&KeyPlan<'a>>,
    conflict: &ConflictPlan<'a>,
) -> Option<Option<&'a Type>> {
    let owned = input.attrs.owned.as_ref()?;
    if !matches!(conflict, ConflictPlan::ByteOrder) {
        cx.error_spanned_by(
            &owned.keyword,
            "an owned schema's conflicts are decided by its signed writes (the highest generation \
             and sequence wins), so it cannot also have `#[version]` or a `resolver`; remove them",
        );
    }
    Some(match key {
        Some(KeyPlan::Fields { fields, .. }) => fields.first().map(|field| field.ty),
        Some(KeyPlan::Variants { ty, .. }) => Some(*ty),
        Some(KeyPlan::Custom { .. }) | None => None,
    })
}

fn conflict_plan<'a>(cx: &mut Ctxt, input: &'a Input<'a>) -> ConflictPlan<'a> {
    let version = match &input.data {
        Data::Struct(_, fields) => struct_version(cx, fields),
        Data::Enum(variants) => enum_version(cx, variants),
        Data::Union(_) => None,
    };
    match (&input.attrs.resolver, version) {
        (Some(resolver), Some(version)) => {
            cx.error_spanned_by(
                &resolver.keyword,
                format!(
                    "`{}` and `#[version]` both decide conflicts; keep one (a resolver can compare \
                     the version itself)",
                    attr::RESOLVER
                ),
            );
            version
        }
        (Some(resolver), None) => ConflictPlan::Resolver(&resolver.value),
        (None, Some(version)) => version,
        (None, None) => ConflictPlan::ByteOrder,
    }
}

fn struct_version<'a>(cx: &mut Ctxt, fields: &'a [Field<'a>]) -> Option<ConflictPlan<'a>> {
    let mut versions = fields.iter().filter(|field| field.version.is_some());
    let first = versions.next()?;
    for extra in versions {
        cx.error_spanned_by(
            extra.version,
            "a schema has at most one `#[version]` field; the higher version wins a conflict",
        );
    }
    Some(ConflictPlan::StructVersion(first))
}

fn enum_version<'a>(cx: &mut Ctxt, variants: &'a [Variant<'a>]) -> Option<ConflictPlan<'a>> {
    let any = variants
        .iter()
        .flat_map(|variant| &variant.fields)
        .any(|field| field.version.is_some());
    if !any {
        return None;
    }
    let picked = pick_per_variant(cx, variants, |field| field.version, attr::VERSION)?;
    Some(ConflictPlan::VariantVersion {
        ty: picked.ty,
        variants: picked.fields,
    })
}
