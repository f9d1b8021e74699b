//! Cross-crate and interoperability tests. The library part holds what the
//! test files share: where `../shared/` lives, how to run the Python oracles,
//! and a generator of random namespaced XML documents.
//!
//! `src/attacks/` is not part of this library: the attack suite
//! (`tests/attacks.rs`) includes it with `#[path]`, because it drives the
//! layer, whose crates are dev-dependencies of this package only.

use std::path::{Path, PathBuf};

pub mod generate;

/// The project's `shared/` folder (test vectors, bench fixtures). Set
/// `SAML_SHARED_DIR` to override; by default it sits beside the checkout.
#[must_use]
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SAML_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The Python interpreter that has the oracles' modules (Debian's, where
/// `python3-lxml` installs). Set `SAML_PYTHON` to override.
#[must_use]
pub fn python() -> PathBuf {
    std::env::var_os("SAML_PYTHON").map_or_else(|| PathBuf::from("/usr/bin/python3"), PathBuf::from)
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted.
#[must_use]
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
