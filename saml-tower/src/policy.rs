//! Gating routes on a signed-in user: [`RequireLoginLayer`] for axum's
//! `route_layer`, or any Tower stack behind [`SamlLayer`](crate::SamlLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use saml_core::store::SamlUser;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;

/// Who is calling, judged from the request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A browser (accepts `text/html`): redirect it to the login.
    Browser,
    /// An API client: answer 401.
    Api,
    /// A gRPC client (`content-type: application/grpc*`): `grpc-status: 16`.
    Grpc,
}

impl ClientKind {
    /// Classifies a request by its headers.
    #[must_use]
    pub fn of(headers: &HeaderMap) -> Self {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or("")
        };
        if header(CONTENT_TYPE).starts_with("application/grpc") {
            Self::Grpc
        } else if header(ACCEPT).contains("text/html") {
            Self::Browser
        } else {
            Self::Api
        }
    }
}

/// Refuses requests without a signed-in [`SamlUser`] (put there by
/// [`SamlLayer`](crate::SamlLayer), which must sit outside this layer).
#[derive(Debug, Clone)]
pub struct RequireLoginLayer {
    login_path: Arc<str>,
}

impl RequireLoginLayer {
    /// Redirects browsers to `/saml/login`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            login_path: Arc::from("/saml/login"),
        }
    }

    /// Redirects browsers to another login path (a custom SAML prefix).
    #[must_use]
    pub fn login_path(mut self, path: &str) -> Self {
        self.login_path = Arc::from(path);
        self
    }
}

impl Default for RequireLoginLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for RequireLoginLayer {
    type Service = RequireLogin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireLogin {
            inner,
            login_path: self.login_path.clone(),
        }
    }
}

/// The service made by [`RequireLoginLayer`].
#[derive(Debug, Clone)]
pub struct RequireLogin<S> {
    inner: S,
    login_path: Arc<str>,
}

/// Percent-encodes a path-and-query for the `return_to` parameter.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The answer for a caller without a session.
pub(crate) fn unauthenticated(
    kind: ClientKind,
    login_path: &str,
    path_and_query: &str,
) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    match kind {
        ClientKind::Browser => {
            *response.status_mut() = StatusCode::SEE_OTHER;
            let location = format!(
                "{login_path}?return_to={}",
                encode_component(path_and_query)
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, v);
            }
        }
        ClientKind::Api => {
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("SAML"));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            *response.body_mut() = Bytes::from_static(
                b"{\"error\":\"unauthenticated\",\"message\":\"sign in first\"}",
            );
        }
        ClientKind::Grpc => {
            // gRPC carries errors in a trailers-only response: HTTP 200 with
            // grpc-status 16 (UNAUTHENTICATED) in the headers.
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            response
                .headers_mut()
                .insert("grpc-status", HeaderValue::from_static("16"));
            response.headers_mut().insert(
                "grpc-message",
                HeaderValue::from_static("sign%20in%20first"),
            );
        }
    }
    response
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireLogin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if req.extensions().get::<Arc<SamlUser>>().is_some() {
            let future = self.inner.call(req);
            return ResponseFuture::new(
                async move { future.await.map(|r| r.map(ResponseBody::inner)) },
            );
        }
        let kind = ClientKind::of(req.headers());
        let target = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let response = unauthenticated(kind, &self.login_path, &target).map(ResponseBody::full);
        ResponseFuture::new(async move { Ok(response) })
    }
}
