//! End-to-end tests of `SamlLayer` in process: a trivial inner service
//! wrapped in the layer, driven with `tower::ServiceExt::oneshot`, cookies
//! carried between requests by a small cookie jar, and the development IdP
//! of `saml-testkit` answering the AuthnRequests with real signed responses.
//! One controllable clock drives the layer and the IdP, so expiry is tested
//! without sleeping. DESIGN.md sections 4 and 7 are the specification.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use chrono::Duration;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use http::{Method, StatusCode};
use http_body_util::Full;
use saml_core::binding::encode_post;
use saml_core::clock::FixedClock;
use saml_store_memory::MemoryStore;
use saml_store_memory::StaticMetadataResolver;
use saml_testkit::dev_idp::ResponseParams;
use saml_tower::SamlLayer;

use support::{
    ALICE, BASE, BOB, Browser, DisabledMidway, DownResolver, FlakyStore, Sp, SpOptions,
    begin_login, cookie_attributes, empty, enc, form_body, idp, idp_answer, login, login_as,
    post_response, provider, query_param, unsolicited,
};

/// Redirect targets that must never leave the site.
const EVIL_TARGETS: &[&str] = &[
    "https://evil.example/",
    "//evil.example",
    "/\\evil",
    "javascript:alert(1)",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "http://127.0.0.1:3000.evil.example/",
    "http://127.0.0.1:3000@evil.example/",
    "HTTPS://EVIL.EXAMPLE/",
    "/\r\nSet-Cookie: saml_session=planted",
];

// ====================================================================
// The happy path and the cookie rules
// ====================================================================

#[tokio::test]
async fn sp_initiated_login_returns_to_the_deep_link_with_the_user_in_extensions() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();

    let reply = browser
        .get(
            &sp,
            &format!("/saml/login?return_to={}", enc("/deep/link?x=1")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert!(
        reply
            .location()
            .starts_with("https://dev.idp.example/sso?SAMLRequest="),
        "{}",
        reply.location()
    );
    let binding = reply.set_cookie("saml_binding").expect("binding cookie");
    let attrs = cookie_attributes(binding);
    assert!(attrs.contains(&"httponly".into()), "{binding}");
    assert!(attrs.contains(&"path=/saml".into()), "{binding}");
    // http://127.0.0.1 with the development opt-in: no Secure flag.
    assert!(!attrs.contains(&"secure".into()), "{binding}");

    let form = idp_answer(&idp, reply.location(), &sp.clock, &sp.clock, ALICE);
    assert_eq!(form.action(), format!("{BASE}/saml/acs"));
    let acs = post_response(&sp, &mut browser, &form).await;
    assert_eq!(acs.status, StatusCode::SEE_OTHER, "{acs:?}");
    assert_eq!(acs.location(), "/deep/link?x=1");
    let session = acs.set_cookie("saml_session").expect("session cookie");
    let attrs = cookie_attributes(session);
    assert!(attrs.contains(&"httponly".into()), "{session}");
    assert!(attrs.contains(&"samesite=lax".into()), "{session}");
    assert!(attrs.contains(&"path=/".into()), "{session}");
    // The binding cookie has done its job.
    let cleared = acs.set_cookie("saml_binding").expect("binding cleared");
    assert!(
        cookie_attributes(cleared).contains(&"max-age=0".into()),
        "{cleared}"
    );
    assert_eq!(sp.calls(), 0, "SAML endpoints are not forwarded");

    let page = browser.get(&sp, "/deep/link?x=1").await;
    let user = page.user().expect("signed in");
    assert_eq!(user.name_id, ALICE);
    assert_eq!(user.provider, "dev");
    assert!(user.session_index.is_some());
    assert_eq!(
        user.attributes.get("groups"),
        Some(&vec!["admins".to_owned(), "users".to_owned()])
    );
    assert_eq!(sp.calls(), 1);
}

/// On HTTPS both cookies carry the `__Host-` prefix (Secure, Path=/, no
/// Domain), so a sibling subdomain can toss in neither a session (fixation)
/// nor a binding cookie (login CSRF).
#[tokio::test]
async fn cookies_on_https_are_secure_prefixed_and_the_binding_cookie_is_same_site_none() {
    let dev = idp("dev");
    let sp = Sp::build(
        SpOptions {
            base: "https://app.example".to_owned(),
            ..SpOptions::new(vec![provider("dev", &dev, |_| {})])
        },
        |b| b,
    );
    let mut browser = Browser::default();
    let reply = browser.get(&sp, "/saml/login?return_to=%2Fhome").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert!(reply.set_cookie("saml_binding").is_none(), "{reply:?}");
    let binding = reply
        .set_cookie("__Host-saml_binding")
        .expect("binding cookie");
    let attrs = cookie_attributes(binding);
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{binding}");
    for want in ["httponly", "secure", "samesite=none", "path=/"] {
        assert!(
            attrs.contains(&want.to_owned()),
            "{want} missing: {binding}"
        );
    }

    let form = idp_answer(&dev, reply.location(), &sp.clock, &sp.clock, ALICE);
    assert_eq!(form.action(), "https://app.example/saml/acs");
    let acs = post_response(&sp, &mut browser, &form).await;
    assert_eq!(acs.status, StatusCode::SEE_OTHER, "{acs:?}");
    assert_eq!(acs.location(), "/home");
    assert!(acs.set_cookie("saml_session").is_none(), "{acs:?}");
    let session = acs
        .set_cookie("__Host-saml_session")
        .expect("session cookie");
    let attrs = cookie_attributes(session);
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{session}");
    for want in ["httponly", "secure", "samesite=lax", "path=/"] {
        assert!(
            attrs.contains(&want.to_owned()),
            "{want} missing: {session}"
        );
    }
    assert_eq!(browser.whoami(&sp).await.expect("signed in").name_id, ALICE);

    // The same token under the unprefixed name (what a sibling subdomain
    // could set with Domain=) signs nobody in.
    let token = browser
        .cookie("__Host-saml_session")
        .expect("session cookie kept")
        .to_owned();
    let mut tossed = Browser::default();
    tossed.set_cookie("saml_session", &token, "/");
    assert!(tossed.whoami(&sp).await.is_none());
}

#[test]
fn plain_http_is_only_for_loopback_with_the_explicit_opt_in() {
    let build = |base: &str, insecure: bool| {
        let mut b = SamlLayer::builder(base)
            .stores(MemoryStore::new())
            .metadata_resolver(StaticMetadataResolver::new(Vec::new()));
        if insecure {
            b = b.insecure_allow_http_cookies_on_localhost();
        }
        b.build()
    };
    assert!(build("http://127.0.0.1:3000", false).is_err());
    assert!(build("http://app.example", true).is_err());
    assert!(build("http://127.0.0.1.evil.example", true).is_err());
    assert!(build("http://localhost:8080", true).is_ok());
    assert!(build("http://127.0.0.1:3000", true).is_ok());
    assert!(build("https://app.example", false).is_ok());
}

#[tokio::test]
async fn an_unknown_session_cookie_is_anonymous_not_an_error() {
    let (sp, _idp) = Sp::dev();
    let mut browser = Browser::default();
    browser.set_cookie("saml_session", "not-a-session", "/");
    let reply = browser.get(&sp, "/anything").await;
    assert_eq!(reply.user(), None);
    assert_eq!(sp.calls(), 1);
}

// ====================================================================
// /saml/* is the layer's own
// ====================================================================

#[tokio::test]
async fn saml_paths_are_never_forwarded_to_the_inner_service() {
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let mut browser = Browser::default();
    for uri in [
        "/saml",
        "/saml/",
        "/saml/metadata",
        "/saml/dev/metadata",
        "/saml/login",
        "/saml/login?idp=nope",
        "/saml/acs",
        "/saml/logout",
        "/saml/slo",
        "/saml/nope",
        "/saml/a/b/c",
        "/saml/../secret",
        "/saml//acs",
    ] {
        let reply = browser.get(&sp, uri).await;
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_ne!(reply.body, "anonymous", "{uri} reached the inner service");
    }
    for (method, uri) in [
        (Method::POST, "/saml/acs"),
        (Method::POST, "/saml/dev/acs"),
        (Method::POST, "/saml/logout"),
        (Method::PUT, "/saml/login"),
        (Method::DELETE, "/saml/metadata"),
    ] {
        let req = browser
            .request(method.clone(), uri)
            .header(ORIGIN, BASE)
            .body(Full::new(Bytes::from_static(b"SAMLResponse=eA%3D%3D")))
            .unwrap();
        let reply = browser.send(&sp, req).await;
        assert_ne!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {uri}"
        );
    }
    // A whole login, signed in: still nothing under /saml reaches inward.
    login(&sp, &idp, &mut browser, None).await;
    browser.get(&sp, "/saml/metadata").await;
    assert_eq!(sp.calls(), 0);

    // Paths that merely start with the same letters are the application's.
    browser.get(&sp, "/samlx").await;
    browser.get(&sp, "/app/saml/login").await;
    assert_eq!(sp.calls(), 2);
}

