//! Parse + exclusive C14N benchmark (placeholder, filled below).
fn main() {}
