//! The SAML endpoints under the prefix, and the per-request session lookup.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Duration;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use saml_core::binding::parse_form;
use saml_core::crypto::PublicKey;
use saml_core::metadata::SpMetadata;
use saml_core::protocol::{AuthnContextComparison, AuthnRequest, bindings};
use saml_core::store::{
    PendingKind, PendingLogin, Provider, RequestBinding, ResponseBinding, SamlUser, StoreError,
};
use saml_core::{Error, ErrorCode};

use crate::BoxError;
use crate::audit::{Audit, AuditKind, ClientAddress};
use crate::cookie::{CookieSpec, hash_token, random_token, read};
use crate::layer::Shared;
use crate::reject::{Rejection, html_escape};
use crate::{acs, artifact, slo};

pub(crate) type Answer = Result<Response<Bytes>, Rejection>;

pub(crate) fn reject(e: &Error) -> Rejection {
    Rejection::from_error(e)
}

pub(crate) fn store(e: StoreError) -> Rejection {
    Rejection::from_error(&Error::from(e))
}

/// True for paths the layer answers itself.
pub(crate) fn is_saml_path(shared: &Shared, path: &str) -> bool {
    path.strip_prefix(shared.prefix.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// True if the caller prefers JSON (API clients).
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

pub(crate) fn session_cookie(shared: &Shared) -> CookieSpec<'_> {
    CookieSpec {
        name: &shared.session_cookie,
        path: "/",
        secure: shared.secure_cookies,
        same_site: "Lax",
    }
}

/// The browser-binding cookie travels with the IdP's cross-site POST to the
/// ACS, so it must be `SameSite=None` (which browsers accept only with
/// `Secure`). On HTTPS it is a `__Host-` cookie, which must have `Path=/`;
/// on a plain-HTTP loopback server it stays under the prefix.
pub(crate) fn binding_cookie(shared: &Shared) -> CookieSpec<'_> {
    let (same_site, path) = if shared.secure_cookies {
        ("None", "/")
    } else {
        ("Lax", shared.prefix.as_str())
    };
    CookieSpec {
        name: &shared.binding_cookie,
        path,
        secure: shared.secure_cookies,
        same_site,
    }
}

/// The signed-in user for a request, from its session cookie.
pub(crate) async fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Option<Arc<SamlUser>>, Rejection> {
    let Some(token) = read(headers, &shared.session_cookie) else {
        return Ok(None);
    };
    let hash = hash_token(token);
    let now = shared.clock.now();
    let Some(record) = shared.sessions.load(&hash, now).await.map_err(store)? else {
        return Ok(None);
    };
    if record.last_seen + shared.idle_timeout <= now {
        shared.sessions.delete(&hash).await.map_err(store)?;
        return Ok(None);
    }
    // Writing on every request would cost more than it tells: once a minute is enough.
    if now - record.last_seen > Duration::seconds(60) {
        shared.sessions.touch(&hash, now).await.map_err(store)?;
    }
    Ok(Some(record.user))
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn redirect(location: &str) -> Result<Response<Bytes>, Rejection> {
    let mut response = respond(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    let value = HeaderValue::from_str(location).map_err(|_| {
        Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            "unusable redirect target",
        )
    })?;
    response.headers_mut().insert(LOCATION, value);
    Ok(response)
}

pub(crate) fn add_cookie(response: &mut Response<Bytes>, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(SET_COOKIE, v);
    }
}