/// A provider disabled while a response is on its way: disabling ends the
/// provider's sessions, so the sign-in under way must not leave one
/// behind. The ACS looks the provider up again once the session exists.
#[tokio::test]
async fn a_provider_disabled_during_sign_in_leaves_no_session() {
    let dev = idp("dev");
    let resolver = DisabledMidway::new(vec![provider("dev", &dev, |_| {})]);
    let sp = Sp::build(SpOptions::new(Vec::new()), {
        let resolver = resolver.clone();
        move |b| b.metadata_resolver(resolver)
    });
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&dev, &location, &sp.clock, &sp.clock, ALICE);
    resolver.arm();
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    assert!(browser.whoami(&sp).await.is_none());
}

#[tokio::test]
async fn a_custom_prefix_moves_the_endpoints() {
    let (sp, idp) = Sp::dev_with(|_| {}, |b| b.prefix("/auth/sso"));
    let mut browser = Browser::default();
    let md = browser.get(&sp, "/auth/sso/metadata").await;
    assert_eq!(md.status, StatusCode::OK, "{md:?}");
    assert!(
        md.body
            .contains(&format!("entityID=\"{BASE}/auth/sso/metadata\"")),
        "{}",
        md.body
    );
    assert!(
        md.body
            .contains(&format!("Location=\"{BASE}/auth/sso/acs\"")),
        "{}",
        md.body
    );
    // /saml is now an application path.
    assert_eq!(browser.get(&sp, "/saml/login").await.user(), None);
    assert_eq!(sp.calls(), 1);

    let reply = browser.get(&sp, "/auth/sso/login?return_to=%2Fx").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(
        cookie_attributes(reply.set_cookie("saml_binding").unwrap())
            .contains(&"path=/auth/sso".to_owned())
    );
    let form = idp_answer(&idp, reply.location(), &sp.clock, &sp.clock, ALICE);
    assert_eq!(form.action(), format!("{BASE}/auth/sso/acs"));
    let acs = post_response(&sp, &mut browser, &form).await;
    assert_eq!(acs.status, StatusCode::SEE_OTHER, "{acs:?}");
    assert_eq!(acs.location(), "/x");
}

// ====================================================================
// Login CSRF, replay, unsolicited responses
// ====================================================================

#[tokio::test]
async fn acs_post_without_the_binding_cookie_is_refused_as_login_csrf() {
    let (sp, idp) = Sp::dev();
    // The attacker starts a login in their own browser and gets a response...
    let mut attacker = Browser::default();
    let location = begin_login(&sp, &mut attacker, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, BOB);
    // ...and makes the victim's browser post it.
    let mut victim = Browser::default();
    let reply = post_response(&sp, &mut victim, &form).await;
    reply.assert_rejected(StatusCode::FORBIDDEN, "in_response_to_mismatch");
    assert!(victim.cookie("saml_session").is_none());
    assert_eq!(victim.whoami(&sp).await, None);
}

#[tokio::test]
async fn acs_post_with_another_browsers_binding_cookie_is_refused() {
    let (sp, idp) = Sp::dev();
    let mut attacker = Browser::default();
    let attacker_location = begin_login(&sp, &mut attacker, "").await;
    let form = idp_answer(&idp, &attacker_location, &sp.clock, &sp.clock, BOB);

    // The victim has a login of their own in progress (a binding cookie).
    let mut victim = Browser::default();
    begin_login(&sp, &mut victim, "").await;
    assert!(victim.cookie("saml_binding").is_some());
    let reply = post_response(&sp, &mut victim, &form).await;
    reply.assert_rejected(StatusCode::FORBIDDEN, "in_response_to_mismatch");
    assert_eq!(victim.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_replayed_sp_initiated_response_is_refused() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let binding = browser.cookie("saml_binding").unwrap().to_owned();
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    let first = post_response(&sp, &mut browser, &form).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{first:?}");

    // Again, from a browser that even kept the binding cookie.
    let mut replayer = Browser::default();
    replayer.set_cookie("saml_binding", &binding, "/saml");
    let second = post_response(&sp, &mut replayer, &form).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST, "{second:?}");
    assert!(
        ["in_response_to_mismatch", "replayed"].contains(&second.code()),
        "{second:?}"
    );
    assert!(second.set_cookie("saml_session").is_none());
    assert_eq!(replayer.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_replayed_idp_initiated_response_is_refused_as_replayed() {
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let mut first = Browser::default();
    let reply = post_response(&sp, &mut first, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");

    let mut second = Browser::default();
    let reply = post_response(&sp, &mut second, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "replayed");
    assert_eq!(second.whoami(&sp).await, None);

    // Still refused much later, while the assertion could still be valid.
    sp.clock.advance(Duration::minutes(4));
    let reply = post_response(&sp, &mut Browser::default(), &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "replayed");
}

#[tokio::test]
async fn two_simultaneous_posts_of_one_response_sign_in_once() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    let body = form_body(form.fields());
    let req = || {
        browser
            .request(Method::POST, "/saml/acs")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap()
    };
    let (a, b) = tokio::join!(sp.send(req()), sp.send(req()));
    let ok = [&a, &b]
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(ok, 1, "{a:?}\n{b:?}");
}

#[tokio::test]
async fn an_unsolicited_response_is_refused_unless_idp_initiated_is_allowed() {
    let (sp, idp) = Sp::dev();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), Some("/welcome"));
    let mut browser = Browser::default();
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "unsolicited_response");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn an_unsolicited_response_signs_in_when_allowed() {
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let mut browser = Browser::default();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), Some("/welcome?tab=2"));
    let reply = post_response(&sp, &mut browser, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), "/welcome?tab=2");
    assert_eq!(browser.whoami(&sp).await.expect("signed in").name_id, ALICE);

    // Without RelayState: the start page.
    let mut other = Browser::default();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let reply = post_response(&sp, &mut other, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), "/");
}

