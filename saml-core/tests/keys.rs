//! Key and certificate loading: X.509 in PEM, DER and bare base64; private
//! keys as PKCS#8, PKCS#1 and SEC1 in PEM and DER; certificate dates reported
//! as information only; weak RSA keys refused unless explicitly allowed.
//! Key material comes from the shared fixtures and from the `openssl` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use saml_core::crypto::{Certificate, KeyType, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::dsig::{SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

fn shared() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(shared().join("bench-fixtures").join(name)).unwrap()
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("openssl CLI");
    assert!(status.success(), "openssl {args:?}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saml-keys-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Signs a tiny document with `key` and verifies it with `public`.
fn round_trip(
    key: &SigningKey,
    public: &PublicKey,
    options: &VerifyOptions,
) -> Result<(), ErrorCode> {
    let xml =
        r#"<a:Doc xmlns:a="urn:test" ID="_d"><a:Issuer>me</a:Issuer><a:Body>hi</a:Body></a:Doc>"#;
    let signed = sign_enveloped(xml, "_d", key, &SignOptions::default()).map_err(|e| e.code())?;
    let doc = Document::parse(&signed, &Limits::default()).unwrap();
    verify_enveloped(doc.root(), std::slice::from_ref(public), options)
        .map(|_| ())
        .map_err(|e| e.code())
}

#[test]
fn certificates_load_from_pem_der_and_bare_base64() {
    let pem = Certificate::from_pem(&text("idp-cert.pem")).unwrap();
    let der = Certificate::from_der(&fixture("idp-cert.der")).unwrap();
    let body: String = text("idp-cert.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n   ");
    let bare = Certificate::from_base64(&body).unwrap();
    assert_eq!(pem[0].der(), der.der());
    assert_eq!(bare.der(), der.der());
    assert_eq!(
        der.public_key().spki_der(),
        fixture("idp-spki.der").as_slice()
    );
    assert_eq!(der.public_key().key_type(), KeyType::Rsa { bits: 2048 });
    assert!(der.subject().contains("idp.example.test"));
    assert!(der.public_key().certificate_der().is_some());
    let spki = PublicKey::from_spki_der(&fixture("idp-spki.der")).unwrap();
    assert_eq!(spki.key_type(), KeyType::Rsa { bits: 2048 });
    assert!(spki.certificate_der().is_none());
}

#[test]
fn bad_certificates_are_refused_with_a_code() {
    assert_eq!(
        Certificate::from_pem("no pem here").unwrap_err().code(),
        ErrorCode::UntrustedKey
    );
    assert_eq!(
        Certificate::from_der(b"\x30\x03\x02\x01\x00")
            .unwrap_err()
            .code(),
        ErrorCode::UntrustedKey
    );
    assert_eq!(
        Certificate::from_base64("!!!").unwrap_err().code(),
        ErrorCode::MalformedXml
    );
    let mut der = fixture("idp-cert.der");
    der.push(0);
    assert_eq!(
        Certificate::from_der(&der).unwrap_err().code(),
        ErrorCode::UntrustedKey
    );
}

#[test]
fn certificate_dates_are_information_not_a_verdict() {
    // A real ADFS certificate that expired in 2017 still carries a usable key.
    let pem = std::fs::read_to_string(
        shared().join("testdata/real-idp/adfs/gosaml2-signed-assertion/idp-cert.pem"),
    )
    .unwrap();
    let cert = Certificate::from_pem(&pem).unwrap().remove(0);
    let nov_2017 = 1_509_661_755; // 2017-11-02T22:29:15Z, its notAfter
    assert_eq!(cert.not_after(), nov_2017);
    assert!(cert.is_valid_at(nov_2017 - 86_400));
    assert!(!cert.is_valid_at(nov_2017 + 1));
    assert!(!cert.is_valid_at(cert.not_before() - 1));
}

#[test]
fn private_keys_load_in_every_common_form() {
    let pkcs8_pem = SigningKey::from_pem(&text("sp-key.pem")).unwrap();
    let pkcs1_pem = SigningKey::from_pem(&text("sp-key.rsa.pem")).unwrap();
    let pkcs8_der = SigningKey::from_der(&fixture("sp-key.pk8.der")).unwrap();
    let sp_cert = Certificate::from_pem(&text("sp-cert.pem"))
        .unwrap()
        .remove(0);
    for key in [pkcs8_pem, pkcs1_pem, pkcs8_der] {
        assert_eq!(key.key_type(), KeyType::Rsa { bits: 2048 });
        assert_eq!(
            round_trip(&key, sp_cert.public_key(), &VerifyOptions::new()),
            Ok(())
        );
        let key = key.with_certificate(sp_cert.clone()).unwrap();
        assert!(key.certificate().is_some());
    }
    // A certificate that is not this key's is refused.
    let idp_cert = Certificate::from_pem(&text("idp-cert.pem"))
        .unwrap()
        .remove(0);
    let err = SigningKey::from_pem(&text("sp-key.pem"))
        .unwrap()
        .with_certificate(idp_cert)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UntrustedKey);
    assert_eq!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err()
            .code(),
        ErrorCode::UntrustedKey
    );
    assert!(
        format!("{:?}", SigningKey::from_pem(&text("sp-key.pem")).unwrap()).contains("[redacted]")
    );
}

