use netabase::NetabaseSchema;

#[derive(NetabaseSchema)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
