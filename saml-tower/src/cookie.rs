//! Reading and writing the layer's cookies, and the random tokens in them.

use base64::Engine;
use http::HeaderMap;
use http::header::COOKIE;

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// How a cookie is sent.
pub(crate) struct CookieSpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) path: &'a str,
    pub(crate) secure: bool,
    /// `SameSite` value: `Lax` for the session, `None` for the cross-site ACS POST.
    pub(crate) same_site: &'a str,
}

impl CookieSpec<'_> {
    /// A `Set-Cookie` value that sets `value` for `max_age` seconds (`None`: session cookie).
    pub(crate) fn set(&self, value: &str, max_age: Option<i64>) -> String {
        let mut out = format!(
            "{}={value}; Path={}; HttpOnly; SameSite={}",
            self.name, self.path, self.same_site
        );
        if self.secure {
            out.push_str("; Secure");
        }
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub(crate) fn clear(&self) -> String {
        self.set("", Some(0))
    }
}

/// 256 random bits, URL-safe base64. `None` only if the system RNG fails.
pub(crate) fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, hex: what stores keep instead of the token.
pub(crate) fn hash_token(token: &str) -> String {
    saml_core::crypto::sha256_hex(token.as_bytes())
}