/// Answers a request under the prefix.
pub(crate) async fn handle<B>(shared: &Shared, req: Request<B>) -> Response<Bytes>
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    // Take the request apart first: only `Send + Sync` parts are held across awaits.
    let (mut parts, body) = req.into_parts();
    if let Some(address) = (shared.client_address.0)(&parts) {
        parts.extensions.insert(ClientAddress(address));
    }
    let json = wants_json(&parts.headers);
    let path = parts.uri.path().to_owned();
    let rest = path.get(shared.prefix.len()..).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let answer = match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["metadata"]) => metadata(shared, None).await,
        (&Method::GET, [provider, "metadata"]) => metadata(shared, Some(provider)).await,
        (&Method::GET, ["login"]) => login(shared, &parts).await,
        (&Method::POST, ["acs"]) => acs::acs(shared, &parts, body, None).await,
        (&Method::POST, [provider, "acs"]) => acs::acs(shared, &parts, body, Some(provider)).await,
        (&Method::GET, ["artifact"]) => artifact::artifact_get(shared, &parts).await,
        (&Method::POST, ["artifact"]) => artifact::artifact_post(shared, &parts, body).await,
        (&Method::POST, ["logout"]) => slo::logout(shared, &parts, body).await,
        (&Method::GET, ["slo"]) => slo::slo_redirect(shared, &parts).await,
        (&Method::POST, ["slo"]) => slo::slo_post(shared, &parts, body).await,
        (&Method::POST, ["slo", "soap"]) => slo::slo_soap(shared, &parts, body).await,
        _ => Err(Rejection::new(
            ErrorCode::UnknownProvider,
            StatusCode::NOT_FOUND,
            "no such SAML endpoint",
        )),
    };
    match answer {
        Ok(response) => response,
        Err(r) => {
            tracing::warn!(target: "saml::audit", event = "rejected", path = %path, code = r.code().as_str(), detail = r.detail());
            let consumer = matches!(segments.last(), Some(&("acs" | "artifact")));
            if consumer && r.code() != ErrorCode::Replayed {
                Audit::new(AuditKind::LoginFailed, shared.clock.now())
                    .code(r.code().as_str())
                    .detail(r.detail())
                    .record(shared, &parts)
                    .await;
            }
            r.into_response(json)
        }
    }
}

async fn metadata(shared: &Shared, provider: Option<&str>) -> Answer {
    if let Some(name) = provider {
        shared
            .metadata
            .provider(name)
            .await
            .map_err(store)?
            .ok_or_else(|| unknown(name))?;
    }
    Ok(respond(
        StatusCode::OK,
        "application/samlmetadata+xml",
        sp_metadata_xml(shared, provider).await?,
    ))
}

/// Our SP metadata, shared or for one provider (not checked to exist).
pub(crate) async fn sp_metadata_xml(
    shared: &Shared,
    provider: Option<&str>,
) -> Result<String, Rejection> {
    // Logins ask for the shared ACS; a provider's own metadata also lists
    // its per-provider ACS (for IdP-initiated sign-in addressed to it).
    let mut md = SpMetadata::new(&shared.entity_id)
        .assertion_consumer_service(bindings::HTTP_POST, shared.acs_url(None))
        .single_logout_service(bindings::HTTP_REDIRECT, shared.slo_url())
        .single_logout_service(bindings::HTTP_POST, shared.slo_url())
        .single_logout_service(bindings::SOAP, shared.slo_soap_url());
    if provider.is_some() {
        md = md.assertion_consumer_service(bindings::HTTP_POST, shared.acs_url(provider));
    }
    if shared.http.is_some() {
        md = md.assertion_consumer_service(bindings::HTTP_ARTIFACT, shared.artifact_url());
    }
    if let Some(keys) = &shared.keys {
        let keys = keys.keys().await.map_err(store)?;
        if let Some(cert) = keys.signing.as_ref().and_then(|k| k.certificate()) {
            md = md.signing_certificate(cert.clone());
            if !keys.decryption.is_empty() {
                md = md.encryption_certificate(cert.clone());
            }
        }
    }
    Ok(md.to_xml())
}

pub(crate) fn unknown(name: &str) -> Rejection {
    Rejection::new(
        ErrorCode::UnknownProvider,
        StatusCode::NOT_FOUND,
        format!("no identity provider is configured as `{name}`"),
    )
}

/// The provider's signing keys, the trust anchor for its messages, unless
/// its metadata is past its `validUntil`: expired metadata no longer vouches
/// for the keys in it (SAML metadata 2.1.1), whichever resolver kept it.
pub(crate) fn trusted_keys(
    shared: &Shared,
    provider: &Provider,
) -> Result<Vec<PublicKey>, Rejection> {
    check_metadata_current(shared, provider)?;
    Ok(provider.metadata.signing_keys())
}

