//! Node latency benchmark (placeholder body replaced below).
fn main() {}
