//! Placeholder until the benches land (item 5).
fn main() {}
