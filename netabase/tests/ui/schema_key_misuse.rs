use netabase::NetabaseSchemaKey;

#[derive(NetabaseSchemaKey)]
#[netabase(name = "Key")]
union Bits {
    int: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, NetabaseSchemaKey)]
struct Borrowed<'a>(&'a str);

fn main() {}
