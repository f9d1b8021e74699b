//! Starts the tonic example on an ephemeral loopback port. A gRPC
//! `grpc.health.v1.Health/Check` without a session is refused with
//! UNAUTHENTICATED (code 16); `tests/oracles/browser_flow.py` then signs in
//! as a browser would (over HTTP/1.1 on the same port) and prints the
//! session cookie, and the same gRPC call with that cookie as `cookie`
//! metadata succeeds. The full browser flow (logout through the IdP's
//! single logout, a replayed response) runs as well.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_saml-example-tonic"))
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

fn browser_flow(addr: &str, extra: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles/browser_flow.py");
    let python = std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into());
    let out = Command::new(python)
        .arg(&script)
        .arg(format!("http://{addr}"))
        .args(["--home-contains", "gRPC calls"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser flow failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A gRPC health client over HTTP/2 (prior knowledge) to `addr`.
fn health_client(addr: &str) -> HealthClient<Client<HttpConnector, tonic::body::Body>> {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    HealthClient::with_origin(client, format!("http://{addr}").parse().unwrap())
}

/// `Health/Check` for the whole server, with `cookie` metadata if given.
async fn check(addr: &str, cookie: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(cookie) = cookie {
        request
            .metadata_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    let response = health_client(addr).check(request).await?;
    Ok(response.into_inner().status())
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_needs_a_session_from_the_browser_login() {
    let (_server, addr) = start();

    // No session: UNAUTHENTICATED, not a redirect.
    let refused = check(&addr, None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    // A made-up session cookie is no better.
    let refused = check(&addr, Some("saml_session=forged")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // Sign in through the development IdP, keeping the session.
    let out = browser_flow(&addr, &["--keep-session"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let cookie = stdout
        .lines()
        .find_map(|line| line.strip_prefix("session_cookie="))
        .unwrap_or_else(|| panic!("no session cookie in {stdout:?}"));
    assert!(cookie.starts_with("saml_session="), "{cookie}");

    // The same call with the session cookie as metadata succeeds.
    assert_eq!(
        check(&addr, Some(cookie)).await.unwrap(),
        ServingStatus::Serving
    );
}

#[test]
fn full_sign_in_through_the_development_idp() {
    let (_server, addr) = start();
    browser_flow(&addr, &["--expect-slo"]);
}
