//! Reading and checking admin API input: JSON bodies with field-level
//! errors, provider names, settings, metadata sources, query parameters.

use std::collections::BTreeMap;

use base64::Engine;
use saml_core::admin::{AdminError, AuditQuery, MAX_AUDIT_LIMIT, MAX_USER_PAGE};
use saml_core::crypto::Certificate;
use saml_core::store::{AuditKind, ProviderSettings, ResponseBinding};
use serde_json::{Map, Value};

/// Longest provider name, in characters (the registry's limit).
const MAX_NAME: usize = 255;
/// Longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 128;
/// Longest URL, entity ID or other short text field, in characters.
const MAX_TEXT: usize = 2048;
/// Largest tolerated clock skew, in seconds.
const MAX_SKEW: i64 = 600;
/// Most requested AuthnContextClassRefs.
const MAX_CLASS_REFS: usize = 16;

/// Field errors being collected: field path to message.
#[derive(Debug, Default)]
pub(crate) struct Fields(BTreeMap<String, String>);

impl Fields {
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The collected errors (a generic one on `body` if none was).
    pub(crate) fn into_error(self) -> AdminError {
        if self.0.is_empty() {
            AdminError::invalid("body", "the input is incomplete")
        } else {
            AdminError::Invalid(self.0)
        }
    }

    /// `Ok(value)` when no error was collected.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, AdminError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(AdminError::Invalid(self.0))
        }
    }
}

/// The body as a JSON object.
pub(crate) fn object(bytes: &[u8]) -> Result<Map<String, Value>, AdminError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AdminError::invalid("body", "expected a JSON object")),
        Err(e) => Err(AdminError::invalid(
            "body",
            format!("not valid JSON: {}", serde_message(&e)),
        )),
    }
}

/// serde's message (positions only where the input had lines).
fn serde_message(e: &serde_json::Error) -> String {
    e.to_string()
}

/// Refuses keys other than `allowed`.
pub(crate) fn only_keys(map: &Map<String, Value>, allowed: &[&str], errors: &mut Fields) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.add(
                key.clone(),
                format!("unknown field; expected one of: {}", allowed.join(", ")),
            );
        }
    }
}

/// A string field, if present (`null` counts as absent).
pub(crate) fn string(map: &Map<String, Value>, key: &str, errors: &mut Fields) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add(key, "expected a string");
            None
        }
    }
}

fn text_ok(value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// A provider name: 1 to 255 of `A-Z a-z 0-9 - _ .`, not `.` or `..`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "use 1 to {MAX_NAME} of A-Z a-z 0-9 - _ . (the name appears in URLs)"
        ))
    }
}

/// Settings from `value` laid over `base`: keys given replace the base's,
/// keys left out keep it. Each bad key is reported as `settings.<key>`.
pub(crate) fn settings(
    value: &Value,
    base: &ProviderSettings,
    artifact_possible: bool,
    errors: &mut Fields,
) -> Option<ProviderSettings> {
    let Value::Object(given) = value else {
        errors.add("settings", "expected a JSON object");
        return None;
    };
    let mut bad = false;
    for (key, v) in given {
        let one = Map::from_iter([(key.clone(), v.clone())]);
        if let Err(e) = serde_json::from_value::<ProviderSettings>(Value::Object(one)) {
            errors.add(format!("settings.{key}"), serde_message(&e));
            bad = true;
        }
    }
    if bad {
        return None;
    }
    let mut merged = match serde_json::to_value(base) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (key, v) in given {
        merged.insert(key.clone(), v.clone());
    }
    let settings = match serde_json::from_value::<ProviderSettings>(Value::Object(merged)) {
        Ok(s) => s,
        Err(e) => {
            errors.add("settings", serde_message(&e));
            return None;
        }
    };
    check_settings(&settings, artifact_possible, errors);
    Some(settings)
}

