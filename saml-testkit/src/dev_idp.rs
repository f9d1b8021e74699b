//! A development identity provider that answers real SAML 2.0 responses:
//! signed with its own key (generated at start unless one is configured),
//! optionally signed on the Response too, optionally encrypted for the SP.
//!
//! It exists so that the example server starts with a working IdP and a
//! newcomer can click through a full login at once, and so that end-to-end
//! tests exercise the whole SP stack against genuine XML signatures and
//! encryption. **It is not for production**: it authenticates nobody (every
//! configured user is one click away), keeps no sessions and trusts the
//! hidden fields of its own login form.
//!
//! It is framework-neutral: inputs are raw query strings and
//! `application/x-www-form-urlencoded` bodies as `&str`, outputs are HTML
//! pages, XML text and [`PostForm`]s. The HTTP wiring is a few lines:
//!
//! | Route                      | Call                                                    | Answer |
//! |----------------------------|---------------------------------------------------------|--------|
//! | `GET  {sso_url}?SAMLRequest=…` | [`DevIdp::begin`] → [`LoginPrompt::html`]`(login_url)` | `200 text/html` |
//! | `POST {sso_url}` (POST binding) | [`DevIdp::begin_post`] → [`LoginPrompt::html`]       | `200 text/html` |
//! | `POST {login_url}`         | [`DevIdp::respond`] → [`PostForm::html`]                | `200 text/html` |
//! | `GET  {metadata_url}`      | [`DevIdp::metadata_xml`]                                | `200 application/samlmetadata+xml` |
//! | `GET  {slo_url}?SAMLRequest=…` | [`DevIdp::answer_logout`]`(query, sp_slo_url)`      | `303` to the SP's SLO URL |
//! | (IdP-initiated logout)     | [`DevIdp::start_logout`]`(name_id, session_index, sp_slo_url, ..)` | `303` to the SP's SLO URL |
//!
//! With the `service` feature, `DevIdpService` is that wiring, done once:
//! a `tower_service::Service<http::Request<B>>` that any Tower-based server
//! (axum, hyper, warp, tonic) mounts under a path such as `/dev-idp`.
//!
//! Single logout: when [`DevIdpConfig::slo_url`] is set, the metadata
//! advertises it (HTTP-Redirect), [`DevIdp::answer_logout`] answers an SP's
//! `LogoutRequest` with a signed `LogoutResponse`, and
//! [`DevIdp::start_logout`] starts an IdP-initiated logout. The IdP keeps no
//! sessions, so logging out ends nothing on its side; it exists so that an
//! SP's logout flows can be exercised.
//!
//! Errors are [`saml_core::Error`]s whose codes say what was wrong with the
//! request (answer them with a 400 page).
//!
//! ```
//! use saml_core::clock::SystemClock;
//! use saml_core::protocol::AuthnRequest;
//! use saml_testkit::dev_idp::{DevIdp, DevIdpConfig};
//!
//! let idp = DevIdp::new(DevIdpConfig::new(
//!     "http://127.0.0.1:3000/dev-idp/metadata",
//!     "http://127.0.0.1:3000/dev-idp/sso",
//! ))?;
//! // The SP side: an AuthnRequest on the Redirect binding.
//! let request = AuthnRequest::builder("http://127.0.0.1:3000/saml/metadata", idp.sso_url())
//!     .assertion_consumer_service_url("http://127.0.0.1:3000/saml/acs")
//!     .build(&SystemClock)?;
//! let url = request.redirect_url(Some("/home"), None)?;
//! let (_, query) = url.split_once('?').unwrap_or_default();
//!
//! // The IdP side: show the login page, then answer the submitted form.
//! let prompt = idp.begin(query, &SystemClock)?;
//! let page = prompt.html("/dev-idp/login");
//! assert!(page.contains("Development IdP"));
//! let form = idp.respond(&prompt.form_body("alice@example.com"), &SystemClock)?;
//! assert_eq!(form.action(), "http://127.0.0.1:3000/saml/acs");
//! assert_eq!(form.fields()[0].0, "SAMLResponse");
//! # Ok::<(), saml_core::Error>(())
//! ```

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Datelike as _, Duration, Utc};
use saml_core::binding::{
    PostForm, RedirectParameter, decode_post, decode_redirect, html_escape, parse_redirect_query,
    post_form,
};
use saml_core::clock::{Clock, format_datetime, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::dsig::{
    DSIG_NS, SignOptions, VerifyOptions, sign_enveloped, verify_enveloped, verify_redirect_query,
};
use saml_core::mapping::claims;
use saml_core::protocol::{
    CM_BEARER, IncomingLogoutRequest, LogoutOutcome, LogoutRequest, LogoutResponse,
    LogoutValidator, MD_NS, NameId, SAML_NS, SAMLP_NS, STATUS_SUCCESS, bindings, generate_id,
    name_id_format,
};
use saml_core::xml::{Document, Element};
use saml_core::xmlenc::{EncryptOptions, encrypt_element};
use saml_core::{Error, ErrorCode, Limits, Result};

#[cfg(feature = "service")]
mod service;
#[cfg(feature = "service")]
pub use service::DevIdpService;

/// The authentication context class every response states: a password over
/// TLS, the class SPs most commonly expect.
pub const PASSWORD_PROTECTED_TRANSPORT: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// The top-level status of the failure responses.
const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
const ATTRNAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const ATTRNAME_FORMAT_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// Largest form body accepted (a POST-binding `SAMLRequest` included; the
/// decoded XML is bounded again by [`Limits`]).
const MAX_FORM_BYTES: usize = 2 << 20;
/// An AuthnRequest older than this is refused as `expired`.
const MAX_REQUEST_AGE_SECS: i64 = 600;
/// An AuthnRequest issued further ahead than this is refused as `not_yet_valid`.
const MAX_REQUEST_AHEAD_SECS: i64 = 60;
/// `NotBefore` lies this far before the issue instant, for SP clocks that lag.
const NOT_BEFORE_SLACK_SECS: i64 = 30;
/// `SessionNotOnOrAfter`: the (notional) IdP session lasts this long.
const SESSION_HOURS: i64 = 8;

/// Second-level status codes of the failure responses
/// ([`DevIdp::issue_failure`]); the top-level code is always `Responder`.
pub mod status {
    /// The user cancelled, or authentication failed.
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    /// `IsPassive` was requested and the IdP cannot log the user in without
    /// interaction (this IdP keeps no sessions, so it never can).
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    /// The requested NameID format cannot be supplied.
    pub const INVALID_NAME_ID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
}

/// The names of the fields the login page ([`LoginPrompt::html`]) posts and
/// [`DevIdp::respond`] reads.
pub mod form_fields {
    /// The chosen user's NameID (the value of the clicked button).
    pub const USER: &str = "user";
    /// Present (any value) when the user clicked "Cancel".
    pub const CANCEL: &str = "cancel";
    /// The AuthnRequest ID (absent or empty: an IdP-initiated response).
    pub const REQUEST_ID: &str = "request_id";
    /// Where the response goes (`Destination`, `Recipient`).
    pub const ACS_URL: &str = "acs_url";
    /// The SP entity ID (the `Audience`).
    pub const SP_ENTITY_ID: &str = "sp_entity_id";
    /// The `RelayState` to send back (absent: none).
    pub const RELAY_STATE: &str = "relay_state";
}

/// A user the development IdP can log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevUser {
    /// The NameID value, sent with format `emailAddress`.
    pub name_id: String,
    /// The name shown on the login page.
    pub display_name: String,
    /// The attributes sent, in order: name and values. Names containing `:`
    /// are sent with `NameFormat` `uri`, others with `basic`.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl DevUser {
    /// A user without attributes.
    #[must_use]
    pub fn new(name_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            name_id: name_id.into(),
            display_name: display_name.into(),
            attributes: Vec::new(),
        }
    }

    /// Adds an attribute with these values.
    #[must_use]
    pub fn attribute<V: Into<String>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.attributes
            .push((name.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// A user whose NameID is `email`, with the attributes real IdPs send
    /// under both the common claim URIs (Entra ID / AD FS style) and the
    /// plain LDAP-style names, so the default attribute mapping and every
    /// preset find them: email (`…/claims/emailaddress`, `mail`), given
    /// name (`…/claims/givenname`, `givenName`), family name
    /// (`…/claims/surname`, `sn`), `displayName`, `uid` (the part of the
    /// email before `@`) and, when `groups` is not empty, the groups
    /// (`…/claims/groups`, `groups`).
    #[must_use]
    pub fn standard(email: &str, given_name: &str, family_name: &str, groups: &[&str]) -> Self {
        let display = format!("{given_name} {family_name}");
        let uid = email.split('@').next().unwrap_or(email);
        let mut user = Self::new(email, display.clone())
            .attribute(claims::EMAIL_ADDRESS, [email])
            .attribute("mail", [email])
            .attribute(claims::GIVEN_NAME, [given_name])
            .attribute("givenName", [given_name])
            .attribute(claims::SURNAME, [family_name])
            .attribute("sn", [family_name])
            .attribute("displayName", [display])
            .attribute("uid", [uid]);
        if !groups.is_empty() {
            user = user
                .attribute(claims::MS_GROUPS, groups.iter().copied())
                .attribute("groups", groups.iter().copied());
        }
        user
    }

    /// The two built-in users: `alice@example.com` (Alice Liddell, groups
    /// `admins` and `users`) and `bob@example.com` (Bob Builder, group
    /// `users`), each made by [`standard`](Self::standard).
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::standard(
                "alice@example.com",
                "Alice",
                "Liddell",
                &["admins", "users"],
            ),
            Self::standard("bob@example.com", "Bob", "Builder", &["users"]),
        ]
    }

    /// The values of the attribute `name` (empty when absent).
    #[must_use]
    pub fn attribute_values(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// The settings of a [`DevIdp`]. Start from [`DevIdpConfig::new`] (or
/// [`Default`], which uses `http://127.0.0.1:3000/dev-idp/…` URLs) and
/// change the public fields.
#[derive(Clone)]
pub struct DevIdpConfig {
    /// The IdP entity ID (`Issuer` of every response; by convention the URL
    /// of the metadata).
    pub entity_id: String,
    /// The single sign-on URL: where SPs send AuthnRequests (both bindings),
    /// e.g. `http://127.0.0.1:3000/dev-idp/sso`. A request whose
    /// `Destination` names another URL is refused.
    pub sso_url: String,
    /// The users offered on the login page (default [`DevUser::defaults`]).
    pub users: Vec<DevUser>,
    /// The signing key and its certificate, both PEM. `None` (the default):
    /// an RSA-2048 key and a self-signed certificate are generated at
    /// start, so SPs must fetch the metadata again after every restart.
    pub key: Option<(String, String)>,
    /// How long assertions are valid (`NotOnOrAfter` of the conditions and
    /// the subject confirmation), in seconds; default 300.
    pub assertion_lifetime_seconds: i64,
    /// Sign the assertion (default `true`).
    pub sign_assertion: bool,
    /// Sign the Response as well (default `false`).
    pub sign_response: bool,
    /// Encrypt the assertion for the SP holding this certificate (PEM): the
    /// response then carries a `saml:EncryptedAssertion` (AES-256-GCM,
    /// RSA-OAEP). Default `None`.
    pub encrypt_for: Option<String>,
    /// The SP's signing certificate(s) (PEM), to verify signed
    /// AuthnRequests. When `None`, a signed request is accepted unchecked
    /// and the login page says so.
    pub sp_signing_certificate: Option<String>,
    /// Refuse AuthnRequests without a valid signature (needs
    /// `sp_signing_certificate`); published as `WantAuthnRequestsSigned`.
    /// Default `false`.
    pub want_authn_requests_signed: bool,
    /// The ACS URL used when a request names none (the SP relies on its
    /// metadata's default ACS, which this IdP does not read). Without it
    /// such requests are refused.
    pub default_acs_url: Option<String>,
    /// The single logout URL (e.g. `http://127.0.0.1:3000/dev-idp/slo`):
    /// advertised in the metadata as the `SingleLogoutService` on the
    /// HTTP-Redirect binding, and the `Destination` an SP's
    /// `LogoutRequest` must name. Default `None`: no SLO endpoint in the
    /// metadata, and [`DevIdp::answer_logout`] refuses.
    pub slo_url: Option<String>,
}

impl fmt::Debug for DevIdpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdpConfig")
            .field("entity_id", &self.entity_id)
            .field("sso_url", &self.sso_url)
            .field("users", &self.users)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field(
                "assertion_lifetime_seconds",
                &self.assertion_lifetime_seconds,
            )
            .field("sign_assertion", &self.sign_assertion)
            .field("sign_response", &self.sign_response)
            .field("encrypt_for", &self.encrypt_for.is_some())
            .field(
                "sp_signing_certificate",
                &self.sp_signing_certificate.is_some(),
            )
            .field(
                "want_authn_requests_signed",
                &self.want_authn_requests_signed,
            )
            .field("default_acs_url", &self.default_acs_url)
            .field("slo_url", &self.slo_url)
            .finish()
    }
}

