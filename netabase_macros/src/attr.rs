//! The attributes the derives read, their names, and the parsing of `#[netabase(...)]`.

use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parse;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Path, Type};

use crate::ctxt::Ctxt;

/// Field attribute marking a key field: `#[key]`.
pub(crate) const KEY: &str = "key";
/// Field attribute marking the version field: `#[version]`.
pub(crate) const VERSION: &str = "version";
/// Field attribute declaring a secondary index on the field: `#[index]` or `#[index(unique)]`.
pub(crate) const INDEX: &str = "index";
/// The one option of `#[index(...)]`: at most one value holds each index value.
pub(crate) const UNIQUE: &str = "unique";
/// Container attribute holding the options below: `#[netabase(...)]`.
pub(crate) const NETABASE: &str = "netabase";

/// `#[netabase(name = "...")]`: the schema name in record keys.
pub(crate) const NAME: &str = "name";
/// `#[netabase(namespace = "...")]`: the first segment of record keys.
pub(crate) const NAMESPACE: &str = "namespace";
/// `#[netabase(crate = "path")]`: where the runtime crate is.
pub(crate) const CRATE: &str = "crate";
/// `#[netabase(key = Type)]`: a key type of the user's own.
pub(crate) const KEY_TYPE: &str = "key";
/// `#[netabase(key_fn = path)]`: the function computing the key of a value.
pub(crate) const KEY_FN: &str = "key_fn";
/// `#[netabase(resolver = path)]`: the function ordering two values in a conflict.
pub(crate) const RESOLVER: &str = "resolver";
/// `#[netabase(key_name = Ident)]`: the name of the generated key type instead of `{Name}Key`.
pub(crate) const KEY_NAME: &str = "key_name";
/// `#[netabase(owned)]`: records are signed by their owner, whose key leads the record key.
pub(crate) const OWNED: &str = "owned";
/// `#[netabase(version = 2)]`: the schema's version, carried by its values from 2 on.
pub(crate) const SCHEMA_VERSION: &str = "version";
/// `#[netabase(from = ProfileV1)]`: the previous version's type, read and converted with `From`.
pub(crate) const FROM: &str = "from";
/// `#[netabase(index(name = "...", with = path, of = Type))]`: an index on a computed value.
pub(crate) const COMPUTED_INDEX: &str = "index";

/// The options `#[derive(NetabaseSchema)]` accepts, in the order error messages list them.
pub(crate) const SCHEMA_OPTIONS: &[&str] = &[
    NAME,
    NAMESPACE,
    CRATE,
    KEY_TYPE,
    KEY_FN,
    KEY_NAME,
    RESOLVER,
    OWNED,
    SCHEMA_VERSION,
    FROM,
    COMPUTED_INDEX,
];
/// The options `#[derive(NetabaseSchemaKey)]` accepts.
pub(crate) const KEY_OPTIONS: &[&str] = &[CRATE];

/// One option as written: the option's name (for spans) and its value.
pub(crate) struct Opt<T> {
    /// The option's name as written, e.g. the `name` of `name = "User"`.
    pub(crate) keyword: Path,
    /// The parsed value.
    pub(crate) value: T,
}

/// The options of `#[netabase(...)]` on a type, each at most once.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) name: Option<Opt<LitStr>>,
    pub(crate) namespace: Option<Opt<LitStr>>,
    pub(crate) krate: Option<Opt<Path>>,
    pub(crate) key: Option<Opt<Type>>,
    pub(crate) key_fn: Option<Opt<Path>>,
    pub(crate) key_name: Option<Opt<Ident>>,
    pub(crate) resolver: Option<Opt<Path>>,
    pub(crate) owned: Option<Opt<()>>,
    pub(crate) version: Option<Opt<syn::LitInt>>,
    pub(crate) from: Option<Opt<Path>>,
    /// Every `index(...)`, in the order written.
    pub(crate) computed: Vec<Opt<ComputedIndex>>,
}

