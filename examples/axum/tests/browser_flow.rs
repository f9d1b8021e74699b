//! Starts the example server on an ephemeral loopback port and walks through
//! a full sign-in as a browser would (cookies, redirects, the development
//! IdP's form, the POST back to the ACS, the protected page, `/me`, logout,
//! and a replayed response), driven by `tests/oracles/browser_flow.py`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn full_sign_in_through_the_development_idp() {
    // The default store is a SQLite file; this one lives in the temp directory.
    let database =
        std::env::temp_dir().join(format!("saml_t_example_{}.sqlite", std::process::id()));
    let mut server = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"))
        .args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}?mode=rwc", database.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap()
        .trim_end_matches(';')
        .to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles/browser_flow.py");
    let python = std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into());
    let out = Command::new(python)
        .arg(&script)
        .arg(format!("http://{addr}"))
        // The axum example's home page also names the provider and offers
        // a sign-out button.
        .args(["--home-contains", "Signed in through <b>dev</b>"])
        .args(["--home-contains", "action=\"/saml/logout\"", "--expect-slo"])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_file(&database);
    assert!(
        out.status.success(),
        "browser flow failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
