//! The admin API (feature `admin`): a JSON API over the provider registry,
//! the user directory and the audit log, for the settings page an
//! administrator registers identity providers on. `docs/admin-api.md` is
//! the reference of its routes and JSON shapes.
//!
//! [`AdminService`] is a plain Tower service (no framework needed) made from
//! the layer with [`SamlLayer::admin`]: it shares the layer's clock, audit
//! sink, HTTP client (metadata fetches), SP metadata and replay cache (test
//! logins). The application mounts it where it likes, e.g. with axum's
//! `nest_service("/admin/api", admin)`, and supplies who may call it:
//!
//! - [`authorize`](AdminServiceBuilder::authorize) (required): a predicate
//!   over the request parts (a signed-in [`SamlUser`](crate::SamlUser) with
//!   an admin role, a break-glass admin cookie...). `false` answers 403
//!   `admin_forbidden`, for every route and method.
//! - Every request that is not `GET` must carry `X-Requested-With:
//!   saml-admin` and, when it has an `Origin` header, come from the layer's
//!   base URL origin; otherwise 403 `admin_csrf`.
//! - [`can_disable_saml`](AdminServiceBuilder::can_disable_saml): disabling
//!   or removing the last enabled provider is refused (409
//!   `saml_disable_refused`) unless this check passes — it should pass only
//!   while an administrator can still sign in another way.
//!
//! - The layer needs an audit sink: every change is recorded before it is
//!   made and refused (503 `store_unavailable`) when it cannot be;
//!   [`build`](AdminServiceBuilder::build) refuses a layer without one.
//! - Metadata URLs are `https://`; plain `http://` to this machine only with
//!   [`allow_loopback_http_metadata`](AdminServiceBuilder::allow_loopback_http_metadata)
//!   (development only).
//!
//! Provider changes go through the [`AdminBackend`]; when the layer resolves
//! providers through the same store (e.g. `SqlStore::providers()` for
//! `SqlStore`), they take effect for sign-in at once.
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, StatusCode};
//! use http_body_util::Empty;
//! use bytes::Bytes;
//! use saml_core::admin::AdminBackend;
//! use saml_store_sql::SqlStore;
//! use saml_tower::{SamlLayer, SamlUser};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let layer = SamlLayer::builder("https://app.example.com")
//!     .stores(store.clone())
//!     .metadata_resolver(store.providers())
//!     .audit_sink(store.clone())
//!     .build()?;
//! let backend: Arc<dyn AdminBackend> = Arc::new(store);
//! let admin = layer
//!     .admin(backend)
//!     .authorize(|parts| {
//!         parts
//!             .extensions
//!             .get::<Arc<SamlUser>>()
//!             .is_some_and(|u| u.has_role("saml-admins"))
//!     })
//!     .admin_name(|parts| parts.extensions.get::<Arc<SamlUser>>().map(|u| u.name_id.clone()))
//!     // Local password sign-in for administrators exists: SAML may go off.
//!     .can_disable_saml(|_remaining| Ok(()))
//!     .build()?;
//!
//! // Nobody signed in: refused.
//! let request = Request::get("/providers").body(Empty::<Bytes>::new())?;
//! let response = admin.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod input;
mod routes;

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use saml_core::admin::AdminBackend;
use tower_service::Service;

use crate::BoxError;
use crate::future::ResponseFuture;
use crate::layer::{ConfigError, SamlLayer, Shared};

/// Default cap on a request body (JSON or CSV): 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default time limit of a metadata fetch: 15 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// Default (and largest) cap on a fetched metadata document: the XML size
/// limit metadata is parsed with (`saml_core::Limits::DEFAULT.max_xml_bytes`,
/// 1 MiB), so that a document the parser would refuse is not fetched whole
/// first. The registry parses stored metadata with the same limits.
pub const DEFAULT_MAX_METADATA_BYTES: usize = saml_core::Limits::DEFAULT.max_xml_bytes;
/// The value of the `X-Requested-With` header every state change must carry.
pub const CSRF_HEADER_VALUE: &str = "saml-admin";

