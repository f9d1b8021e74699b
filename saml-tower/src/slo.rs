//! Single Logout: `POST {prefix}/logout` (the user signs out here) and
//! `GET|POST {prefix}/slo` (the IdP's LogoutRequest or its LogoutResponse).
//!
//! SP-initiated: the local session ends first, whatever the IdP does next;
//! when the IdP has a single logout endpoint, a LogoutRequest goes there and
//! the pending logout waits, bound to this browser, for the LogoutResponse.
//! IdP-initiated: a validated (by default signed) LogoutRequest ends every
//! session of its (provider, NameID, SessionIndex) through the session store,
//! once, and is answered with a LogoutResponse on the binding it came on:
//! through the browser (Redirect, POST), or on the back channel (SOAP, at
//! `POST {prefix}/slo/soap`, where refusals are SOAP faults).

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use bytes::Bytes;
use chrono::Duration;
use http::header::ORIGIN;
use http::request::Parts;
use http::{Response, StatusCode};
use saml_core::binding::{
    RedirectParameter, decode_post, parse_redirect_query, soap_envelope, soap_message,
};
use saml_core::protocol::{
    IncomingLogoutRequest, LogoutRequest, LogoutResponse, LogoutValidator, NameId, SAML_NS,
    SAMLP_NS, bindings, status,
};
use saml_core::store::{PendingKind, PendingLogin, Provider, SamlUser};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

use crate::BoxError;
use crate::audit::{Audit, AuditKind};
use crate::cookie::{hash_token, random_token, read};
use crate::endpoints::{
    Answer, add_cookie, binding_cookie, check_metadata_current, post_page, read_body, read_form,
    redirect, reject, respond, safe_return_to, session_cookie, store, trusted_keys, unknown,
};
use crate::layer::Shared;
use crate::reject::{Rejection, html_escape};

/// `POST {prefix}/logout`: ends the local session, then (when the IdP has a
/// single logout endpoint) sends the user there with a LogoutRequest.
/// An optional `return_to` form field says where to land afterwards.
pub(crate) async fn logout<B>(shared: &Shared, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let headers = &parts.headers;
    // CSRF: a logout must come from our own pages.
    let same_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "same-origin");
    let same_origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o == shared.base_url);
    if !same_site && !same_origin {
        return Err(Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::FORBIDDEN,
            "cross-site logout refused",
        ));
    }
    let form = read_form(shared, body).await?;
    let return_to = form
        .iter()
        .find(|(n, _)| n == "return_to")
        .and_then(|(_, v)| safe_return_to(shared, v));
    let now = shared.clock.now();

    let mut user = None;
    if let Some(token) = read(headers, &shared.session_cookie) {
        let hash = hash_token(token);
        user = shared
            .sessions
            .load(&hash, now)
            .await
            .map_err(store)?
            .map(|r| r.user);
        shared.sessions.delete(&hash).await.map_err(store)?;
    }
    if let Some(user) = &user {
        Audit::new(AuditKind::Logout, now)
            .provider(&user.provider)
            .subject(&user.name_id)
            .detail("sp_initiated")
            .record(shared, parts)
            .await;
    }

    let provider = match &user {
        Some(u) => shared.metadata.provider(&u.provider).await.map_err(store)?,
        None => None,
    };
    let mut response = match (user, provider) {
        // An IdP whose metadata expired would have its answer refused: the
        // logout stays local rather than ending on an error page.
        (Some(user), Some(provider))
            if has_slo(&provider) && check_metadata_current(shared, &provider).is_ok() =>
        {
            send_logout_request(shared, &provider, &user, return_to).await?
        }
        _ => redirect(return_to.as_deref().unwrap_or("/"))?,
    };
    add_cookie(&mut response, &session_cookie(shared).clear());
    Ok(response)
}

fn has_slo(provider: &Provider) -> bool {
    !provider.metadata.slo_endpoints().is_empty()
}

/// The IdP's SLO endpoint to talk to: Redirect preferred, POST else.
/// Returns the URL (requests at `Location`, responses at `ResponseLocation`
/// when given) and whether it is the POST binding.
fn slo_target(provider: &Provider, response: bool, prefer_post: bool) -> Option<(String, bool)> {
    let redirect = provider.metadata.slo_endpoint(bindings::HTTP_REDIRECT);
    let post = provider.metadata.slo_endpoint(bindings::HTTP_POST);
    let (endpoint, is_post) = match (redirect, post) {
        (Some(_), Some(p)) if prefer_post => (p, true),
        (Some(r), _) => (r, false),
        (None, Some(p)) => (p, true),
        (None, None) => return None,
    };
    let url = match (&endpoint.response_location, response) {
        (Some(r), true) => r.clone(),
        _ => endpoint.location.clone(),
    };
    Some((url, is_post))
}

