//! Derives a schema outside the Netabase workspace and prints its record, for
//! `netabase/tests/external_crate.rs` to check.

use db::prelude::*;
use serde::{Deserialize, Serialize};

/// One hourly temperature reading of a weather station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "weather")]
pub struct Reading {
    #[key]
    station: String,
    #[key]
    hour: u32,
    celsius: i16,
}

fn main() -> Result<(), db::DatabaseError> {
    let reading = Reading {
        station: "oslo".into(),
        hour: 7,
        celsius: -3,
    };
    let record = kad::Record::try_from(&reading)?;
    let decoded = Reading::try_from(&record)?;
    let record_key = kad::RecordKey::try_from(reading.key())?;
    let key = ReadingKey::try_from(&record_key)?;

    println!("key: {}", record.key.as_ref().escape_ascii());
    println!("value: {}", record.value.escape_ascii());
    println!("value round trip: {}", decoded == reading);
    println!(
        "key round trip: {}",
        key == ReadingKey {
            station: "oslo".into(),
            hour: 7
        }
    );
    Ok(())
}
