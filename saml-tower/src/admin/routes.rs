//! The admin API's routes: authorization, the CSRF rule, dispatch, and one
//! handler per operation.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, ORIGIN, X_CONTENT_TYPE_OPTIONS};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use saml_core::admin::{
    AdminError, AdminErrorCode, CertificateView, MetadataPreview, ProviderEntry,
};
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{AuditKind, ProviderSettings};
use serde::Serialize;

use super::Inner;
use super::input::{self, Fields, Source};
use crate::BoxError;
use crate::audit::{Audit, ClientAddress};
use crate::endpoints::respond;

/// A refusal: a stable code, a message, and the fields to fix.
#[derive(Debug)]
struct Failure {
    code: AdminErrorCode,
    message: String,
    fields: Option<BTreeMap<String, String>>,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
}

impl Failure {
    fn new(code: AdminErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: None,
            allow: None,
        }
    }

    fn into_response(self) -> Response<Bytes> {
        let mut error = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
        });
        if let (Some(fields), Some(obj)) = (self.fields, error.as_object_mut()) {
            obj.insert("fields".into(), serde_json::json!(fields));
        }
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &serde_json::json!({ "error": error }));
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// A store failure: the detail goes to the server log only, the caller
/// gets a generic message.
fn unavailable(detail: &str) -> Failure {
    tracing::error!(target: "saml::admin", error = %detail, "the store failed");
    Failure::new(
        AdminErrorCode::StoreUnavailable,
        "the store is unavailable; try again later",
    )
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        let message = match &e {
            AdminError::Invalid(_) => "the input has problems; see fields".to_owned(),
            AdminError::Unavailable(detail) => return unavailable(detail),
            other => other.to_string(),
        };
        Self {
            code: e.code(),
            message,
            fields: e.fields().cloned(),
            allow: None,
        }
    }
}

type Reply = Result<Response<Bytes>, Failure>;

fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Bytes> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut response = respond(status, "application/json", body);
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn ok(value: &impl Serialize) -> Reply {
    Ok(json_response(StatusCode::OK, value))
}

fn method_not_allowed(allowed: &'static str) -> Failure {
    let mut failure = Failure::new(
        AdminErrorCode::MethodNotAllowed,
        format!("this route takes: {allowed}"),
    );
    failure.allow = Some(allowed);
    failure
}

/// Answers one admin API request.
pub(super) async fn handle<B>(inner: &Inner, req: Request<B>) -> Response<Bytes>
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = req.into_parts();
    if let Some(address) = (inner.shared.client_address.0)(&parts) {
        parts.extensions.insert(ClientAddress(address));
    }
    match route(inner, &parts, body).await {
        Ok(response) => response,
        Err(failure) => {
            tracing::warn!(
                target: "saml::admin",
                method = %parts.method,
                path = parts.uri.path(),
                code = failure.code.as_str(),
                message = %failure.message,
                "admin request refused"
            );
            failure.into_response()
        }
    }
}

/// The CSRF rule: a state change carries `X-Requested-With: saml-admin`
/// (which no cross-site form can send, and which makes a cross-site
/// `fetch` ask first), and its `Origin`, when sent, is ours.
fn csrf_ok(inner: &Inner, parts: &Parts) -> Result<(), Failure> {
    let header = parts
        .headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok());
    if header != Some(super::CSRF_HEADER_VALUE) {
        return Err(Failure::new(
            AdminErrorCode::AdminCsrf,
            format!(
                "changes need the header `X-Requested-With: {}`",
                super::CSRF_HEADER_VALUE
            ),
        ));
    }
    if let Some(origin) = parts.headers.get(ORIGIN) {
        let theirs = origin.to_str().ok().and_then(origin_of);
        let same = theirs.is_some() && theirs == origin_of(&inner.shared.base_url);
        if !same {
            return Err(Failure::new(
                AdminErrorCode::AdminCsrf,
                "changes are accepted only from this application's own origin",
            ));
        }
    }
    Ok(())
}

/// The origin of a URL: lowercase scheme and host, and the port (the
/// scheme's default when absent); the path is ignored. `None` for what is
/// not an absolute http(s) URL (such as the `null` origin).
fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let host = uri.host()?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let port = uri.port_u16().unwrap_or(default_port);
    Some((scheme, host, port))
}