async fn send_logout_request(
    shared: &Shared,
    provider: &Provider,
    user: &SamlUser,
    return_to: Option<String>,
) -> Answer {
    let now = shared.clock.now();
    let Some((destination, use_post)) = slo_target(provider, false, false) else {
        return redirect(return_to.as_deref().unwrap_or("/"));
    };
    let name_id = NameId {
        value: user.name_id.clone(),
        format: user.name_id_format.clone(),
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let mut builder = LogoutRequest::builder(&shared.entity_id, &destination, name_id);
    if let Some(index) = &user.session_index {
        builder = builder.session_index(index);
    }
    let request = builder
        .build(shared.clock.as_ref())
        .map_err(|e| reject(&e))?;
    let token = random_token().ok_or_else(no_randomness)?;
    shared
        .replay
        .save_pending(PendingLogin {
            request_id: request.id().to_owned(),
            provider: provider.name.clone(),
            return_to,
            browser_binding: hash_token(&token),
            issued_at: now,
            force_authn: false,
            expires_at: now + shared.pending_lifetime,
            kind: PendingKind::Logout,
        })
        .await
        .map_err(store)?;
    // Sign whenever we have a key: most IdPs refuse unsigned logout requests.
    let key = match &shared.keys {
        Some(keys) => keys.keys().await.map_err(store)?.signing,
        None => None,
    };
    let mut response = if use_post {
        let form = request
            .post_form(None, key.as_deref())
            .map_err(|e| reject(&e))?;
        post_page(&form)?
    } else {
        let signing = key.as_deref().map(|k| (k, k.default_algorithm()));
        let url = request
            .redirect_url(None, signing)
            .map_err(|e| reject(&e))?;
        redirect(&url)?
    };
    add_cookie(
        &mut response,
        &binding_cookie(shared).set(&token, Some(shared.pending_lifetime.num_seconds())),
    );
    tracing::info!(target: "saml::audit", event = "logout_started", provider = %provider.name, request_id = request.id());
    Ok(response)
}

fn no_randomness() -> Rejection {
    Rejection::new(
        ErrorCode::StoreUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "no randomness",
    )
}

/// A logout message as it arrived, before validation.
enum Received<'q> {
    /// HTTP-Redirect: the raw query (its signature covers the raw bytes).
    Redirect(&'q str),
    /// HTTP-POST: the decoded XML and the form's RelayState.
    Post {
        xml: String,
        relay_state: Option<String>,
    },
}

impl Received<'_> {
    fn is_post(&self) -> bool {
        matches!(self, Self::Post { .. })
    }
}

/// `GET {prefix}/slo`: a LogoutRequest or LogoutResponse on HTTP-Redirect.
pub(crate) async fn slo_redirect(shared: &Shared, parts: &Parts) -> Answer {
    let raw = parts.uri.query().unwrap_or("");
    let limits = Limits::default();
    let message = parse_redirect_query(raw, &limits).map_err(|e| reject(&e))?;
    let parameter = message.parameter();
    let xml = message.into_xml();
    dispatch(shared, parts, parameter, &xml, Received::Redirect(raw)).await
}

/// `POST {prefix}/slo`: a LogoutRequest or LogoutResponse on HTTP-POST.
pub(crate) async fn slo_post<B>(shared: &Shared, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let form = read_form(shared, body).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (parameter, value) = match (field("SAMLRequest"), field("SAMLResponse")) {
        (Some(v), None) => (RedirectParameter::SamlRequest, v),
        (None, Some(v)) => (RedirectParameter::SamlResponse, v),
        _ => {
            return Err(Rejection::new(
                ErrorCode::MalformedXml,
                StatusCode::BAD_REQUEST,
                "the form must carry exactly one of SAMLRequest and SAMLResponse",
            ));
        }
    };
    let xml = decode_post(value, &Limits::default()).map_err(|e| reject(&e))?;
    let received = Received::Post {
        xml: xml.clone(),
        relay_state: field("RelayState").map(str::to_owned),
    };
    dispatch(shared, parts, parameter, &xml, received).await
}