/// `index(name = "domain", with = Account::domain, of = String, unique)`: an index on what
/// `with(&value)` returns, of type `of`.
pub(crate) struct ComputedIndex {
    pub(crate) name: LitStr,
    pub(crate) with: Path,
    pub(crate) of: Type,
    pub(crate) unique: bool,
}

impl Container {
    /// Reads every `#[netabase(...)]` among `attrs`, accepting only the options in `allowed`.
    /// Unknown, duplicated and malformed options are recorded in `cx`; parsing goes on after them.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute], allowed: &[&str]) -> Self {
        let mut container = Container::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident(NETABASE)) {
            if let syn::Meta::Path(_) = attr.meta {
                cx.error_spanned_by(
                    attr,
                    format!(
                        "`#[netabase]` needs options, like `#[netabase(name = \"...\")]`; {}",
                        expected_options(allowed)
                    ),
                );
                continue;
            }
            let result = attr.parse_nested_meta(|meta| container.parse_option(cx, meta, allowed));
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        container
    }

    fn parse_option(
        &mut self,
        cx: &mut Ctxt,
        meta: ParseNestedMeta<'_>,
        allowed: &[&str],
    ) -> syn::Result<()> {
        let keyword = meta.path.clone();
        let is = |name: &str| allowed.contains(&name) && keyword.is_ident(name);
        if is(NAME) {
            let value = string_value(&meta, NAME)?;
            set(cx, &mut self.name, keyword, value);
        } else if is(NAMESPACE) {
            let value = string_value(&meta, NAMESPACE)?;
            set(cx, &mut self.namespace, keyword, value);
        } else if is(CRATE) {
            let value = path_like::<Path>(&meta, CRATE, "crate = netabase")?;
            set(cx, &mut self.krate, keyword, value);
        } else if is(KEY_TYPE) {
            let value = path_like::<Type>(&meta, KEY_TYPE, "key = MyKey")?;
            set(cx, &mut self.key, keyword, value);
        } else if is(KEY_FN) {
            let value = path_like::<Path>(&meta, KEY_FN, "key_fn = my_key_fn")?;
            set(cx, &mut self.key_fn, keyword, value);
        } else if is(KEY_NAME) {
            let value = path_like::<Ident>(&meta, KEY_NAME, "key_name = UserId")?;
            set(cx, &mut self.key_name, keyword, value);
        } else if is(OWNED) {
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                return Err(meta.error("`owned` takes no value: write `#[netabase(owned)]`"));
            }
            set(cx, &mut self.owned, keyword, ());
        } else if is(COMPUTED_INDEX) {
            let value = computed_index(&meta)?;
            self.computed.push(Opt { keyword, value });
        } else if is(SCHEMA_VERSION) {
            let expr: Expr = meta.value()?.parse()?;
            match expr {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(lit), ..
                }) => set(cx, &mut self.version, keyword, lit),
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`version` takes an integer: `#[netabase(version = 2)]`",
                    ));
                }
            }
        } else if is(FROM) {
            let value = path_like::<Path>(&meta, FROM, "from = ProfileV1")?;
            set(cx, &mut self.from, keyword, value);
        } else if is(RESOLVER) {
            let value = path_like::<Path>(&meta, RESOLVER, "resolver = newest_first")?;
            set(cx, &mut self.resolver, keyword, value);
        } else {
            cx.error_spanned_by(
                &keyword,
                format!(
                    "unknown option `{}` in `#[netabase(...)]`; {}",
                    keyword.to_token_stream().to_string().replace(' ', ""),
                    expected_options(allowed)
                ),
            );
            skip_value(&meta)?;
        }
        Ok(())
    }
}

fn expected_options(allowed: &[&str]) -> String {
    let list: Vec<String> = allowed.iter().map(|name| format!("`{name}`")).collect();
    if list.len() == 1 {
        format!("the only option here is {}", list[0])
    } else {
        format!("expected one of {}", list.join(", "))
    }
}

/// Stores `value` in `slot`, or records a duplicate error on the second occurrence.
fn set<T>(cx: &mut Ctxt, slot: &mut Option<Opt<T>>, keyword: Path, value: T) {
    if slot.is_some() {
        let name = keyword.to_token_stream().to_string();
        cx.error_spanned_by(
            &keyword,
            format!("duplicate option `{name}` in `#[netabase(...)]`; give it once"),
        );
    } else {
        *slot = Some(Opt { keyword, value });
    }
}