fn check_settings(s: &ProviderSettings, artifact_possible: bool, errors: &mut Fields) {
    if let Some(name) = &s.display_name
        && let Err(why) = text_ok(name, MAX_DISPLAY_NAME)
    {
        errors.add("settings.display_name", why);
    }
    if !(0..=MAX_SKEW).contains(&s.clock_skew_seconds) {
        errors.add(
            "settings.clock_skew_seconds",
            format!("use 0 to {MAX_SKEW} seconds (10 is usual)"),
        );
    }
    if let Some(format) = &s.name_id_format
        && let Err(why) = text_ok(format, MAX_TEXT)
    {
        errors.add("settings.name_id_format", why);
    }
    if s.authn_context_class_refs.len() > MAX_CLASS_REFS {
        errors.add(
            "settings.authn_context_class_refs",
            format!("at most {MAX_CLASS_REFS} classes"),
        );
    }
    for class in &s.authn_context_class_refs {
        if let Err(why) = text_ok(class, MAX_TEXT) {
            errors.add("settings.authn_context_class_refs", why);
        }
    }
    if s.response_binding == ResponseBinding::Artifact && !artifact_possible {
        errors.add(
            "settings.response_binding",
            "the HTTP-Artifact binding needs an HTTP client on the layer (http_client)",
        );
    }
    if let Some(mapping) = &s.attribute_mapping {
        for (field, why) in mapping.problems() {
            errors.add(format!("settings.attribute_mapping.{field}"), why);
        }
    }
}

/// Where a provider's metadata comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// Pasted XML.
    Xml(String),
    /// A URL to fetch (checked against the transport rule).
    Url(String),
    /// Typed in by hand, turned into metadata XML.
    Manual(String),
}

impl Source {
    /// Where it comes from, for the audit log.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Xml(_) => "pasted metadata XML".to_owned(),
            Self::Url(url) => format!("metadata URL {url}"),
            Self::Manual(_) => "metadata entered by hand".to_owned(),
        }
    }
}

/// The metadata source of a body: one of `metadata_xml`, `metadata_url`,
/// `manual` (`required`: exactly one; otherwise at most one).
pub(crate) fn source(
    map: &Map<String, Value>,
    required: bool,
    errors: &mut Fields,
) -> Option<Source> {
    let given: Vec<&str> = ["metadata_xml", "metadata_url", "manual"]
        .into_iter()
        .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    match given.as_slice() {
        [] => {
            if required {
                errors.add(
                    "metadata_url",
                    "give the IdP's metadata URL, paste its metadata XML (metadata_xml) or enter it by hand (manual)",
                );
            }
            None
        }
        ["metadata_xml"] => {
            let xml = string(map, "metadata_xml", errors)?;
            if xml.trim().is_empty() {
                errors.add("metadata_xml", "must not be empty");
                return None;
            }
            Some(Source::Xml(xml))
        }
        ["metadata_url"] => {
            let url = string(map, "metadata_url", errors)?;
            let url = url.trim().to_owned();
            if let Err(why) = text_ok(&url, MAX_TEXT) {
                errors.add("metadata_url", why);
                return None;
            }
            if let Err(e) = saml_remote::check_transport(&url) {
                errors.add("metadata_url", e.message());
                return None;
            }
            Some(Source::Url(url))
        }
        ["manual"] => manual(map.get("manual")?, errors).map(Source::Manual),
        several => {
            errors.add(
                several.get(1).copied().unwrap_or("metadata_url"),
                format!("give only one of: {}", several.join(", ")),
            );
            None
        }
    }
}

