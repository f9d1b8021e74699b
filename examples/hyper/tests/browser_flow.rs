//! Starts the hyper example on an ephemeral loopback port and walks through
//! a full sign-in as a browser would (cookies, redirects, the development
//! IdP's form, the POST back to the ACS, the protected page, `/me`, logout
//! (single logout, started by the SP or by the IdP), and a replayed
//! response), driven by `tests/oracles/browser_flow.py`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The server process, killed when dropped (also when an assertion fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example and returns it with the `127.0.0.1:PORT` its first
/// stdout line names.
fn start() -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saml-example-hyper"))
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    let addr = first
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .trim_end_matches(';')
        .to_owned();
    (server, addr)
}

/// Runs `tests/oracles/browser_flow.py` against `addr` with `extra` flags.
fn browser_flow(addr: &str, extra: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles/browser_flow.py");
    let python = std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into());
    let out = Command::new(python)
        .arg(&script)
        .arg(format!("http://{addr}"))
        .args(["--home-contains", "action=\"/saml/logout\""])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser flow failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn full_sign_in_through_the_development_idp() {
    let (_server, addr) = start();
    // Sign-out is SP-initiated single logout through the development IdP.
    browser_flow(&addr, &["--expect-slo"]);
}

#[test]
fn idp_initiated_logout_ends_the_session() {
    let (_server, addr) = start();
    // The development IdP sends a signed LogoutRequest to /saml/slo.
    browser_flow(&addr, &["--idp-logout"]);
}
