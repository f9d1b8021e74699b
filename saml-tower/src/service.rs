//! [`SamlService`]: answers the SAML endpoints and signs requests in.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::BoxError;
use crate::body::ResponseBody;
use crate::endpoints;
use crate::future::ResponseFuture;
use crate::layer::Shared;

/// The service made by [`SamlLayer`](crate::SamlLayer).
#[derive(Debug, Clone)]
pub struct SamlService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SamlService<S> {
    pub(crate) const fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SamlService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        // The ready service goes into the future; a fresh clone stays here.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(async move {
            if endpoints::is_saml_path(&shared, req.uri().path()) {
                // The layer answers its own paths and never forwards them.
                return Ok(endpoints::handle(&shared, req)
                    .await
                    .map(ResponseBody::full));
            }
            match endpoints::authenticate(&shared, req.headers()).await {
                Ok(Some(user)) => {
                    req.extensions_mut().insert(user);
                }
                Ok(None) => {}
                Err(rejection) => {
                    let json = endpoints::wants_json(req.headers());
                    return Ok(rejection.into_response(json).map(ResponseBody::full));
                }
            }
            inner.call(req).await.map(|r| r.map(ResponseBody::inner))
        })
    }
}