async fn route<B>(inner: &Inner, parts: &Parts, body: B) -> Reply
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    if !(inner.authorize)(parts) {
        return Err(Failure::new(
            AdminErrorCode::AdminForbidden,
            "you are not allowed to administer sign-in",
        ));
    }
    let method = &parts.method;
    if method != Method::GET {
        csrf_ok(inner, parts)?;
    }
    let full = parts.uri.path();
    let path = inner
        .mount_path
        .as_deref()
        .and_then(|m| full.strip_prefix(m))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .unwrap_or(full);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    match segments.as_slice() {
        ["providers"] if get => list(inner).await,
        ["providers"] if post => create(inner, parts, body).await,
        ["providers"] => Err(method_not_allowed("GET, POST")),
        ["providers", name] if get => show(inner, name).await,
        ["providers", name] if method == Method::PUT => update(inner, parts, name, body).await,
        ["providers", name] if method == Method::DELETE => remove(inner, parts, name).await,
        ["providers", _] => Err(method_not_allowed("GET, PUT, DELETE")),
        ["providers", name, "enable"] if post => set_enabled(inner, parts, name, true).await,
        ["providers", name, "disable"] if post => set_enabled(inner, parts, name, false).await,
        ["providers", name, "sp"] if get => sp_info(inner, name).await,
        ["providers", name, "test"] if post => test(inner, parts, name).await,
        ["providers", _, "enable" | "disable" | "test"] => Err(method_not_allowed("POST")),
        ["providers", name, "users"] if get => users(inner, parts, name).await,
        ["providers", name, "users", "import"] if post => import(inner, parts, name, body).await,
        ["providers", _, "users", "import"] => Err(method_not_allowed("POST")),
        ["providers", _, "sp" | "users"] => Err(method_not_allowed("GET")),
        ["metadata", "preview"] if post => preview(inner, parts, body).await,
        ["metadata", "preview"] => Err(method_not_allowed("POST")),
        ["audit"] if get => audit(inner, parts).await,
        ["audit"] => Err(method_not_allowed("GET")),
        _ => Err(Failure::new(
            AdminErrorCode::NotFound,
            "no such admin API route",
        )),
    }
}

/// The media types a route reads.
#[derive(Debug, Clone, Copy)]
enum Media {
    /// `application/json`.
    Json,
    /// `text/csv` (or `text/plain`).
    Csv,
}

/// Refuses a body whose `Content-Type` is not one the route reads (415).
fn check_media(parts: &Parts, media: Media) -> Result<(), Failure> {
    let essence = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let (accepted, expected): (&[&str], &str) = match media {
        Media::Json => (&["application/json"], "application/json"),
        Media::Csv => (&["text/csv", "text/plain"], "text/csv (or text/plain)"),
    };
    if essence.is_some_and(|e| accepted.contains(&e.as_str())) {
        return Ok(());
    }
    Err(Failure::new(
        AdminErrorCode::UnsupportedMediaType,
        format!("this route reads a body with `Content-Type: {expected}`"),
    ))
}

/// The request body, of the route's media type (415 otherwise), at most
/// the configured cap (413 beyond).
async fn read_body<B>(inner: &Inner, parts: &Parts, body: B, media: Media) -> Result<Bytes, Failure>
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    check_media(parts, media)?;
    let too_large = || {
        Failure::new(
            AdminErrorCode::PayloadTooLarge,
            format!(
                "the request body is larger than the limit of {} bytes",
                inner.max_body_bytes
            ),
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(inner.max_body_bytes).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    match Limited::new(body, inner.max_body_bytes).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(Failure::new(
            AdminErrorCode::InvalidInput,
            "the request body could not be read",
        )),
    }
}

fn now(inner: &Inner) -> chrono::DateTime<chrono::Utc> {
    inner.shared.clock.now()
}

/// The audit subject when the application gave no [`admin_name`](super::AdminServiceBuilder::admin_name)
/// (or it found no name for this request).
pub(super) const DEFAULT_ADMIN_SUBJECT: &str = "admin";

/// An audit event of an admin action, with the administrator as subject.
fn admin_event(inner: &Inner, parts: &Parts, kind: AuditKind, provider: Option<&str>) -> Audit {
    let name = inner
        .admin_name
        .as_ref()
        .and_then(|f| f(parts))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_SUBJECT.to_owned());
    let mut event = Audit::new(kind, now(inner)).subject(&name);
    if let Some(provider) = provider {
        event = event.provider(provider);
    }
    event
}

