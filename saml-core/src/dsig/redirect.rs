//! Query-string signatures of the HTTP-Redirect binding (SAML Bindings 2.0,
//! section 3.4.4.1).
//!
//! A redirected message is not signed inside its XML: the sender signs the
//! octets `SAMLRequest=…&RelayState=…&SigAlg=…` (or `SAMLResponse=…`) exactly
//! as they appear, percent-encoded, in the URL, and adds `&Signature=…`.
//! [`sign_redirect_query`] builds such a query; [`verify_redirect_query`]
//! checks a received one against trusted keys, rebuilding the signed octets
//! from the raw values as received (never re-encoding them), and returns the
//! decoded values in a [`VerifiedRedirect`].

use std::fmt::Write as _;

use base64::Engine;

use super::VerifyOptions;
use crate::crypto::{PublicKey, SignatureAlgorithm, SigningKey, decode_base64};
use crate::error::{Error, ErrorCode, Result};

/// Largest raw query accepted (the binding carries the DEFLATEd message).
const MAX_QUERY: usize = 256 * 1024;

/// Which message parameter the query carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectParameter {
    /// `SAMLRequest`: a protocol request (AuthnRequest, LogoutRequest, …).
    SamlRequest,
    /// `SAMLResponse`: a protocol response (LogoutResponse, …).
    SamlResponse,
}

impl RedirectParameter {
    /// The query parameter name: `SAMLRequest` or `SAMLResponse`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SamlRequest => "SAMLRequest",
            Self::SamlResponse => "SAMLResponse",
        }
    }
}

/// What a verified query carried (decoded values). The only way to obtain
/// one is [`verify_redirect_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRedirect {
    parameter: RedirectParameter,
    message: String,
    relay_state: Option<String>,
    algorithm: SignatureAlgorithm,
    key_index: usize,
}

impl VerifiedRedirect {
    /// Whether the query carried `SAMLRequest` or `SAMLResponse`.
    #[must_use]
    pub const fn parameter(&self) -> RedirectParameter {
        self.parameter
    }

    /// The message value, percent-decoded but still base64 of the DEFLATEd XML.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The decoded `RelayState`, if the query carried one.
    #[must_use]
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }

    /// The signature algorithm named by `SigAlg`.
    #[must_use]
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Index, in the caller's trusted key list, of the key that verified.
    #[must_use]
    pub const fn key_index(&self) -> usize {
        self.key_index
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::SignatureInvalid, detail)
}