#[tokio::test]
async fn idp_initiated_relay_state_is_honoured_only_as_a_same_origin_target() {
    let (sp, idp) = Sp::dev_with(
        |s| s.allow_idp_initiated = true,
        |b| b.allow_return_origin("https://docs.example"),
    );
    for evil in EVIL_TARGETS
        .iter()
        .chain(&["https://docs.example.evil/", "https://docs.exampleevil/"])
    {
        let mut browser = Browser::default();
        let form = unsolicited(&sp, &idp, &sp.acs_url(), Some(evil));
        let reply = post_response(&sp, &mut browser, &form).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{evil}: {reply:?}");
        assert_eq!(reply.location(), "/", "RelayState {evil:?}");
        assert!(
            browser.whoami(&sp).await.is_some(),
            "{evil}: the login itself is fine"
        );
    }
    for good in [
        "/reports?q=1",
        "http://127.0.0.1:3000/reports",
        "https://docs.example/page",
    ] {
        let form = unsolicited(&sp, &idp, &sp.acs_url(), Some(good));
        let reply = post_response(&sp, &mut Browser::default(), &form).await;
        assert_eq!(reply.location(), good);
    }
}

#[tokio::test]
async fn return_to_open_redirects_end_at_the_start_page() {
    let (sp, idp) = Sp::dev_with(|_| {}, |b| b.allow_return_origin("https://docs.example"));
    for evil in EVIL_TARGETS.iter().chain(&["https://docs.example.evil/"]) {
        let mut browser = Browser::default();
        let reply = login(&sp, &idp, &mut browser, Some(evil)).await;
        assert_eq!(reply.location(), "/", "return_to {evil:?}");
    }
    for good in [
        "/reports?q=1&r=2",
        "http://127.0.0.1:3000/reports",
        "https://docs.example/page",
    ] {
        let reply = login(&sp, &idp, &mut Browser::default(), Some(good)).await;
        assert_eq!(reply.location(), good);
    }
    // An over-long target is dropped, not an error.
    let long = format!("/{}", "a".repeat(5000));
    let reply = login(&sp, &idp, &mut Browser::default(), Some(&long)).await;
    assert_eq!(reply.location(), "/");
}

/// The raw bytes of the Location header (it may hold non-ASCII bytes).
fn location_bytes(reply: &support::Reply) -> &[u8] {
    reply
        .headers
        .get(http::header::LOCATION)
        .map_or(b"".as_slice(), http::HeaderValue::as_bytes)
}

#[tokio::test]
async fn a_non_ascii_return_to_still_completes_the_login() {
    // A return_to with non-ASCII characters is a same-origin path, so it is
    // kept. The login must complete and land there (percent-encoded is the
    // strict form; the layer currently sends the raw UTF-8 bytes, which
    // browsers accept) or at the start page.
    let accepted: [&[u8]; 3] = [b"/docs/%C3%9Cbersicht", "/docs/Übersicht".as_bytes(), b"/"];
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let mut browser = Browser::default();
    let location = begin_login(
        &sp,
        &mut browser,
        &format!("return_to={}", enc("/docs/Übersicht")),
    )
    .await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    let reply = post_response(&sp, &mut browser, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert!(accepted.contains(&location_bytes(&reply)), "{reply:?}");
    assert!(browser.whoami(&sp).await.is_some());

    // The same through an IdP-initiated RelayState.
    let accepted: [&[u8]; 3] = [b"/caf%C3%A9", "/café".as_bytes(), b"/"];
    let mut other = Browser::default();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), Some("/café"));
    let reply = post_response(&sp, &mut other, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert!(accepted.contains(&location_bytes(&reply)), "{reply:?}");
    assert!(other.whoami(&sp).await.is_some());
}

#[tokio::test]
async fn a_pending_login_expires_after_ten_minutes() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let (_, query) = location.split_once('?').unwrap();
    let prompt = idp.begin(query, &sp.clock).unwrap();
    // The user lingers at the IdP for 11 minutes.
    sp.clock.advance(Duration::minutes(11));
    let form = idp.respond(&prompt.form_body(ALICE), &sp.clock).unwrap();
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "in_response_to_mismatch");
}

#[tokio::test]
async fn the_layer_checks_assertion_times_with_its_clock() {
    let (sp, idp) = Sp::dev();
    // An IdP clock five minutes ahead: the assertion is not valid yet.
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let ahead = FixedClock(saml_core::clock::Clock::now(&sp.clock) + Duration::minutes(5));
    let form = idp_answer(&idp, &location, &ahead, &ahead, ALICE);
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "not_yet_valid");

    // A response posted six minutes after it was issued (300 s lifetime).
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    sp.clock.advance(Duration::minutes(6));
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "expired");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_response_for_another_sp_is_refused() {
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let user = idp.user(ALICE).unwrap();
    let form = idp
        .respond_idp_initiated(
            user,
            &sp.acs_url(),
            "https://other-sp.example",
            None,
            &sp.clock,
        )
        .unwrap();
    post_response(&sp, &mut Browser::default(), &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "audience_mismatch");
}

#[tokio::test]
async fn cancelling_at_the_idp_is_status_not_success() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let (_, query) = location.split_once('?').unwrap();
    let prompt = idp.begin(query, &sp.clock).unwrap();
    let form = idp.respond(&prompt.cancel_form_body(), &sp.clock).unwrap();
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "status_not_success");
    assert_eq!(browser.whoami(&sp).await, None);
}

// ====================================================================
// Sessions
// ====================================================================

#[tokio::test]
async fn login_replaces_an_existing_session_cookie_session_fixation() {
    let (sp, idp) = Sp::dev();
    // A value planted by an attacker is not adopted.
    let mut browser = Browser::default();
    browser.set_cookie("saml_session", "attacker-chosen-value", "/");
    login(&sp, &idp, &mut browser, None).await;
    let first = browser.cookie("saml_session").unwrap().to_owned();
    assert_ne!(first, "attacker-chosen-value");

    // Signing in again (as someone else) replaces the session, and the old
    // id no longer authenticates.
    login_as(&sp, &idp, &mut browser, "", BOB).await;
    let second = browser.cookie("saml_session").unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(browser.whoami(&sp).await.unwrap().name_id, BOB);

    let mut old = Browser::default();
    old.set_cookie("saml_session", &first, "/");
    assert_eq!(old.whoami(&sp).await, None);
}

#[tokio::test]
async fn every_login_gets_a_fresh_unguessable_session_id() {
    let (sp, idp) = Sp::dev();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let mut browser = Browser::default();
        let reply = login(&sp, &idp, &mut browser, None).await;
        let id = reply.cookie_value("saml_session").unwrap().to_owned();
        // 128+ random bits: at least 22 base64 characters.
        assert!(id.len() >= 22, "{id}");
        assert!(seen.insert(id), "a session id was reused");
    }
    // The same browser twice.
    let mut browser = Browser::default();
    let a = login(&sp, &idp, &mut browser, None).await;
    let b = login(&sp, &idp, &mut browser, None).await;
    assert_ne!(
        a.cookie_value("saml_session"),
        b.cookie_value("saml_session")
    );
}

