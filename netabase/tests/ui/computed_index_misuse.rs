use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

// Without its type, with a name that is no identifier, with an unknown option, and named like a
// field index.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(index(name = "domain", with = Account::domain))]
#[netabase(index(name = "two words", with = Account::domain, of = String))]
#[netabase(index(name = "d", with = Account::domain, of = String, sorted))]
#[netabase(index(name = "age", with = Account::domain, of = String))]
struct Account {
    #[key]
    email: String,
    #[index]
    age: u32,
}

impl Account {
    fn domain(&self) -> String {
        self.email.clone()
    }
}

// A function whose return type is not the declared one.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(index(name = "domain", with = Wrong::domain, of = u32))]
struct Wrong {
    #[key]
    email: String,
}

impl Wrong {
    fn domain(&self) -> String {
        self.email.clone()
    }
}

fn main() {}
