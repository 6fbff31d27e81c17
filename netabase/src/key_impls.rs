//! `NetabaseSchemaKey` for standard types, so a schema can use one as its key with
//! `#[netabase(key = u64, key_fn = ...)]` and hand-written schemas need no wrapper.

use crate::schema::NetabaseSchemaKey;

macro_rules! impl_key {
    ($($ty:ty),* $(,)?) => {
        $(impl NetabaseSchemaKey for $ty {})*
    };
}

impl_key!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    String,
);

impl<T: NetabaseSchemaKey> NetabaseSchemaKey for Vec<T> {}
impl<T: NetabaseSchemaKey> NetabaseSchemaKey for Option<T> {}
impl<T: NetabaseSchemaKey, const N: usize> NetabaseSchemaKey for [T; N] where
    [T; N]: serde::Serialize + serde::de::DeserializeOwned
{
}

macro_rules! impl_key_tuple {
    ($($name:ident),+) => {
        impl<$($name: NetabaseSchemaKey),+> NetabaseSchemaKey for ($($name,)+) {}
    };
}

impl_key_tuple!(A);
impl_key_tuple!(A, B);
impl_key_tuple!(A, B, C);
impl_key_tuple!(A, B, C, D);
