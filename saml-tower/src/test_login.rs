//! Testing a provider: an administrator gets a one-time login link; the
//! login it starts is an ordinary SP-initiated one whose pending request is
//! marked [`PendingKind::Test`], and the ACS, after full validation and
//! mapping, answers a report of what it received instead of starting a
//! session.
//!
//! The link's token is kept in the replay cache as a pending record of its
//! own (under its hash, single use, ten minutes), so every node can redeem
//! it and no store needs a new table.

use bytes::Bytes;
use chrono::Duration;
use http::StatusCode;
use saml_core::ErrorCode;
use saml_core::protocol::Assertion;
use saml_core::store::{PendingKind, PendingLogin, Provider, SamlUser};

use crate::cookie::{hash_token, random_token};
use crate::endpoints::{respond, store};
use crate::layer::Shared;
use crate::reject::{Rejection, html_escape};

/// Where a test link's record is kept in the replay cache (never an
/// AuthnRequest ID, which starts with `_`).
const TOKEN_KEY: &str = "admin-test:";

/// How long a test link can be followed.
const TOKEN_MINUTES: i64 = 10;

fn no_randomness() -> Rejection {
    Rejection::new(
        ErrorCode::StoreUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "no randomness",
    )
}

/// Stores a one-time test link for `provider` and returns its login URL.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) async fn issue(shared: &Shared, provider: &str) -> Result<String, Rejection> {
    let token = random_token().ok_or_else(no_randomness)?;
    // The binding of this record matches no browser: a Response naming it
    // in InResponseTo can never complete it.
    let binding = random_token().ok_or_else(no_randomness)?;
    let now = shared.clock.now();
    shared
        .replay
        .save_pending(PendingLogin {
            request_id: format!("{TOKEN_KEY}{}", hash_token(&token)),
            provider: provider.to_owned(),
            return_to: None,
            browser_binding: hash_token(&binding),
            issued_at: now,
            force_authn: false,
            expires_at: now + Duration::minutes(TOKEN_MINUTES),
            kind: PendingKind::Test,
        })
        .await
        .map_err(store)?;
    Ok(format!(
        "{}{}/login?test={token}",
        shared.base_url, shared.prefix
    ))
}

/// Redeems a test link (once): the provider it tests.
pub(crate) async fn redeem(shared: &Shared, token: &str) -> Result<String, Rejection> {
    let refused = || {
        Rejection::new(
            ErrorCode::InResponseToMismatch,
            StatusCode::BAD_REQUEST,
            "this test link is unknown, expired or already used; ask for a new one",
        )
    };
    if token.is_empty() || token.len() > 128 {
        return Err(refused());
    }
    let key = format!("{TOKEN_KEY}{}", hash_token(token));
    let record = shared
        .replay
        .take_pending(&key, shared.clock.now())
        .await
        .map_err(store)?
        .ok_or_else(refused)?;
    if record.kind != PendingKind::Test || record.request_id != key {
        return Err(refused());
    }
    Ok(record.provider)
}

/// The report a test login ends on: JSON for API callers, else a page.
pub(crate) fn report(
    provider: &Provider,
    assertion: &Assertion,
    user: &SamlUser,
    json: bool,
) -> http::Response<Bytes> {
    let value = serde_json::json!({
        "ok": true,
        "test": true,
        "provider": provider.name,
        "issuer": assertion.issuer,
        "name_id": assertion.name_id.value,
        "name_id_format": assertion.name_id.format,
        "session_index": assertion.session_index,
        "authn_instant": assertion.authn_instant,
        "authn_context_class_ref": assertion.authn_context_class_ref,
        "attributes": user.attributes,
        "user": user,
    });
    if json {
        return respond(StatusCode::OK, "application/json", value.to_string());
    }
    let row = |k: &str, v: &str| {
        format!(
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td></tr>",
            html_escape(k),
            html_escape(v)
        )
    };
    let mut summary = String::new();
    summary.push_str(&row("Provider", &provider.name));
    summary.push_str(&row("Issuer", &assertion.issuer));
    summary.push_str(&row("NameID", &assertion.name_id.value));
    summary.push_str(&row(
        "NameID format",
        assertion.name_id.format.as_deref().unwrap_or("(none)"),
    ));
    summary.push_str(&row(
        "SessionIndex",
        assertion.session_index.as_deref().unwrap_or("(none)"),
    ));
    summary.push_str(&row(
        "AuthnContextClassRef",
        assertion
            .authn_context_class_ref
            .as_deref()
            .unwrap_or("(none)"),
    ));
    let attributes: String = user
        .attributes
        .iter()
        .map(|(name, values)| row(name, &values.join(", ")))
        .collect();
    let mapped = serde_json::to_string_pretty(&serde_json::json!({
        "profile": user.profile,
        "roles": user.roles,
        "groups_overage": user.groups_overage,
    }))
    .unwrap_or_default();
    let page = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<title>Test login: {name}</title>",
            "<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto}}",
            "th{{text-align:left;padding-right:1rem;vertical-align:top}}",
            "td code{{word-break:break-all}}</style></head><body>",
            "<h1>Test login succeeded</h1>",
            "<p id=\"test-result\" data-ok=\"true\">The response from <strong>{name}</strong> ",
            "was validated and mapped. No session was started.</p>",
            "<h2>Assertion</h2><table id=\"assertion\">{summary}</table>",
            "<h2>Attributes</h2><table id=\"attributes\">{attributes}</table>",
            "<h2>Mapped user</h2><pre id=\"mapped-user\">{mapped}</pre>",
            "</body></html>"
        ),
        name = html_escape(provider.display_name()),
        summary = summary,
        attributes = attributes,
        mapped = html_escape(&mapped),
    );
    let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", page);
    response.headers_mut().insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}