/// Finds the IdP by the message's Issuer and hands the message on.
async fn dispatch(
    shared: &Shared,
    parts: &Parts,
    parameter: RedirectParameter,
    xml: &str,
    received: Received<'_>,
) -> Answer {
    let provider = provider_by_issuer(shared, xml).await?;
    let settings = &provider.settings;
    let mut validator = LogoutValidator::new(
        provider.metadata.entity_id(),
        trusted_keys(shared, &provider)?,
        shared.slo_url(),
    );
    validator.clock_skew = Duration::seconds(settings.clock_skew_seconds);
    validator.require_signature = settings.require_signed_logout;
    if settings.allow_sha1 {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    match parameter {
        RedirectParameter::SamlRequest => {
            idp_initiated(shared, parts, &provider, &validator, received).await
        }
        RedirectParameter::SamlResponse => {
            let doc = Document::parse(xml, &Limits::default()).map_err(|e| reject(&e))?;
            let in_response_to = doc.root().attribute("InResponseTo").unwrap_or_default();
            finish_sp_initiated(
                shared,
                parts,
                &provider,
                &validator,
                in_response_to,
                received,
            )
            .await
        }
    }
}

/// The IdP asks us to end a principal's sessions.
async fn idp_initiated(
    shared: &Shared,
    parts: &Parts,
    provider: &Provider,
    validator: &LogoutValidator,
    received: Received<'_>,
) -> Answer {
    let clock = shared.clock.as_ref();
    let now = clock.now();
    let (request, relay_state): (IncomingLogoutRequest, Option<String>) = match &received {
        Received::Redirect(raw) => {
            let r = validator
                .validate_request_redirect(raw, clock)
                .map_err(|e| reject(&e))?;
            let relay = r.relay_state.clone();
            (r, relay)
        }
        Received::Post { xml, relay_state } => (
            validator
                .validate_request(xml, clock)
                .map_err(|e| reject(&e))?,
            relay_state.clone(),
        ),
    };
    // Each LogoutRequest is acted on once.
    let replay_key = format!("logout:{}:{}", provider.metadata.entity_id(), request.id);
    if !shared
        .replay
        .insert_once(&replay_key, request.replay_expiry, now)
        .await
        .map_err(store)?
    {
        Audit::new(AuditKind::Replay, now)
            .provider(&provider.name)
            .subject(&request.name_id.value)
            .code(ErrorCode::Replayed.as_str())
            .detail("logout_request")
            .record(shared, parts)
            .await;
        return Err(Rejection::new(
            ErrorCode::Replayed,
            StatusCode::BAD_REQUEST,
            "this logout request was already used",
        ));
    }

    // End every matching session; a store failure is reported to the IdP
    // as a Responder error rather than a success it would believe.
    let ended = end_sessions(shared, provider, &request).await;
    let status_code = match &ended {
        Ok(_) => status::SUCCESS,
        Err(_) => status::RESPONDER,
    };
    Audit::new(AuditKind::Logout, now)
        .provider(&provider.name)
        .subject(&request.name_id.value)
        .detail(match &ended {
            Ok(n) => format!("idp_initiated; {n} session(s) ended"),
            Err(e) => format!("idp_initiated; failed: {e}"),
        })
        .record(shared, parts)
        .await;

    let mut response = match slo_target(provider, true, received.is_post()) {
        Some((destination, use_post)) => {
            let answer = LogoutResponse::builder(&shared.entity_id, &destination, &request.id)
                .status(status_code, None, None)
                .build(shared.clock.as_ref())
                .map_err(|e| reject(&e))?;
            let key = match &shared.keys {
                Some(keys) => keys.keys().await.map_err(store)?.signing,
                None => None,
            };
            if use_post {
                let form = answer
                    .post_form(relay_state.as_deref(), key.as_deref())
                    .map_err(|e| reject(&e))?;
                post_page(&form)?
            } else {
                let signing = key.as_deref().map(|k| (k, k.default_algorithm()));
                let url = answer
                    .redirect_url(relay_state.as_deref(), signing)
                    .map_err(|e| reject(&e))?;
                redirect(&url)?
            }
        }
        // An IdP without an SLO endpoint cannot take an answer: say it here.
        None => signed_out_page(),
    };
    // Clear this browser's cookie when its session is among those ended.
    if let Some(token) = read(&parts.headers, &shared.session_cookie) {
        let alive = shared
            .sessions
            .load(&hash_token(token), now)
            .await
            .map_err(store)?;
        if alive.is_none() {
            add_cookie(&mut response, &session_cookie(shared).clear());
        }
    }
    Ok(response)
}

async fn end_sessions(
    shared: &Shared,
    provider: &Provider,
    request: &IncomingLogoutRequest,
) -> Result<u64, saml_core::store::StoreError> {
    let name_id = &request.name_id.value;
    if request.session_indexes.is_empty() {
        return shared
            .sessions
            .delete_by_subject(&provider.name, name_id, None)
            .await;
    }
    let mut ended = 0;
    for index in &request.session_indexes {
        ended += shared
            .sessions
            .delete_by_subject(&provider.name, name_id, Some(index))
            .await?;
    }
    Ok(ended)
}

/// The IdP answers the LogoutRequest we sent.
async fn finish_sp_initiated(
    shared: &Shared,
    parts: &Parts,
    provider: &Provider,
    validator: &LogoutValidator,
    in_response_to: &str,
    received: Received<'_>,
) -> Answer {
    let clock = shared.clock.as_ref();
    let now = clock.now();
    let mismatch = || {
        Rejection::new(
            ErrorCode::InResponseToMismatch,
            StatusCode::BAD_REQUEST,
            "this logout response answers no logout in progress (unknown, expired or already used)",
        )
    };
    let pending = shared
        .replay
        .take_pending(in_response_to, now)
        .await
        .map_err(store)?
        .ok_or_else(mismatch)?;
    // A response that does not complete the pending request (a login's, a
    // logout of another IdP or browser, forged, broken) must not spend it:
    // whoever learnt its ID could otherwise cancel the user's login or
    // logout. It goes back, as at the ACS.
    if pending.kind != PendingKind::Logout || pending.provider != provider.name {
        put_back(shared, pending).await;
        return Err(mismatch());
    }
    let cookie = read(&parts.headers, &shared.binding_cookie)
        .map(hash_token)
        .unwrap_or_default();
    if verify_slices_are_equal(cookie.as_bytes(), pending.browser_binding.as_bytes()).is_err() {
        put_back(shared, pending).await;
        return Err(Rejection::new(
            ErrorCode::InResponseToMismatch,
            StatusCode::FORBIDDEN,
            "this logout was started in another browser; sign out again",
        ));
    }
    let validated = match &received {
        Received::Redirect(raw) => {
            validator.validate_response_redirect(raw, &pending.request_id, clock)
        }
        Received::Post { xml, .. } => validator.validate_response(xml, &pending.request_id, clock),
    };
    let outcome = match validated {
        Ok(outcome) => outcome,
        Err(e) => {
            put_back(shared, pending).await;
            return Err(reject(&e));
        }
    };
    tracing::info!(target: "saml::audit", event = "logout_completed", provider = %provider.name, partial = outcome.partial);
    let mut response = redirect(pending.return_to.as_deref().unwrap_or("/"))?;
    add_cookie(&mut response, &binding_cookie(shared).clear());
    Ok(response)
}

/// Returns a pending request taken for a response that did not complete
/// it. Best effort: a store failure here only costs the user a new attempt.
async fn put_back(shared: &Shared, pending: PendingLogin) {
    if let Err(e) = shared.replay.save_pending(pending).await {
        tracing::warn!(target: "saml::audit", error = %e, "a pending request could not be put back");
    }
}

fn signed_out_page() -> Response<Bytes> {
    respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title></head>\
             <body><h1>{0}</h1></body></html>",
            html_escape("Signed out")
        ),
    )
}

