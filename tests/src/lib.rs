//! Cross-crate and interoperability tests. The library part holds helpers the
//! test files share: where `../shared/` lives and how to run the Python oracles.
