//! The break-glass administrator: one local password that opens the admin
//! pages without any identity provider, so an administrator can repair a
//! misconfigured provider or re-enable a disabled one.
//!
//! - The password comes from `--admin-password` (`SAML_ADMIN_PASSWORD`, at
//!   least [`MIN_PASSWORD_CHARS`] characters); without it a random one is
//!   generated at startup and printed once to stderr.
//! - `POST /admin/login` compares SHA-256 digests of the given and the
//!   configured password in constant time. Each client address gets
//!   [`MAX_FAILURES`] wrong passwords per [`FAILURE_WINDOW`]; then `429`.
//! - A successful login sets `saml_admin`: a random 256-bit token
//!   (`HttpOnly`, `SameSite=Strict`, `Path=/admin`, `Secure` on `https://`
//!   base URLs, [`SESSION_LIFETIME`]). The server keeps only the token's
//!   SHA-256 digest and its expiry, in memory: a restart or
//!   `POST /admin/logout` ends the session, and on several nodes each node
//!   has its own break-glass sessions.
//! - The login and logout forms are refused when the browser says they come
//!   from another site (`Origin` other than the base URL's, or
//!   `Sec-Fetch-Site: cross-site`).
//!
//! Nothing here touches the database or the SAML configuration.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::ConnectInfo;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use saml_core::store::SamlUser;

/// The cookie that carries a break-glass session.
pub(crate) const COOKIE_NAME: &str = "saml_admin";
/// Shortest accepted `--admin-password`.
pub(crate) const MIN_PASSWORD_CHARS: usize = 12;
/// How long a break-glass session lasts (not renewed by activity).
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);
/// Wrong passwords one client address may send per [`FAILURE_WINDOW`].
pub(crate) const MAX_FAILURES: u32 = 10;
/// The window of [`MAX_FAILURES`].
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Most live sessions kept (the oldest goes first when full).
const MAX_SESSIONS: usize = 1024;
/// Most client addresses whose failures are counted at once.
const MAX_TRACKED_CLIENTS: usize = 4096;

type Digest32 = [u8; 32];

/// Who is administering: the break-glass admin or a SAML user with the
/// configured admin role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admin {
    /// Signed in with the local password.
    BreakGlass,
    /// Signed in through a provider and holding the admin role.
    Saml {
        /// The provider's name.
        provider: String,
        /// The NameID.
        name_id: String,
    },
}

impl Admin {
    /// The name written to the audit log.
    pub(crate) fn audit_name(&self) -> String {
        match self {
            Self::BreakGlass => "break-glass admin".to_owned(),
            Self::Saml { provider, name_id } => format!("{name_id} ({provider})"),
        }
    }
}

/// Why a login attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginRefused {
    /// The password is wrong.
    WrongPassword,
    /// Too many wrong passwords from this address lately.
    TooManyAttempts,
    /// No randomness for the token (should not happen).
    NoRandomness,
}

/// The break-glass login's state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AdminAuth {
    inner: Arc<Inner>,
}

struct Inner {
    password: Digest32,
    sessions: Mutex<HashMap<Digest32, Instant>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    secure_cookie: bool,
    origin: String,
    admin_role: Option<String>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth")
            .field("password", &"<redacted>")
            .field("origin", &self.inner.origin)
            .field("admin_role", &self.inner.admin_role)
            .finish_non_exhaustive()
    }
}

fn sha256(bytes: &[u8]) -> Digest32 {
    let mut out = [0_u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` random bytes as lowercase hex, or `None` without randomness.
pub(crate) fn random_hex(len: usize) -> Option<String> {
    let mut bytes = vec![0_u8; len];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// The scheme, host and port of `url` (`http://127.0.0.1:3000/x` ->
/// `http://127.0.0.1:3000`).
pub(crate) fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(end) => url[..after_scheme + end].to_owned(),
        None => url.to_owned(),
    }
}

/// Whether a state-changing form came from this site: `Origin`, when sent,
/// is the base URL's, and `Sec-Fetch-Site` does not say `cross-site`.
pub(crate) fn same_site_form(headers: &HeaderMap, origin: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return false;
    }
    header("origin").is_none_or(|o| o == origin)
}

