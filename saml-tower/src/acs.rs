//! The Assertion Consumer Service: a Response posted by the browser (or
//! resolved from an artifact) is validated, its assertion used once, the
//! user mapped, and a fresh session started.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use chrono::Duration;
use http::StatusCode;
use http::request::Parts;
use saml_core::binding::decode_post;
use saml_core::protocol::{AuthnContextRequirement, Expectation, ResponseValidator, SAML_NS};
use saml_core::store::{PendingKind, PendingLogin, Provider, SessionRecord};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

use crate::BoxError;
use crate::audit::{Audit, AuditKind};
use crate::cookie::{hash_token, random_token, read};
use crate::endpoints::{
    Answer, add_cookie, binding_cookie, read_form, redirect, reject, safe_return_to,
    session_cookie, store, trusted_keys, unknown, wants_json,
};
use crate::layer::Shared;
use crate::reject::Rejection;

/// `POST {prefix}/acs` and `POST {prefix}/{provider}/acs`: a Response on
/// the HTTP-POST binding.
pub(crate) async fn acs<B>(
    shared: &Shared,
    parts: &Parts,
    body: B,
    path_provider: Option<&str>,
) -> Answer
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
    let value = field("SAMLResponse").ok_or_else(|| {
        Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            "no SAMLResponse in the posted form",
        )
    })?;
    let xml = decode_post(value, &Limits::default()).map_err(|e| reject(&e))?;
    consume(
        shared,
        parts,
        &xml,
        field("RelayState"),
        Via::Post { path_provider },
    )
    .await
}

/// How the Response arrived.
pub(crate) enum Via<'a> {
    /// Posted by the browser to the shared or a per-provider ACS.
    Post {
        /// The provider named in the ACS path, if any.
        path_provider: Option<&'a str>,
    },
    /// Resolved from an artifact at the provider's resolution service.
    Artifact {
        /// The provider the artifact came from.
        provider: Arc<Provider>,
    },
}