impl DevIdpConfig {
    /// The defaults for an IdP with this entity ID and SSO URL: the
    /// [`DevUser::defaults`], a generated key, 300-second assertions,
    /// assertion signed, Response not signed, no encryption, unsigned
    /// requests accepted, no single logout URL.
    #[must_use]
    pub fn new(entity_id: impl Into<String>, sso_url: impl Into<String>) -> Self {
        Self {
            entity_id: entity_id.into(),
            sso_url: sso_url.into(),
            users: DevUser::defaults(),
            key: None,
            assertion_lifetime_seconds: 300,
            sign_assertion: true,
            sign_response: false,
            encrypt_for: None,
            sp_signing_certificate: None,
            want_authn_requests_signed: false,
            default_acs_url: None,
            slo_url: None,
        }
    }
}

impl Default for DevIdpConfig {
    /// [`DevIdpConfig::new`] with `http://127.0.0.1:3000/dev-idp/metadata`
    /// and `http://127.0.0.1:3000/dev-idp/sso`, the example server's
    /// defaults.
    fn default() -> Self {
        Self::new(
            "http://127.0.0.1:3000/dev-idp/metadata",
            "http://127.0.0.1:3000/dev-idp/sso",
        )
    }
}

/// How the AuthnRequest's signature was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSignature {
    /// The request was not signed.
    Unsigned,
    /// The request was signed and the signature verified with the
    /// configured SP certificate.
    Verified,
    /// The request was signed, but no SP certificate is configured, so the
    /// signature was not checked.
    NotChecked,
}

/// What the development IdP read from an AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The request `ID` (the response's `InResponseTo`).
    pub id: String,
    /// The request's `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The SP entity ID (`Issuer`; the response's `Audience`).
    pub sp_entity_id: String,
    /// Where the response goes: `AssertionConsumerServiceURL`, or the
    /// configured [`default_acs_url`](DevIdpConfig::default_acs_url) when
    /// the request names none.
    pub acs_url: String,
    /// The request's `Destination`, if any (equal to the SSO URL).
    pub destination: Option<String>,
    /// `ProtocolBinding`, if given (always HTTP-POST: others are refused).
    pub protocol_binding: Option<String>,
    /// `ForceAuthn`. Every response of this IdP authenticates afresh
    /// (`AuthnInstant` is the time of the answer), so it is always honoured.
    pub force_authn: bool,
    /// `IsPassive`. This IdP keeps no sessions, so a faithful answer is
    /// [`DevIdp::respond_no_passive`]; the login page shows the flag.
    pub is_passive: bool,
    /// `NameIDPolicy/@Format`, if given (informational: the NameID is
    /// always sent as `emailAddress`).
    pub name_id_format: Option<String>,
    /// `ProviderName`, if given.
    pub provider_name: Option<String>,
    /// Whether and how the request was signed.
    pub signature: RequestSignature,
}

impl ParsedRequest {
    /// The parameters of the response that answers this request.
    #[must_use]
    pub fn response_params(&self) -> ResponseParams {
        ResponseParams::new(&self.acs_url, &self.sp_entity_id).answering(&self.id)
    }
}