impl AdminAuth {
    /// The login for `password`, on a site at `base_url`; SAML users with
    /// `admin_role` among their roles are admins too.
    pub(crate) fn new(password: &str, base_url: &str, admin_role: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                password: sha256(password.as_bytes()),
                sessions: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
                secure_cookie: base_url.starts_with("https://"),
                origin: origin_of(base_url),
                admin_role,
            }),
        }
    }

    /// The site's origin (`Origin` of its own forms).
    pub(crate) fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The admin making this request, if any: a live `saml_admin` cookie,
    /// or a signed-in SAML user holding the admin role.
    pub(crate) fn admin(&self, parts: &Parts) -> Option<Admin> {
        if self.session_of(&parts.headers).is_some() {
            return Some(Admin::BreakGlass);
        }
        let role = self.inner.admin_role.as_deref()?;
        let user = parts.extensions.get::<Arc<SamlUser>>()?;
        user.roles.iter().any(|r| r == role).then(|| Admin::Saml {
            provider: user.provider.clone(),
            name_id: user.name_id.clone(),
        })
    }

    /// The digest of the live break-glass session named by the request's
    /// cookie.
    fn session_of(&self, headers: &HeaderMap) -> Option<Digest32> {
        let now = Instant::now();
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cookie_values(headers, COOKIE_NAME)
            .map(|token| sha256(token.as_bytes()))
            .find(|key| sessions.get(key).is_some_and(|expires| *expires > now))
    }

    /// Checks `password` for a client at `client`; on success starts a
    /// session and returns its `Set-Cookie` value.
    pub(crate) fn login(
        &self,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<HeaderValue, LoginRefused> {
        let now = Instant::now();
        if let Some(ip) = client {
            let failures = self
                .inner
                .failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if failures.get(&ip).is_some_and(|(count, since)| {
                *count >= MAX_FAILURES && now.saturating_duration_since(*since) < FAILURE_WINDOW
            }) {
                return Err(LoginRefused::TooManyAttempts);
            }
        }
        let given = sha256(password.as_bytes());
        if verify_slices_are_equal(&given, &self.inner.password).is_err() {
            if let Some(ip) = client {
                self.count_failure(ip, now);
            }
            return Err(LoginRefused::WrongPassword);
        }
        if let Some(ip) = client {
            self.inner
                .failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&ip);
        }
        let token = random_hex(32).ok_or(LoginRefused::NoRandomness)?;
        {
            let mut sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            sessions.retain(|_, expires| *expires > now);
            if sessions.len() >= MAX_SESSIONS {
                let oldest = sessions.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    sessions.remove(&oldest);
                }
            }
            sessions.insert(sha256(token.as_bytes()), now + SESSION_LIFETIME);
        }
        HeaderValue::from_str(&self.cookie(&token, SESSION_LIFETIME.as_secs()))
            .map_err(|_| LoginRefused::NoRandomness)
    }

    fn count_failure(&self, ip: IpAddr, now: Instant) {
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_TRACKED_CLIENTS {
            failures.retain(|_, (_, since)| now.saturating_duration_since(*since) < FAILURE_WINDOW);
        }
        if failures.len() >= MAX_TRACKED_CLIENTS {
            return;
        }
        let entry = failures.entry(ip).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// Ends the request's break-glass session (if any); returns the
    /// `Set-Cookie` value that clears the cookie.
    pub(crate) fn logout(&self, headers: &HeaderMap) -> HeaderValue {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for token in cookie_values(headers, COOKIE_NAME) {
            sessions.remove(&sha256(token.as_bytes()));
        }
        HeaderValue::from_str(&self.cookie("", 0))
            .unwrap_or_else(|_| HeaderValue::from_static("saml_admin=; Max-Age=0; Path=/admin"))
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.inner.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE_NAME}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        )
    }
}

/// The values of every cookie named `name` in the request's `Cookie` headers.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (n, value) = pair.trim().split_once('=')?;
            (n == name && !value.is_empty()).then_some(value)
        })
}

/// The TCP peer of a request (axum's `ConnectInfo`).
pub(crate) fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// A new random break-glass password (128 bits, hex), or `None` without
/// randomness.
pub(crate) fn generate_password() -> Option<String> {
    random_hex(16)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axum::http::Request;

    fn parts_with_cookie(cookie: &str) -> Parts {
        let (parts, ()) = Request::get("/admin")
            .header(COOKIE, cookie)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn login_sets_a_cookie_that_admits_until_logout() {
        let auth = AdminAuth::new("correct horse battery", "http://127.0.0.1:3000", None);
        let set = auth.login("correct horse battery", None).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        let pair = set.split(';').next().unwrap();
        let parts = parts_with_cookie(&format!("other=1; {pair}"));
        assert_eq!(auth.admin(&parts), Some(Admin::BreakGlass));
        let cleared = auth.logout(&parts.headers);
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
        assert_eq!(auth.admin(&parts), None);
        assert_eq!(auth.admin(&parts_with_cookie("saml_admin=forged")), None);
    }

    #[test]
    fn wrong_passwords_are_throttled_per_address() {
        let auth = AdminAuth::new("correct horse battery", "https://sp.example", None);
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                auth.login("nope", Some(ip)),
                Err(LoginRefused::WrongPassword)
            );
        }
        assert_eq!(
            auth.login("correct horse battery", Some(ip)),
            Err(LoginRefused::TooManyAttempts)
        );
        // Another address is not affected, and https gives Secure cookies.
        let other: IpAddr = [192, 0, 2, 2].into();
        let set = auth.login("correct horse battery", Some(other)).unwrap();
        assert!(set.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn saml_users_with_the_admin_role_are_admins() {
        let auth = AdminAuth::new("correct horse battery", "http://h", Some("admins".into()));
        let (mut parts, ()) = Request::get("/admin").body(()).unwrap().into_parts();
        let mut user = SamlUser::new("dev", "alice@example.com");
        parts.extensions.insert(std::sync::Arc::new(user.clone()));
        assert_eq!(auth.admin(&parts), None);
        user.roles = vec!["admins".into()];
        parts.extensions.insert(std::sync::Arc::new(user));
        assert!(matches!(auth.admin(&parts), Some(Admin::Saml { .. })));
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let origin = origin_of("http://127.0.0.1:3000/");
        assert_eq!(origin, "http://127.0.0.1:3000");
        let mut headers = HeaderMap::new();
        assert!(same_site_form(&headers, &origin));
        headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(same_site_form(&headers, &origin));
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_site_form(&headers, &origin));
        headers.remove("origin");
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_site_form(&headers, &origin));
    }
}
