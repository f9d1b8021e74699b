//! axum glue (feature `axum`): an extractor for the signed-in user.

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use std::sync::Arc;

use saml_core::store::SamlUser;

use crate::policy::{ClientKind, unauthenticated};

/// Extracts the signed-in user; without one, browsers are redirected to the
/// login (deep link kept), API callers get 401 and gRPC callers
/// `grpc-status: 16`. Use `Option<SignedIn>` where signing in is optional.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Arc<SamlUser>);

/// The rejection of [`SignedIn`]: nobody is signed in.
#[derive(Debug)]
pub struct NotSignedIn {
    kind: ClientKind,
    target: String,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        let response = unauthenticated(self.kind, "/saml/login", &self.target);
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, axum_core::body::Body::from(body))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<SamlUser>>()
            .cloned()
            .map(Self)
            .ok_or_else(|| NotSignedIn {
                kind: ClientKind::of(&parts.headers),
                target: parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned(),
            })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Arc<SamlUser>>().cloned().map(Self))
    }
}