#[tokio::test]
async fn the_idle_timeout_ends_a_session() {
    let (sp, idp) = Sp::dev_with(|_| {}, |b| b.idle_timeout(Duration::minutes(30)));
    let mut browser = Browser::default();
    login(&sp, &idp, &mut browser, None).await;
    // Activity keeps it alive past the idle timeout...
    for _ in 0..4 {
        sp.clock.advance(Duration::minutes(25));
        assert!(browser.whoami(&sp).await.is_some());
    }
    // ...inactivity ends it.
    sp.clock.advance(Duration::minutes(31));
    assert_eq!(browser.whoami(&sp).await, None);
    // And it stays ended.
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn the_absolute_lifetime_ends_an_active_session() {
    let (sp, idp) = Sp::dev_with(
        |_| {},
        |b| {
            b.session_lifetime(Duration::hours(2))
                .idle_timeout(Duration::hours(1))
        },
    );
    let mut browser = Browser::default();
    let reply = login(&sp, &idp, &mut browser, None).await;
    assert!(
        cookie_attributes(reply.set_cookie("saml_session").unwrap())
            .contains(&"max-age=7200".to_owned())
    );
    for _ in 0..3 {
        sp.clock.advance(Duration::minutes(39));
        assert!(browser.whoami(&sp).await.is_some());
    }
    sp.clock.advance(Duration::minutes(4)); // 2 h 01 min after login
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn the_idps_session_not_on_or_after_shortens_the_session() {
    // The dev IdP sends SessionNotOnOrAfter = AuthnInstant + 8 h; our own
    // limits are longer, so the IdP's ends the session.
    let (sp, idp) = Sp::dev_with(
        |_| {},
        |b| {
            b.session_lifetime(Duration::hours(24))
                .idle_timeout(Duration::hours(24))
        },
    );
    let mut browser = Browser::default();
    let reply = login(&sp, &idp, &mut browser, None).await;
    assert!(
        cookie_attributes(reply.set_cookie("saml_session").unwrap())
            .contains(&"max-age=28800".to_owned()),
        "{reply:?}"
    );
    sp.clock.advance(Duration::hours(8) - Duration::seconds(1));
    assert!(browser.whoami(&sp).await.is_some());
    sp.clock.advance(Duration::seconds(1));
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn force_authn_refuses_an_authentication_older_than_the_request() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    // An IdP that ignores ForceAuthn and reuses a 2-minute-old
    // authentication (still inside the assertion's validity window).
    let stale = FixedClock(saml_core::clock::Clock::now(&sp.clock) - Duration::minutes(2));
    let form = idp_answer(&idp, &location, &sp.clock, &stale, ALICE);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "authn_context_mismatch");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn without_force_authn_an_older_authentication_is_accepted() {
    let (sp, idp) = Sp::dev_with(|s| s.force_authn = false, |b| b);
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let stale = FixedClock(saml_core::clock::Clock::now(&sp.clock) - Duration::minutes(2));
    let form = idp_answer(&idp, &location, &sp.clock, &stale, ALICE);
    let reply = post_response(&sp, &mut browser, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
}

// ====================================================================
// Store outages fail closed with 503
// ====================================================================

#[tokio::test]
async fn a_session_store_outage_on_an_ordinary_request_answers_503() {
    let store = FlakyStore::default();
    let (sp, idp) = Sp::dev_with(|_| {}, |b| b.stores(store.clone()));
    let mut browser = Browser::default();
    login(&sp, &idp, &mut browser, None).await;
    assert!(browser.whoami(&sp).await.is_some());

    store.set_down(true);
    let reply = browser.get(&sp, "/whoami").await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(reply.body.contains("store_unavailable"));
    let req = browser
        .request_accepting(Method::GET, "/api/data", "application/json")
        .body(empty())
        .unwrap();
    let reply = browser.send(&sp, req).await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["error"], "store_unavailable");
    assert_eq!(sp.calls(), 1, "nobody is let in while the store is down");

    // Without a session cookie there is nothing to look up: anonymous.
    assert_eq!(Browser::default().whoami(&sp).await, None);

    store.set_down(false);
    assert!(browser.whoami(&sp).await.is_some());
}

#[tokio::test]
async fn a_replay_cache_outage_at_the_acs_answers_503() {
    let replay = FlakyStore::default();
    let (sp, idp) = Sp::dev_with(
        |_| {},
        |b| {
            b.session_store(MemoryStore::new())
                .replay_cache(replay.clone())
        },
    );
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    replay.set_down(true);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert_eq!(browser.whoami(&sp).await, None);
    // And starting a login needs the replay cache too.
    let reply = browser.get(&sp, "/saml/login").await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
}

#[tokio::test]
async fn an_idp_initiated_response_during_a_replay_cache_outage_answers_503() {
    let replay = FlakyStore::default();
    let (sp, idp) = Sp::dev_with(
        |s| s.allow_idp_initiated = true,
        |b| {
            b.session_store(MemoryStore::new())
                .replay_cache(replay.clone())
        },
    );
    replay.set_down(true);
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let mut browser = Browser::default();
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_session_store_outage_at_the_acs_answers_503() {
    let sessions = FlakyStore::default();
    let (sp, idp) = Sp::dev_with(
        |_| {},
        |b| {
            b.session_store(sessions.clone())
                .replay_cache(MemoryStore::new())
        },
    );
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    sessions.set_down(true);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    sessions.set_down(false);
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_store_that_is_always_down_lets_nobody_in() {
    let store = FlakyStore::default();
    store.set_down(true);
    let (sp, _idp) = Sp::dev_with(|_| {}, |b| b.stores(store.clone()));
    let mut browser = Browser::default();
    browser
        .get(&sp, "/saml/login")
        .await
        .assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    browser.set_cookie("saml_session", "whatever", "/");
    browser
        .get(&sp, "/")
        .await
        .assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    let req = browser
        .request(Method::POST, "/saml/logout")
        .header(ORIGIN, BASE)
        .body(empty())
        .unwrap();
    browser
        .send(&sp, req)
        .await
        .assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert_eq!(sp.calls(), 0);
}

#[tokio::test]
async fn a_metadata_resolver_outage_answers_503() {
    let sp = Sp::build(SpOptions::new(Vec::new()), |b| {
        b.metadata_resolver(DownResolver)
    });
    let mut browser = Browser::default();
    for uri in ["/saml/login", "/saml/login?idp=dev", "/saml/dev/metadata"] {
        browser
            .get(&sp, uri)
            .await
            .assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    }
    let form = unsolicited(&sp, &idp("dev"), &sp.acs_url(), None);
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
}

// ====================================================================
// RequireLoginLayer
// ====================================================================

fn gated() -> (Sp, std::sync::Arc<saml_testkit::dev_idp::DevIdp>) {
    let dev = idp("dev");
    let sp = Sp::build(
        SpOptions {
            require_login: true,
            ..SpOptions::new(vec![provider("dev", &dev, |_| {})])
        },
        |b| b,
    );
    (sp, dev)
}

#[tokio::test]
async fn require_login_sends_browsers_to_the_login_and_back_to_the_deep_link() {
    let (sp, idp) = gated();
    let mut browser = Browser::default();
    let deep = "/reports/q?month=5&sort=desc";
    let reply = browser.get(&sp, deep).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let location = reply.location().to_owned();
    assert!(location.starts_with("/saml/login?return_to="), "{location}");
    assert_eq!(query_param(&location, "return_to").as_deref(), Some(deep));
    assert_eq!(sp.calls(), 0);

    // Following the redirect completes the round trip to the deep link.
    let to_idp = browser.get(&sp, &location).await;
    assert_eq!(to_idp.status, StatusCode::SEE_OTHER);
    let form = idp_answer(&idp, to_idp.location(), &sp.clock, &sp.clock, ALICE);
    let acs = post_response(&sp, &mut browser, &form).await;
    assert_eq!(acs.location(), deep);
    let page = browser.get(&sp, deep).await;
    assert_eq!(page.user().unwrap().name_id, ALICE);
}

#[tokio::test]
async fn require_login_answers_api_clients_401_json() {
    let (sp, _idp) = gated();
    for accept in [Some("application/json"), Some("*/*"), None] {
        let mut req = http::Request::builder().uri("/api/items");
        if let Some(accept) = accept {
            req = req.header(ACCEPT, accept);
        }
        let reply = sp.send(req.body(empty()).unwrap()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{accept:?}: {reply:?}"
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json["error"], "unauthenticated");
    }
    assert_eq!(sp.calls(), 0);
}

#[tokio::test]
async fn require_login_answers_grpc_callers_unauthenticated() {
    let (sp, _idp) = gated();
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/pkg.Service/Method")
        .header(CONTENT_TYPE, "application/grpc+proto")
        .header("te", "trailers")
        .body(empty())
        .unwrap();
    let reply = sp.send(req).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("grpc-status"), Some("16"));
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/grpc")
    );
    assert_eq!(sp.calls(), 0);
}

#[tokio::test]
async fn require_login_lets_signed_in_callers_through() {
    let (sp, idp) = gated();
    let mut browser = Browser::default();
    login(&sp, &idp, &mut browser, None).await;
    assert_eq!(browser.whoami(&sp).await.unwrap().name_id, ALICE);
    let api = browser
        .request_accepting(Method::GET, "/api/items", "application/json")
        .body(empty())
        .unwrap();
    assert!(browser.send(&sp, api).await.user().is_some());
    let grpc = browser
        .request(Method::POST, "/pkg.Service/Method")
        .header(CONTENT_TYPE, "application/grpc")
        .body(empty())
        .unwrap();
    let reply = browser.send(&sp, grpc).await;
    assert_eq!(reply.header("grpc-status"), None);
    assert!(reply.user().is_some());
    assert_eq!(sp.calls(), 3);
}

// ====================================================================
// Bad input never gives a 500
// ====================================================================

#[tokio::test]
async fn garbage_posted_to_the_acs_is_a_4xx() {
    let dev = idp("dev");
    let (sp, _) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let b64 = |xml: &str| encode_post(xml);
    let issuer = |root_attrs: &str, issuer: &str| {
        format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r1\" Version=\"2.0\" \
             IssueInstant=\"2026-03-02T09:00:00Z\"{root_attrs}><saml:Issuer>{issuer}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>\
             </samlp:Status></samlp:Response>"
        )
    };
    let deep = format!("{}x{}", "<a>".repeat(5000), "</a>".repeat(5000));
    let cases: Vec<(String, Option<(StatusCode, &str)>)> = vec![
        (
            String::new(),
            Some((StatusCode::BAD_REQUEST, "malformed_xml")),
        ),
        (
            "foo=bar".into(),
            Some((StatusCode::BAD_REQUEST, "malformed_xml")),
        ),
        ("SAMLResponse=".into(), None),
        (
            "SAMLResponse=%zz".into(),
            Some((StatusCode::BAD_REQUEST, "malformed_xml")),
        ),
        ("SAMLResponse=!!!not*base64***".into(), None),
        (
            format!("SAMLResponse={}", enc(&b64("this is not XML"))),
            None,
        ),
        (
            format!("SAMLResponse={}", enc(&b64("<foo/>"))),
            Some((StatusCode::BAD_REQUEST, "issuer_mismatch")),
        ),
        (
            format!(
                "SAMLResponse={}",
                enc(&b64("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>"))
            ),
            Some((StatusCode::BAD_REQUEST, "dtd_forbidden")),
        ),
        (
            format!(
                "SAMLResponse={}",
                enc(&b64(&issuer("", "https://unknown.example")))
            ),
            Some((StatusCode::NOT_FOUND, "unknown_provider")),
        ),
        (
            format!(
                "SAMLResponse={}",
                enc(&b64(&issuer(" InResponseTo=\"_nope\"", dev.entity_id())))
            ),
            Some((StatusCode::BAD_REQUEST, "in_response_to_mismatch")),
        ),
        (
            format!("SAMLResponse={}", enc(&b64(&issuer("", dev.entity_id())))),
            None, // unsigned, no assertion
        ),
        (format!("SAMLResponse={}", enc(&b64(&deep))), None),
        (
            format!(
                "SAMLResponse={}",
                enc(&b64(
                    "\u{feff}<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>"
                ))
            ),
            None,
        ),
    ];
    for (body, want) in cases {
        let shown: String = body.chars().take(80).collect();
        let reply = post_response_raw(&sp, Bytes::from(body)).await;
        assert!(reply.status.is_client_error(), "{shown}: {reply:?}");
        reply.code(); // a Rejection in the extensions, agreeing with the status
        if let Some((status, code)) = want {
            reply.assert_rejected(status, code);
        }
    }
    // Not UTF-8 at all.
    let reply = post_response_raw(&sp, Bytes::from_static(b"SAMLResponse=\xff\xfe")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(sp.calls(), 0);
}

async fn post_response_raw(sp: &Sp, body: Bytes) -> support::Reply {
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/saml/acs")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(body))
        .unwrap();
    sp.send(req).await
}

#[tokio::test]
async fn an_oversized_acs_body_is_413() {
    let (sp, _) = Sp::dev();
    let mut body = b"SAMLResponse=".to_vec();
    body.resize(2 * 1024 * 1024 + 16, b'A');
    let reply = post_response_raw(&sp, Bytes::from(body)).await;
    reply.assert_rejected(StatusCode::PAYLOAD_TOO_LARGE, "input_too_large");

    // A large body under both caps (the 2 MiB form, the 1 MiB decoded
    // message) is read, and refused for what it is, not for its size.
    let mut body = b"SAMLResponse=".to_vec();
    body.resize(1_200_000, b'A');
    let reply = post_response_raw(&sp, Bytes::from(body)).await;
    assert!(reply.status.is_client_error(), "{reply:?}");
    assert_ne!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
}

#[tokio::test]
async fn wrong_methods_and_unknown_endpoints_are_refused_with_404() {
    let (sp, _) = Sp::dev();
    for (method, uri) in [
        (Method::GET, "/saml/acs"),
        (Method::GET, "/saml/dev/acs"),
        (Method::GET, "/saml/logout"),
        (Method::PUT, "/saml/login"),
        (Method::POST, "/saml/metadata"),
        (Method::DELETE, "/saml/login"),
        (Method::GET, "/saml/nope"),
        (Method::GET, "/saml"),
        (Method::GET, "/saml/a/b/c"),
    ] {
        let req = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(ACCEPT, "application/json")
            .body(empty())
            .unwrap();
        let reply = sp.send(req).await;
        // Allowed: 404, or 405 for a known path with the wrong method.
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&reply.status),
            "{method} {uri}: {reply:?}"
        );
        reply.code(); // a Rejection in the extensions, agreeing with the status
    }
    assert_eq!(sp.calls(), 0);
}