/// The parameters of one response ([`DevIdp::issue_response`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseParams {
    /// The SP's ACS URL: `Destination` and `Recipient`.
    pub acs_url: String,
    /// The SP entity ID: the `Audience`.
    pub sp_entity_id: String,
    /// The AuthnRequest answered (`InResponseTo` on the Response and the
    /// subject confirmation); `None` for IdP-initiated SSO.
    pub in_response_to: Option<String>,
}

impl ResponseParams {
    /// An IdP-initiated response to this ACS URL for this SP.
    #[must_use]
    pub fn new(acs_url: impl Into<String>, sp_entity_id: impl Into<String>) -> Self {
        Self {
            acs_url: acs_url.into(),
            sp_entity_id: sp_entity_id.into(),
            in_response_to: None,
        }
    }

    /// Answers the AuthnRequest with this ID.
    #[must_use]
    pub fn answering(mut self, request_id: impl Into<String>) -> Self {
        self.in_response_to = Some(request_id.into());
        self
    }
}

/// An accepted AuthnRequest waiting for the user to pick who logs in:
/// render [`html`](Self::html), then pass the submitted form to
/// [`DevIdp::respond`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPrompt {
    /// The request.
    pub request: ParsedRequest,
    /// The `RelayState` that came with it, to send back unchanged.
    pub relay_state: Option<String>,
    /// The users to offer.
    pub users: Vec<DevUser>,
    /// The IdP's entity ID (shown on the page).
    pub idp_entity_id: String,
}

impl LoginPrompt {
    /// The hidden fields of the login form (see [`form_fields`]): request
    /// ID, ACS URL, SP entity ID and, if any, the relay state.
    #[must_use]
    pub fn hidden_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            (form_fields::REQUEST_ID, self.request.id.clone()),
            (form_fields::ACS_URL, self.request.acs_url.clone()),
            (form_fields::SP_ENTITY_ID, self.request.sp_entity_id.clone()),
        ];
        if let Some(relay_state) = &self.relay_state {
            fields.push((form_fields::RELAY_STATE, relay_state.clone()));
        }
        fields
    }

    /// The form body the login page posts when the user with NameID `user`
    /// is chosen (for tests and scripted logins).
    #[must_use]
    pub fn form_body(&self, user: &str) -> String {
        let mut fields = self.hidden_fields();
        fields.push((form_fields::USER, user.to_owned()));
        encode_form(fields.iter().map(|(n, v)| (*n, v.as_str())))
    }

    /// The form body the login page posts when the user clicks "Cancel".
    #[must_use]
    pub fn cancel_form_body(&self) -> String {
        let mut fields = self.hidden_fields();
        fields.push((form_fields::CANCEL, "1".to_owned()));
        encode_form(fields.iter().map(|(n, v)| (*n, v.as_str())))
    }

    /// The login page: a self-contained HTML5 document (inline CSS, no
    /// script, no external resource) titled "Development IdP — not for
    /// production", with one submit button per user and a Cancel button in
    /// a form that posts to `action_url`. Every value is HTML-escaped.
    #[must_use]
    pub fn html(&self, action_url: &str) -> String {
        let r = &self.request;
        let mut out = String::with_capacity(4096);
        out.push_str(concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n",
            "<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<meta name=\"robots\" content=\"noindex, nofollow\">\n",
            "<title>Development IdP \u{2014} not for production</title>\n",
            "<style>\n",
            "body{margin:0;padding:2rem 1rem;background:#f3f4f6;color:#1f2328;",
            "font:16px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n",
            "main{max-width:36rem;margin:0 auto;background:#fff;border:1px solid #d0d7de;",
            "border-radius:10px;padding:1.5rem 1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}\n",
            ".banner{margin:0 0 1rem;padding:.55rem .8rem;background:#fff8c5;",
            "border:1px solid #d4a72c;border-radius:6px;font-size:.9rem}\n",
            "h1{font-size:1.35rem;margin:0 0 .25rem}\n",
            ".sub{margin:0 0 1rem;color:#57606a;font-size:.9rem}\n",
            "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;",
            "margin:0 0 1.25rem;font-size:.82rem}\n",
            "dt{color:#57606a}\n",
            "dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;",
            "overflow-wrap:anywhere}\n",
            ".warn{color:#9a6700}\n",
            ".users{display:flex;flex-direction:column;gap:.5rem}\n",
            "button{font:inherit;cursor:pointer;border-radius:6px;padding:.6rem .9rem}\n",
            "button.user{text-align:left;background:#0969da;color:#fff;border:1px solid #0550ae}\n",
            "button.user:hover,button.user:focus{background:#0550ae}\n",
            "button.user small{display:block;font-size:.8rem;opacity:.85}\n",
            "button.cancel{margin-top:1rem;width:100%;background:#f6f8fa;color:#1f2328;",
            "border:1px solid #d0d7de}\n",
            "</style>\n</head>\n<body>\n<main>\n",
            "<p class=\"banner\"><strong>Development IdP \u{2014} not for production.</strong> ",
            "Anyone can sign in as any of these users; no password is asked.</p>\n",
            "<h1>Choose a user</h1>\n",
        ));
        out.push_str("<p class=\"sub\">Signing in to <strong>");
        out.push_str(&html_escape(
            r.provider_name.as_deref().unwrap_or(&r.sp_entity_id),
        ));
        out.push_str("</strong> at ");
        out.push_str(&html_escape(&self.idp_entity_id));
        out.push_str("</p>\n<dl>\n");
        let mut row = |name: &str, value: &str, warn: bool| {
            out.push_str("<dt>");
            out.push_str(name);
            out.push_str(if warn {
                "</dt><dd class=\"warn\">"
            } else {
                "</dt><dd>"
            });
            out.push_str(&html_escape(value));
            out.push_str("</dd>\n");
        };
        row("Service provider", &r.sp_entity_id, false);
        row("Response to", &r.acs_url, false);
        row("Request ID", &r.id, false);
        if let Some(relay_state) = &self.relay_state {
            row("RelayState", relay_state, false);
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        row("ForceAuthn", yes_no(r.force_authn), false);
        row("IsPassive", yes_no(r.is_passive), r.is_passive);
        if let Some(format) = &r.name_id_format {
            row("NameID format asked", format, false);
        }
        match r.signature {
            RequestSignature::Unsigned => row("Request signature", "none", false),
            RequestSignature::Verified => row("Request signature", "verified", false),
            RequestSignature::NotChecked => row(
                "Request signature",
                "present but NOT checked (no SP certificate configured)",
                true,
            ),
        }
        out.push_str("</dl>\n<form method=\"post\" action=\"");
        out.push_str(&html_escape(action_url));
        out.push_str("\">\n");
        for (name, value) in self.hidden_fields() {
            out.push_str("<input type=\"hidden\" name=\"");
            out.push_str(name);
            out.push_str("\" value=\"");
            out.push_str(&html_escape(&value));
            out.push_str("\">\n");
        }
        out.push_str("<div class=\"users\">\n");
        for user in &self.users {
            out.push_str("<button class=\"user\" type=\"submit\" name=\"");
            out.push_str(form_fields::USER);
            out.push_str("\" value=\"");
            out.push_str(&html_escape(&user.name_id));
            out.push_str("\">");
            out.push_str(&html_escape(&user.display_name));
            out.push_str("<small>");
            out.push_str(&html_escape(&user.name_id));
            out.push_str("</small></button>\n");
        }
        out.push_str("</div>\n<button class=\"cancel\" type=\"submit\" name=\"");
        out.push_str(form_fields::CANCEL);
        out.push_str("\" value=\"1\">Cancel</button>\n</form>\n</main>\n</body>\n</html>\n");
        out
    }
}

/// An SP's `LogoutRequest` answered by [`DevIdp::answer_logout`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutAnswer {
    /// The validated request (its `ID`, the SP's `Issuer`, the NameID and
    /// `SessionIndex` values).
    pub request: IncomingLogoutRequest,
    /// The `RelayState` that came with it, sent back unchanged.
    pub relay_state: Option<String>,
    /// Whether and how the request was signed.
    pub signature: RequestSignature,
    /// The `ID` of the `LogoutResponse`.
    pub response_id: String,
    /// Where to redirect the browser: the SP's SLO URL with the signed
    /// `SAMLResponse` (and `RelayState`, `SigAlg`, `Signature`).
    pub redirect_url: String,
}