type Authorize = dyn Fn(&Parts) -> bool + Send + Sync;
type AdminName = dyn Fn(&Parts) -> Option<String> + Send + Sync;
type CanDisable = dyn Fn(usize) -> Result<(), String> + Send + Sync;

/// What the service shares between clones.
pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) backend: Arc<dyn AdminBackend>,
    pub(crate) authorize: Arc<Authorize>,
    pub(crate) admin_name: Option<Arc<AdminName>>,
    pub(crate) can_disable: Option<Arc<CanDisable>>,
    pub(crate) max_body_bytes: usize,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_metadata_bytes: usize,
    pub(crate) allow_loopback_http: bool,
    pub(crate) mount_path: Option<String>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminService")
            .field("backend", &self.backend)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("max_metadata_bytes", &self.max_metadata_bytes)
            .field("mount_path", &self.mount_path)
            .finish_non_exhaustive()
    }
}

impl SamlLayer {
    /// Starts the admin API over `backend` (e.g. `Arc::new(sql_store)`),
    /// sharing this layer's configuration. See the [module docs](crate::admin).
    pub fn admin(&self, backend: Arc<dyn AdminBackend>) -> AdminServiceBuilder {
        AdminServiceBuilder {
            shared: self.shared.clone(),
            backend,
            authorize: None,
            admin_name: None,
            can_disable: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
            allow_loopback_http: false,
            mount_path: None,
        }
    }
}

/// Builder for [`AdminService`]; [`authorize`](Self::authorize) is required.
#[must_use]
pub struct AdminServiceBuilder {
    shared: Arc<Shared>,
    backend: Arc<dyn AdminBackend>,
    authorize: Option<Arc<Authorize>>,
    admin_name: Option<Arc<AdminName>>,
    can_disable: Option<Arc<CanDisable>>,
    max_body_bytes: usize,
    fetch_timeout: Duration,
    max_metadata_bytes: usize,
    allow_loopback_http: bool,
    mount_path: Option<String>,
}

impl fmt::Debug for AdminServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminServiceBuilder")
            .field("backend", &self.backend)
            .field("authorize", &self.authorize.is_some())
            .finish_non_exhaustive()
    }
}