/// Records an admin change before it is made (fail closed): when the audit
/// log cannot record it, the change is refused (503) and nothing happens.
async fn record_change(
    inner: &Inner,
    parts: &Parts,
    kind: AuditKind,
    provider: &str,
    detail: String,
) -> Result<(), Failure> {
    admin_event(inner, parts, kind, Some(provider))
        .detail(detail)
        .record_strict(&inner.shared, parts)
        .await
        .map_err(|e| {
            tracing::error!(target: "saml::admin", error = %e, "the audit log cannot record an admin change; refused");
            Failure::new(
                AdminErrorCode::StoreUnavailable,
                "the audit log cannot record this change, so nothing was changed; try again later",
            )
        })
}

/// Records, best effort, that a recorded change then failed (with its code).
async fn record_failed(
    inner: &Inner,
    parts: &Parts,
    kind: AuditKind,
    provider: &str,
    what: &str,
    failure: &Failure,
) {
    admin_event(inner, parts, kind, Some(provider))
        .code(failure.code.as_str())
        .detail(format!("{what} failed: {}", failure.code.as_str()))
        .record(&inner.shared, parts)
        .await;
}

/// Runs a change recorded by [`record_change`]; when it fails, records that.
async fn audited<F>(
    inner: &Inner,
    parts: &Parts,
    kind: AuditKind,
    provider: &str,
    what: &str,
    change: F,
) -> Reply
where
    F: Future<Output = Reply>,
{
    let result = change.await;
    if let Err(failure) = &result {
        record_failed(inner, parts, kind, provider, what, failure).await;
    }
    result
}

async fn list(inner: &Inner) -> Reply {
    let at = now(inner);
    let all = inner.backend.providers().await?;
    let views: Vec<_> = all.iter().map(|p| p.view(at)).collect();
    ok(&views)
}

async fn show(inner: &Inner, name: &str) -> Reply {
    let entry = inner.backend.provider(name).await?;
    ok(&entry.view(now(inner)))
}

/// The metadata XML of a source, parsed: fetched, typed in or pasted.
async fn metadata_of(inner: &Inner, source: Source) -> Result<(String, IdpMetadata), Failure> {
    let (field, xml) = match source {
        Source::Xml(xml) => ("metadata_xml", xml),
        Source::Manual(xml) => ("manual", xml),
        Source::Url(url) => {
            let plain_http = url
                .get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
            if plain_http && !inner.allow_loopback_http {
                return Err(AdminError::invalid(
                    "metadata_url",
                    "use an https:// URL (plain http:// to this machine is allowed only in development, with allow_loopback_http_metadata)",
                )
                .into());
            }
            let client = inner.shared.http.as_ref().ok_or_else(|| {
                Failure::new(
                    AdminErrorCode::MetadataFetchFailed,
                    "fetching metadata needs an HTTP client on the layer (SamlLayerBuilder::http_client); paste the metadata XML instead",
                )
            })?;
            let xml = saml_remote::fetch_metadata_xml(
                client.as_ref(),
                &url,
                inner.fetch_timeout,
                inner.max_metadata_bytes,
            )
            .await
            .map_err(|e| fetch_failed(&e))?;
            ("metadata_url", xml)
        }
    };
    // `validUntil` is judged by the layer's clock: expired metadata is refused.
    let options = MetadataOptions::new().with_now(now(inner));
    match IdpMetadata::parse(&xml, &options) {
        Ok(md) => Ok((xml, md)),
        Err(e) => Err(AdminError::invalid(field, format!("not usable IdP metadata: {e}")).into()),
    }
}

/// A failed metadata fetch: a generic reason for the caller (no addresses,
/// no TLS or resolver detail), the whole error in the server log.
fn fetch_failed(e: &saml_remote::RemoteError) -> Failure {
    use saml_remote::{HttpErrorKind, RemoteError};
    tracing::warn!(target: "saml::admin", error = %e, "a metadata fetch failed");
    let reason = match e {
        RemoteError::Http { error, .. } => match error.kind() {
            HttpErrorKind::Timeout => "timed out".to_owned(),
            HttpErrorKind::TooLarge => "too large".to_owned(),
            HttpErrorKind::InsecureUrl => "the URL is not allowed".to_owned(),
            HttpErrorKind::Connect | HttpErrorKind::Other => {
                let detail = error.to_string().to_ascii_lowercase();
                if detail.contains("tls") || detail.contains("certificate") {
                    "TLS failed".to_owned()
                } else {
                    "connection failed".to_owned()
                }
            }
            _ => "connection failed".to_owned(),
        },
        RemoteError::Status { status, .. } => format!("HTTP status {status}"),
        _ => "the answer is not usable metadata".to_owned(),
    };
    Failure::new(
        AdminErrorCode::MetadataFetchFailed,
        format!("could not fetch the metadata: {reason}"),
    )
}