/// Percent-encodes everything except the RFC 3986 unreserved characters
/// (`ALPHA DIGIT - . _ ~`), with upper-case hex.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing into a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (either hex case), and `+` as a space when
/// `plus_is_space` (form encoding). `None` for a malformed escape or a result
/// that is not UTF-8.
pub(crate) fn percent_decode(raw: &str, plus_is_space: bool) -> Option<String> {
    let hex = |b: Option<&u8>| {
        b.and_then(|b| char::from(*b).to_digit(16))
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.as_bytes().iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'%' => {
                let high = hex(bytes.next())?;
                let low = hex(bytes.next())?;
                out.push(high << 4 | low);
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn decode_value(raw: &str, plus_is_space: bool, name: &str) -> Result<String> {
    percent_decode(raw, plus_is_space).ok_or_else(|| {
        invalid(format!(
            "the {name} parameter has malformed percent-encoding or is not UTF-8"
        ))
    })
}

/// Builds the signed, HTTP-Redirect query string
/// `SAMLRequest=…[&RelayState=…]&SigAlg=…&Signature=…` (or `SAMLResponse=…`).
///
/// `message` is the DEFLATEd and base64-encoded message, not yet URL-encoded.
/// Every value is percent-encoded here (all but RFC 3986 unreserved
/// characters, so base64 `+ / =` become `%2B %2F %3D`), and the signature
/// covers the query up to, not including, `&Signature=`, as the binding
/// requires. The signature is standard, padded base64.
///
/// Errors: those of [`SigningKey::sign`] (`algorithm_forbidden` for RSA-SHA1,
/// `untrusted_key` when the algorithm does not fit the key).
pub fn sign_redirect_query(
    parameter: RedirectParameter,
    message: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
    algorithm: SignatureAlgorithm,
) -> Result<String> {
    let mut query = format!("{}={}", parameter.name(), percent_encode(message));
    if let Some(relay_state) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&percent_encode(relay_state));
    }
    query.push_str("&SigAlg=");
    query.push_str(&percent_encode(algorithm.uri()));
    let signature = key.sign(algorithm, query.as_bytes())?;
    query.push_str("&Signature=");
    query.push_str(&percent_encode(
        &base64::engine::general_purpose::STANDARD.encode(signature),
    ));
    Ok(query)
}

/// The parameters that matter, as raw (still percent-encoded) values.
#[derive(Default)]
struct RawParameters<'q> {
    request: Option<&'q str>,
    response: Option<&'q str>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

impl<'q> RawParameters<'q> {
    /// Splits on `&`, compares names after decoding, refuses duplicates of
    /// the five known names and ignores every other (unsigned) parameter.
    fn parse(raw_query: &'q str) -> Result<Self> {
        let mut params = Self::default();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(raw_name, true).ok_or_else(|| {
                invalid("a query parameter name has malformed percent-encoding or is not UTF-8")
            })?;
            let slot = match name.as_str() {
                "SAMLRequest" => &mut params.request,
                "SAMLResponse" => &mut params.response,
                "RelayState" => &mut params.relay_state,
                "SigAlg" => &mut params.sig_alg,
                "Signature" => &mut params.signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(invalid(format!("the query carries {name} more than once")));
            }
        }
        Ok(params)
    }
}

/// Verifies a received HTTP-Redirect query string: `raw_query` is the part
/// after `?` (without it), exactly as received, not decoded.
///
/// The signed octets are rebuilt from the raw values in the binding's fixed
/// order — `SAMLRequest=` or `SAMLResponse=`, then `&RelayState=` if present,
/// then `&SigAlg=` — and never re-encoded: the sender signed the bytes it
/// sent, and encoders differ (`%2b` versus `%2B`), so a query whose values
/// were re-encoded on the way no longer verifies. Parameters other than the
/// five of the binding are ignored (they are not signed). A literal `+` in
/// the base64 values (`Signature` and the message) is kept as `+`; in
/// `RelayState` and `SigAlg` it is a space, as in form encoding.
///
/// Errors: `input_too_large` (over 256 KiB), `signature_missing` (no or an
/// empty `Signature` or `SigAlg`), `algorithm_forbidden` (a `SigAlg` outside
/// the allow-list, or SHA-1 without opt-in), `signature_invalid` (a duplicate
/// parameter, both or neither of `SAMLRequest`/`SAMLResponse`, malformed
/// encoding, or a value that verifies with no trusted key), `untrusted_key`
/// (no trusted keys, or the only one is unusable: weak or of another type).
pub fn verify_redirect_query(
    raw_query: &str,
    keys: &[PublicKey],
    options: &VerifyOptions,
) -> Result<VerifiedRedirect> {
    if raw_query.len() > MAX_QUERY {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            format!("the redirect query is longer than {} KiB", MAX_QUERY / 1024),
        ));
    }
    let params = RawParameters::parse(raw_query)?;
    let (parameter, raw_message) = match (params.request, params.response) {
        (Some(m), None) => (RedirectParameter::SamlRequest, m),
        (None, Some(m)) => (RedirectParameter::SamlResponse, m),
        (Some(_), Some(_)) => {
            return Err(invalid(
                "the query carries both SAMLRequest and SAMLResponse",
            ));
        }
        (None, None) => {
            return Err(invalid(
                "the query carries neither SAMLRequest nor SAMLResponse",
            ));
        }
    };
    let (Some(raw_sig_alg), Some(raw_signature)) = (
        params.sig_alg.filter(|v| !v.is_empty()),
        params.signature.filter(|v| !v.is_empty()),
    ) else {
        return Err(Error::new(
            ErrorCode::SignatureMissing,
            format!(
                "the redirect {} is not signed (Signature or SigAlg is missing)",
                parameter.name()
            ),
        ));
    };

    let algorithm = SignatureAlgorithm::from_uri(
        &decode_value(raw_sig_alg, true, "SigAlg")?,
        options.allow_sha1,
    )?;
    let signature =
        decode_base64(&decode_value(raw_signature, false, "Signature")?).map_err(|e| {
            if e.code() == ErrorCode::MalformedXml {
                invalid("the Signature parameter is not valid base64")
            } else {
                e
            }
        })?;
    let message = decode_value(raw_message, false, parameter.name())?;
    let relay_state = params
        .relay_state
        .map(|r| decode_value(r, true, "RelayState"))
        .transpose()?;

    let mut octets = String::with_capacity(raw_query.len());
    octets.push_str(parameter.name());
    octets.push('=');
    octets.push_str(raw_message);
    if let Some(raw_relay_state) = params.relay_state {
        octets.push_str("&RelayState=");
        octets.push_str(raw_relay_state);
    }
    octets.push_str("&SigAlg=");
    octets.push_str(raw_sig_alg);

    let key_index = verify_with_keys(keys, algorithm, octets.as_bytes(), &signature, options)?;
    Ok(VerifiedRedirect {
        parameter,
        message,
        relay_state,
        algorithm,
        key_index,
    })
}