/// Validates a Response (the XML of the message itself) and, when it
/// passes, starts the session and sends the browser on.
pub(crate) async fn consume(
    shared: &Shared,
    parts: &Parts,
    xml: &str,
    relay_state: Option<&str>,
    via: Via<'_>,
) -> Answer {
    let headers = &parts.headers;
    let now = shared.clock.now();
    let doc = Document::parse(xml, &Limits::default()).map_err(|e| reject(&e))?;
    let root = doc.root();
    let (path_provider, acs_url) = match &via {
        Via::Post { path_provider } => (*path_provider, shared.acs_url(*path_provider)),
        Via::Artifact { .. } => (None, shared.artifact_url()),
    };

    // Which IdP: from the path, else by the Issuer.
    let provider = match (via, path_provider) {
        (Via::Artifact { provider }, _) => provider,
        (Via::Post { .. }, Some(name)) => shared
            .metadata
            .provider(name)
            .await
            .map_err(store)?
            .ok_or_else(|| unknown(name))?,
        (Via::Post { .. }, None) => {
            let issuer = root
                .child_elements()
                .find(|e| e.is(SAML_NS, "Issuer"))
                .map(|e| e.text().trim().to_owned())
                .ok_or_else(|| {
                    Rejection::new(
                        ErrorCode::IssuerMismatch,
                        StatusCode::BAD_REQUEST,
                        "the response names no Issuer; use the per-provider ACS URL",
                    )
                })?;
            shared
                .metadata
                .provider_by_entity_id(&issuer)
                .await
                .map_err(store)?
                .ok_or_else(|| unknown(&issuer))?
        }
    };
    let settings = &provider.settings;

    // The pending login this answers (single use), bound to this browser.
    let pending = match root.attribute("InResponseTo") {
        Some(id) => {
            let pending = shared
                .replay
                .take_pending(id, now)
                .await
                .map_err(store)?
                .ok_or_else(|| {
                    Rejection::new(
                        ErrorCode::InResponseToMismatch,
                        StatusCode::BAD_REQUEST,
                        "this sign-in is unknown, expired or already used; start again",
                    )
                })?;
            if !matches!(pending.kind, PendingKind::Login | PendingKind::Test) {
                put_back(shared, pending).await;
                return Err(Rejection::new(
                    ErrorCode::InResponseToMismatch,
                    StatusCode::BAD_REQUEST,
                    "this response answers a logout, not a sign-in",
                ));
            }
            if pending.provider != provider.name {
                put_back(shared, pending).await;
                return Err(Rejection::new(
                    ErrorCode::IssuerMismatch,
                    StatusCode::BAD_REQUEST,
                    "the response comes from another IdP than the one asked",
                ));
            }
            let cookie = read(headers, &shared.binding_cookie)
                .map(hash_token)
                .unwrap_or_default();
            if verify_slices_are_equal(cookie.as_bytes(), pending.browser_binding.as_bytes())
                .is_err()
            {
                put_back(shared, pending).await;
                return Err(Rejection::new(
                    ErrorCode::InResponseToMismatch,
                    StatusCode::FORBIDDEN,
                    "this sign-in was started in another browser (login CSRF protection); start again",
                ));
            }
            Some(pending)
        }
        None if settings.allow_idp_initiated => None,
        None => {
            return Err(Rejection::new(
                ErrorCode::UnsolicitedResponse,
                StatusCode::BAD_REQUEST,
                "IdP-initiated sign-in is not enabled for this provider; start at the application",
            ));
        }
    };
    // A disabled provider signs nobody in; only an administrator's test
    // login (which starts no session) may use it.
    let testing = pending
        .as_ref()
        .is_some_and(|p| p.kind == PendingKind::Test);
    if !settings.enabled && !testing {
        if let Some(pending) = pending {
            put_back(shared, pending).await;
        }
        return Err(unknown(&provider.name));
    }

    let mut validator = ResponseValidator::new(
        provider.metadata.entity_id(),
        trusted_keys(shared, &provider)?,
        &shared.entity_id,
        acs_url,
    );
    validator.clock_skew = Duration::seconds(settings.clock_skew_seconds);
    validator.require_signed_assertion = settings.want_assertions_signed;
    validator.allow_idp_initiated = settings.allow_idp_initiated;
    if settings.allow_sha1 {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    if !settings.authn_context_class_refs.is_empty() {
        validator.authn_context =
            AuthnContextRequirement::OneOf(settings.authn_context_class_refs.clone());
    }
    if let Some(keys) = &shared.keys {
        validator.decryption_keys = keys.keys().await.map_err(store)?.decryption;
    }
    let expect = Expectation {
        in_response_to: pending.as_ref().map(|p| p.request_id.as_str()),
        force_authn_since: pending
            .as_ref()
            .filter(|p| p.force_authn)
            .map(|p| p.issued_at),
    };
    let assertion = match validator.validate(&doc, &expect, shared.clock.as_ref()) {
        Ok(assertion) => assertion,
        Err(e) => {
            if let Some(pending) = pending {
                put_back(shared, pending).await;
            }
            return Err(reject(&e));
        }
    };

    // Each assertion is accepted once, cluster-wide.
    let replay_key = format!(
        "assertion:{}:{}",
        provider.metadata.entity_id(),
        assertion.id
    );
    if !shared
        .replay
        .insert_once(&replay_key, assertion.replay_expiry(now), now)
        .await
        .map_err(store)?
    {
        Audit::new(AuditKind::Replay, now)
            .provider(&provider.name)
            .subject(&assertion.name_id.value)
            .code(ErrorCode::Replayed.as_str())
            .detail(format!("assertion {}", assertion.id))
            .record(shared, parts)
            .await;
        return Err(Rejection::new(
            ErrorCode::Replayed,
            StatusCode::BAD_REQUEST,
            "this response was already used",
        ));
    }
    // A test shows what sign-in would map, without the mapper's side effects.
    let mapped = if testing {
        shared.mapper.preview(&provider, &assertion).await
    } else {
        shared.mapper.map(&provider, &assertion).await
    };
    let user = mapped.map_err(|e| reject(&e))?;

    if testing {
        // A test: report what was received and mapped; no session.
        Audit::new(AuditKind::ProviderTested, now)
            .provider(&provider.name)
            .subject(&user.name_id)
            .detail("test login validated and mapped; no session started")
            .record_or_refuse(shared, parts)
            .await?;
        let mut response =
            crate::test_login::report(&provider, &assertion, &user, wants_json(headers));
        add_cookie(&mut response, &binding_cookie(shared).clear());
        return Ok(response);
    }

    // A fresh session id at every login; an older session of this browser ends.
    if let Some(old) = read(headers, &shared.session_cookie) {
        shared
            .sessions
            .delete(&hash_token(old))
            .await
            .map_err(store)?;
    }
    // Recorded before the session exists: an unrecorded sign-in does not happen.
    Audit::new(AuditKind::Login, now)
        .provider(&provider.name)
        .subject(&user.name_id)
        .detail(if pending.is_none() {
            "idp_initiated"
        } else {
            "sp_initiated"
        })
        .record_or_refuse(shared, parts)
        .await?;
    let token = random_token().ok_or_else(|| {
        Rejection::new(
            ErrorCode::StoreUnavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness",
        )
    })?;
    let mut expires_at = now + shared.session_lifetime;
    if let Some(end) = assertion.session_not_on_or_after {
        expires_at = expires_at.min(end);
    }
    let id_hash = hash_token(&token);
    shared
        .sessions
        .create(SessionRecord {
            id_hash: id_hash.clone(),
            user: Arc::new(user),
            created_at: now,
            last_seen: now,
            expires_at,
        })
        .await
        .map_err(store)?;
    // Disabling a provider ends its sessions; a response in flight at that
    // moment must not leave one behind. Checked after the session exists,
    // so a disable is either seen here or ends this session itself.
    let current = shared.metadata.provider(&provider.name).await;
    if !matches!(&current, Ok(Some(p)) if p.settings.enabled) {
        if let Err(e) = shared.sessions.delete(&id_hash).await {
            tracing::error!(target: "saml::acs", provider = %provider.name, error = %e, "a session of a provider disabled during sign-in could not be deleted");
        }
        return Err(match current {
            Err(e) => store(e),
            Ok(_) => unknown(&provider.name),
        });
    }

    let target = match &pending {
        Some(p) => p.return_to.clone(),
        None => relay_state.and_then(|r| safe_return_to(shared, r)),
    }
    .unwrap_or_else(|| "/".to_owned());
    let mut response = redirect(&target)?;
    add_cookie(
        &mut response,
        &session_cookie(shared).set(&token, Some((expires_at - now).num_seconds().max(1))),
    );
    add_cookie(&mut response, &binding_cookie(shared).clear());
    Ok(response)
}

/// Returns a pending login taken for a response that did not complete it,
/// so that whoever learnt its ID cannot spend it with a forged or misdirected
/// response (the user's own answer still completes it). Best effort: a store
/// failure here only costs the user a new login.
async fn put_back(shared: &Shared, pending: PendingLogin) {
    if let Err(e) = shared.replay.save_pending(pending).await {
        tracing::warn!(target: "saml::audit", error = %e, "a pending login could not be put back");
    }
}