/// `POST {prefix}/slo/soap`: an IdP's LogoutRequest on the back channel
/// (SOAP). Refusals are answered as SOAP faults, not pages.
pub(crate) async fn slo_soap<B>(shared: &Shared, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    match back_channel_logout(shared, parts, body).await {
        Ok(response) => Ok(response),
        Err(r) => {
            tracing::warn!(target: "saml::audit", event = "rejected", path = %parts.uri.path(), code = r.code().as_str(), detail = r.detail());
            Ok(soap_fault(&r))
        }
    }
}

async fn back_channel_logout<B>(shared: &Shared, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let bytes = read_body(shared, body).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Rejection::new(
            ErrorCode::UnsupportedEncoding,
            StatusCode::BAD_REQUEST,
            "the SOAP message is not UTF-8",
        )
    })?;
    let limits = Limits::default();
    let message = soap_message(text, &limits).map_err(|e| reject(&e))?;
    if message.local_name != "LogoutRequest" || message.namespace.as_deref() != Some(SAMLP_NS) {
        return Err(Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            format!(
                "this endpoint takes a samlp:LogoutRequest, not <{}>",
                message.local_name
            ),
        ));
    }
    let provider = provider_by_issuer(shared, &message.xml).await?;
    let settings = &provider.settings;
    let mut validator = LogoutValidator::new(
        provider.metadata.entity_id(),
        trusted_keys(shared, &provider)?,
        shared.slo_soap_url(),
    );
    validator.clock_skew = Duration::seconds(settings.clock_skew_seconds);
    validator.require_signature = settings.require_signed_logout;
    if settings.allow_sha1 {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    let clock = shared.clock.as_ref();
    let now = clock.now();
    let request = validator
        .validate_request(&message.xml, clock)
        .map_err(|e| reject(&e))?;
    let replay_key = format!("logout:{}:{}", provider.metadata.entity_id(), request.id);
    if !shared
        .replay
        .insert_once(&replay_key, request.replay_expiry, now)
        .await
        .map_err(store)?
    {
        return Err(Rejection::new(
            ErrorCode::Replayed,
            StatusCode::BAD_REQUEST,
            "this logout request was already used",
        ));
    }
    let ended = end_sessions(shared, &provider, &request).await;
    Audit::new(AuditKind::Logout, now)
        .provider(&provider.name)
        .subject(&request.name_id.value)
        .detail(match &ended {
            Ok(n) => format!("back_channel; {n} session(s) ended"),
            Err(e) => format!("back_channel; failed: {e}"),
        })
        .record(shared, parts)
        .await;
    let status_code = if ended.is_ok() {
        status::SUCCESS
    } else {
        status::RESPONDER
    };
    // SOAP answers go back on the same connection; Destination names the
    // IdP's SOAP endpoint when it lists one.
    let destination = provider.metadata.slo_endpoint(bindings::SOAP).map_or_else(
        || provider.metadata.entity_id().to_owned(),
        |e| {
            e.response_location
                .clone()
                .unwrap_or_else(|| e.location.clone())
        },
    );
    let answer = LogoutResponse::builder(&shared.entity_id, &destination, &request.id)
        .status(status_code, None, None)
        .build(clock)
        .map_err(|e| reject(&e))?;
    let key = match &shared.keys {
        Some(keys) => keys.keys().await.map_err(store)?.signing,
        None => None,
    };
    let envelope = answer
        .soap_envelope(key.as_deref())
        .map_err(|e| reject(&e))?;
    Ok(respond(StatusCode::OK, "text/xml; charset=utf-8", envelope))
}