#[test]
fn ec_keys_in_sec1_and_pkcs8_sign_and_verify() {
    let dir = temp_dir("ec");
    for (curve, kt, alg) in [
        ("P-256", KeyType::EcP256, SignatureAlgorithm::EcdsaSha256),
        ("P-384", KeyType::EcP384, SignatureAlgorithm::EcdsaSha384),
        ("P-521", KeyType::EcP521, SignatureAlgorithm::EcdsaSha512),
    ] {
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                "k8.pem",
            ],
        );
        openssl(&dir, &["ec", "-in", "k8.pem", "-out", "sec1.pem"]);
        openssl(
            &dir,
            &["ec", "-in", "k8.pem", "-outform", "DER", "-out", "sec1.der"],
        );
        openssl(
            &dir,
            &[
                "req", "-new", "-x509", "-key", "k8.pem", "-subj", "/CN=ec", "-days", "2", "-out",
                "c.pem",
            ],
        );
        let cert = Certificate::from_pem(&std::fs::read_to_string(dir.join("c.pem")).unwrap())
            .unwrap()
            .remove(0);
        assert_eq!(cert.public_key().key_type(), kt);
        let sec1_pem = std::fs::read_to_string(dir.join("sec1.pem")).unwrap();
        assert!(sec1_pem.contains("EC PRIVATE KEY"), "openssl wrote SEC1");
        let keys = [
            SigningKey::from_pem(&std::fs::read_to_string(dir.join("k8.pem")).unwrap()).unwrap(),
            SigningKey::from_pem(&sec1_pem).unwrap(),
            SigningKey::from_der(&std::fs::read(dir.join("sec1.der")).unwrap()).unwrap(),
        ];
        for key in keys {
            assert_eq!(key.key_type(), kt);
            assert_eq!(key.default_algorithm(), alg);
            assert_eq!(
                round_trip(&key, cert.public_key(), &VerifyOptions::new()),
                Ok(()),
                "{curve}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn weak_rsa_keys_are_refused_unless_allowed() {
    let dir = temp_dir("weak");
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "k.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req", "-new", "-x509", "-key", "k.pem", "-subj", "/CN=weak", "-days", "2", "-out",
            "c.pem",
        ],
    );
    let cert = Certificate::from_pem(&std::fs::read_to_string(dir.join("c.pem")).unwrap())
        .unwrap()
        .remove(0);
    assert!(cert.public_key().is_weak());
    assert_eq!(cert.public_key().key_type(), KeyType::Rsa { bits: 1024 });
    // We never sign with a weak key: it does not even load.
    let err =
        SigningKey::from_pem(&std::fs::read_to_string(dir.join("k.pem")).unwrap()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UntrustedKey);
    let _ = std::fs::remove_dir_all(dir);

    // Verifying with a weak trusted key (a real ADFS test response signed
    // with a 1024-bit key) needs the explicit opt-in.
    let case = shared().join("testdata/real-idp/adfs/ruby-saml-sha512-resigned");
    let pem = std::fs::read_to_string(case.join("idp-cert.pem")).unwrap();
    let keys: Vec<PublicKey> = Certificate::from_pem(&pem)
        .unwrap()
        .iter()
        .map(|c| c.public_key().clone())
        .collect();
    assert!(keys[0].is_weak());
    let xml = std::fs::read_to_string(case.join("response.xml")).unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let assertion = doc
        .root()
        .child_elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    let strict = verify_enveloped(assertion, &keys, &VerifyOptions::new()).unwrap_err();
    assert_eq!(strict.code(), ErrorCode::UntrustedKey);
    assert!(
        verify_enveloped(
            assertion,
            &keys,
            &VerifyOptions::new().dangerous_allow_weak_keys()
        )
        .is_ok()
    );
}

#[test]
fn key_and_algorithm_families_must_match() {
    let rsa = SigningKey::from_pem(&text("sp-key.pem")).unwrap();
    assert_eq!(
        rsa.sign(SignatureAlgorithm::EcdsaSha256, b"m")
            .unwrap_err()
            .code(),
        ErrorCode::UntrustedKey
    );
    // RSA-PSS round trip.
    let sp_cert = Certificate::from_pem(&text("sp-cert.pem"))
        .unwrap()
        .remove(0);
    let mut options = SignOptions::default();
    options.algorithm = Some(SignatureAlgorithm::RsaPssSha256);
    let xml = r#"<a ID="_p"><b>x</b></a>"#;
    let signed = sign_enveloped(xml, "_p", &rsa, &options).unwrap();
    let doc = Document::parse(&signed, &Limits::default()).unwrap();
    let verified = verify_enveloped(
        doc.root(),
        std::slice::from_ref(sp_cert.public_key()),
        &VerifyOptions::new(),
    )
    .unwrap();
    assert_eq!(verified.algorithm(), SignatureAlgorithm::RsaPssSha256);
}