/// An IdP-initiated logout started by [`DevIdp::start_logout`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpLogout {
    /// The `LogoutRequest` sent (its [`id`](LogoutRequest::id) is what the
    /// SP's answer must be `InResponseTo`).
    pub request: LogoutRequest,
    /// Where to redirect the browser: the SP's SLO URL with the signed
    /// `SAMLRequest`.
    pub redirect_url: String,
}

/// The development identity provider. Cheap to share (`Arc<DevIdp>`); all
/// methods take `&self`.
#[derive(Debug)]
pub struct DevIdp {
    entity_id: String,
    sso_url: String,
    users: Vec<DevUser>,
    key: SigningKey,
    certificate: Certificate,
    lifetime: Duration,
    sign_assertion: bool,
    sign_response: bool,
    encrypt_for: Option<Certificate>,
    sp_keys: Vec<PublicKey>,
    want_authn_requests_signed: bool,
    default_acs_url: Option<String>,
    slo_url: Option<String>,
    limits: Limits,
}

impl DevIdp {
    /// Checks the configuration and loads (or generates) the key.
    ///
    /// Errors: `malformed_xml` for an empty entity ID, an SSO, SLO or default
    /// ACS URL that is not `http(s)://`, no users, a user without NameID, two
    /// users with the same NameID, a value XML cannot carry, a lifetime that
    /// is not positive (or over a day), or `want_authn_requests_signed`
    /// without an SP certificate; `untrusted_key` for a key or certificate
    /// that does not parse or does not match, or a failed key generation.
    pub fn new(config: DevIdpConfig) -> Result<Self> {
        if config.entity_id.trim().is_empty() {
            return Err(invalid("the IdP entity ID is empty"));
        }
        check_xml_text("IdP entity ID", &config.entity_id)?;
        check_http_url("SSO URL", &config.sso_url)?;
        if let Some(acs) = &config.default_acs_url {
            check_http_url("default ACS URL", acs)?;
        }
        if let Some(slo) = &config.slo_url {
            check_http_url("SLO URL", slo)?;
        }
        if config.users.is_empty() {
            return Err(invalid("the development IdP needs at least one user"));
        }
        for (i, user) in config.users.iter().enumerate() {
            if user.name_id.trim().is_empty() {
                return Err(invalid(format!("user {} has an empty NameID", i + 1)));
            }
            if config
                .users
                .iter()
                .skip(i + 1)
                .any(|u| u.name_id == user.name_id)
            {
                return Err(invalid(format!(
                    "two users have the NameID `{}`",
                    shorten(&user.name_id)
                )));
            }
            check_xml_text("user NameID", &user.name_id)?;
            check_xml_text("user display name", &user.display_name)?;
            for (name, values) in &user.attributes {
                if name.is_empty() {
                    return Err(invalid(format!(
                        "user `{}` has an attribute without a name",
                        shorten(&user.name_id)
                    )));
                }
                check_xml_text("attribute name", name)?;
                for value in values {
                    check_xml_text("attribute value", value)?;
                }
            }
        }
        let lifetime = Some(config.assertion_lifetime_seconds)
            .filter(|s| (1..=86_400).contains(s))
            .and_then(Duration::try_seconds)
            .ok_or_else(|| {
                invalid(format!(
                    "the assertion lifetime must be 1 to 86400 seconds, not {}",
                    config.assertion_lifetime_seconds
                ))
            })?;
        let key = match &config.key {
            Some((key_pem, cert_pem)) => {
                SigningKey::from_pem(key_pem)?.with_certificate(first_certificate(cert_pem)?)?
            }
            None => generate_key()?,
        };
        let certificate = key
            .certificate()
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::UntrustedKey, "the key has no certificate"))?;
        let encrypt_for = config
            .encrypt_for
            .as_deref()
            .map(first_certificate)
            .transpose()?;
        let sp_keys = match &config.sp_signing_certificate {
            Some(pem) => Certificate::from_pem(pem)?
                .iter()
                .map(|c| c.public_key().clone())
                .collect(),
            None => Vec::new(),
        };
        if config.want_authn_requests_signed && sp_keys.is_empty() {
            return Err(invalid(
                "want_authn_requests_signed needs the SP signing certificate (sp_signing_certificate)",
            ));
        }
        Ok(Self {
            entity_id: config.entity_id,
            sso_url: config.sso_url,
            users: config.users,
            key,
            certificate,
            lifetime,
            sign_assertion: config.sign_assertion,
            sign_response: config.sign_response,
            encrypt_for,
            sp_keys,
            want_authn_requests_signed: config.want_authn_requests_signed,
            default_acs_url: config.default_acs_url,
            slo_url: config.slo_url,
            limits: Limits::default(),
        })
    }

    /// The IdP entity ID.
    #[must_use]
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The single sign-on URL.
    #[must_use]
    pub fn sso_url(&self) -> &str {
        &self.sso_url
    }

    /// The single logout URL, if configured.
    #[must_use]
    pub fn slo_url(&self) -> Option<&str> {
        self.slo_url.as_deref()
    }

    /// The configured users.
    #[must_use]
    pub fn users(&self) -> &[DevUser] {
        &self.users
    }

    /// The user with this NameID.
    #[must_use]
    pub fn user(&self, name_id: &str) -> Option<&DevUser> {
        self.users.iter().find(|u| u.name_id == name_id)
    }

    /// The signing certificate (SPs trust its key).
    #[must_use]
    pub const fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The signing certificate as PEM (one `CERTIFICATE` block), for SP
    /// configurations that take a certificate instead of metadata.
    #[must_use]
    pub fn certificate_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.certificate.der());
        let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// The IdP metadata: an `md:EntityDescriptor` with an `IDPSSODescriptor`
    /// holding the signing certificate, the NameID formats (`emailAddress`,
    /// `unspecified`) and the SSO endpoints for HTTP-Redirect and HTTP-POST
    /// at the SSO URL; when [`DevIdpConfig::slo_url`] is set, also a
    /// `SingleLogoutService` (HTTP-Redirect) there. Unsigned.
    #[must_use]
    pub fn metadata_xml(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("<md:EntityDescriptor");
        push_attr(&mut out, "xmlns:md", MD_NS);
        push_attr(&mut out, "xmlns:ds", DSIG_NS);
        push_attr(&mut out, "entityID", &self.entity_id);
        out.push_str(">\n  <md:IDPSSODescriptor");
        push_attr(
            &mut out,
            "WantAuthnRequestsSigned",
            if self.want_authn_requests_signed {
                "true"
            } else {
                "false"
            },
        );
        push_attr(&mut out, "protocolSupportEnumeration", SAMLP_NS);
        out.push_str(">\n    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(self.certificate.der()));
        out.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>");
        if let Some(slo) = &self.slo_url {
            // Schema order: KeyDescriptor, SingleLogoutService, NameIDFormat,
            // SingleSignOnService.
            out.push_str("\n    <md:SingleLogoutService");
            push_attr(&mut out, "Binding", bindings::HTTP_REDIRECT);
            push_attr(&mut out, "Location", slo);
            out.push_str("/>");
        }
        for format in [name_id_format::EMAIL, name_id_format::UNSPECIFIED] {
            out.push_str("\n    <md:NameIDFormat>");
            push_text(&mut out, format);
            out.push_str("</md:NameIDFormat>");
        }
        for binding in [bindings::HTTP_REDIRECT, bindings::HTTP_POST] {
            out.push_str("\n    <md:SingleSignOnService");
            push_attr(&mut out, "Binding", binding);
            push_attr(&mut out, "Location", &self.sso_url);
            out.push_str("/>");
        }
        out.push_str("\n  </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n");
        out
    }

    /// Receives an AuthnRequest on the HTTP-Redirect binding: `raw_query` is
    /// the query string as received (with or without the leading `?`).
    ///
    /// The message is decoded with the library's bounded decoder. A signed
    /// query is verified with the configured SP certificate; without one it
    /// is accepted and marked [`RequestSignature::NotChecked`]. The request
    /// must be a SAML 2.0 `samlp:AuthnRequest` with an `ID`, an
    /// `IssueInstant` within the last 10 minutes (1 minute ahead allowed),
    /// an `Issuer`, a `Destination` (if any) equal to the SSO URL, an
    /// `AssertionConsumerServiceURL` (or a configured default) and no
    /// `ProtocolBinding` other than HTTP-POST.
    ///
    /// Errors: those of [`parse_redirect_query`] and
    /// [`verify_redirect_query`]; `signature_missing` when signed requests
    /// are required and this one is not; `malformed_xml`,
    /// `destination_mismatch`, `expired`, `not_yet_valid` for a request that
    /// breaks the rules above.
    pub fn begin(&self, raw_query: &str, clock: &dyn Clock) -> Result<LoginPrompt> {
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let message = parse_redirect_query(raw_query, &self.limits)?;
        if message.parameter() != RedirectParameter::SamlRequest {
            return Err(invalid(
                "the query carries a SAMLResponse; the development IdP expects a SAMLRequest",
            ));
        }
        let (xml, relay_state, signature) = if !message.has_signature() {
            let relay_state = message.relay_state().map(str::to_owned);
            (message.into_xml(), relay_state, RequestSignature::Unsigned)
        } else if self.sp_keys.is_empty() {
            let relay_state = message.relay_state().map(str::to_owned);
            (
                message.into_xml(),
                relay_state,
                RequestSignature::NotChecked,
            )
        } else {
            let verified = verify_redirect_query(raw_query, &self.sp_keys, &VerifyOptions::new())?;
            (
                decode_redirect(verified.message(), &self.limits)?,
                verified.relay_state().map(str::to_owned),
                RequestSignature::Verified,
            )
        };
        self.check_signature_policy(signature)?;
        let doc = Document::parse(&xml, &self.limits)?;
        let request = self.read_request(doc.root(), signature, clock)?;
        Ok(self.prompt(request, relay_state))
    }

    /// Receives an AuthnRequest on the HTTP-POST binding: `form_body` is the
    /// `application/x-www-form-urlencoded` body with `SAMLRequest` (base64)
    /// and optionally `RelayState`. An enveloped signature on the request is
    /// verified with the configured SP certificate (or, without one, marked
    /// [`RequestSignature::NotChecked`]). The rules of [`begin`](Self::begin)
    /// apply.
    ///
    /// Errors: `input_too_large`, `malformed_xml` (a bad form body, no
    /// `SAMLRequest`, or see [`begin`](Self::begin)); those of
    /// [`decode_post`] and [`verify_enveloped`].
    pub fn begin_post(&self, form_body: &str, clock: &dyn Clock) -> Result<LoginPrompt> {
        let form = Form::parse(form_body)?;
        let value = form.require("SAMLRequest")?;
        let xml = decode_post(value, &self.limits)?;
        let doc = Document::parse(&xml, &self.limits)?;
        let root = doc.root();
        let signed = root.child_elements().any(|c| c.is(DSIG_NS, "Signature"));
        let signature = if !signed {
            RequestSignature::Unsigned
        } else if self.sp_keys.is_empty() {
            RequestSignature::NotChecked
        } else {
            verify_enveloped(root, &self.sp_keys, &VerifyOptions::new())?;
            RequestSignature::Verified
        };
        self.check_signature_policy(signature)?;
        let request = self.read_request(root, signature, clock)?;
        Ok(self.prompt(request, form.get("RelayState").map(str::to_owned)))
    }

    /// Answers the login form ([`LoginPrompt::html`]): `form_body` is the
    /// posted `application/x-www-form-urlencoded` body (`+` and `%XX` are
    /// decoded). With the [`form_fields::USER`] field, a successful response
    /// for that user ([`issue_response`](Self::issue_response)); with
    /// [`form_fields::CANCEL`], a failure response (`Responder` /
    /// `AuthnFailed`). Either way the result is the HTTP-POST form to the
    /// ACS URL, carrying the relay state.
    ///
    /// The hidden fields are trusted as posted: this is a development tool.
    /// A changed ACS URL yields a response that the real SP refuses
    /// (`destination_mismatch`), as it should.
    ///
    /// Errors: `input_too_large`, `malformed_xml` (a bad form body, a
    /// missing field, an unknown user, an ACS URL that is not `http(s)://`,
    /// a value XML cannot carry); those of
    /// [`issue_response`](Self::issue_response).
    pub fn respond(&self, form_body: &str, clock: &dyn Clock) -> Result<PostForm> {
        let form = Form::parse(form_body)?;
        let mut params = ResponseParams::new(
            form.require(form_fields::ACS_URL)?,
            form.require(form_fields::SP_ENTITY_ID)?,
        );
        if let Some(id) = form
            .get(form_fields::REQUEST_ID)
            .filter(|id| !id.is_empty())
        {
            params = params.answering(id);
        }
        let relay_state = form.get(form_fields::RELAY_STATE);
        let xml = if form.get(form_fields::CANCEL).is_some() {
            self.issue_failure(
                &params,
                status::AUTHN_FAILED,
                Some("the user cancelled the login at the development IdP"),
                clock,
            )?
        } else {
            let name_id = form.require(form_fields::USER)?;
            let user = self.user(name_id).ok_or_else(|| {
                invalid(format!(
                    "the development IdP has no user `{}`",
                    shorten(name_id)
                ))
            })?;
            self.issue_response(user, &params, clock)?
        };
        post_form(
            &params.acs_url,
            RedirectParameter::SamlResponse,
            &xml,
            relay_state,
        )
    }

    /// An IdP-initiated (unsolicited) response for `user`: no
    /// `InResponseTo`, sent to `acs_url` for `sp_entity_id` with
    /// `relay_state` (many SPs read a target URL from it). The SP must allow
    /// IdP-initiated SSO to accept it.
    ///
    /// Errors: those of [`issue_response`](Self::issue_response) and
    /// [`post_form`].
    pub fn respond_idp_initiated(
        &self,
        user: &DevUser,
        acs_url: &str,
        sp_entity_id: &str,
        relay_state: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<PostForm> {
        let xml = self.issue_response(user, &ResponseParams::new(acs_url, sp_entity_id), clock)?;
        post_form(acs_url, RedirectParameter::SamlResponse, &xml, relay_state)
    }

    /// The faithful answer to a request with `IsPassive`: a failure response
    /// (`Responder` / `NoPassive`), since this IdP keeps no sessions and
    /// cannot log anyone in without interaction.
    ///
    /// Errors: those of [`issue_failure`](Self::issue_failure) and
    /// [`post_form`].
    pub fn respond_no_passive(&self, prompt: &LoginPrompt, clock: &dyn Clock) -> Result<PostForm> {
        let params = prompt.request.response_params();
        let xml = self.issue_failure(
            &params,
            status::NO_PASSIVE,
            Some("the development IdP keeps no sessions, so it cannot log in passively"),
            clock,
        )?;
        post_form(
            &params.acs_url,
            RedirectParameter::SamlResponse,
            &xml,
            prompt.relay_state.as_deref(),
        )
    }

    /// Answers an SP's `LogoutRequest` received on the HTTP-Redirect binding
    /// at the [SLO URL](DevIdpConfig::slo_url): `raw_query` is the query
    /// string as received (with or without the leading `?`).
    ///
    /// The answer, a `LogoutResponse` with status `Success` and
    /// `InResponseTo` the request's ID, goes to `sp_slo_url` as a Redirect
    /// URL signed with the IdP key (query-string signature), carrying the
    /// request's `RelayState`. `sp_slo_url` comes from the caller (the SP's
    /// configuration), never from the message: an IdP that redirected to a
    /// URL named by an unauthenticated request would be an open redirect.
    ///
    /// The request is checked with saml-core's [`LogoutValidator`], the
    /// SP's `Issuer` taking the place of the IdP's: the `Destination` must be
    /// this IdP's SLO URL, the `IssueInstant` recent (5 minutes, 10 s skew);
    /// a signed query is verified with the configured
    /// [`sp_signing_certificate`](DevIdpConfig::sp_signing_certificate) (or,
    /// without one, accepted and marked [`RequestSignature::NotChecked`]);
    /// an unsigned one is refused when
    /// [`want_authn_requests_signed`](DevIdpConfig::want_authn_requests_signed)
    /// is on. The `Issuer` itself is not checked against a list: this IdP
    /// keeps no sessions, so any SP may log out.
    ///
    /// Errors: `malformed_xml` when no SLO URL is configured, `sp_slo_url`
    /// is not `http(s)://`, the query carries a `SAMLResponse` or the
    /// request has no `Issuer`; `signature_missing` when signatures are
    /// required and absent; those of [`parse_redirect_query`] and
    /// [`LogoutValidator::validate_request_redirect`]; and those of
    /// [`LogoutResponse::redirect_url`].
    pub fn answer_logout(
        &self,
        raw_query: &str,
        sp_slo_url: &str,
        clock: &dyn Clock,
    ) -> Result<LogoutAnswer> {
        let slo_url = self.configured_slo_url()?;
        check_http_url("SP SLO URL", sp_slo_url)?;
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let message = parse_redirect_query(raw_query, &self.limits)?;
        if message.parameter() != RedirectParameter::SamlRequest {
            return Err(invalid(
                "the query carries a SAMLResponse; the development IdP's SLO URL expects a LogoutRequest here",
            ));
        }
        let has_signature = message.has_signature();
        let relay_state = message.relay_state().map(str::to_owned);
        let xml = message.into_xml();
        let sp_entity_id = {
            let doc = Document::parse(&xml, &self.limits)?;
            doc.root()
                .child_elements()
                .find(|c| c.is(SAML_NS, "Issuer"))
                .map(|i| i.text().trim().to_owned())
                .filter(|i| !i.is_empty())
                .ok_or_else(|| invalid("the LogoutRequest has no Issuer (the SP entity ID)"))?
        };
        let mut validator = LogoutValidator::new(sp_entity_id, self.sp_keys.clone(), slo_url);
        validator.limits = self.limits;
        let (request, signature) = if has_signature && !self.sp_keys.is_empty() {
            let request = validator.validate_request_redirect(raw_query, clock)?;
            (request, RequestSignature::Verified)
        } else {
            let signature = if has_signature {
                RequestSignature::NotChecked
            } else {
                RequestSignature::Unsigned
            };
            if self.want_authn_requests_signed && signature != RequestSignature::Verified {
                return Err(Error::new(
                    ErrorCode::SignatureMissing,
                    "the development IdP is configured to require signed requests, and this LogoutRequest is not signed",
                ));
            }
            // The query signature (if any) cannot be checked without an SP
            // certificate; the XML itself must still pass every other check.
            validator.require_signature = false;
            (validator.validate_request(&xml, clock)?, signature)
        };
        let response =
            LogoutResponse::builder(&self.entity_id, sp_slo_url, &request.id).build(clock)?;
        let redirect_url = response.redirect_url(
            relay_state.as_deref(),
            Some((&self.key, self.key.default_algorithm())),
        )?;
        Ok(LogoutAnswer {
            request,
            relay_state,
            signature,
            response_id: response.id().to_owned(),
            redirect_url,
        })
    }

    /// Starts an IdP-initiated logout of the user `name_id` (sent with format
    /// `emailAddress`, as in this IdP's assertions) at the SP whose single
    /// logout URL is `sp_slo_url`: a `LogoutRequest` from this IdP with the
    /// `SessionIndex` if given (without one the SP ends every session of
    /// the user), as a Redirect URL signed with the IdP key, carrying
    /// `relay_state`. Keep the returned request's
    /// [`id`](LogoutRequest::id) to check the SP's answer with
    /// [`check_logout_response`](Self::check_logout_response).
    ///
    /// Errors: `malformed_xml` when `sp_slo_url` is not `http(s)://` or a
    /// value is empty or cannot be carried in XML; those of
    /// [`LogoutRequest::redirect_url`].
    pub fn start_logout(
        &self,
        name_id: &str,
        session_index: Option<&str>,
        sp_slo_url: &str,
        relay_state: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<IdpLogout> {
        check_http_url("SP SLO URL", sp_slo_url)?;
        let name_id = NameId {
            value: name_id.to_owned(),
            format: Some(name_id_format::EMAIL.to_owned()),
            name_qualifier: None,
            sp_name_qualifier: None,
        };
        let mut builder = LogoutRequest::builder(&self.entity_id, sp_slo_url, name_id);
        if let Some(index) = session_index {
            builder = builder.session_index(index);
        }
        let request = builder.build(clock)?;
        let redirect_url =
            request.redirect_url(relay_state, Some((&self.key, self.key.default_algorithm())))?;
        Ok(IdpLogout {
            request,
            redirect_url,
        })
    }

    /// Checks the SP's `LogoutResponse` to an IdP-initiated logout
    /// ([`start_logout`](Self::start_logout)), received on the HTTP-Redirect
    /// binding at the SLO URL: it must come from `sp_entity_id`, be
    /// addressed to this IdP's SLO URL, answer `request_id` and report
    /// success. A signature is verified with the configured SP certificate
    /// and required when
    /// [`want_authn_requests_signed`](DevIdpConfig::want_authn_requests_signed)
    /// is on; without an SP certificate a query signature cannot be checked
    /// and is ignored (as for requests, [`RequestSignature::NotChecked`]),
    /// and the outcome then says `signed: false`.
    ///
    /// Errors: `malformed_xml` when no SLO URL is configured; those of
    /// [`parse_redirect_query`] and
    /// [`LogoutValidator::validate_response_redirect`].
    pub fn check_logout_response(
        &self,
        raw_query: &str,
        sp_entity_id: &str,
        request_id: &str,
        clock: &dyn Clock,
    ) -> Result<LogoutOutcome> {
        let slo_url = self.configured_slo_url()?;
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let mut validator = LogoutValidator::new(sp_entity_id, self.sp_keys.clone(), slo_url);
        validator.limits = self.limits;
        validator.require_signature = self.want_authn_requests_signed;
        if !self.sp_keys.is_empty() {
            return validator.validate_response_redirect(raw_query, request_id, clock);
        }
        let message = parse_redirect_query(raw_query, &self.limits)?;
        if message.parameter() != RedirectParameter::SamlResponse {
            return Err(invalid(
                "the query carries a SAMLRequest; expected the SP's LogoutResponse",
            ));
        }
        let relay_state = message.relay_state().map(str::to_owned);
        let mut outcome = validator.validate_response(&message.into_xml(), request_id, clock)?;
        outcome.relay_state = relay_state;
        Ok(outcome)
    }

    fn configured_slo_url(&self) -> Result<&str> {
        self.slo_url.as_deref().ok_or_else(|| {
            invalid("the development IdP has no SLO URL configured (DevIdpConfig::slo_url)")
        })
    }

    /// Builds the `samlp:Response` XML that logs `user` in (`user` need not
    /// be one of the configured users):
    ///
    /// - Response: `ID` random, `IssueInstant` now, `Destination` the ACS
    ///   URL, `InResponseTo` if given, `Issuer`, status `Success`;
    /// - one Assertion: `Issuer`; `Subject` with the NameID (format
    ///   `emailAddress`) and a bearer `SubjectConfirmation` (`Recipient` the
    ///   ACS URL, `NotOnOrAfter` now + lifetime, `InResponseTo` if given);
    ///   `Conditions` from 30 s before now to now + lifetime with an
    ///   `AudienceRestriction` for the SP; an `AuthnStatement`
    ///   (`AuthnInstant` now, random `SessionIndex`, `SessionNotOnOrAfter`
    ///   in 8 hours, `PasswordProtectedTransport`); an `AttributeStatement`
    ///   with the user's attributes (left out when there are none).
    ///
    /// The assertion is signed (unless `sign_assertion` is off), then
    /// encrypted into a `saml:EncryptedAssertion` when `encrypt_for` is set;
    /// the Response is signed when `sign_response` is on. Signatures are
    /// RSA-SHA256 (or the key's ECDSA), SHA-256, exclusive C14N, with the
    /// certificate in `KeyInfo`.
    ///
    /// Errors: `malformed_xml` (an ACS URL that is not `http(s)://`, an
    /// empty SP entity ID, a value XML cannot carry); those of
    /// [`generate_id`], [`sign_enveloped`] and [`encrypt_element`].
    pub fn issue_response(
        &self,
        user: &DevUser,
        params: &ResponseParams,
        clock: &dyn Clock,
    ) -> Result<String> {
        check_params(params)?;
        check_xml_text("user NameID", &user.name_id)?;
        for (name, values) in &user.attributes {
            check_xml_text("attribute name", name)?;
            for value in values {
                check_xml_text("attribute value", value)?;
            }
        }
        let now = clock.now();
        let assertion_id = generate_id()?;
        let mut assertion = self.assertion_xml(&assertion_id, user, params, now)?;
        if self.sign_assertion {
            assertion = sign_enveloped(
                &assertion,
                &assertion_id,
                &self.key,
                &SignOptions::default(),
            )?;
        }
        if let Some(recipient) = &self.encrypt_for {
            let data = encrypt_element(
                &assertion,
                recipient.public_key(),
                &EncryptOptions::default(),
            )?;
            assertion = format!("<saml:EncryptedAssertion>{data}</saml:EncryptedAssertion>");
        }
        let mut status = String::from("<samlp:Status><samlp:StatusCode");
        push_attr(&mut status, "Value", STATUS_SUCCESS);
        status.push_str("/></samlp:Status>");
        self.finish_response(params, now, &status, &assertion, self.sign_response)
    }

    /// Builds a failure `samlp:Response`: top-level status `Responder` with
    /// the second-level code `second_level` (see [`status`]) and, if given,
    /// a `StatusMessage`; no assertion. It is signed when either
    /// `sign_assertion` or `sign_response` is on, so the SP can trust it.
    ///
    /// Errors: as for [`issue_response`](Self::issue_response).
    pub fn issue_failure(
        &self,
        params: &ResponseParams,
        second_level: &str,
        message: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<String> {
        check_params(params)?;
        check_xml_text("status code", second_level)?;
        let mut status = String::from("<samlp:Status><samlp:StatusCode");
        push_attr(&mut status, "Value", STATUS_RESPONDER);
        status.push_str("><samlp:StatusCode");
        push_attr(&mut status, "Value", second_level);
        status.push_str("/></samlp:StatusCode>");
        if let Some(message) = message {
            check_xml_text("status message", message)?;
            status.push_str("<samlp:StatusMessage>");
            push_text(&mut status, message);
            status.push_str("</samlp:StatusMessage>");
        }
        status.push_str("</samlp:Status>");
        self.finish_response(
            params,
            clock.now(),
            &status,
            "",
            self.sign_response || self.sign_assertion,
        )
    }

    /// Wraps the status and assertion (possibly empty) in a Response, signed
    /// when `sign` is set.
    fn finish_response(
        &self,
        params: &ResponseParams,
        now: DateTime<Utc>,
        status: &str,
        assertion: &str,
        sign: bool,
    ) -> Result<String> {
        let response_id = generate_id()?;
        let mut out = String::with_capacity(1024 + assertion.len());
        out.push_str("<samlp:Response");
        push_attr(&mut out, "xmlns:samlp", SAMLP_NS);
        push_attr(&mut out, "xmlns:saml", SAML_NS);
        push_attr(&mut out, "ID", &response_id);
        push_attr(&mut out, "Version", "2.0");
        push_attr(&mut out, "IssueInstant", &format_datetime(now));
        push_attr(&mut out, "Destination", &params.acs_url);
        if let Some(irt) = &params.in_response_to {
            push_attr(&mut out, "InResponseTo", irt);
        }
        out.push('>');
        self.push_issuer(&mut out);
        out.push_str(status);
        out.push_str(assertion);
        out.push_str("</samlp:Response>");
        if sign {
            sign_enveloped(&out, &response_id, &self.key, &SignOptions::default())
        } else {
            Ok(out)
        }
    }

    fn push_issuer(&self, out: &mut String) {
        out.push_str("<saml:Issuer");
        push_attr(out, "Format", name_id_format::ENTITY);
        out.push('>');
        push_text(out, &self.entity_id);
        out.push_str("</saml:Issuer>");
    }

    /// The unsigned assertion, declaring its own namespace so it can be
    /// signed, encrypted and embedded as it is.
    fn assertion_xml(
        &self,
        id: &str,
        user: &DevUser,
        params: &ResponseParams,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let not_before = format_datetime(now - Duration::seconds(NOT_BEFORE_SLACK_SECS));
        let not_on_or_after = format_datetime(now + self.lifetime);
        let session_end = format_datetime(now + Duration::hours(SESSION_HOURS));
        let issue_instant = format_datetime(now);
        let session_index = generate_id()?;

        let mut out = String::with_capacity(2048);
        out.push_str("<saml:Assertion");
        push_attr(&mut out, "xmlns:saml", SAML_NS);
        push_attr(&mut out, "ID", id);
        push_attr(&mut out, "Version", "2.0");
        push_attr(&mut out, "IssueInstant", &issue_instant);
        out.push('>');
        self.push_issuer(&mut out);

        out.push_str("<saml:Subject><saml:NameID");
        push_attr(&mut out, "Format", name_id_format::EMAIL);
        out.push('>');
        push_text(&mut out, &user.name_id);
        out.push_str("</saml:NameID><saml:SubjectConfirmation");
        push_attr(&mut out, "Method", CM_BEARER);
        out.push_str("><saml:SubjectConfirmationData");
        if let Some(irt) = &params.in_response_to {
            push_attr(&mut out, "InResponseTo", irt);
        }
        push_attr(&mut out, "NotOnOrAfter", &not_on_or_after);
        push_attr(&mut out, "Recipient", &params.acs_url);
        out.push_str("/></saml:SubjectConfirmation></saml:Subject>");

        out.push_str("<saml:Conditions");
        push_attr(&mut out, "NotBefore", &not_before);
        push_attr(&mut out, "NotOnOrAfter", &not_on_or_after);
        out.push_str("><saml:AudienceRestriction><saml:Audience>");
        push_text(&mut out, &params.sp_entity_id);
        out.push_str("</saml:Audience></saml:AudienceRestriction></saml:Conditions>");

        out.push_str("<saml:AuthnStatement");
        push_attr(&mut out, "AuthnInstant", &issue_instant);
        push_attr(&mut out, "SessionIndex", &session_index);
        push_attr(&mut out, "SessionNotOnOrAfter", &session_end);
        out.push_str("><saml:AuthnContext><saml:AuthnContextClassRef>");
        push_text(&mut out, PASSWORD_PROTECTED_TRANSPORT);
        out.push_str("</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");

        if !user.attributes.is_empty() {
            out.push_str("<saml:AttributeStatement>");
            for (name, values) in &user.attributes {
                out.push_str("<saml:Attribute");
                push_attr(&mut out, "Name", name);
                push_attr(
                    &mut out,
                    "NameFormat",
                    if name.contains(':') {
                        ATTRNAME_FORMAT_URI
                    } else {
                        ATTRNAME_FORMAT_BASIC
                    },
                );
                out.push('>');
                for value in values {
                    out.push_str("<saml:AttributeValue>");
                    push_text(&mut out, value);
                    out.push_str("</saml:AttributeValue>");
                }
                out.push_str("</saml:Attribute>");
            }
            out.push_str("</saml:AttributeStatement>");
        }
        out.push_str("</saml:Assertion>");
        Ok(out)
    }

    fn check_signature_policy(&self, signature: RequestSignature) -> Result<()> {
        if self.want_authn_requests_signed && signature != RequestSignature::Verified {
            return Err(Error::new(
                ErrorCode::SignatureMissing,
                "the development IdP is configured to require signed AuthnRequests, and this one is not signed",
            ));
        }
        Ok(())
    }

    fn prompt(&self, request: ParsedRequest, relay_state: Option<String>) -> LoginPrompt {
        LoginPrompt {
            request,
            relay_state,
            users: self.users.clone(),
            idp_entity_id: self.entity_id.clone(),
        }
    }

    /// Reads the fields of an AuthnRequest the IdP needs, checking them.
    fn read_request(
        &self,
        root: Element<'_, '_>,
        signature: RequestSignature,
        clock: &dyn Clock,
    ) -> Result<ParsedRequest> {
        if !root.is(SAMLP_NS, "AuthnRequest") {
            return Err(invalid(format!(
                "expected samlp:AuthnRequest, found <{}>",
                shorten(root.local_name())
            )));
        }
        if root.attribute("Version") != Some("2.0") {
            return Err(invalid("the AuthnRequest is not SAML 2.0"));
        }
        let id = root
            .attribute("ID")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid("the AuthnRequest has no ID"))?;
        let issue_instant = parse_datetime(
            root.attribute("IssueInstant")
                .ok_or_else(|| invalid("the AuthnRequest has no IssueInstant"))?,
        )?;
        let now = clock.now();
        let age = (now - issue_instant).num_seconds();
        if age > MAX_REQUEST_AGE_SECS {
            return Err(Error::new(
                ErrorCode::Expired,
                format!(
                    "the AuthnRequest was issued {age} s ago (at most {MAX_REQUEST_AGE_SECS} s allowed)"
                ),
            ));
        }
        if -age > MAX_REQUEST_AHEAD_SECS {
            return Err(Error::new(
                ErrorCode::NotYetValid,
                format!(
                    "the AuthnRequest was issued {} s in the future; are the clocks apart?",
                    -age
                ),
            ));
        }
        let sp_entity_id = root
            .child_elements()
            .find(|c| c.is(SAML_NS, "Issuer"))
            .map(|i| i.text().trim().to_owned())
            .filter(|i| !i.is_empty())
            .ok_or_else(|| invalid("the AuthnRequest has no Issuer (the SP entity ID)"))?;
        let destination = root.attribute("Destination");
        if let Some(d) = destination
            && d != self.sso_url
        {
            return Err(Error::new(
                ErrorCode::DestinationMismatch,
                format!(
                    "the AuthnRequest is addressed to `{}`, not to this IdP's SSO URL `{}`",
                    shorten(d),
                    shorten(&self.sso_url)
                ),
            ));
        }
        let protocol_binding = root.attribute("ProtocolBinding");
        if let Some(b) = protocol_binding
            && b != bindings::HTTP_POST
        {
            return Err(invalid(format!(
                "the AuthnRequest asks for the response on `{}`; the development IdP answers on HTTP-POST only",
                shorten(b)
            )));
        }
        let acs_url = match root.attribute("AssertionConsumerServiceURL") {
            Some(url) => url.to_owned(),
            None => self.default_acs_url.clone().ok_or_else(|| {
                invalid(
                    "the AuthnRequest names no AssertionConsumerServiceURL, and the development IdP has no default ACS URL configured",
                )
            })?,
        };
        check_http_url("AssertionConsumerServiceURL", &acs_url)?;
        let name_id_format = root
            .child_elements()
            .find(|c| c.is(SAMLP_NS, "NameIDPolicy"))
            .and_then(|p| p.attribute("Format"))
            .map(str::to_owned);
        Ok(ParsedRequest {
            id: id.to_owned(),
            issue_instant,
            sp_entity_id,
            acs_url,
            destination: destination.map(str::to_owned),
            protocol_binding: protocol_binding.map(str::to_owned),
            force_authn: xs_boolean(root.attribute("ForceAuthn"), "ForceAuthn")?,
            is_passive: xs_boolean(root.attribute("IsPassive"), "IsPassive")?,
            name_id_format,
            provider_name: root.attribute("ProviderName").map(str::to_owned),
            signature,
        })
    }
}

/// Generates an RSA-2048 key and a self-signed certificate.
fn generate_key() -> Result<SigningKey> {
    let failed = |e: rcgen::Error| {
        Error::new(
            ErrorCode::UntrustedKey,
            format!("the development IdP key could not be generated: {e}"),
        )
    };
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CommonName,
        "saml-testkit development IdP (not for production)",
    );
    params.distinguished_name = name;
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(Utc::now().year().clamp(2000, 9000) + 10, 1, 1);
    let cert = params.self_signed(&pair).map_err(failed)?;
    SigningKey::from_der(&pair.serialize_der())?
        .with_certificate(Certificate::from_der(cert.der())?)
}

/// The first certificate of a PEM text.
fn first_certificate(pem: &str) -> Result<Certificate> {
    Certificate::from_pem(pem)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(ErrorCode::UntrustedKey, "no certificate in the PEM text"))
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedXml, detail)
}

