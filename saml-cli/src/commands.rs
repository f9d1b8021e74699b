//! The subcommands. Each returns the exit code, or a usage error message
//! (exit 2).

use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use saml_core::binding::{decode_post, decode_redirect, parse_redirect_query};
use saml_core::clock::{Clock, FixedClock, SystemClock, parse_datetime};
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::metadata::{IdpMetadata, MetadataOptions, Severity, SpMetadata};
use saml_core::protocol::{
    Assertion, DEFAULT_CLOCK_SKEW_SECONDS, Expectation, ResponseValidator, SAML_NS, bindings,
};
use saml_core::xml::Document;
use saml_core::xmlenc::DecryptionKey;
use saml_core::{Error, Limits};
use serde_json::{Map, Value, json};

use crate::read_input;

/// Arguments of `verify-response`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// IdP metadata file (EntityDescriptor, or an aggregate holding one IdP).
    #[arg(long, value_name = "FILE")]
    idp_metadata: String,
    /// This SP's entity ID: the assertion's Audience must contain it.
    #[arg(long, value_name = "ID")]
    sp_entity_id: String,
    /// This SP's ACS URL: Destination and Recipient must equal it (not
    /// checked for bare assertions, which carry neither).
    #[arg(long, value_name = "URL")]
    acs_url: String,
    /// The ID of the AuthnRequest the response must answer. Without it the
    /// response must be unsolicited and --allow-idp-initiated must be given.
    #[arg(long, value_name = "ID")]
    in_response_to: Option<String>,
    /// Accept an IdP-initiated (unsolicited) response.
    #[arg(long)]
    allow_idp_initiated: bool,
    /// Validate as of this time (RFC 3339) instead of the system clock.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Tolerated clock difference, in seconds, for every time check.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_CLOCK_SKEW_SECONDS)]
    clock_skew: i64,
    /// SP private key (PEM) to decrypt encrypted assertions.
    #[arg(long, value_name = "PEM")]
    decryption_key: Option<String>,
    /// Accept RSA-SHA1 signatures and SHA-1 digests (legacy IdPs only).
    #[arg(long)]
    allow_sha1: bool,
    /// Accept IdP RSA keys shorter than 2048 bits (legacy test IdPs only).
    #[arg(long)]
    allow_weak_keys: bool,
    /// The response: a file holding the POSTed base64 value, a
    /// `SAMLResponse=...` form body, or raw XML; `-` for standard input.
    #[arg(value_name = "RESPONSE_FILE|-")]
    response: String,
}

/// Turns the input into XML: raw XML as is; a form body or base64 as the
/// HTTP-POST binding delivers it.
fn response_xml(input: &str, limits: &Limits) -> Result<String, Error> {
    let trimmed = input.trim();
    if trimmed.starts_with('<') {
        return Ok(trimmed.to_owned());
    }
    let value = trimmed
        .split('&')
        .find_map(|pair| pair.strip_prefix("SAMLResponse="))
        .map_or_else(
            || trimmed.to_owned(),
            |v| percent_decode(v).unwrap_or_else(|| v.to_owned()),
        );
    decode_post(&value, limits)
}

/// Decodes `%XX` escapes and `+` (form encoding).
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn assertion_json(a: &Assertion) -> Value {
    let mut attributes = Map::new();
    for attr in &a.attributes {
        let entry = attributes
            .entry(attr.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.extend(attr.values.iter().cloned().map(Value::String));
        }
    }
    json!({
        "ok": true,
        "issuer": a.issuer,
        "name_id": a.name_id.value,
        "name_id_format": a.name_id.format,
        "session_index": a.session_index,
        "attributes": attributes,
        "not_on_or_after": a.not_on_or_after.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    })
}

fn rejection(e: &Error) -> ExitCode {
    println!(
        "{}",
        json!({"ok": false, "error": e.code().as_str(), "message": e.detail()})
    );
    ExitCode::from(1)
}

