//! [`DevIdpService`]: the development IdP as a Tower service, so every
//! example (axum, hyper, warp, tonic) mounts the same routes instead of
//! writing its own handlers.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use saml_core::clock::{Clock, SystemClock};
use saml_core::protocol::generate_id;
use saml_core::{Error, Result};
use tower_service::Service;

use super::{DevIdp, DevIdpConfig, Form, MAX_FORM_BYTES};

/// The boxed error of request bodies.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The development IdP's HTTP endpoints as a `tower_service::Service`,
/// for any server built on `http` types. Mounted at `base` (e.g.
/// `/dev-idp`), it answers:
///
/// | request | answer |
/// |---|---|
/// | `GET {base}/metadata` | the IdP metadata ([`DevIdp::metadata_xml`]) |
/// | `GET {base}/sso?SAMLRequest=…` | the login page ([`DevIdp::begin`]) |
/// | `POST {base}/sso` | the login page for a POST-binding request ([`DevIdp::begin_post`]) |
/// | `POST {base}/login` | the auto-submitting POST form to the SP's ACS ([`DevIdp::respond`]), under a `Content-Security-Policy` with a fresh nonce |
/// | `GET {base}/slo?SAMLRequest=…` | `303` to the SP's SLO URL with a signed `LogoutResponse` ([`DevIdp::answer_logout`]); needs [`sp_slo_url`](Self::sp_slo_url) |
/// | `GET {base}/slo?SAMLResponse=…` | a short "signed out" page (the SP's answer to an IdP-initiated logout; this IdP keeps no state to check it against) |
/// | `GET {base}/logout?name_id=…[&session_index=…][&RelayState=…]` | `303` to the SP's SLO URL with a signed IdP-initiated `LogoutRequest` ([`DevIdp::start_logout`]); needs [`sp_slo_url`](Self::sp_slo_url) |
///
/// Bad SAML input gets `400` with the error code, a known path with the
/// wrong method `405`, anything else `404`. The request path is matched as
/// it arrives: mount the service where the path is not stripped (axum's
/// `route_service("/dev-idp/{*rest}", ..)`, not `nest_service`).
///
/// Cheap to clone (every field is shared). Like [`DevIdp`], **not for
/// production**: anyone reaching it can sign in as any configured user.
///
/// ```
/// use http::{Request, StatusCode};
/// use saml_testkit::dev_idp::DevIdpService;
/// use tower_service::Service as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut dev = DevIdpService::for_base_url("http://127.0.0.1:3000")?;
/// assert_eq!(dev.idp().sso_url(), "http://127.0.0.1:3000/dev-idp/sso");
/// let request = Request::get("/dev-idp/metadata").body(String::new())?;
/// let response = dev.call(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct DevIdpService {
    idp: Arc<DevIdp>,
    base: Arc<str>,
    sp_slo_url: Option<Arc<str>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DevIdpService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdpService")
            .field("entity_id", &self.idp.entity_id())
            .field("base", &self.base)
            .field("sp_slo_url", &self.sp_slo_url)
            .field("clock", &self.clock)
            .finish()
    }
}