impl AdminServiceBuilder {
    /// Who may call the API: `true` lets the request through. Sees the
    /// request parts (headers, cookies, extensions such as the
    /// [`SamlUser`](crate::SamlUser) the layer put there). Required.
    pub fn authorize(mut self, predicate: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> Self {
        self.authorize = Some(Arc::new(predicate));
        self
    }

    /// The administrator's name for the audit log (its `subject`). Without
    /// it, or when it returns `None`, the subject is `admin`.
    pub fn admin_name(
        mut self,
        name: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.admin_name = Some(Arc::new(name));
        self
    }

    /// The check consulted before a change would leave no enabled provider
    /// (disabling or removing the last one), given how many would remain
    /// (0). `Ok(())` allows it; `Err(reason)` refuses it with 409
    /// `saml_disable_refused` and the reason. Without this check such
    /// changes are always refused: pass it only when administrators can
    /// still sign in another way (a local break-glass account).
    pub fn can_disable_saml(
        mut self,
        check: impl Fn(usize) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.can_disable = Some(Arc::new(check));
        self
    }

    /// Caps request bodies (JSON and CSV; default [`DEFAULT_MAX_BODY_BYTES`]);
    /// a longer body is answered 413.
    pub const fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The time limit of a metadata fetch (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub const fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Caps a fetched metadata document (default and largest
    /// [`DEFAULT_MAX_METADATA_BYTES`], the XML size limit metadata is parsed
    /// with; [`build`](Self::build) refuses a larger cap).
    pub const fn max_metadata_bytes(mut self, max: usize) -> Self {
        self.max_metadata_bytes = max;
        self
    }

    /// Development only: lets `metadata_url` be plain `http://` to a
    /// loopback host (`127.0.0.1`, `::1`, `localhost`), e.g. a development
    /// IdP on the same machine. Without it metadata URLs must be `https://`
    /// (a plain-HTTP document can be changed by anyone on the path, and it
    /// holds the certificates sign-in trusts).
    pub const fn allow_loopback_http_metadata(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// The path the service is mounted at (e.g. `/admin/api`), removed from
    /// request paths that start with it. Not needed when the framework
    /// strips it (axum's `nest_service` does).
    pub fn mount_path(mut self, path: impl Into<String>) -> Self {
        self.mount_path = Some(path.into());
        self
    }

    /// Checks the configuration and builds the service.
    ///
    /// # Errors
    /// [`ConfigError`] without [`authorize`](Self::authorize), when the
    /// layer has no audit sink (`SamlLayerBuilder::audit_sink`), with a zero
    /// body or metadata cap, a metadata cap over [`DEFAULT_MAX_METADATA_BYTES`], or with a mount path that does not start with
    /// `/` or ends with one.
    pub fn build(self) -> Result<AdminService, ConfigError> {
        let authorize = self
            .authorize
            .ok_or_else(|| ConfigError::new("the admin API needs an authorize(..) predicate"))?;
        if self.shared.audit.is_none() {
            return Err(ConfigError::new(
                "the admin API records every change in the audit log and refuses changes it cannot record: give the layer an audit sink (SamlLayerBuilder::audit_sink, e.g. the SqlStore) before building it",
            ));
        }
        if self.max_body_bytes == 0 || self.max_metadata_bytes == 0 {
            return Err(ConfigError::new("admin size caps must be positive"));
        }
        if self.max_metadata_bytes > DEFAULT_MAX_METADATA_BYTES {
            return Err(ConfigError::new(format!(
                "admin max_metadata_bytes ({}) is larger than the XML size limit metadata is parsed with ({DEFAULT_MAX_METADATA_BYTES} bytes): a document that large would be fetched and then refused; use at most {DEFAULT_MAX_METADATA_BYTES}",
                self.max_metadata_bytes
            )));
        }
        if let Some(path) = &self.mount_path
            && (!path.starts_with('/') || path.ends_with('/'))
        {
            return Err(ConfigError::new(format!(
                "admin mount path `{path}` must start with `/` and not end with one"
            )));
        }
        Ok(AdminService {
            inner: Arc::new(Inner {
                shared: self.shared,
                backend: self.backend,
                authorize,
                admin_name: self.admin_name,
                can_disable: self.can_disable,
                max_body_bytes: self.max_body_bytes,
                fetch_timeout: self.fetch_timeout,
                max_metadata_bytes: self.max_metadata_bytes,
                allow_loopback_http: self.allow_loopback_http,
                mount_path: self.mount_path,
            }),
        })
    }
}

/// The admin API as a Tower service; build it with [`SamlLayer::admin`].
/// Cheap to clone. Never fails: every problem is a JSON answer.
#[derive(Debug, Clone)]
pub struct AdminService {
    inner: Arc<Inner>,
}

impl<B> Service<Request<B>> for AdminService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<AdminBody>;
    type Error = Infallible;
    type Future = ResponseFuture<Result<Response<AdminBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        ResponseFuture::new(async move {
            let response = routes::handle(&inner, req).await;
            Ok(response.map(AdminBody))
        })
    }
}

/// The body of an admin API answer: one complete chunk.
#[derive(Debug, Clone, Default)]
pub struct AdminBody(Bytes);

impl AdminBody {
    /// The whole body.
    #[must_use]
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Body for AdminBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        let chunk = std::mem::take(&mut self.0);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(u64::try_from(self.0.len()).unwrap_or(u64::MAX))
    }
}