/// `saml verify-response`.
pub(crate) fn verify_response(args: &VerifyArgs) -> Result<ExitCode, String> {
    let metadata_xml = read_input(&args.idp_metadata)?;
    let input = read_input(&args.response)?;
    let now: DateTime<Utc> = match &args.now {
        Some(t) => parse_datetime(t).map_err(|e| format!("--now: {}", e.detail()))?,
        None => SystemClock.now(),
    };
    if args.clock_skew < 0 {
        return Err("--clock-skew must not be negative".into());
    }
    let decryption_keys = match &args.decryption_key {
        Some(path) => vec![
            DecryptionKey::from_pem(&read_input(path)?)
                .map_err(|e| format!("--decryption-key: {}", e.detail()))?,
        ],
        None => Vec::new(),
    };
    let mut options = MetadataOptions::new();
    options.limits = Limits {
        max_xml_bytes: 16 << 20,
        max_nodes: 2_000_000,
        ..Limits::default()
    };
    let metadata =
        IdpMetadata::parse(&metadata_xml, &options).map_err(|e| format!("--idp-metadata: {e}"))?;

    let mut validator = ResponseValidator::new(
        metadata.entity_id(),
        metadata.signing_keys(),
        &args.sp_entity_id,
        &args.acs_url,
    );
    validator.clock_skew = Duration::seconds(args.clock_skew);
    validator.decryption_keys = decryption_keys;
    validator.allow_idp_initiated = args.allow_idp_initiated;
    if args.allow_sha1 {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    if args.allow_weak_keys {
        validator.verify = validator.verify.dangerous_allow_weak_keys();
    }
    let clock = FixedClock(now);
    let expect = Expectation {
        in_response_to: args.in_response_to.as_deref(),
        force_authn_since: None,
    };

    let xml = match response_xml(&input, &validator.limits) {
        Ok(xml) => xml,
        Err(e) => return Ok(rejection(&e)),
    };
    let outcome = Document::parse(&xml, &validator.limits).and_then(|doc| {
        if doc.root().is(SAML_NS, "Assertion") {
            validator.acs_url = None;
            validator.validate_assertion(&doc, &expect, &clock)
        } else {
            validator.validate(&doc, &expect, &clock)
        }
    });
    match outcome {
        Ok(assertion) => {
            println!("{}", assertion_json(&assertion));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(rejection(&e)),
    }
}

/// Arguments of `decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// A Redirect URL or query string, a POST base64 value, or XML; `-` for stdin.
    #[arg(value_name = "FILE|-", default_value = "-")]
    input: String,
}

/// `saml decode`.
pub(crate) fn decode(args: &DecodeArgs) -> Result<ExitCode, String> {
    let input = read_input(&args.input)?;
    let limits = Limits::default();
    let trimmed = input.trim();
    let xml = if trimmed.starts_with('<') {
        Ok(trimmed.to_owned())
    } else if trimmed.contains("SAMLRequest=") || trimmed.contains("SAMLResponse=") {
        let query = trimmed.split_once('?').map_or(trimmed, |(_, q)| q);
        match parse_redirect_query(query, &limits) {
            Ok(message) => Ok(message.into_xml()),
            // A POST form body: the value is plain base64.
            Err(_) => response_xml(query, &limits),
        }
    } else {
        decode_redirect(trimmed, &limits).or_else(|_| decode_post(trimmed, &limits))
    };
    let xml = match xml {
        Ok(x) => x,
        Err(e) => {
            eprintln!("saml: {}: {}", e.code(), e.detail());
            return Ok(ExitCode::from(1));
        }
    };
    match Document::parse(&xml, &limits) {
        Ok(doc) => {
            print!("{}", crate::pretty::pretty(&doc));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("saml: {}: {}", e.code(), e.detail());
            Ok(ExitCode::from(1))
        }
    }
}

/// Arguments of `sp-metadata`.
#[derive(Debug, Args)]
pub(crate) struct SpMetadataArgs {
    /// This SP's entity ID.
    #[arg(long, value_name = "ID")]
    entity_id: String,
    /// An ACS URL for the HTTP-POST binding (repeatable; the first is the default).
    #[arg(long, value_name = "URL", required = true)]
    acs_url: Vec<String>,
    /// A Single Logout URL (HTTP-Redirect and HTTP-POST).
    #[arg(long, value_name = "URL")]
    slo_url: Option<String>,
    /// The SP signing certificate (PEM).
    #[arg(long, value_name = "PEM")]
    cert: Option<String>,
    /// The SP encryption certificate (PEM); defaults to --cert.
    #[arg(long, value_name = "PEM")]
    encryption_cert: Option<String>,
    /// Sign the metadata with this private key (PEM, matching --cert).
    #[arg(long, value_name = "PEM")]
    sign_key: Option<String>,
    /// NameID format to ask for (repeatable).
    #[arg(long, value_name = "URI")]
    name_id_format: Vec<String>,
}

fn load_cert(path: &str) -> Result<Certificate, String> {
    let mut certs =
        Certificate::from_pem(&read_input(path)?).map_err(|e| format!("{path}: {}", e.detail()))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate"));
    }
    Ok(certs.remove(0))
}

