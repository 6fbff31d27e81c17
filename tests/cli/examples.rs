//! Every example runs in the test suite: `cargo test` runs an example's `main` when its manifest
//! entry says `test = true` and `harness = false`. This test fails when an example is added
//! without such an entry, so none escapes the suite; another keeps the README's first program
//! identical to the example that runs it.

use std::path::Path;

#[test]
fn every_example_is_run_by_cargo_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    // The [[example]] tables, each as its lines up to the next table.
    let entries: Vec<&str> = manifest.split("[[example]]").skip(1).collect();
    let examples = std::fs::read_dir(root.join("examples")).expect("list examples/");
    let mut names = Vec::new();
    for entry in examples {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            names.push(name);
        }
    }
    assert!(names.len() >= 5, "examples/ holds {names:?}");
    for name in names {
        let entry = entries
            .iter()
            .map(|entry| entry.split("\n[").next().unwrap_or(entry))
            .find(|entry| entry.contains(&format!("name = \"{name}\"")))
            .unwrap_or_else(|| panic!("examples/{name}.rs has no [[example]] entry in Cargo.toml"));
        assert!(
            entry.contains("test = true") && entry.contains("harness = false"),
            "the [[example]] entry of {name} must say `test = true` and `harness = false`"
        );
    }
}

#[test]
fn the_readme_first_program_is_the_two_nodes_example_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let example =
        std::fs::read_to_string(root.join("examples/two_nodes.rs")).expect("read the example");
    let section = readme
        .split("## A first program")
        .nth(1)
        .expect("the README has a section `A first program`");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section holds a rust code block");
    assert!(
        block == example,
        "README.md's first program differs from examples/two_nodes.rs; paste the file into the \
         README (or the README block into the file) so users run what the tests run"
    );
}