#[tokio::test]
async fn an_unknown_idp_is_404_unknown_provider() {
    let (sp, _) = Sp::dev();
    let mut browser = Browser::default();
    browser
        .get(&sp, "/saml/login?idp=nope")
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    browser
        .get(&sp, "/saml/nope/metadata")
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    let other = idp("other");
    let form = unsolicited(&sp, &other, &format!("{BASE}/saml/acs"), None);
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    let body = form_body(form.fields());
    browser
        .post_form(&sp, "/saml/nope/acs", body)
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");

    // A name with markup is not reflected unescaped.
    let reply = browser
        .get(
            &sp,
            &format!("/saml/login?idp={}", enc("<script>alert(1)</script>")),
        )
        .await;
    reply.assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    assert!(!reply.body.contains("<script>"), "{}", reply.body);
}

#[tokio::test]
async fn a_disabled_provider_is_hidden_and_refused() {
    let on = idp("acme");
    let off = idp("initech");
    let sp = Sp::build(
        SpOptions::new(vec![
            provider("acme", &on, |s| s.allow_idp_initiated = true),
            provider("initech", &off, |s| {
                s.enabled = false;
                s.allow_idp_initiated = true;
                s.display_name = Some("Initech".into());
            }),
        ]),
        |b| b,
    );
    let mut browser = Browser::default();
    // Only one provider is enabled: /saml/login goes straight to it.
    let location = begin_login(&sp, &mut browser, "").await;
    assert!(
        location.starts_with("https://acme.idp.example/sso?"),
        "{location}"
    );
    browser
        .get(&sp, "/saml/login?idp=initech")
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    // Its responses are refused on both ACS URLs.
    let form = unsolicited(&sp, &off, &sp.acs_url(), None);
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    let form = unsolicited(&sp, &off, &format!("{BASE}/saml/initech/acs"), None);
    post_response(&sp, &mut browser, &form)
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn no_enabled_provider_is_404() {
    let off = idp("initech");
    let sp = Sp::build(
        SpOptions::new(vec![provider("initech", &off, |s| s.enabled = false)]),
        |b| b,
    );
    Browser::default()
        .get(&sp, "/saml/login")
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
}

// ====================================================================
// Several providers
// ====================================================================

fn three_providers() -> Sp {
    Sp::build(
        SpOptions::new(vec![
            provider("acme", &idp("acme"), |s| {
                s.display_name = Some("Acme <Corp> & \"Sons\"".into());
                s.allow_idp_initiated = true;
            }),
            provider("globex", &idp("globex"), |s| s.allow_idp_initiated = true),
            provider("initech", &idp("initech"), |s| {
                s.enabled = false;
                s.display_name = Some("Initech Hidden".into());
            }),
        ]),
        |b| b,
    )
}

#[tokio::test]
async fn login_without_idp_shows_a_chooser_of_the_enabled_providers() {
    let sp = three_providers();
    let mut browser = Browser::default();
    let reply = browser
        .get(&sp, "/saml/login?return_to=%2Freports%3Fq%3D1")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        reply.body.matches("Log in using ").count(),
        2,
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("Log in using Acme &lt;Corp&gt; &amp; &quot;Sons&quot;"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<Corp>"));
    assert!(reply.body.contains("Log in using globex"), "{}", reply.body);
    assert!(!reply.body.contains("Initech"), "{}", reply.body);
    assert!(!reply.body.contains("initech"), "{}", reply.body);
    assert!(
        reply.set_cookie("saml_binding").is_none(),
        "no login started yet"
    );

    // Each button starts that provider's login and keeps the deep link.
    let href = reply
        .body
        .split("href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|h| h.contains("idp=globex"))
        .expect("globex button");
    assert_eq!(
        query_param(&href, "return_to").as_deref(),
        Some("/reports?q=1")
    );
    let to_idp = browser.get(&sp, &href).await;
    assert_eq!(to_idp.status, StatusCode::SEE_OTHER, "{to_idp:?}");
    assert!(
        to_idp
            .location()
            .starts_with("https://globex.idp.example/sso?")
    );
    let form = idp_answer(
        &idp("globex"),
        to_idp.location(),
        &sp.clock,
        &sp.clock,
        ALICE,
    );
    let acs = post_response(&sp, &mut browser, &form).await;
    assert_eq!(acs.location(), "/reports?q=1");
    assert_eq!(browser.whoami(&sp).await.unwrap().provider, "globex");

    // An unsafe return_to is not carried into the buttons.
    let reply = browser
        .get(&sp, "/saml/login?return_to=https%3A%2F%2Fevil.example%2F")
        .await;
    assert!(!reply.body.contains("evil"), "{}", reply.body);
}

#[tokio::test]
async fn per_provider_metadata_names_the_per_provider_acs() {
    let sp = three_providers();
    let mut browser = Browser::default();
    let reply = browser.get(&sp, "/saml/acme/metadata").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply
            .body
            .contains(&format!("entityID=\"{BASE}/saml/metadata\"")),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains(&format!("Location=\"{BASE}/saml/acme/acs\"")),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn the_per_provider_acs_accepts_responses_addressed_to_it() {
    let sp = three_providers();
    let acme = idp("acme");
    let acs = format!("{BASE}/saml/acme/acs");
    let xml = acme
        .issue_response(
            acme.user(ALICE).unwrap(),
            &ResponseParams::new(&acs, sp.entity_id()),
            &sp.clock,
        )
        .unwrap();
    let mut browser = Browser::default();
    let body = form_body(&[("SAMLResponse", encode_post(&xml))]);
    let reply = browser.post_form(&sp, "/saml/acme/acs", body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(browser.whoami(&sp).await.unwrap().provider, "acme");
}

#[tokio::test]
async fn the_per_provider_acs_refuses_responses_for_elsewhere() {
    let sp = three_providers();
    let acme = idp("acme");
    let alice = acme.user(ALICE).unwrap();
    let mut browser = Browser::default();
    // Addressed to the shared ACS, posted to the per-provider one.
    let xml = acme
        .issue_response(
            alice,
            &ResponseParams::new(sp.acs_url(), sp.entity_id()),
            &sp.clock,
        )
        .unwrap();
    let body = form_body(&[("SAMLResponse", encode_post(&xml))]);
    browser
        .post_form(&sp, "/saml/acme/acs", body)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "destination_mismatch");
    // From acme, addressed to and posted at globex's ACS.
    let globex_acs = format!("{BASE}/saml/globex/acs");
    let xml = acme
        .issue_response(
            alice,
            &ResponseParams::new(&globex_acs, sp.entity_id()),
            &sp.clock,
        )
        .unwrap();
    let body = form_body(&[("SAMLResponse", encode_post(&xml))]);
    let reply = browser.post_form(&sp, "/saml/globex/acs", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        ["issuer_mismatch", "untrusted_key", "signature_invalid"].contains(&reply.code()),
        "{reply:?}"
    );
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn the_shared_acs_finds_the_provider_by_issuer() {
    let sp = three_providers();
    for name in ["acme", "globex"] {
        let mut browser = Browser::default();
        let form = unsolicited(&sp, &idp(name), &sp.acs_url(), None);
        let reply = post_response(&sp, &mut browser, &form).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{name}: {reply:?}");
        assert_eq!(browser.whoami(&sp).await.unwrap().provider, name);
    }
}

#[tokio::test]
async fn a_response_from_another_idp_cannot_answer_a_request() {
    let sp = three_providers();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "idp=globex").await;
    let (_, query) = location.split_once('?').unwrap();
    let request = idp("globex").begin(query, &sp.clock).unwrap().request;
    let acme = idp("acme");
    let xml = acme
        .issue_response(
            acme.user(ALICE).unwrap(),
            &request.response_params(),
            &sp.clock,
        )
        .unwrap();
    let body = form_body(&[("SAMLResponse", encode_post(&xml))]);
    let reply = browser.post_form(&sp, "/saml/acs", body).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "issuer_mismatch");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]

async fn the_authn_request_asks_for_an_acs_the_providers_metadata_lists() {
    let sp = three_providers();
    let mut browser = Browser::default();
    let metadata = browser.get(&sp, "/saml/acme/metadata").await.body;
    let listed: Vec<&str> = metadata
        .split("<md:AssertionConsumerService")
        .skip(1)
        .filter_map(|s| s.split("Location=\"").nth(1))
        .filter_map(|s| s.split('"').next())
        .collect();
    let location = begin_login(&sp, &mut browser, "idp=acme").await;
    let (_, query) = location.split_once('?').unwrap();
    let request = idp("acme").begin(query, &sp.clock).unwrap().request;
    assert!(
        listed.contains(&request.acs_url.as_str()),
        "the request asks for {} but /saml/acme/metadata lists {listed:?}",
        request.acs_url
    );
}

// ====================================================================
// Rejections: JSON or HTML, and in the extensions
// ====================================================================

#[tokio::test]
async fn rejections_are_json_for_api_clients() {
    let (sp, idp) = Sp::dev();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/saml/acs")
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form_body(form.fields()))))
        .unwrap();
    let reply = sp.send(req).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "unsolicited_response");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header(CACHE_CONTROL.as_str()), Some("no-store"));
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let object = json.as_object().unwrap();
    assert_eq!(object.len(), 2, "{json}");
    assert_eq!(json["error"], "unsolicited_response");
    assert!(!json["message"].as_str().unwrap().is_empty());
    assert_eq!(
        reply.rejection.as_ref().unwrap().detail(),
        json["message"].as_str().unwrap()
    );
}