/// `{"entity_id", "sso_url", "slo_url"?, "certificate_pem", "sso_binding"?}`
/// into IdP metadata XML.
fn manual(value: &Value, errors: &mut Fields) -> Option<String> {
    let Value::Object(map) = value else {
        errors.add("manual", "expected a JSON object");
        return None;
    };
    let mut local = Fields::default();
    only_keys(
        map,
        &[
            "entity_id",
            "sso_url",
            "slo_url",
            "certificate_pem",
            "sso_binding",
        ],
        &mut local,
    );
    let entity_id = string(map, "entity_id", &mut local);
    let sso_url = string(map, "sso_url", &mut local);
    let slo_url = string(map, "slo_url", &mut local).filter(|s| !s.trim().is_empty());
    let pem = string(map, "certificate_pem", &mut local);
    let binding = match string(map, "sso_binding", &mut local).as_deref() {
        None | Some("redirect") => saml_core::protocol::bindings::HTTP_REDIRECT,
        Some("post") => saml_core::protocol::bindings::HTTP_POST,
        Some(_) => {
            local.add("sso_binding", "use `redirect` or `post`");
            saml_core::protocol::bindings::HTTP_REDIRECT
        }
    };
    match &entity_id {
        None => local.add("entity_id", "required: the IdP's entity ID (Issuer)"),
        Some(id) => {
            if let Err(why) = text_ok(id, MAX_TEXT) {
                local.add("entity_id", why);
            }
        }
    }
    for (key, url, needed) in [("sso_url", &sso_url, true), ("slo_url", &slo_url, false)] {
        match url {
            None if needed => local.add(key, "required: the IdP's single sign-on URL"),
            None => {}
            Some(u) => {
                if let Err(why) = text_ok(u, MAX_TEXT) {
                    local.add(key, why);
                } else if let Err(e) = saml_remote::check_transport(u.trim()) {
                    local.add(key, e.message());
                }
            }
        }
    }
    let certificates = match &pem {
        None => {
            local.add(
                "certificate_pem",
                "required: the IdP's signing certificate (PEM)",
            );
            Vec::new()
        }
        Some(p) => Certificate::from_pem(p).unwrap_or_else(|e| {
            local.add("certificate_pem", e.to_string());
            Vec::new()
        }),
    };
    if !local.is_empty() {
        for (field, why) in local.0 {
            errors.add(format!("manual.{field}"), why);
        }
        return None;
    }
    let (entity_id, sso_url) = (entity_id?, sso_url?);
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                base64::engine::general_purpose::STANDARD.encode(c.der())
            )
        })
        .collect();
    let slo = slo_url
        .map(|u| {
            format!(
                "<md:SingleLogoutService Binding=\"{}\" Location=\"{}\"/>",
                saml_core::protocol::bindings::HTTP_REDIRECT,
                saml_core::binding::html_escape(u.trim())
            )
        })
        .unwrap_or_default();
    Some(format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "{keys}{slo}<md:SingleSignOnService Binding=\"{binding}\" Location=\"{sso}\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        entity = saml_core::binding::html_escape(entity_id.trim()),
        keys = keys,
        slo = slo,
        binding = binding,
        sso = saml_core::binding::html_escape(sso_url.trim()),
    ))
}

/// The query parameters of a request.
pub(crate) fn query(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .and_then(saml_core::binding::parse_form)
        .unwrap_or_default()
}

fn param<'q>(q: &'q [(String, String)], name: &str) -> Option<&'q str> {
    q.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn number(q: &[(String, String)], name: &str, max: u64, errors: &mut Fields) -> Option<u64> {
    let raw = param(q, name)?;
    match raw.parse::<u64>() {
        Ok(n) if n <= max => Some(n),
        _ => {
            errors.add(name, format!("expected a whole number from 0 to {max}"));
            None
        }
    }
}

/// `?offset=&limit=` of the user list.
pub(crate) fn page(q: &[(String, String)]) -> Result<(u64, u64), AdminError> {
    let mut errors = Fields::default();
    let offset = number(q, "offset", u64::from(u32::MAX), &mut errors).unwrap_or(0);
    let limit = number(q, "limit", MAX_USER_PAGE, &mut errors)
        .unwrap_or(saml_core::admin::DEFAULT_USER_PAGE);
    errors.finish((offset, limit))
}

/// `?provider=&kind=&before=&limit=` of the audit log.
pub(crate) fn audit_query(q: &[(String, String)]) -> Result<AuditQuery, AdminError> {
    let mut errors = Fields::default();
    let mut query = AuditQuery::default();
    query.provider = param(q, "provider").map(str::to_owned);
    if let Some(kind) = param(q, "kind") {
        match AuditKind::from_name(kind) {
            Some(k) => query.kind = Some(k),
            None => errors.add(
                "kind",
                "unknown kind; e.g. login, login_failed, logout, replay, provider_changed, users_imported, provider_tested",
            ),
        }
    }
    if let Some(before) = param(q, "before") {
        match chrono::DateTime::parse_from_rfc3339(before) {
            Ok(t) => query.before = Some(t.with_timezone(&chrono::Utc)),
            Err(_) => errors.add(
                "before",
                "expected an RFC 3339 time, e.g. 2026-01-31T12:00:00Z",
            ),
        }
    }
    if let Some(limit) = number(q, "limit", MAX_AUDIT_LIMIT, &mut errors) {
        query.limit = limit;
    }
    errors.finish(query)
}