/// Refuses a provider whose metadata expired (`validUntil` at or before now).
pub(crate) fn check_metadata_current(
    shared: &Shared,
    provider: &Provider,
) -> Result<(), Rejection> {
    match provider.metadata.valid_until() {
        Some(until) if until <= shared.clock.now() => Err(Rejection::new(
            ErrorCode::Expired,
            StatusCode::BAD_GATEWAY,
            format!(
                "the metadata of identity provider `{}` expired at {} (validUntil), so its keys are no longer trusted; refresh the metadata",
                provider.name,
                saml_core::clock::format_datetime(until)
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn query_pairs(parts: &http::request::Parts) -> Vec<(String, String)> {
    parts.uri.query().and_then(parse_form).unwrap_or_default()
}

/// A `return_to` or RelayState the user may be sent to: a same-origin path
/// or a URL on an allow-listed origin; anything else is dropped (open
/// redirect protection).
pub(crate) fn safe_return_to(shared: &Shared, target: &str) -> Option<String> {
    if target.len() > 2048 || target.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    if target.starts_with('/') && !target.starts_with("//") {
        return Some(target.to_owned());
    }
    let same_origin = format!("{}/", shared.base_url);
    let allowed = std::iter::once(same_origin).chain(
        shared
            .allowed_return_origins
            .iter()
            .map(|o| format!("{}/", o.trim_end_matches('/'))),
    );
    allowed
        .into_iter()
        .any(|o| target.starts_with(&o))
        .then(|| target.to_owned())
}

async fn login(shared: &Shared, parts: &http::request::Parts) -> Answer {
    let query = query_pairs(parts);
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let return_to = param("return_to").and_then(|t| safe_return_to(shared, t));
    // A login hint (the username the IdP should prefill); odd values are dropped.
    let login_hint = param("login_hint")
        .map(str::trim)
        .filter(|h| !h.is_empty() && h.len() <= 256 && !h.chars().any(char::is_control))
        .map(str::to_owned);
    // A provider test an administrator asked for (the admin API's one-time
    // link): any provider, enabled or not; the ACS reports instead of
    // signing in.
    if let Some(token) = param("test") {
        let name = crate::test_login::redeem(shared, token).await?;
        let provider = shared
            .metadata
            .provider(&name)
            .await
            .map_err(store)?
            .ok_or_else(|| unknown(&name))?;
        return start_login(shared, &provider, None, None, PendingKind::Test).await;
    }
    let provider = match param("idp") {
        Some(name) => {
            let p = shared
                .metadata
                .provider(name)
                .await
                .map_err(store)?
                .ok_or_else(|| unknown(name))?;
            if !p.settings.enabled {
                return Err(unknown(name));
            }
            p
        }
        None => {
            let enabled: Vec<_> = shared
                .metadata
                .providers()
                .await
                .map_err(store)?
                .into_iter()
                .filter(|p| p.settings.enabled)
                .collect();
            match enabled.as_slice() {
                [only] => only.clone(),
                [] => {
                    return Err(Rejection::new(
                        ErrorCode::UnknownProvider,
                        StatusCode::NOT_FOUND,
                        "no identity provider is enabled",
                    ));
                }
                several => {
                    return Ok(chooser(
                        shared,
                        several,
                        return_to.as_deref(),
                        login_hint.as_deref(),
                    ));
                }
            }
        }
    };
    start_login(
        shared,
        &provider,
        return_to,
        login_hint.as_deref(),
        PendingKind::Login,
    )
    .await
}

fn chooser(
    shared: &Shared,
    providers: &[std::sync::Arc<Provider>],
    return_to: Option<&str>,
    login_hint: Option<&str>,
) -> Response<Bytes> {
    let mut rt = return_to
        .map(|r| format!("&return_to={}", encode(r)))
        .unwrap_or_default();
    if let Some(hint) = login_hint {
        rt.push_str(&format!("&login_hint={}", encode(hint)));
    }
    let buttons: String = providers
        .iter()
        .map(|p| {
            format!(
                "<li><a class=\"button\" href=\"{}/login?idp={}{}\">Log in using {}</a></li>",
                shared.prefix,
                encode(&p.name),
                html_escape(&rt),
                html_escape(p.display_name())
            )
        })
        .collect();
    let page = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in</title>",
            "<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}",
            "ul{{list-style:none;padding:0}}.button{{display:block;padding:.8rem 1rem;margin:.5rem 0;",
            "border:1px solid #888;border-radius:.4rem;text-decoration:none;color:inherit}}</style>",
            "</head><body><h1>Sign in</h1><ul>{}</ul></body></html>"
        ),
        buttons
    );
    respond(StatusCode::OK, "text/html; charset=utf-8", page)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn start_login(
    shared: &Shared,
    provider: &Provider,
    return_to: Option<String>,
    login_hint: Option<&str>,
    kind: PendingKind,
) -> Answer {
    check_metadata_current(shared, provider)?;
    let now = shared.clock.now();
    let settings = &provider.settings;
    // The configured binding, else whichever the IdP offers.
    let redirect_endpoint = provider.metadata.sso_endpoint(bindings::HTTP_REDIRECT);
    let post_endpoint = provider.metadata.sso_endpoint(bindings::HTTP_POST);
    let (sso, use_post) = match (settings.request_binding, redirect_endpoint, post_endpoint) {
        (RequestBinding::Post, _, Some(post)) | (_, None, Some(post)) => (post, true),
        (_, Some(redirect), _) => (redirect, false),
        _ => {
            return Err(Rejection::new(
                ErrorCode::UnknownProvider,
                StatusCode::BAD_GATEWAY,
                "the IdP's metadata has no HTTP-Redirect or HTTP-POST SSO endpoint",
            ));
        }
    };
    let (acs_url, protocol_binding) = match settings.response_binding {
        ResponseBinding::Post => (shared.acs_url(None), bindings::HTTP_POST),
        ResponseBinding::Artifact => (shared.artifact_url(), bindings::HTTP_ARTIFACT),
    };
    let mut builder = AuthnRequest::builder(&shared.entity_id, &sso.location)
        .assertion_consumer_service_url(acs_url)
        .protocol_binding(Some(protocol_binding))
        .force_authn(settings.force_authn)
        .is_passive(settings.is_passive)
        .name_id_policy(settings.name_id_format.as_deref(), true);
    // Without a Format: an IdP whose NameID format differs still takes it.
    if let Some(hint) = login_hint {
        builder = builder.subject_hint(hint, None);
    }
    if !settings.authn_context_class_refs.is_empty() {
        builder = builder.requested_authn_context(
            AuthnContextComparison::Exact,
            settings.authn_context_class_refs.clone(),
        );
    }
    let request = builder
        .build(shared.clock.as_ref())
        .map_err(|e| reject(&e))?;
    let token = random_token().ok_or_else(|| {
        Rejection::new(
            ErrorCode::StoreUnavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
        )
    })?;
    shared
        .replay
        .save_pending(PendingLogin {
            request_id: request.id().to_owned(),
            provider: provider.name.clone(),
            return_to,
            browser_binding: hash_token(&token),
            issued_at: now,
            force_authn: settings.force_authn,
            expires_at: now + shared.pending_lifetime,
            kind,
        })
        .await
        .map_err(store)?;
    let signing = if settings.sign_request {
        let key = match &shared.keys {
            Some(keys) => keys.keys().await.map_err(store)?.signing,
            None => None,
        };
        // Never fall back to an unsigned request the IdP would refuse anyway.
        Some(key.ok_or_else(|| {
            Rejection::new(
                ErrorCode::UntrustedKey,
                StatusCode::SERVICE_UNAVAILABLE,
                "this provider signs requests, but no SP signing key is configured (key_store)",
            )
        })?)
    } else {
        None
    };
    let mut response = if use_post {
        let form = request
            .post_form(None, signing.as_deref())
            .map_err(|e| reject(&e))?;
        post_page(&form)?
    } else {
        let url = match &signing {
            Some(key) => request.redirect_url(None, Some((key.as_ref(), key.default_algorithm()))),
            None => request.redirect_url(None, None),
        }
        .map_err(|e| reject(&e))?;
        redirect(&url)?
    };
    add_cookie(
        &mut response,
        &binding_cookie(shared).set(&token, Some(shared.pending_lifetime.num_seconds())),
    );
    tracing::info!(target: "saml::audit", event = "login_started", provider = %provider.name, request_id = request.id());
    Ok(response)
}

/// An auto-submitting POST form, allowed by a nonce in its Content-Security-Policy.
pub(crate) fn post_page(form: &saml_core::binding::PostForm) -> Answer {
    let nonce = random_token().ok_or_else(|| {
        Rejection::new(
            ErrorCode::StoreUnavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
        )
    })?;
    let mut response = respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        form.html_with_nonce(&nonce),
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; form-action *"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

/// The request body, at most `max_body_bytes` (413 beyond).
pub(crate) async fn read_body<B>(shared: &Shared, body: B) -> Result<Bytes, Rejection>
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    Ok(Limited::new(body, shared.max_body_bytes)
        .collect()
        .await
        .map_err(|_| {
            Rejection::new(
                ErrorCode::InputTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            )
        })?
        .to_bytes())
}

pub(crate) async fn read_form<B>(
    shared: &Shared,
    body: B,
) -> Result<Vec<(String, String)>, Rejection>
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(shared, body).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            "the posted form is not UTF-8",
        )
    })?;
    let form = parse_form(text).ok_or_else(|| {
        Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            "the posted form is malformed",
        )
    })?;
    Ok(form)
}
