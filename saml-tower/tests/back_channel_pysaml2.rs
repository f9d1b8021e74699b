//! The back channel against a third-party IdP: pysaml2
//! (`tests/oracles/pysaml2_idp_server.py`) on an ephemeral loopback port,
//! and an SP built from the layer in this process (axum on loopback, a
//! `ReqwestClient` for server-to-server calls, a signing key). The flow,
//! `tests/oracles/pysaml2_back_channel_flow.py`, signs in on the
//! HTTP-Artifact binding (the SP resolves the artifact over SOAP at
//! pysaml2's artifact resolution service), refuses the artifact's reuse,
//! and has pysaml2 log the user out over SOAP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings, ResponseBinding, SamlUser, SpKeys};
use saml_remote::ReqwestClient;
use saml_store_memory::{MemoryStore, StaticKeyStore, StaticMetadataResolver};
use saml_tower::SamlLayer;

/// Kills the IdP when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn oracle(script: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/oracles")
        .join(script)
}

fn python() -> std::ffi::OsString {
    std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into())
}

fn sp_key() -> SigningKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "back-channel test SP");
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2090, 1, 1);
    let cert = params.self_signed(&pair).unwrap();
    SigningKey::from_pem(&pair.serialize_pem())
        .unwrap()
        .with_certificate(Certificate::from_pem(&cert.pem()).unwrap().remove(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_and_soap_logout_against_pysaml2() {
    let dir = std::env::temp_dir().join(format!("saml-back-channel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let idp_metadata = dir.join("idp.xml");
    let mut child = Command::new(python())
        .arg(oracle("pysaml2_idp_server.py"))
        .args(["--port", "0", "--metadata-out"])
        .arg(&idp_metadata)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("idp.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let idp = Killed(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    let idp_addr = first
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .map(|w| w.trim_end_matches(';').to_owned())
        .unwrap_or_else(|| panic!("the pysaml2 IdP did not start: {first:?}"));

    let metadata = IdpMetadata::parse(
        &std::fs::read_to_string(&idp_metadata).unwrap(),
        &MetadataOptions::new(),
    )
    .unwrap();
    assert!(metadata.artifact_resolution_endpoint(Some(1)).is_some());
    let mut settings = ProviderSettings::default();
    settings.response_binding = ResponseBinding::Artifact;
    let provider = Provider {
        name: "py".to_owned(),
        metadata,
        settings,
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let layer = SamlLayer::builder(&base)
        .stores(MemoryStore::new())
        .metadata_resolver(StaticMetadataResolver::new(vec![provider]))
        .key_store(StaticKeyStore::new(SpKeys {
            signing: Some(Arc::new(sp_key())),
            ..Default::default()
        }))
        .http_client(ReqwestClient::new().unwrap())
        .insecure_allow_http_cookies_on_localhost()
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(
                |user: Option<axum::Extension<std::sync::Arc<SamlUser>>>| async move {
                    match user {
                        Some(axum::Extension(u)) => (
                            http::StatusCode::OK,
                            serde_json::json!({"provider": u.provider, "name_id": u.name_id})
                                .to_string(),
                        ),
                        None => (http::StatusCode::UNAUTHORIZED, "{}".to_owned()),
                    }
                },
            ),
        )
        .layer(layer);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let script = oracle("pysaml2_back_channel_flow.py");
    let idp_base = format!("http://{idp_addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .arg(&base)
            .arg(&idp_base)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    drop(idp);
    let log = std::fs::read_to_string(dir.join("idp.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "back channel flow failed:\n{}\n{}\n--- IdP log\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("back channel flow ok"));
}
