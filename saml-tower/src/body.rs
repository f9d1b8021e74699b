//! The response body: the inner service's body, or one the layer wrote.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

use crate::BoxError;

pin_project! {
    /// Either the wrapped service's body or a complete body from the layer.
    /// (pin-project-lite cannot carry docs on the `body` fields.)
    #[allow(missing_docs)]
    #[project = BodyProj]
    #[derive(Debug)]
    pub enum ResponseBody<B> {
        /// The inner service's body.
        Inner { #[pin] body: B },
        /// A body the layer produced (SAML endpoints, rejections).
        Full { body: Full<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) const fn inner(body: B) -> Self {
        Self::Inner { body }
    }

    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full {
            body: Full::new(bytes.into()),
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            BodyProj::Inner { body } => body.poll_frame(cx).map_err(Into::into),
            BodyProj::Full { body } => Pin::new(body)
                .poll_frame(cx)
                .map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Full { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Full { body } => body.size_hint(),
        }
    }
}
