// The derive fails (no `#[key]`), but code using the schema's trait and conversions reports
// nothing more: the derive's own error is the only one.
use netabase::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct User {
    id: u64,
}

fn main() {
    let user = User { id: 1 };
    let _ = user.to_record();
    let _ = kad::Record::try_from(&user);
    let _ = User::try_from(kad::Record::new(Vec::new(), Vec::new()));
    let _ = User::NAME;
}