/// Refuses a change that would leave no enabled provider, unless the
/// application's check passes. `name` is the provider being disabled or
/// removed. A first check only: the change is made, then
/// [`recheck_after_disable`] decides (two concurrent changes may both pass
/// this one).
async fn guard_last(inner: &Inner, name: &str) -> Result<(), Failure> {
    let all = inner.backend.providers().await?;
    let remaining = all
        .iter()
        .filter(|p| p.provider.settings.enabled && p.provider.name != name)
        .count();
    if remaining > 0 {
        return Ok(());
    }
    none_left_allowed(inner)
}

/// Whether the application allows no provider to be enabled.
fn none_left_allowed(inner: &Inner) -> Result<(), Failure> {
    let refused = |why: String| {
        Failure::new(
            AdminErrorCode::SamlDisableRefused,
            format!("this would leave no identity provider enabled: {why}"),
        )
    };
    match &inner.can_disable {
        None => Err(refused(
            "the application allows this only when administrators can still sign in another way (can_disable_saml)".into(),
        )),
        Some(check) => check(0).map_err(refused),
    }
}

/// How to undo a disable the recheck refuses: `previous` is the record
/// the disable replaced, `written` the revision the disable wrote.
struct Restore<'a> {
    previous: &'a ProviderEntry,
    written: i64,
}

/// After a disable has been written: if no provider is enabled now (another
/// change may have raced this one) and the application's check refuses,
/// undoes the change and refuses it.
async fn recheck_after_disable(
    inner: &Inner,
    name: &str,
    restore: Restore<'_>,
) -> Result<(), Failure> {
    let all = inner.backend.providers().await?;
    if all.iter().any(|p| p.provider.settings.enabled) {
        return Ok(());
    }
    if let Err(refusal) = none_left_allowed(inner) {
        undo_disable(inner, name, &restore).await?;
        return Err(refusal);
    }
    Ok(())
}

