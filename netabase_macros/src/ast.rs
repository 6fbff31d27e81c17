//! A typed model of the derive input that keeps the original `syn` nodes for spans.

use syn::{Attribute, DeriveInput, Ident, Member, Type};

use crate::attr::{self, Container};
use crate::ctxt::Ctxt;

/// The input of `#[derive(NetabaseSchema)]`.
pub(crate) struct Input<'a> {
    /// The whole input, for its name, visibility and generics.
    pub(crate) original: &'a DeriveInput,
    /// The `#[netabase(...)]` options.
    pub(crate) attrs: Container,
    /// The fields or variants.
    pub(crate) data: Data<'a>,
}

/// What kind of type the input is.
pub(crate) enum Data<'a> {
    /// A struct with its fields.
    Struct(Style, Vec<Field<'a>>),
    /// An enum with its variants.
    Enum(Vec<Variant<'a>>),
    /// A union: never a schema, kept to report it.
    Union(&'a syn::DataUnion),
}

/// How the fields of a struct or variant are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `{ a: A, b: B }`.
    Named,
    /// `(A, B)`.
    Tuple,
    /// No fields.
    Unit,
}

/// One enum variant.
pub(crate) struct Variant<'a> {
    /// The variant's name.
    pub(crate) ident: &'a Ident,
    /// How its fields are written.
    pub(crate) style: Style,
    /// Its fields.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field of a struct or variant.
pub(crate) struct Field<'a> {
    /// The field's name or position.
    pub(crate) member: Member,
    /// The field's type.
    pub(crate) ty: &'a Type,
    /// Its `#[key]` attribute, if marked.
    pub(crate) key: Option<&'a Attribute>,
    /// Its `#[version]` attribute, if marked.
    pub(crate) version: Option<&'a Attribute>,
    /// Its `#[index]` or `#[index(unique)]` attribute, if marked, and whether it is unique.
    pub(crate) index: Option<(&'a Attribute, bool)>,
}

impl<'a> Input<'a> {
    /// Reads `input`, recording malformed attributes and attributes in the wrong place in `cx`.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = Container::from_attrs(cx, &input.attrs, attr::SCHEMA_OPTIONS);
        reject_markers(cx, &input.attrs, "the type", "one of its fields");
        let data = match &input.data {
            syn::Data::Struct(data) => {
                let (style, fields) = fields_from_ast(cx, &data.fields);
                Data::Struct(style, fields)
            }
            syn::Data::Enum(data) => Data::Enum(
                data.variants
                    .iter()
                    .map(|variant| Variant::from_ast(cx, variant))
                    .collect(),
            ),
            syn::Data::Union(data) => Data::Union(data),
        };
        Input {
            original: input,
            attrs,
            data,
        }
    }

    /// The type's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.original.ident
    }
}

impl<'a> Variant<'a> {
    fn from_ast(cx: &mut Ctxt, variant: &'a syn::Variant) -> Self {
        reject_markers(cx, &variant.attrs, "a variant", "one of its fields");
        reject_options(cx, &variant.attrs, "a variant");
        let (style, fields) = fields_from_ast(cx, &variant.fields);
        Variant {
            ident: &variant.ident,
            style,
            fields,
        }
    }
}

fn fields_from_ast<'a>(cx: &mut Ctxt, fields: &'a syn::Fields) -> (Style, Vec<Field<'a>>) {
    let style = match fields {
        syn::Fields::Named(_) => Style::Named,
        syn::Fields::Unnamed(_) => Style::Tuple,
        syn::Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(index, field)| Field::from_ast(cx, index, field))
        .collect();
    (style, fields)
}

impl<'a> Field<'a> {
    fn from_ast(cx: &mut Ctxt, index: usize, field: &'a syn::Field) -> Self {
        let member = match &field.ident {
            Some(ident) => Member::Named(ident.clone()),
            None => Member::Unnamed(syn::Index {
                index: index as u32,
                span: proc_macro2::Span::call_site(),
            }),
        };
        reject_options(cx, &field.attrs, "a field");
        Field {
            member,
            ty: &field.ty,
            key: marker(cx, &field.attrs, attr::KEY),
            version: marker(cx, &field.attrs, attr::VERSION),
            index: index_marker(cx, &field.attrs),
        }
    }
}

/// The first `#[name]` marker among `attrs`; every further one is a duplicate error.
fn marker<'a>(cx: &mut Ctxt, attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    let mut found = None;
    for attr in attrs {
        if attr::is_marker(cx, attr, name) {
            if found.is_some() {
                cx.error_spanned_by(
                    attr,
                    format!("duplicate `#[{name}]` on this field; write it once"),
                );
            } else {
                found = Some(attr);
            }
        }
    }
    found
}

/// The first `#[index]` among `attrs`, with whether it is unique; every further one is a
/// duplicate error.
fn index_marker<'a>(cx: &mut Ctxt, attrs: &'a [Attribute]) -> Option<(&'a Attribute, bool)> {
    let mut found = None;
    for attr in attrs {
        if let Some(unique) = attr::index_marker(cx, attr) {
            if found.is_some() {
                cx.error_spanned_by(
                    attr,
                    "duplicate `#[index]` on this field; a field has one index (write \
                     `#[index(unique)]` for a unique one)",
                );
            } else {
                found = Some((attr, unique));
            }
        }
    }
    found
}

/// `#[key]`, `#[version]` and `#[index]` mark fields; anywhere else they are an error.
fn reject_markers(cx: &mut Ctxt, attrs: &[Attribute], place: &str, instead: &str) {
    for attr in attrs {
        for name in [attr::KEY, attr::VERSION, attr::INDEX] {
            if attr.path().is_ident(name) {
                cx.error_spanned_by(
                    attr,
                    format!("`#[{name}]` marks a field, not {place}; put it on {instead}"),
                );
            }
        }
    }
}

/// `#[netabase(...)]` options belong to the type.
fn reject_options(cx: &mut Ctxt, attrs: &[Attribute], place: &str) {
    for attr in attrs {
        if attr.path().is_ident(attr::NETABASE) {
            cx.error_spanned_by(
                attr,
                format!("`#[netabase(...)]` goes on the type, not on {place}"),
            );
        }
    }
}