/// Tries every trusted key in order; the first that verifies wins.
fn verify_with_keys(
    keys: &[PublicKey],
    algorithm: SignatureAlgorithm,
    octets: &[u8],
    signature: &[u8],
    options: &VerifyOptions,
) -> Result<usize> {
    if keys.is_empty() {
        return Err(Error::new(
            ErrorCode::UntrustedKey,
            "no trusted key is configured for this identity provider",
        ));
    }
    let mut last = invalid("the redirect signature does not verify with any trusted key");
    for (index, key) in keys.iter().enumerate() {
        match key.verify(algorithm, octets, signature, options.allow_weak_keys) {
            Ok(()) => return Ok(index),
            // With a single key, say why it could not be used (weak, wrong type).
            Err(e) if e.code() == ErrorCode::UntrustedKey && keys.len() == 1 => last = e,
            Err(_) => {}
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Certificate;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    /// A base64 value with all three characters that need escaping.
    const MESSAGE: &str = "fZFNT8MwDIb/Sm+9p+m6rqVRW2lsQkIaEmKIA7coTVuLfMVO+fj3pKxI5cLFsuM8fv1aqZFrNbJ9CIO5l2+TxBBdoHHgWyc91FdPRRFetZdcfVqm9nCDqo/ZqHvcMqC4xnWKadLcfgq11Q+T/Q==";
    /// A signature algorithm URI that nobody supports.
    const HMAC: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";

    struct Fixture {
        rsa_pem: String,
        rsa: SigningKey,
        rsa_pub: PublicKey,
        ec: SigningKey,
        ec_pub: PublicKey,
        other_pub: PublicKey,
    }

    /// A fresh empty directory under the system temp dir; the caller removes it.
    fn temp_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("saml-redirect-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl CLI is needed for these tests");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn key_pair(dir: &Path, name: &str, algorithm: &[&str]) -> (String, PublicKey) {
        let key = format!("{name}.pem");
        let cert = format!("{name}.crt");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(algorithm);
        args.extend_from_slice(&["-out", &key]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "req", "-new", "-x509", "-key", &key, "-subj", "/CN=t", "-days", "2", "-out", &cert,
            ],
        );
        let pem = std::fs::read_to_string(dir.join(&key)).unwrap();
        let public = Certificate::from_pem(&std::fs::read_to_string(dir.join(&cert)).unwrap())
            .unwrap()[0]
            .public_key()
            .clone();
        (pem, public)
    }

    /// Keys are generated once per test run with the openssl CLI.
    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let dir = temp_dir("keys");
            let rsa_args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
            let (rsa_pem, rsa_pub) = key_pair(&dir, "rsa", &rsa_args);
            let (ec_pem, ec_pub) = key_pair(
                &dir,
                "ec",
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            );
            let (_, other_pub) = key_pair(&dir, "other", &rsa_args);
            std::fs::remove_dir_all(&dir).unwrap();
            Fixture {
                rsa: SigningKey::from_pem(&rsa_pem).unwrap(),
                rsa_pem,
                rsa_pub,
                ec: SigningKey::from_pem(&ec_pem).unwrap(),
                ec_pub,
                other_pub,
            }
        })
    }

    fn sign(relay_state: Option<&str>) -> String {
        let f = fixture();
        sign_redirect_query(
            RedirectParameter::SamlRequest,
            MESSAGE,
            relay_state,
            &f.rsa,
            SignatureAlgorithm::RsaSha256,
        )
        .unwrap()
    }

    fn verify(query: &str) -> Result<VerifiedRedirect> {
        verify_redirect_query(
            query,
            std::slice::from_ref(&fixture().rsa_pub),
            &VerifyOptions::new(),
        )
    }

    fn code(result: Result<VerifiedRedirect>) -> ErrorCode {
        result.unwrap_err().code()
    }

    /// Signs hand-built `octets` with our key and appends `&Signature=`.
    fn assemble(octets: &str, key: &SigningKey, algorithm: SignatureAlgorithm) -> String {
        let sig = base64::engine::general_purpose::STANDARD
            .encode(key.sign(algorithm, octets.as_bytes()).unwrap());
        format!("{octets}&Signature={}", percent_encode(&sig))
    }

    /// The raw value of parameter `name` in `query`.
    fn raw_value<'q>(query: &'q str, name: &str) -> &'q str {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap()
    }

    /// Replaces the raw value of parameter `name`.
    fn with_value(query: &str, name: &str, value: &str) -> String {
        query
            .split('&')
            .map(|p| {
                if p.starts_with(&format!("{name}=")) {
                    format!("{name}={value}")
                } else {
                    p.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn without(query: &str, name: &str) -> String {
        query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(percent_encode("x y&z?é"), "x%20y%26z%3F%C3%A9");
        let all: String = (1u8..=127).map(char::from).chain("é€😀".chars()).collect();
        assert_eq!(percent_decode(&percent_encode(&all), false).unwrap(), all);
        assert_eq!(percent_decode(&percent_encode(&all), true).unwrap(), all);
    }

    #[test]
    fn decoding_handles_both_hex_cases_plus_and_refuses_bad_escapes() {
        assert_eq!(percent_decode("%2b%2B%c3%A9", false).unwrap(), "++é");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        for bad in ["%", "%4", "%zz", "%4g", "abc%", "%FF", "%C3"] {
            assert!(percent_decode(bad, false).is_none(), "{bad}");
        }
    }

    #[test]
    fn sign_builds_the_binding_layout() {
        let query = sign(Some("state 1"));
        let parts: Vec<&str> = query
            .split('&')
            .map(|p| p.split_once('=').unwrap().0)
            .collect();
        assert_eq!(parts, ["SAMLRequest", "RelayState", "SigAlg", "Signature"]);
        assert_eq!(raw_value(&query, "SAMLRequest"), percent_encode(MESSAGE));
        assert!(
            raw_value(&query, "SAMLRequest").contains("%2B")
                && raw_value(&query, "SAMLRequest").ends_with("%3D%3D")
        );
        assert_eq!(raw_value(&query, "RelayState"), "state%201");
        assert_eq!(
            raw_value(&query, "SigAlg"),
            "http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
        );
        assert!(
            raw_value(&query, "Signature")
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'%')
        );
        assert!(!sign(None).contains("RelayState"));
    }

    #[test]
    fn round_trip_rsa_sha256_with_and_without_relay_state() {
        let f = fixture();
        for relay_state in [None, Some("https://sp.example/after?x=1")] {
            let v = verify(&sign(relay_state)).unwrap();
            assert_eq!(v.parameter(), RedirectParameter::SamlRequest);
            assert_eq!(v.message(), MESSAGE);
            assert_eq!(v.relay_state(), relay_state);
            assert_eq!(v.algorithm(), SignatureAlgorithm::RsaSha256);
            assert_eq!(v.key_index(), 0);
        }
        // Also a SAMLResponse, and the other RSA digests and PSS.
        for alg in [
            SignatureAlgorithm::RsaSha512,
            SignatureAlgorithm::RsaPssSha256,
        ] {
            let q = sign_redirect_query(
                RedirectParameter::SamlResponse,
                MESSAGE,
                Some("r"),
                &f.rsa,
                alg,
            )
            .unwrap();
            assert!(q.starts_with("SAMLResponse="));
            let v = verify(&q).unwrap();
            assert_eq!(
                (v.parameter(), v.algorithm()),
                (RedirectParameter::SamlResponse, alg)
            );
        }
    }

    #[test]
    fn round_trip_ecdsa_sha256_with_and_without_relay_state() {
        let f = fixture();
        let keys = [f.rsa_pub.clone(), f.ec_pub.clone()];
        for relay_state in [None, Some("ec state")] {
            let q = sign_redirect_query(
                RedirectParameter::SamlRequest,
                MESSAGE,
                relay_state,
                &f.ec,
                SignatureAlgorithm::EcdsaSha256,
            )
            .unwrap();
            let v = verify_redirect_query(&q, &keys, &VerifyOptions::new()).unwrap();
            assert_eq!(v.message(), MESSAGE);
            assert_eq!(v.relay_state(), relay_state);
            assert_eq!(v.algorithm(), SignatureAlgorithm::EcdsaSha256);
            assert_eq!(v.key_index(), 1);
        }
    }

    #[test]
    fn relay_state_with_spaces_ampersands_and_unicode() {
        let relay_state = "a b&c=d+e%20/?#é€😀 ";
        let query = sign(Some(relay_state));
        // Only the three separators between the four parameters remain.
        assert_eq!(query.matches('&').count(), 3);
        assert_eq!(verify(&query).unwrap().relay_state(), Some(relay_state));
    }

    #[test]
    fn form_encoded_relay_state_plus_is_a_space() {
        let f = fixture();
        let sig_alg = percent_encode(SignatureAlgorithm::RsaSha256.uri());
        let octets = format!(
            "SAMLRequest={}&RelayState=a+b%2Bc&SigAlg={sig_alg}",
            percent_encode(MESSAGE)
        );
        let v = verify(&assemble(&octets, &f.rsa, SignatureAlgorithm::RsaSha256)).unwrap();
        assert_eq!(v.relay_state(), Some("a b+c"));
        // An empty RelayState is present (and signed), just empty.
        let octets = format!(
            "SAMLRequest={}&RelayState=&SigAlg={sig_alg}",
            percent_encode(MESSAGE)
        );
        assert_eq!(
            verify(&assemble(&octets, &f.rsa, SignatureAlgorithm::RsaSha256))
                .unwrap()
                .relay_state(),
            Some("")
        );
    }

    #[test]
    fn unescaped_plus_in_base64_values_is_kept() {
        let f = fixture();
        // A sender that leaves base64 '+' unescaped, in the message (signed as sent)...
        let sig_alg = percent_encode(SignatureAlgorithm::RsaSha256.uri());
        let octets = format!("SAMLRequest=ab+c/d==&SigAlg={sig_alg}");
        assert_eq!(
            verify(&assemble(&octets, &f.rsa, SignatureAlgorithm::RsaSha256))
                .unwrap()
                .message(),
            "ab+c/d=="
        );
        // ...and in the Signature (not signed itself): PKCS#1 v1.5 is
        // deterministic, so vary RelayState until the signature has a '+'.
        let query = (0..10_000)
            .map(|i| sign(Some(&i.to_string())))
            .find(|q| raw_value(q, "Signature").contains("%2B"))
            .unwrap();
        let literal = with_value(
            &query,
            "Signature",
            &raw_value(&query, "Signature").replace("%2B", "+"),
        );
        assert!(literal.contains('+'));
        assert!(verify(&literal).is_ok());
    }

    #[test]
    fn tampered_values_do_not_verify() {
        let query = sign(Some("state"));
        let message = raw_value(&query, "SAMLRequest");
        let tampered = with_value(
            &query,
            "SAMLRequest",
            &format!("A{}", message.get(1..).unwrap()),
        );
        assert_eq!(code(verify(&tampered)), ErrorCode::SignatureInvalid);
        assert_eq!(
            code(verify(&with_value(&query, "RelayState", "other"))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&without(&query, "RelayState"))),
            ErrorCode::SignatureInvalid
        );
        let added = sign(None).replacen("&SigAlg=", "&RelayState=x&SigAlg=", 1);
        assert_eq!(code(verify(&added)), ErrorCode::SignatureInvalid);
        // Request turned into a response.
        assert_eq!(
            code(verify(&query.replacen("SAMLRequest=", "SAMLResponse=", 1))),
            ErrorCode::SignatureInvalid
        );
        // Another allowed algorithm: the octets (and the hash) differ.
        let sha512 = percent_encode(SignatureAlgorithm::RsaSha512.uri());
        assert_eq!(
            code(verify(&with_value(&query, "SigAlg", &sha512))),
            ErrorCode::SignatureInvalid
        );
        // Signature bytes changed, or not base64 at all.
        let sig = raw_value(&query, "Signature");
        let flipped = format!(
            "{}{}",
            if sig.starts_with('A') { "B" } else { "A" },
            sig.get(1..).unwrap()
        );
        assert_eq!(
            code(verify(&with_value(&query, "Signature", &flipped))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&with_value(&query, "Signature", "not*base64"))),
            ErrorCode::SignatureInvalid
        );
    }

    #[test]
    fn missing_signature_or_sig_alg_is_signature_missing() {
        let query = sign(Some("state"));
        assert_eq!(
            code(verify(&without(&query, "Signature"))),
            ErrorCode::SignatureMissing
        );
        assert_eq!(
            code(verify(&without(&query, "SigAlg"))),
            ErrorCode::SignatureMissing
        );
        assert_eq!(
            code(verify(&with_value(&query, "Signature", ""))),
            ErrorCode::SignatureMissing
        );
        assert_eq!(
            code(verify(&format!("SAMLRequest={}", percent_encode(MESSAGE)))),
            ErrorCode::SignatureMissing
        );
    }

    #[test]
    fn algorithms_outside_the_allow_list_are_forbidden() {
        let f = fixture();
        let query = sign(None);
        assert_eq!(
            code(verify(&with_value(&query, "SigAlg", &percent_encode(HMAC)))),
            ErrorCode::AlgorithmForbidden
        );
        // We never sign with RSA-SHA1.
        let err = sign_redirect_query(
            RedirectParameter::SamlRequest,
            MESSAGE,
            None,
            &f.rsa,
            SignatureAlgorithm::RsaSha1,
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlgorithmForbidden);
    }

    #[test]
    fn sha1_needs_an_explicit_opt_in() {
        // An RSA-SHA1 query signed by the openssl CLI (we refuse to make one).
        let f = fixture();
        let octets = format!(
            "SAMLRequest={}&SigAlg={}",
            percent_encode(MESSAGE),
            percent_encode(RSA_SHA1)
        );
        let query = format!(
            "{octets}&Signature={}",
            percent_encode(&openssl_sign(&f.rsa_pem, "-sha1", &octets))
        );
        let keys = std::slice::from_ref(&f.rsa_pub);
        assert_eq!(
            code(verify_redirect_query(&query, keys, &VerifyOptions::new())),
            ErrorCode::AlgorithmForbidden
        );
        let v = verify_redirect_query(&query, keys, &VerifyOptions::new().dangerous_allow_sha1())
            .unwrap();
        assert_eq!(v.algorithm(), SignatureAlgorithm::RsaSha1);
    }

    #[test]
    fn duplicate_or_ambiguous_parameters_are_refused() {
        let query = sign(Some("state"));
        for name in ["SAMLRequest", "RelayState", "SigAlg", "Signature"] {
            let twice = format!("{query}&{name}={}", raw_value(&query, name));
            let err = verify(&twice).unwrap_err();
            assert_eq!(err.code(), ErrorCode::SignatureInvalid, "{name}");
            assert!(err.detail().contains("more than once"), "{err}");
        }
        // A duplicate spelled with an encoded name is still a duplicate.
        assert_eq!(
            code(verify(&format!("{query}&Relay%53tate=x"))),
            ErrorCode::SignatureInvalid
        );
        let both = format!("{query}&SAMLResponse={}", raw_value(&query, "SAMLRequest"));
        assert!(verify(&both).unwrap_err().detail().contains("both"));
        let neither = without(&query, "SAMLRequest");
        assert!(verify(&neither).unwrap_err().detail().contains("neither"));
        assert_eq!(code(verify("")), ErrorCode::SignatureInvalid);
    }

    #[test]
    fn malformed_encoding_is_refused() {
        let query = sign(Some("state"));
        assert_eq!(
            code(verify(&with_value(&query, "RelayState", "%zz"))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&with_value(&query, "RelayState", "%FF"))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&with_value(&query, "SAMLRequest", "abc%2"))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&with_value(&query, "Signature", "%G0"))),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify(&format!("{query}&%zz=1"))),
            ErrorCode::SignatureInvalid
        );
    }

    #[test]
    fn keys_are_tried_in_order_and_untrusted_keys_fail() {
        let f = fixture();
        let query = sign(None);
        let options = VerifyOptions::new();
        let untrusted = verify_redirect_query(&query, std::slice::from_ref(&f.other_pub), &options);
        assert_eq!(code(untrusted), ErrorCode::SignatureInvalid);
        let keys = [f.other_pub.clone(), f.ec_pub.clone(), f.rsa_pub.clone()];
        assert_eq!(
            verify_redirect_query(&query, &keys, &options)
                .unwrap()
                .key_index(),
            2
        );
        assert_eq!(
            code(verify_redirect_query(&query, &keys[..2], &options)),
            ErrorCode::SignatureInvalid
        );
        assert_eq!(
            code(verify_redirect_query(&query, &[], &options)),
            ErrorCode::UntrustedKey
        );
        // A single key of the wrong type says so.
        assert_eq!(
            code(verify_redirect_query(
                &query,
                std::slice::from_ref(&f.ec_pub),
                &options
            )),
            ErrorCode::UntrustedKey
        );
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let query = sign(Some("state"));
        let expected = verify(&query).unwrap();
        for extra in [
            format!("foo=bar&{query}"),
            query.replacen("&SigAlg=", "&x=%zY1&bare&&SigAlg=", 1),
            format!("{query}&samlrequest=x&"),
        ] {
            assert_eq!(verify(&extra).unwrap(), expected, "{extra}");
        }
    }

    #[test]
    fn parameter_order_in_the_url_does_not_matter() {
        let query = sign(Some("state"));
        let mut parts: Vec<&str> = query.split('&').collect();
        parts.reverse();
        assert_eq!(
            verify(&parts.join("&")).unwrap().relay_state(),
            Some("state")
        );
    }

    /// SAML Bindings 3.4.4.1: the signature covers the values as they appear
    /// in the URL. Re-encoding a value (here `%2B` → `%2b`, which decodes to
    /// the same text) changes the signed octets, so the query no longer
    /// verifies; while a sender that itself uses lower-case hex verifies.
    #[test]
    fn verification_uses_the_raw_values() {
        let f = fixture();
        let query = sign(None);
        let message = raw_value(&query, "SAMLRequest");
        assert!(message.contains("%2B"));
        let relowered = with_value(&query, "SAMLRequest", &message.replace("%2B", "%2b"));
        assert_eq!(code(verify(&relowered)), ErrorCode::SignatureInvalid);
        let lower_sig_alg = raw_value(&query, "SigAlg").to_lowercase();
        let octets = format!(
            "SAMLRequest={}&SigAlg={lower_sig_alg}",
            message.replace("%2B", "%2b")
        );
        let query = format!(
            "{octets}&Signature={}",
            percent_encode(&openssl_sign(&f.rsa_pem, "-sha256", &octets))
        );
        assert!(query.contains("%2b") && query.contains("%3a%2f%2f"));
        let v = verify(&query).unwrap();
        assert_eq!(v.message(), MESSAGE);
    }

    #[test]
    fn oversized_queries_are_refused() {
        let query = format!("{}&pad={}", sign(None), "a".repeat(MAX_QUERY));
        assert_eq!(code(verify(&query)), ErrorCode::InputTooLarge);
    }

    /// Signs `octets` with the openssl CLI; returns standard base64.
    fn openssl_sign(key_pem: &str, digest: &str, octets: &str) -> String {
        let dir = temp_dir("sign");
        std::fs::write(dir.join("k.pem"), key_pem).unwrap();
        std::fs::write(dir.join("octets.txt"), octets).unwrap();
        openssl(
            &dir,
            &[
                "dgst",
                digest,
                "-sign",
                "k.pem",
                "-out",
                "sig.bin",
                "octets.txt",
            ],
        );
        let sig = std::fs::read(dir.join("sig.bin")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig)
    }

    /// Outside oracle, one way: a query whose octets we assemble by hand and
    /// have the openssl CLI sign verifies with ours.
    #[test]
    fn openssl_signature_verifies_with_ours() {
        let f = fixture();
        let octets = format!(
            "SAMLResponse={}&RelayState={}&SigAlg={}",
            percent_encode(MESSAGE),
            percent_encode("https://sp.example/a b"),
            percent_encode(SignatureAlgorithm::RsaSha256.uri())
        );
        let query = format!(
            "{octets}&Signature={}",
            percent_encode(&openssl_sign(&f.rsa_pem, "-sha256", &octets))
        );
        let v = verify(&query).unwrap();
        assert_eq!(v.parameter(), RedirectParameter::SamlResponse);
        assert_eq!(v.relay_state(), Some("https://sp.example/a b"));
    }

    /// Outside oracle, the other way: the openssl CLI verifies our signature
    /// over the query up to `&Signature=`.
    #[test]
    fn our_signature_verifies_with_openssl() {
        let f = fixture();
        let query = sign(Some("state & more"));
        let (octets, signature) = query.split_once("&Signature=").unwrap();
        let sig = decode_base64(&percent_decode(signature, false).unwrap()).unwrap();
        let dir = temp_dir("verify");
        std::fs::write(dir.join("k.pem"), &f.rsa_pem).unwrap();
        std::fs::write(dir.join("octets.txt"), octets).unwrap();
        std::fs::write(dir.join("sig.bin"), &sig).unwrap();
        openssl(
            &dir,
            &["pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"],
        );
        openssl(
            &dir,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.bin",
                "octets.txt",
            ],
        );
        // And it refuses the same signature over other octets.
        std::fs::write(dir.join("octets.txt"), format!("{octets}x")).unwrap();
        let out = Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.bin",
                "octets.txt",
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(!out.status.success());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