/// Cuts a value echoed in an error detail.
fn shorten(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

fn check_params(params: &ResponseParams) -> Result<()> {
    check_http_url("ACS URL", &params.acs_url)?;
    if params.sp_entity_id.trim().is_empty() {
        return Err(invalid("the SP entity ID is empty"));
    }
    check_xml_text("SP entity ID", &params.sp_entity_id)?;
    if let Some(irt) = &params.in_response_to {
        check_xml_text("request ID", irt)?;
    }
    Ok(())
}

/// An absolute `http://` or `https://` URL without whitespace or control
/// characters.
fn check_http_url(what: &str, url: &str) -> Result<()> {
    let scheme_ok = ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            && url.len() > scheme.len()
    });
    if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "the {what} `{}` is not an http(s) URL",
            shorten(url)
        )));
    }
    Ok(())
}

/// Refuses characters XML 1.0 cannot carry.
fn check_xml_text(what: &str, value: &str) -> Result<()> {
    let ok = value.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "the {what} contains a character that XML cannot carry"
        )))
    }
}

/// An optional `xs:boolean` attribute (absent: false).
fn xs_boolean(value: Option<&str>, name: &str) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(invalid(format!(
            "{name}=`{}` is not an xs:boolean",
            shorten(other)
        ))),
    }
}