#[tokio::test]
async fn rejections_are_html_pages_for_browsers() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "unsolicited_response");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(reply.header(CACHE_CONTROL.as_str()), Some("no-store"));
    assert!(
        reply.body.contains("<code>unsolicited_response</code>"),
        "{}",
        reply.body
    );
    assert!(reply.body.starts_with("<!doctype html>"));
}

#[tokio::test]

async fn rejection_messages_are_escaped_exactly_once() {
    let (sp, _) = Sp::dev();
    let uri = format!("/saml/login?idp={}", enc("<b>&x"));
    let html = Browser::default().get(&sp, &uri).await;
    html.assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    assert!(html.body.contains("`&lt;b&gt;&amp;x`"), "{}", html.body);
    let req = http::Request::builder()
        .uri(&uri)
        .header(ACCEPT, "application/json")
        .body(empty())
        .unwrap();
    let json = sp.send(req).await;
    let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert!(
        value["message"].as_str().unwrap().contains("`<b>&x`"),
        "{}",
        json.body
    );
}

// ====================================================================
// Logout
// ====================================================================

#[tokio::test]
async fn logout_from_our_origin_ends_the_session_and_clears_the_cookie() {
    let (sp, idp) = Sp::dev();
    for header in [(ORIGIN.as_str(), BASE), ("sec-fetch-site", "same-origin")] {
        let mut browser = Browser::default();
        login(&sp, &idp, &mut browser, None).await;
        let old = browser.cookie("saml_session").unwrap().to_owned();
        let req = browser
            .request(Method::POST, "/saml/logout")
            .header(header.0, header.1)
            .body(empty())
            .unwrap();
        let reply = browser.send(&sp, req).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{header:?}: {reply:?}");
        assert_eq!(reply.location(), "/");
        let cleared = reply.set_cookie("saml_session").expect("cookie cleared");
        assert!(cookie_attributes(cleared).contains(&"max-age=0".to_owned()));
        assert!(browser.cookie("saml_session").is_none());
        assert_eq!(browser.whoami(&sp).await, None);
        // The old id is dead on the server too, not just forgotten.
        let mut keeper = Browser::default();
        keeper.set_cookie("saml_session", &old, "/");
        assert_eq!(keeper.whoami(&sp).await, None, "{header:?}");
    }
}