impl DevIdpService {
    /// Serves `idp` under the path `base` (e.g. `/dev-idp`; a trailing `/`
    /// is ignored), with the system clock and no SP SLO URL.
    pub fn new(idp: impl Into<Arc<DevIdp>>, base: &str) -> Self {
        Self {
            idp: idp.into(),
            base: Arc::from(base.trim_end_matches('/')),
            sp_slo_url: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The development IdP of an SP whose public origin is `base_url` (e.g.
    /// `http://127.0.0.1:3000`), with the layout every example uses: a new
    /// [`DevIdp`] (default users, a generated key) whose entity ID is
    /// `{base_url}/dev-idp/metadata`, SSO URL `{base_url}/dev-idp/sso` and
    /// SLO URL `{base_url}/dev-idp/slo`, mounted at `/dev-idp`, answering
    /// logout requests to the SP's `{base_url}/saml/slo`.
    ///
    /// Errors: those of [`DevIdp::new`] (a `base_url` that is not
    /// `http(s)://`, a failed key generation).
    pub fn for_base_url(base_url: &str) -> Result<Self> {
        let base_url = base_url.trim_end_matches('/');
        let mut config = DevIdpConfig::new(
            format!("{base_url}/dev-idp/metadata"),
            format!("{base_url}/dev-idp/sso"),
        );
        config.slo_url = Some(format!("{base_url}/dev-idp/slo"));
        Ok(Self::new(DevIdp::new(config)?, "/dev-idp").sp_slo_url(format!("{base_url}/saml/slo")))
    }

    /// Where [`GET {base}/slo`](DevIdp::answer_logout) sends its answers:
    /// the SP's single logout URL. Without it, logout requests get `404`.
    pub fn sp_slo_url(mut self, url: impl Into<String>) -> Self {
        self.sp_slo_url = Some(Arc::from(url.into()));
        self
    }

    /// Uses this clock instead of the system clock (tests).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The IdP (for its metadata, certificate and users).
    #[must_use]
    pub fn idp(&self) -> &DevIdp {
        &self.idp
    }

    /// The shared IdP.
    #[must_use]
    pub fn idp_arc(&self) -> Arc<DevIdp> {
        self.idp.clone()
    }

    /// The path the service is mounted at (without a trailing `/`).
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether `path` is under the service's base path (for routing by hand:
    /// `if dev.handles(req.uri().path()) { dev.call(req) } else { .. }`).
    #[must_use]
    pub fn handles(&self, path: &str) -> bool {
        path.strip_prefix(&*self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Answers one request (what [`Service::call`] runs).
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        let Some(endpoint) = path
            .strip_prefix(&*self.base)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return text(StatusCode::NOT_FOUND, "not found");
        };
        let clock = &*self.clock;
        match (endpoint, &parts.method) {
            ("metadata", &Method::GET | &Method::HEAD) => respond(
                StatusCode::OK,
                "application/samlmetadata+xml",
                self.idp.metadata_xml(),
            ),
            ("sso", &Method::GET) => match self.idp.begin(query, clock) {
                Ok(prompt) => self.login_page(&prompt.html(&self.login_path())),
                Err(e) => bad_request(&e),
            },
            ("sso", &Method::POST) => match read_form(body).await {
                Ok(form) => match self.idp.begin_post(&form, clock) {
                    Ok(prompt) => self.login_page(&prompt.html(&self.login_path())),
                    Err(e) => bad_request(&e),
                },
                Err(response) => response,
            },
            ("login", &Method::POST) => match read_form(body).await {
                Ok(form) => match self.idp.respond(&form, clock) {
                    Ok(form) => auto_submit(&form),
                    Err(e) => bad_request(&e),
                },
                Err(response) => response,
            },
            ("slo", &Method::GET) => self.slo(query, clock),
            ("logout", &Method::GET) => self.idp_logout(query, clock),
            ("metadata" | "slo" | "logout", _) => method_not_allowed("GET"),
            ("sso", _) => method_not_allowed("GET, POST"),
            ("login", _) => method_not_allowed("POST"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn login_path(&self) -> String {
        format!("{}/login", self.base)
    }

    fn login_page(&self, html: &str) -> Response<Full<Bytes>> {
        let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", html.to_owned());
        response.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            ),
        );
        response
    }

    /// Starts an IdP-initiated logout at the SP.
    fn idp_logout(&self, query: &str, clock: &dyn Clock) -> Response<Full<Bytes>> {
        let Some(sp_slo_url) = &self.sp_slo_url else {
            return text(
                StatusCode::NOT_FOUND,
                "development IdP: no SP single logout URL is configured",
            );
        };
        let form = match Form::parse(query) {
            Ok(form) => form,
            Err(e) => return bad_request(&e),
        };
        let name_id = match form.require("name_id") {
            Ok(name_id) => name_id,
            Err(e) => return bad_request(&e),
        };
        let session_index = form.get("session_index").filter(|s| !s.is_empty());
        match self.idp.start_logout(
            name_id,
            session_index,
            sp_slo_url,
            form.get("RelayState"),
            clock,
        ) {
            Ok(logout) => see_other(&logout.redirect_url),
            Err(e) => bad_request(&e),
        }
    }

    fn slo(&self, query: &str, clock: &dyn Clock) -> Response<Full<Bytes>> {
        let is_response = query
            .split('&')
            .any(|pair| pair.starts_with("SAMLResponse="));
        if is_response {
            return respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                concat!(
                    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                    "<title>Signed out</title></head><body><p>The service provider ",
                    "answered the logout. You are signed out.</p></body></html>\n"
                )
                .to_owned(),
            );
        }
        let Some(sp_slo_url) = &self.sp_slo_url else {
            return text(
                StatusCode::NOT_FOUND,
                "development IdP: no SP single logout URL is configured",
            );
        };
        match self.idp.answer_logout(query, sp_slo_url, clock) {
            Ok(answer) => see_other(&answer.redirect_url),
            Err(e) => bad_request(&e),
        }
    }
}

impl<B> Service<Request<B>> for DevIdpService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(request).await) })
    }
}

/// Reads an `application/x-www-form-urlencoded` body of at most
/// [`MAX_FORM_BYTES`], as UTF-8.
async fn read_form<B>(body: B) -> std::result::Result<String, Response<Full<Bytes>>>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    let bytes = match Limited::new(body, MAX_FORM_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "development IdP: the form body is too large",
            ));
        }
        Err(_) => {
            return Err(text(
                StatusCode::BAD_REQUEST,
                "development IdP: the request body could not be read",
            ));
        }
    };
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        text(
            StatusCode::BAD_REQUEST,
            "development IdP: the form body is not UTF-8",
        )
    })
}

/// The auto-submitting POST form, allowed by a CSP with a fresh nonce.
fn auto_submit(form: &saml_core::binding::PostForm) -> Response<Full<Bytes>> {
    // Without randomness the form still works: its button is in <noscript>.
    let nonce = generate_id().unwrap_or_else(|_| "_none".to_owned());
    let mut response = respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        form.html_with_nonce(&nonce),
    );
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; form-action *"
    )) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
    }
    response
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A `303 See Other` to `url`.
fn see_other(url: &str) -> Response<Full<Bytes>> {
    match HeaderValue::from_str(url) {
        Ok(location) => {
            let mut response = text(StatusCode::SEE_OTHER, "");
            response.headers_mut().insert(LOCATION, location);
            response
        }
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "development IdP: the redirect URL is not a valid header value",
        ),
    }
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", message.to_owned())
}

fn bad_request(e: &Error) -> Response<Full<Bytes>> {
    text(
        StatusCode::BAD_REQUEST,
        &format!("development IdP: {}: {}", e.code(), e.detail()),
    )
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}