/// Appends ` name="value"`, escaped for a double-quoted XML attribute
/// (whitespace other than the space as references, so it survives
/// attribute-value normalization).
fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends XML element text, escaped (CR as a reference, so end-of-line
/// handling keeps it).
fn push_text(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Encodes name/value pairs as an `application/x-www-form-urlencoded` body
/// (what a browser posts): RFC 3986 unreserved characters stay, a space
/// becomes `+`, everything else `%XX` (UTF-8 bytes, upper-case hex).
#[must_use]
pub fn encode_form<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        form_escape(name, &mut out);
        out.push('=');
        form_escape(value, &mut out);
    }
    out
}

fn form_escape(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => {
                out.push('%');
                for nibble in [b >> 4, b & 0x0f] {
                    out.push(HEX.get(usize::from(nibble)).map_or('0', |h| char::from(*h)));
                }
            }
        }
    }
}

/// A decoded `application/x-www-form-urlencoded` body.
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Decodes the body: pairs split on `&`, name and value on the first
    /// `=`, `+` is a space, `%XX` a byte; the result must be UTF-8. A field
    /// given twice is refused (which one would count?).
    fn parse(body: &str) -> Result<Self> {
        if body.len() > MAX_FORM_BYTES {
            return Err(Error::new(
                ErrorCode::InputTooLarge,
                format!("the form body is larger than {} KiB", MAX_FORM_BYTES / 1024),
            ));
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(name), Some(value)) = (form_decode(name), form_decode(value)) else {
                return Err(invalid(
                    "the form body has malformed percent-encoding or is not UTF-8",
                ));
            };
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(invalid(format!(
                    "the form carries `{}` more than once",
                    shorten(&name)
                )));
            }
            fields.push((name, value));
        }
        Ok(Self { fields })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| invalid(format!("the form has no `{name}` field")))
    }
}

fn form_decode(s: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push((hi << 4) | lo);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips() {
        let body = encode_form([("a b", "x+y/z=é&~"), ("empty", "")]);
        assert_eq!(body, "a+b=x%2By%2Fz%3D%C3%A9%26~&empty=");
        let form = Form::parse(&body).unwrap();
        assert_eq!(form.get("a b"), Some("x+y/z=é&~"));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%FF"), None);
        assert_eq!(form_decode("%41%62+c").as_deref(), Some("Ab c"));
        assert!(Form::parse("a=1&a=2").is_err());
    }

    #[test]
    fn booleans_and_urls() {
        assert!(!xs_boolean(None, "x").unwrap());
        assert!(xs_boolean(Some("1"), "x").unwrap());
        assert!(xs_boolean(Some("yes"), "x").is_err());
        assert!(check_http_url("u", "https://a").is_ok());
        assert!(check_http_url("u", "HTTP://a/b").is_ok());
        assert!(check_http_url("u", "javascript:alert(1)").is_err());
        assert!(check_http_url("u", "https://a b").is_err());
        assert!(check_http_url("u", "https://").is_err());
    }
}