/// `saml sp-metadata`.
pub(crate) fn sp_metadata(args: &SpMetadataArgs) -> Result<ExitCode, String> {
    let mut md = SpMetadata::new(&args.entity_id);
    for url in &args.acs_url {
        md = md.assertion_consumer_service(bindings::HTTP_POST, url);
    }
    if let Some(slo) = &args.slo_url {
        md = md
            .single_logout_service(bindings::HTTP_REDIRECT, slo)
            .single_logout_service(bindings::HTTP_POST, slo);
    }
    for format in &args.name_id_format {
        md = md.name_id_format(format);
    }
    let signing = args.cert.as_deref().map(load_cert).transpose()?;
    if let Some(cert) = &signing {
        md = md.signing_certificate(cert.clone());
    }
    let encryption = match &args.encryption_cert {
        Some(path) => Some(load_cert(path)?),
        None => signing.clone(),
    };
    if let Some(cert) = encryption {
        md = md.encryption_certificate(cert);
    }
    let xml = match &args.sign_key {
        Some(path) => {
            let mut key = SigningKey::from_pem(&read_input(path)?)
                .map_err(|e| format!("{path}: {}", e.detail()))?;
            if let Some(cert) = signing {
                key = key
                    .with_certificate(cert)
                    .map_err(|e| format!("{path}: {}", e.detail()))?;
            }
            md.to_signed_xml(&key).map_err(|e| e.to_string())?
        }
        None => md.to_xml(),
    };
    println!("{xml}");
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Directory for `sp-key.pem` and `sp-cert.pem`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: String,
    /// Certificate subject common name.
    #[arg(long, value_name = "CN", default_value = "saml-sp")]
    common_name: String,
    /// Validity in days.
    #[arg(long, value_name = "DAYS", default_value_t = 3650)]
    days: i64,
    /// Key type: `rsa` (RSA-3072, what every IdP accepts) or `ecdsa` (P-256).
    #[arg(long, value_name = "TYPE", default_value = "rsa")]
    key_type: String,
}

/// `saml keygen`.
pub(crate) fn keygen(args: &KeygenArgs) -> Result<ExitCode, String> {
    let key = match args.key_type.as_str() {
        "rsa" => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
        }
        "ecdsa" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        other => return Err(format!("--key-type must be rsa or ecdsa, not {other}")),
    }
    .map_err(|e| format!("key generation failed: {e}"))?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, args.common_name.clone());
    if !(1..=36_500).contains(&args.days) {
        return Err("--days must be between 1 and 36500".into());
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(args.days);
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("certificate generation failed: {e}"))?;
    let dir = std::path::Path::new(&args.out_dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key_path = dir.join("sp-key.pem");
    let cert_path = dir.join("sp-cert.pem");
    write_private(&key_path, &key.serialize_pem())?;
    std::fs::write(&cert_path, cert.pem()).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    println!("wrote {} and {}", key_path.display(), cert_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &std::path::Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Arguments of `inspect-metadata` and `lint-metadata`.
#[derive(Debug, Args)]
pub(crate) struct MetadataArgs {
    /// IdP metadata file; `-` for standard input.
    #[arg(value_name = "FILE|-")]
    metadata: String,
    /// The entity to pick from an aggregate.
    #[arg(long, value_name = "ID")]
    entity_id: Option<String>,
    /// Judge expiry as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

fn load_metadata(args: &MetadataArgs) -> Result<(IdpMetadata, DateTime<Utc>), String> {
    let xml = read_input(&args.metadata)?;
    let mut options = MetadataOptions::new();
    options.entity_id.clone_from(&args.entity_id);
    options.limits = Limits {
        max_xml_bytes: 64 << 20,
        max_nodes: 5_000_000,
        ..Limits::default()
    };
    let now = match &args.now {
        Some(t) => parse_datetime(t).map_err(|e| format!("--now: {}", e.detail()))?,
        None => SystemClock.now(),
    };
    let metadata =
        IdpMetadata::parse(&xml, &options).map_err(|e| format!("{}: {e}", args.metadata))?;
    Ok((metadata, now))
}

/// `saml inspect-metadata`.
pub(crate) fn inspect_metadata(args: &MetadataArgs) -> Result<ExitCode, String> {
    let (md, _) = load_metadata(args)?;
    let endpoints = |list: &[saml_core::metadata::Endpoint]| -> Value {
        list.iter()
            .map(|e| json!({"binding": e.binding, "location": e.location}))
            .collect()
    };
    let certs: Vec<Value> = md
        .signing_certificates()
        .iter()
        .map(|c| {
            json!({
                "subject": c.subject(),
                "not_after": DateTime::from_timestamp(c.not_after(), 0).map(|t| t.to_rfc3339()),
                "key": format!("{:?}", c.public_key().key_type()),
            })
        })
        .collect();
    let out = json!({
        "entity_id": md.entity_id(),
        "sso": endpoints(md.sso_endpoints()),
        "slo": endpoints(md.slo_endpoints()),
        "artifact_resolution": endpoints(md.artifact_resolution_endpoints()),
        "signing_certificates": certs,
        "encryption_certificates": md.encryption_certificates().len(),
        "name_id_formats": md.name_id_formats(),
        "want_authn_requests_signed": md.want_authn_requests_signed(),
        "valid_until": md.valid_until().map(|t| t.to_rfc3339()),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

/// `saml lint-metadata`.
pub(crate) fn lint_metadata(args: &MetadataArgs) -> Result<ExitCode, String> {
    let (md, now) = load_metadata(args)?;
    let findings = md.lint(now);
    let mut errors = 0;
    for f in &findings {
        let level = match f.severity {
            Severity::Error => {
                errors += 1;
                "error"
            }
            _ => "warning",
        };
        println!("{level}: {}: {}", f.code, f.message);
    }
    if findings.is_empty() {
        println!("ok: nothing missing or risky found in {}", md.entity_id());
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