/// Parses `(name = "...", with = path, of = Type[, unique])`.
fn computed_index(meta: &ParseNestedMeta<'_>) -> syn::Result<ComputedIndex> {
    const EXAMPLE: &str =
        "`#[netabase(index(name = \"domain\", with = Account::domain, of = String))]`";
    let (mut name, mut with, mut of, mut unique) = (None, None, None, false);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            name = Some(string_value(&inner, "name")?);
        } else if inner.path.is_ident("with") {
            with = Some(path_like::<Path>(
                &inner,
                "with",
                "index(with = Account::domain)",
            )?);
        } else if inner.path.is_ident("of") {
            of = Some(path_like::<Type>(&inner, "of", "index(of = String)")?);
        } else if inner.path.is_ident(UNIQUE) {
            unique = true;
        } else {
            return Err(inner.error(
                "unknown option of a computed index; it takes `name`, `with`, `of` and `unique`",
            ));
        }
        Ok(())
    })
    .map_err(|error| syn::Error::new(error.span(), format!("{error} ({EXAMPLE})")))?;
    match (name, with, of) {
        (Some(name), Some(with), Some(of)) => Ok(ComputedIndex {
            name,
            with,
            of,
            unique,
        }),
        _ => Err(meta.error(format!(
            "a computed index needs `name`, `with` (a `fn(&Self) -> T`) and `of` (the type T): \
             {EXAMPLE}"
        ))),
    }
}

/// Parses `= "text"`.
fn string_value(meta: &ParseNestedMeta<'_>, option: &str) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{option}` takes a string literal: `#[netabase({option} = \"...\")]`"),
        )),
    }
}

/// Parses `= path` or `= "path"` (serde's style), so both spellings work.
fn path_like<T: Parse>(meta: &ParseNestedMeta<'_>, option: &str, example: &str) -> syn::Result<T> {
    let input = meta.value().map_err(|_| {
        meta.error(format!(
            "`{option}` needs a value: `#[netabase({example})]`"
        ))
    })?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse()
    } else {
        input.parse().map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("`{option}` expects a path or type: `#[netabase({example})]`"),
            )
        })
    }
}

/// Consumes the value of an unknown option so that the options after it are still read.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

/// Whether `attr` is the marker attribute `name` (`#[key]` or `#[version]`). A marker with
/// arguments is reported in `cx` and still counts, so that one mistake gives one error.
/// Whether `attr` is `#[index]` (`Some(false)`) or `#[index(unique)]` (`Some(true)`); anything
/// else in the parentheses is recorded in `cx` (and read as not unique).
pub(crate) fn index_marker(cx: &mut Ctxt, attr: &Attribute) -> Option<bool> {
    if !attr.path().is_ident(INDEX) {
        return None;
    }
    match &attr.meta {
        syn::Meta::Path(_) => Some(false),
        syn::Meta::List(_) => {
            let mut unique = false;
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident(UNIQUE) && !unique {
                    unique = true;
                    Ok(())
                } else if meta.path.is_ident(UNIQUE) {
                    Err(meta.error("duplicate `unique`; write it once"))
                } else {
                    Err(meta.error(
                        "unknown index option; `#[index]` takes only `unique`: `#[index(unique)]`",
                    ))
                }
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
            Some(unique)
        }
        syn::Meta::NameValue(_) => {
            cx.error_spanned_by(
                &attr.meta,
                "`#[index]` takes no value; write `#[index]` or `#[index(unique)]`",
            );
            Some(false)
        }
    }
}

pub(crate) fn is_marker(cx: &mut Ctxt, attr: &Attribute, name: &str) -> bool {
    if !attr.path().is_ident(name) {
        return false;
    }
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        cx.error_spanned_by(
            &attr.meta,
            format!("`#[{name}]` takes no arguments; write `#[{name}]`"),
        );
    }
    true
}
