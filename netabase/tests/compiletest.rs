//! Every misuse of the derives is a compile error pointing at the offending tokens. Each file in
//! `tests/ui/` is one mistake; its `.stderr` is the exact message. Regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p netabase --test compiletest`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