#[tokio::test]
async fn cross_site_logout_is_refused() {
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    login(&sp, &idp, &mut browser, None).await;
    let attempts: [&[(&str, &str)]; 5] = [
        &[],
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("origin", "http://127.0.0.1:3000.evil.example")],
    ];
    for headers in attempts {
        let mut req = browser.request(Method::POST, "/saml/logout");
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let reply = sp.send(req.body(empty()).unwrap()).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{headers:?}: {reply:?}"
        );
        reply.code(); // a Rejection in the extensions, agreeing with the status
        assert!(reply.set_cookie("saml_session").is_none());
        assert!(
            browser.whoami(&sp).await.is_some(),
            "{headers:?} ended the session"
        );
    }
}

// ====================================================================
// SP metadata
// ====================================================================

#[tokio::test]
async fn sp_metadata_names_our_entity_id_and_acs() {
    let (sp, _) = Sp::dev();
    let reply = Browser::default().get(&sp, "/saml/metadata").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/samlmetadata+xml")
    );
    let doc = saml_core::xml::Document::parse(&reply.body, &saml_core::Limits::default()).unwrap();
    let root = doc.root();
    assert_eq!(root.local_name(), "EntityDescriptor");
    assert_eq!(
        root.attribute("entityID"),
        Some(format!("{BASE}/saml/metadata").as_str())
    );
    let md = saml_core::protocol::MD_NS;
    let acs: Vec<_> = root
        .child_elements()
        .filter(|e| e.is(md, "SPSSODescriptor"))
        .flat_map(|sp| sp.child_elements().collect::<Vec<_>>())
        .filter(|e| e.is(md, "AssertionConsumerService"))
        .map(|e| (e.attribute("Binding"), e.attribute("Location")))
        .collect();
    let acs_url = format!("{BASE}/saml/acs");
    assert_eq!(
        acs,
        [(
            Some(saml_core::protocol::bindings::HTTP_POST),
            Some(acs_url.as_str())
        )],
        "{}",
        reply.body
    );
    assert_eq!(sp.calls(), 0);
}

