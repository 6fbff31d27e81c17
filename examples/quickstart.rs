//! Quickstart: derive a schema, open a store, put, get and list values, and reopen the file.
//!
//! No network here: a `RedbStore` is a complete local database on its own. `two_nodes` shares
//! values between nodes.
//!
//! Run it with `cargo run --example quickstart`.

use netabase_store::RedbStore;
use netabase_store::prelude::*;
use serde::{Deserialize, Serialize};

/// A task of a to-do list. `#[key]` marks the field that identifies a value; the derive also
/// writes the key type `TaskKey(u32)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Task {
    #[key]
    id: u32,
    title: String,
    done: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tasks.redb");

    // One redb file per store. Registering the schema lets the store check records of it that
    // arrive from the network; local typed writes work without it.
    let store = RedbStore::builder().register::<Task>().create(&path)?;

    // Put: each call is one transaction, durable when it returns. `put_values` writes many in one.
    let tasks = [
        Task {
            id: 1,
            title: "write the README".into(),
            done: true,
        },
        Task {
            id: 2,
            title: "run the demo".into(),
            done: false,
        },
        Task {
            id: 3,
            title: "read docs/architecture.md".into(),
            done: false,
        },
    ];
    store.put_values(&tasks)?;

    // Get by key.
    let second = store.get_value::<Task>(&TaskKey(2))?;
    println!("task 2: {second:?}");
    assert_eq!(second.as_ref(), Some(&tasks[1]));

    // Update: a put under the same key replaces the value.
    store.put_value(&Task {
        done: true,
        ..tasks[1].clone()
    })?;

    // List every value of the schema a page at a time (memory stays flat), in record-key order:
    // the order of the keys' postcard bytes, which for small integers like these is numeric
    // (for strings and larger integers it is not; see `ValueScan`).
    println!("all tasks:");
    let mut listed = Vec::new();
    for task in store.values::<Task>() {
        let task = task?;
        println!(
            "  [{}] {} {}",
            if task.done { "x" } else { " " },
            task.id,
            task.title
        );
        listed.push(task);
    }
    assert_eq!(listed.len(), 3);
    assert!(listed[1].done);

    // Every value is a plain Kademlia record: key `/netabase/Task/<postcard key>`, value the
    // postcard encoding of the task, nothing added. This is what peers store and serve.
    let record = tasks[0].to_record()?;
    println!(
        "task 1 as a kad record: key {:?} ({} value bytes)",
        record.key.as_ref().escape_ascii().to_string(),
        record.value.len()
    );

    // The file is the database: reopen it and everything is there.
    drop(store);
    let reopened = RedbStore::open(&path)?;
    assert_eq!(
        reopened.get_value::<Task>(&TaskKey(3))?,
        Some(tasks[2].clone())
    );
    println!(
        "reopened {}: {} records",
        path.display(),
        reopened.record_count()?
    );
    Ok(())
}