/// Puts the previous record back while the refused disable is still the
/// latest write (compare-and-swap). When another administrator's change came
/// in between, that change stands and only `enabled` goes back on top of
/// it: undoing must not erase someone else's work.
async fn undo_disable(inner: &Inner, name: &str, restore: &Restore<'_>) -> Result<(), Failure> {
    let previous = restore.previous;
    let put_back = inner
        .backend
        .update_provider(
            name,
            previous.provider.settings.clone(),
            &previous.metadata_xml,
            Some(restore.written),
            now(inner),
        )
        .await;
    match put_back {
        Ok(_) => Ok(()),
        Err(AdminError::Changed(_)) => {
            tracing::warn!(target: "saml::admin", provider = name, "another change came in between a refused disable and its undo; it stands, and only `enabled` is put back");
            inner
                .backend
                .set_enabled(name, previous.provider.settings.enabled, now(inner))
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes `enabled: false` on the latest record by compare-and-swap
/// (retried when another change slips in between), so that the record it
/// replaced and the revision it wrote are known exactly for an undo.
async fn write_disabled(inner: &Inner, name: &str) -> Result<(ProviderEntry, i64), Failure> {
    let mut attempts = 0;
    loop {
        let current = inner.backend.provider(name).await?;
        let mut settings = current.provider.settings.clone();
        settings.enabled = false;
        let written = inner
            .backend
            .update_provider(
                name,
                settings,
                &current.metadata_xml,
                Some(current.revision),
                now(inner),
            )
            .await;
        match written {
            Ok(_) => {
                let revision = current.revision + 1;
                return Ok((current, revision));
            }
            Err(AdminError::Changed(_)) if attempts < DISABLE_ATTEMPTS => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// How often a disable is retried when other changes keep slipping in
/// between its read and its write.
const DISABLE_ATTEMPTS: u32 = 5;

/// What a PUT changes, for the audit log: the changed settings keys (with
/// before → after for booleans such as `want_assertions_signed`,
/// `allow_sha1`, `allow_idp_initiated`, `enabled`), and the entity ID and
/// signing certificates (SHA-256) before → after when the metadata changed.
fn update_detail(
    before: &ProviderEntry,
    settings: &ProviderSettings,
    new_metadata: Option<&IdpMetadata>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let old = serde_json::to_value(&before.provider.settings).unwrap_or_default();
    let new = serde_json::to_value(settings).unwrap_or_default();
    let mut keys: Vec<String> = Vec::new();
    if let (Some(old), Some(new)) = (old.as_object(), new.as_object()) {
        let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
        names.sort();
        names.dedup();
        for key in names {
            let (a, b) = (old.get(key.as_str()), new.get(key.as_str()));
            if a == b {
                continue;
            }
            match (
                a.and_then(serde_json::Value::as_bool),
                b.and_then(serde_json::Value::as_bool),
            ) {
                (Some(a), Some(b)) => keys.push(format!("{key} {a} → {b}")),
                _ => keys.push(key.clone()),
            }
        }
    }
    if !keys.is_empty() {
        parts.push(format!("settings: {}", keys.join(", ")));
    }
    if let Some(md) = new_metadata {
        let old_md = &before.provider.metadata;
        let mut changes: Vec<String> = Vec::new();
        if old_md.entity_id() != md.entity_id() {
            changes.push(format!(
                "entity ID {} → {}",
                old_md.entity_id(),
                md.entity_id()
            ));
        }
        let fingerprints = |m: &IdpMetadata| -> Vec<String> {
            m.signing_certificates()
                .iter()
                .map(|c| CertificateView::of(c).sha256)
                .collect()
        };
        let (old_certs, new_certs) = (fingerprints(old_md), fingerprints(md));
        if old_certs != new_certs {
            changes.push(format!(
                "certificate SHA-256 [{}] → [{}]",
                old_certs.join(", "),
                new_certs.join(", ")
            ));
        }
        if changes.is_empty() {
            changes.push("same entity ID and certificates".to_owned());
        }
        parts.push(format!("metadata: {}", changes.join(", ")));
    }
    if parts.is_empty() {
        "updated (no change)".to_owned()
    } else {
        format!("updated ({})", parts.join("; "))
    }
}

async fn create<B>(inner: &Inner, parts: &Parts, body: B) -> Reply
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(inner, parts, body, Media::Json).await?;
    let map = input::object(&bytes)?;
    let mut errors = Fields::default();
    input::only_keys(
        &map,
        &["name", "settings", "metadata_xml", "metadata_url", "manual"],
        &mut errors,
    );
    let name = input::string(&map, "name", &mut errors);
    match &name {
        None => errors.add("name", "required: a short name used in URLs, e.g. `okta`"),
        Some(n) => {
            if let Err(why) = input::check_name(n) {
                errors.add("name", why);
            }
        }
    }
    let settings = match map.get("settings") {
        None | Some(serde_json::Value::Null) => Some(Default::default()),
        Some(v) => input::settings(
            v,
            &Default::default(),
            inner.shared.http.is_some(),
            &mut errors,
        ),
    };
    let source = input::source(&map, true, &mut errors);
    let (name, settings, source) = match (name, settings, source) {
        (Some(n), Some(s), Some(src)) if errors.is_empty() => (n, s, src),
        _ => return Err(errors.into_error().into()),
    };
    let (xml, md) = metadata_of(inner, source).await?;
    let detail = format!(
        "created (entity ID {}, {})",
        md.entity_id(),
        if settings.enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    let kind = AuditKind::ProviderChanged;
    record_change(inner, parts, kind, &name, detail).await?;
    audited(inner, parts, kind, &name, "create", async {
        let entry = inner
            .backend
            .create_provider(&name, settings, &xml, now(inner))
            .await?;
        Ok(json_response(StatusCode::CREATED, &entry.view(now(inner))))
    })
    .await
}

async fn update<B>(inner: &Inner, parts: &Parts, name: &str, body: B) -> Reply
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(inner, parts, body, Media::Json).await?;
    let map = input::object(&bytes)?;
    let current: ProviderEntry = inner.backend.provider(name).await?;
    let mut errors = Fields::default();
    input::only_keys(
        &map,
        &["settings", "metadata_xml", "metadata_url", "manual"],
        &mut errors,
    );
    let settings = match map.get("settings") {
        None | Some(serde_json::Value::Null) => Some(current.provider.settings.clone()),
        Some(v) => input::settings(
            v,
            &current.provider.settings,
            inner.shared.http.is_some(),
            &mut errors,
        ),
    };
    let source = input::source(&map, false, &mut errors);
    let settings = match settings {
        Some(s) if errors.is_empty() => s,
        _ => return Err(errors.into_error().into()),
    };
    let fetched = match source {
        Some(source) => Some(metadata_of(inner, source).await?),
        None => None,
    };
    // Decided by the result, not by a read made before a slow fetch: the
    // recheck runs whenever the provider ends up disabled.
    let disabling = !settings.enabled;
    if disabling {
        guard_last(inner, name).await?;
    }
    // The record this change replaces (and restores when refused).
    let before = inner.backend.provider(name).await?;
    let detail = update_detail(&before, &settings, fetched.as_ref().map(|(_, md)| md));
    let xml = match fetched {
        Some((xml, _)) => xml,
        None => before.metadata_xml.clone(),
    };
    let kind = AuditKind::ProviderChanged;
    record_change(inner, parts, kind, name, detail).await?;
    audited(inner, parts, kind, name, "update", async {
        // Only over the record read above: a change another administrator
        // made since is refused (provider_changed), not silently undone.
        let entry = inner
            .backend
            .update_provider(name, settings, &xml, Some(before.revision), now(inner))
            .await?;
        if disabling {
            let restore = Restore {
                previous: &before,
                written: before.revision + 1,
            };
            recheck_after_disable(inner, name, restore).await?;
            end_sessions(inner, name).await?;
        }
        ok(&entry.view(now(inner)))
    })
    .await
}

/// Ends a just-disabled provider's sessions: a provider disabled in an
/// incident must stop vouching for anyone now, not when its sessions time out.
async fn end_sessions(inner: &Inner, name: &str) -> Result<(), Failure> {
    let ended = inner.backend.end_sessions(name).await.map_err(|e| {
        tracing::error!(target: "saml::admin", provider = name, error = %e, "a disabled provider's sessions could not be ended");
        Failure::new(
            AdminErrorCode::StoreUnavailable,
            "the provider is disabled, but ending its sessions failed; disable it again to end them",
        )
    })?;
    tracing::info!(target: "saml::admin", provider = name, sessions_ended = ended, "a disabled provider's sessions ended");
    Ok(())
}

async fn set_enabled(inner: &Inner, parts: &Parts, name: &str, enabled: bool) -> Reply {
    // 404 before anything is recorded.
    inner.backend.provider(name).await?;
    if !enabled {
        guard_last(inner, name).await?;
    }
    let kind = AuditKind::ProviderChanged;
    let (what, detail) = if enabled {
        ("enabled", "enabled")
    } else {
        ("disabled", "disabled; its sessions are ended")
    };
    record_change(inner, parts, kind, name, detail.to_owned()).await?;
    audited(inner, parts, kind, name, what, async {
        if enabled {
            let entry = inner.backend.set_enabled(name, true, now(inner)).await?;
            return ok(&entry.view(now(inner)));
        }
        let (previous, written) = write_disabled(inner, name).await?;
        let restore = Restore {
            previous: &previous,
            written,
        };
        recheck_after_disable(inner, name, restore).await?;
        end_sessions(inner, name).await?;
        ok(&inner.backend.provider(name).await?.view(now(inner)))
    })
    .await
}

async fn remove(inner: &Inner, parts: &Parts, name: &str) -> Reply {
    let current = inner.backend.provider(name).await?;
    let was_enabled = current.provider.settings.enabled;
    if was_enabled {
        guard_last(inner, name).await?;
    }
    let kind = AuditKind::ProviderChanged;
    let detail = format!(
        "removed (entity ID {}, {})",
        current.provider.metadata.entity_id(),
        if was_enabled { "enabled" } else { "disabled" }
    );
    record_change(inner, parts, kind, name, detail).await?;
    audited(inner, parts, kind, name, "remove", async {
        if was_enabled {
            // Disable first and recheck, so two concurrent removals of the
            // last two enabled providers cannot both pass the guard.
            let (previous, written) = write_disabled(inner, name).await?;
            let restore = Restore {
                previous: &previous,
                written,
            };
            recheck_after_disable(inner, name, restore).await?;
        }
        match inner.backend.remove_provider(name).await {
            Ok(removed) => ok(&removed),
            Err(e) => {
                if was_enabled
                    && let Err(undo) = inner.backend.set_enabled(name, true, now(inner)).await
                {
                    tracing::error!(target: "saml::admin", provider = name, error = %undo, "a provider whose removal failed could not be enabled again");
                }
                Err(e.into())
            }
        }
    })
    .await
}

async fn preview<B>(inner: &Inner, parts: &Parts, body: B) -> Reply
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(inner, parts, body, Media::Json).await?;
    let map = input::object(&bytes)?;
    let mut errors = Fields::default();
    input::only_keys(
        &map,
        &["metadata_xml", "metadata_url", "manual"],
        &mut errors,
    );
    let source = input::source(&map, true, &mut errors);
    let source = match source {
        Some(s) if errors.is_empty() => s,
        _ => return Err(errors.into_error().into()),
    };
    let origin = source.describe();
    let result = metadata_of(inner, source).await;
    // Previews change nothing: recorded best effort.
    let event = admin_event(inner, parts, AuditKind::MetadataPreviewed, None);
    let event = match &result {
        Ok((_, md)) => event.detail(format!("previewed {origin} (entity ID {})", md.entity_id())),
        Err(failure) => event.code(failure.code.as_str()).detail(format!(
            "preview of {origin} failed: {}",
            failure.code.as_str()
        )),
    };
    event.record(&inner.shared, parts).await;
    let (xml, md) = result?;
    ok(&MetadataPreview::of(&md, xml, now(inner)))
}

async fn sp_info(inner: &Inner, name: &str) -> Reply {
    let entry = inner.backend.provider(name).await?;
    let shared = &inner.shared;
    let name = entry.provider.name.as_str();
    let metadata_xml = crate::endpoints::sp_metadata_xml(shared, Some(name))
        .await
        .map_err(|r| unavailable(r.detail()))?;
    ok(&serde_json::json!({
        "entity_id": shared.entity_id,
        "acs_url": shared.acs_url(Some(name)),
        "shared_acs_url": shared.acs_url(None),
        "metadata_url": format!("{}{}/{name}/metadata", shared.base_url, shared.prefix),
        "slo_url": shared.slo_url(),
        "login_url": format!("{}{}/login?idp={name}", shared.base_url, shared.prefix),
        "metadata_xml": metadata_xml,
    }))
}

async fn test(inner: &Inner, parts: &Parts, name: &str) -> Reply {
    let entry = inner.backend.provider(name).await?;
    let name = entry.provider.name.as_str();
    let kind = AuditKind::TestLinkIssued;
    record_change(inner, parts, kind, name, "test link issued".to_owned()).await?;
    audited(inner, parts, kind, name, "test link", async {
        let login_url = crate::test_login::issue(&inner.shared, name)
            .await
            .map_err(|r| unavailable(r.detail()))?;
        ok(&serde_json::json!({ "login_url": login_url }))
    })
    .await
}

async fn users(inner: &Inner, parts: &Parts, name: &str) -> Reply {
    let (offset, limit) = input::page(&input::query(&parts.uri))?;
    inner.backend.provider(name).await?;
    ok(&inner.backend.users(name, offset, limit).await?)
}

async fn import<B>(inner: &Inner, parts: &Parts, name: &str, body: B) -> Reply
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(inner, parts, body, Media::Csv).await?;
    inner.backend.provider(name).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AdminError::invalid(
            "csv",
            "the file is empty: expected a header line with an `ExternalId` column",
        )
        .into());
    }
    let kind = AuditKind::UsersImported;
    let detail = format!("import of a {} byte CSV file started", bytes.len());
    record_change(inner, parts, kind, name, detail).await?;
    audited(inner, parts, kind, name, "import", async {
        let outcome = inner.backend.import_users(name, &bytes, now(inner)).await?;
        // The outcome, best effort: the import itself is already recorded.
        admin_event(inner, parts, kind, Some(name))
            .detail(outcome.summary.clone())
            .record(&inner.shared, parts)
            .await;
        ok(&outcome)
    })
    .await
}

async fn audit(inner: &Inner, parts: &Parts) -> Reply {
    let query = input::audit_query(&input::query(&parts.uri))?;
    ok(&inner.backend.audit_log(&query).await?)
}