#[tokio::test]
async fn an_explicit_entity_id_is_used_in_metadata_and_requests() {
    let (sp, idp) = Sp::dev_with(|_| {}, |b| b.entity_id("urn:example:sp"));
    let mut browser = Browser::default();
    let md = browser.get(&sp, "/saml/metadata").await;
    assert!(
        md.body.contains("entityID=\"urn:example:sp\""),
        "{}",
        md.body
    );
    let location = begin_login(&sp, &mut browser, "").await;
    let (_, query) = location.split_once('?').unwrap();
    let prompt = idp.begin(query, &sp.clock).unwrap();
    assert_eq!(prompt.request.sp_entity_id, "urn:example:sp");
    let form = idp.respond(&prompt.form_body(ALICE), &sp.clock).unwrap();
    let reply = post_response(&sp, &mut browser, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
}

// ====================================================================
// The axum extractor (feature `axum`)
// ====================================================================

#[cfg(feature = "axum")]
mod axum_extractor {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::IntoResponse;
    use http::StatusCode;
    use http::header::ACCEPT;
    use saml_tower::{SamlUser, SignedIn};

    use super::support::query_param;

    fn user() -> SamlUser {
        SamlUser::new("dev", super::ALICE)
    }

    #[tokio::test]
    async fn signed_in_reads_the_user_from_the_extensions() {
        let mut req = http::Request::builder().uri("/x").body(()).unwrap();
        req.extensions_mut().insert(std::sync::Arc::new(user()));
        let (mut parts, ()) = req.into_parts();
        let SignedIn(found) =
            <SignedIn as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap();
        assert_eq!(*found, user());
        let optional =
            <SignedIn as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap();
        assert!(optional.is_some());
    }

    #[tokio::test]
    async fn signed_in_refuses_anonymous_callers_by_kind() {
        let (mut parts, ()) = http::Request::builder()
            .uri("/deep/link?x=1")
            .header(ACCEPT, "text/html")
            .body(())
            .unwrap()
            .into_parts();
        let rejection = <SignedIn as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        let response = rejection.into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(
            query_param(location, "return_to").as_deref(),
            Some("/deep/link?x=1")
        );
        let none = <SignedIn as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert!(none.is_none());

        let (mut parts, ()) = http::Request::builder()
            .uri("/api")
            .body(())
            .unwrap()
            .into_parts();
        let response = <SignedIn as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err()
            .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let (mut parts, ()) = http::Request::builder()
            .uri("/pkg.S/M")
            .header("content-type", "application/grpc")
            .body(())
            .unwrap()
            .into_parts();
        let response = <SignedIn as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err()
            .into_response();
        assert_eq!(response.headers()["grpc-status"], "16");
    }
}

#[tokio::test]
async fn the_post_binding_sends_the_authn_request_as_an_auto_submitted_form() {
    let (sp, idp) = Sp::dev_with(
        |s| s.request_binding = saml_core::store::RequestBinding::Post,
        |b| b,
    );
    let mut browser = Browser::default();
    let reply = browser.get(&sp, "/saml/login?return_to=/after").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.set_cookie("saml_binding").is_some(), "{reply:?}");
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    assert!(
        reply
            .body
            .contains("action=\"https://dev.idp.example/sso\""),
        "{}",
        reply.body
    );
    // The IdP reads the posted request and answers; the login completes.
    let value = reply
        .body
        .split("name=\"SAMLRequest\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let prompt = idp
        .begin_post(&form_body(&[("SAMLRequest", value.as_str())]), &sp.clock)
        .unwrap();
    let form = idp.respond(&prompt.form_body(ALICE), &sp.clock).unwrap();
    let done = post_response(&sp, &mut browser, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(done.location(), "/after");
}

#[tokio::test]
async fn signing_requests_without_a_signing_key_fails_closed() {
    let (sp, _idp) = Sp::dev_with(|s| s.sign_request = true, |b| b);
    let mut browser = Browser::default();
    let reply = browser.get(&sp, "/saml/login").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(
        reply.rejection.as_ref().map(|r| r.code().as_str()),
        Some("untrusted_key")
    );
    assert!(reply.set_cookie("saml_binding").is_none(), "{reply:?}");
}

// ====================================================================
// Mapping: the provider's preset fills the profile and roles
// ====================================================================

#[tokio::test]
async fn the_default_mapper_fills_profile_and_roles_from_the_providers_preset() {
    for preset in saml_core::mapping::Preset::ALL {
        let (sp, idp) = Sp::dev_with(|s| s.preset = *preset, |b| b);
        let mut browser = Browser::default();
        login(&sp, &idp, &mut browser, None).await;
        let user = browser.whoami(&sp).await.unwrap();
        assert_eq!(user.profile_str("email"), Some(ALICE), "{preset:?}");
        assert_eq!(user.profile_str("name.given"), Some("Alice"), "{preset:?}");
        assert_eq!(
            user.profile_str("name.family"),
            Some("Liddell"),
            "{preset:?}"
        );
        // Shibboleth takes roles from isMemberOf / eduPersonAffiliation,
        // which the development IdP does not send.
        let expected = *preset != saml_core::mapping::Preset::Shibboleth;
        assert_eq!(
            user.has_role("admins") && user.has_role("users"),
            expected,
            "{preset:?}: {user:?}"
        );
        // The raw attributes stay as sent.
        assert_eq!(user.attribute("mail"), Some(ALICE));
    }
}

#[tokio::test]
async fn a_required_target_the_idp_does_not_send_fails_the_login() {
    use saml_core::mapping::{FieldRule, MappingRules, Preset};
    use saml_core::store::MappingMapper;
    let rules = MappingRules::preset(Preset::Generic)
        .field(FieldRule::new("profile.department", ["department"]).required());
    let (sp, idp) = Sp::dev_with(
        |_| {},
        |b| b.user_mapper(MappingMapper::new().rules("dev", rules)),
    );
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "missing_attribute");
    assert!(
        reply
            .rejection
            .as_ref()
            .unwrap()
            .detail()
            .contains("department"),
        "{reply:?}"
    );
    assert_eq!(browser.whoami(&sp).await, None);
}

#[test]
fn provider_settings_read_presets_by_name_and_refuse_unknown_ones() {
    use saml_core::mapping::Preset;
    use saml_core::store::ProviderSettings;
    let s: ProviderSettings = serde_json::from_str(r#"{"preset": "azure-ad"}"#).unwrap();
    assert_eq!(s.preset, Preset::EntraId);
    assert_eq!(
        serde_json::to_value(&s).unwrap()["preset"],
        serde_json::json!("entra_id")
    );
    let e = serde_json::from_str::<ProviderSettings>(r#"{"preset": "ping"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown preset `ping`"), "{e}");
    assert_eq!(ProviderSettings::default().preset, Preset::Generic);
}

#[tokio::test]
async fn a_login_hint_travels_to_the_idp_as_the_request_subject() {
    let (sp, _idp) = Sp::dev();
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "login_hint=alice%40example.com").await;
    let xml = support::authn_request_xml(&location);
    assert!(
        xml.contains("<saml:Subject><saml:NameID>alice@example.com</saml:NameID></saml:Subject>"),
        "{xml}"
    );
    // Empty, oversized or control-character hints are dropped, not sent.
    for bad in ["", "%20", "a%0Ab", &"x".repeat(300)] {
        let location = begin_login(&sp, &mut browser, &format!("login_hint={bad}")).await;
        assert!(
            !support::authn_request_xml(&location).contains("Subject"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_chooser_keeps_the_login_hint() {
    let a = idp("hint-a");
    let b = idp("hint-b");
    let sp = Sp::build(
        SpOptions::new(vec![provider("a", &a, |_| {}), provider("b", &b, |_| {})]),
        |x| x,
    );
    let reply = Browser::default()
        .get(&sp, "/saml/login?login_hint=bob%40example.com")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply
            .body
            .contains("/saml/login?idp=a&amp;login_hint=bob%40example.com"),
        "{}",
        reply.body
    );
}

// ====================================================================
// A pending login survives responses that do not complete it
// ====================================================================

#[tokio::test]
async fn a_response_from_another_browser_does_not_spend_the_users_pending_login() {
    let (sp, idp) = Sp::dev();
    let mut user = Browser::default();
    let location = begin_login(&sp, &mut user, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    // Someone who learnt the response (or just its InResponseTo) posts it first.
    post_response(&sp, &mut Browser::default(), &form)
        .await
        .assert_rejected(StatusCode::FORBIDDEN, "in_response_to_mismatch");
    // The user's own browser still completes the login.
    let reply = post_response(&sp, &mut user, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(user.whoami(&sp).await.unwrap().name_id, ALICE);
}

#[tokio::test]
async fn a_forged_response_in_the_users_browser_does_not_spend_the_pending_login() {
    let (sp, idp) = Sp::dev();
    let mut user = Browser::default();
    let location = begin_login(&sp, &mut user, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, ALICE);
    // A cross-site form posts a forged answer to the same request (the
    // binding cookie is SameSite=None, so it comes along): refused...
    let forged_xml = saml_core::binding::decode_post(
        &form
            .fields()
            .iter()
            .find(|(n, _)| n == "SAMLResponse")
            .unwrap()
            .1,
        &saml_core::Limits::default(),
    )
    .unwrap()
    .replace(ALICE, BOB);
    let forged = form_body(&[("SAMLResponse", encode_post(&forged_xml))]);
    let reply = user.post_form(&sp, "/saml/acs", forged).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(user.whoami(&sp).await, None);
    // ...and the genuine answer still signs the user in, once.
    let reply = post_response(&sp, &mut user, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(user.whoami(&sp).await.unwrap().name_id, ALICE);
    post_response(&sp, &mut Browser::default(), &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "in_response_to_mismatch");
}
