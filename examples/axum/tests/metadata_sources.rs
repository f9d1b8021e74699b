//! `--idp` sources of both kinds on one server: a metadata file and a
//! metadata URL (fetched by saml-remote), beside the built-in development
//! IdP. Two other example processes play the external IdPs: their own
//! development IdPs publish metadata at `/dev-idp/metadata` on loopback.
//!
//! Checks: the chooser lists every provider; a login through each goes to
//! its own IdP; the URL provider keeps working from its last good copy once
//! its metadata URL is down; a URL that is down at startup does not stop the
//! server: its provider answers 503 (fail closed) and the others work. Also:
//! `/audit` is for signed-in users only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Example processes, killed when dropped.
#[derive(Default)]
struct Servers(Vec<Child>);

impl Servers {
    /// Starts the example with `args` and a memory store; returns its address.
    fn start(&mut self, args: &[&str]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"));
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("SAML_") {
                command.env_remove(var);
            }
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--database-url", "memory"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.0.push(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        first
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("the example did not start: {first:?}"))
            .trim_end_matches(';')
            .to_owned()
    }

    /// Stops the server started `index`-th.
    fn stop(&mut self, index: usize) {
        let child = &mut self.0[index];
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A plain HTTP/1.1 GET: (status, headers in lower case, body).
fn get(addr: &str, path: &str, accept: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Where `/saml/login?idp=NAME` sends the browser.
fn login_location(addr: &str, name: &str) -> String {
    let (status, head, body) = get(addr, &format!("/saml/login?idp={name}"), "text/html");
    assert_eq!(status, 303, "{name}: {head}\n{body}");
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap()
        .to_owned()
}

#[test]
fn a_metadata_file_and_a_metadata_url_side_by_side() {
    let mut servers = Servers::default();
    let file_idp = servers.start(&[]);
    let url_idp = servers.start(&[]);
    let (status, _, metadata) = get(&file_idp, "/dev-idp/metadata", "application/xml");
    assert_eq!(status, 200);
    let file: PathBuf =
        std::env::temp_dir().join(format!("saml-example-md-{}.xml", std::process::id()));
    std::fs::write(&file, metadata).unwrap();

    let sp = servers.start(&[
        "--idp",
        &format!("local={}", file.display()),
        "--idp",
        &format!("remote=http://{url_idp}/dev-idp/metadata"),
        "--idp-preset",
        "remote=okta",
    ]);
    let _ = std::fs::remove_file(&file);

    let (status, _, chooser) = get(&sp, "/saml/login", "text/html");
    assert_eq!(status, 200, "{chooser}");
    for name in ["dev", "local", "remote"] {
        assert!(
            chooser.contains(&format!("/saml/login?idp={name}\"")),
            "{name}: {chooser}"
        );
    }
    let sso = |addr: &str| format!("http://{addr}/dev-idp/sso?");
    assert!(login_location(&sp, "local").starts_with(&sso(&file_idp)));
    assert!(login_location(&sp, "remote").starts_with(&sso(&url_idp)));
    assert!(login_location(&sp, "dev").starts_with(&sso(&sp)));

    // The metadata URL goes down: the last good copy stays in use.
    servers.stop(1);
    assert!(login_location(&sp, "remote").starts_with(&sso(&url_idp)));
}

#[test]
fn a_metadata_url_that_is_down_at_startup_fails_closed_and_alone() {
    let mut servers = Servers::default();
    // Nothing listens on port 1 of the loopback interface.
    let sp = servers.start(&["--idp", "gone=http://127.0.0.1:1/metadata"]);
    let (status, _, body) = get(&sp, "/saml/login?idp=gone", "application/json");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store_unavailable"), "{body}");
    assert!(login_location(&sp, "dev").starts_with(&format!("http://{sp}/dev-idp/sso?")));
}

#[test]
fn the_audit_log_needs_a_session() {
    let mut servers = Servers::default();
    let sp = servers.start(&[]);
    let (status, _, body) = get(&sp, "/audit", "application/json");
    assert_eq!(status, 401, "{body}");
    let (status, head, _) = get(&sp, "/audit", "text/html");
    assert_eq!(status, 303, "{head}");
}
