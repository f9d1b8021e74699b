//! The example server against a third-party IdP: pysaml2 (Debian
//! `python3-pysaml2`) behind a small HTTP server,
//! `tests/oracles/pysaml2_idp_server.py`, on an ephemeral loopback port.
//!
//! The IdP starts first and writes its metadata; two example servers start
//! with `--idp py=<that file>` (one with IdP-initiated sign-in off, one with
//! it on as the control); `tests/oracles/pysaml2_idp_flow.py` then hands each
//! SP's own metadata to the IdP and walks through a browser-less sign-in
//! (SP-initiated over HTTP-Redirect, the IdP's POST form back to the ACS with
//! the SP's cookies, `/me`), a replayed response, an unsolicited one, and
//! Single Logout both ways (IdP-initiated: pysaml2's signed LogoutRequest
//! ends the session in the store; SP-initiated: pysaml2 ends its own session
//! and answers a signed LogoutResponse; a tampered LogoutRequest is refused).
//! Every process is killed at the end, on failure too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// The servers of one test run and their scratch directory: killed and
/// removed when dropped, so a failed assertion leaves nothing running.
struct Servers {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Servers {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("saml-pysaml2-idp-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            children: Vec::new(),
        }
    }

    /// Starts `command` with its stderr in `<dir>/<name>.log` and returns
    /// the `127.0.0.1:PORT` its first stdout line names.
    fn start(&mut self, name: &str, mut command: Command) -> String {
        let log = File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        self.children.push(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        first
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .map(|w| w.trim_end_matches(';').to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "{name} did not start (first line {first:?}):\n{}",
                    self.logs()
                )
            })
    }

    /// Everything the servers wrote to stderr so far.
    fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                logs.push_str(&format!("--- {}\n{text}\n", path.display()));
            }
        }
        logs
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> OsString {
    std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into())
}

fn oracle(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/oracles")
        .join(script)
}

/// The example server, configured by its flags only (no `SAML_*` variables
/// from the environment).
fn example(idp_metadata: &Path, allow_idp_initiated: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"));
    for var in [
        "SAML_LISTEN",
        "SAML_BASE_URL",
        "SAML_DATABASE_URL",
        "SAML_IDP",
        "SAML_ALLOW_IDP_INITIATED",
    ] {
        command.env_remove(var);
    }
    // Each server its own SQLite file (the default store) beside the metadata.
    let database = idp_metadata.with_file_name(format!("sp-{allow_idp_initiated}.sqlite"));
    command
        .args(["--listen", "127.0.0.1:0", "--idp"])
        .arg(format!("py={}", idp_metadata.display()))
        .arg("--database-url")
        .arg(format!("sqlite://{}?mode=rwc", database.display()));
    if allow_idp_initiated {
        command.arg("--allow-idp-initiated");
    }
    command
}

#[test]
fn sign_in_through_a_pysaml2_idp() {
    let mut servers = Servers::new();
    let idp_metadata = servers.dir.join("idp-metadata.xml");

    // The IdP writes its metadata before it prints its address.
    let mut idp = Command::new(python());
    idp.arg(oracle("pysaml2_idp_server.py"))
        .args(["--port", "0", "--metadata-out"])
        .arg(&idp_metadata);
    let idp = servers.start("pysaml2-idp", idp);
    let sp = servers.start("sp", example(&idp_metadata, false));
    let sp_idp_initiated = servers.start("sp-idp-initiated", example(&idp_metadata, true));

    let out = Command::new(python())
        .arg(oracle("pysaml2_idp_flow.py"))
        .arg(format!("http://{sp}"))
        .arg(format!("http://{idp}"))
        .arg(format!("http://{sp_idp_initiated}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pysaml2 IdP flow failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        servers.logs()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pysaml2 IdP flow ok"), "{stdout}");
}