/// The configured provider named by the message's Issuer.
async fn provider_by_issuer(shared: &Shared, xml: &str) -> Result<Arc<Provider>, Rejection> {
    let doc = Document::parse(xml, &Limits::default()).map_err(|e| reject(&e))?;
    let issuer = doc
        .root()
        .child_elements()
        .find(|e| e.is(SAML_NS, "Issuer"))
        .map(|e| e.text().trim().to_owned())
        .ok_or_else(|| {
            Rejection::new(
                ErrorCode::IssuerMismatch,
                StatusCode::BAD_REQUEST,
                "the logout message names no Issuer",
            )
        })?;
    shared
        .metadata
        .provider_by_entity_id(&issuer)
        .await
        .map_err(store)?
        .ok_or_else(|| unknown(&issuer))
}

/// A SOAP 1.1 fault carrying the refusal's code and detail.
fn soap_fault(r: &Rejection) -> Response<Bytes> {
    let side = if r.status().is_server_error() {
        "SOAP-ENV:Server"
    } else {
        "SOAP-ENV:Client"
    };
    let body = format!(
        "<SOAP-ENV:Fault><faultcode>{side}</faultcode><faultstring>{}: {}</faultstring></SOAP-ENV:Fault>",
        r.code().as_str(),
        html_escape(r.detail())
    );
    // SOAP 1.1 sends faults with 500 whatever the cause.
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/xml; charset=utf-8",
        soap_envelope(&body),
    )
}
