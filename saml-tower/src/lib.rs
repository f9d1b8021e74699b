//! A Tower layer that adds SAML 2.0 single sign-on to any Tower-based
//! service (axum, tonic, warp, plain hyper).
//!
//! [`SamlLayer`] goes outermost. It serves the SAML endpoints under a prefix
//! (default `/saml`) itself — SP metadata, login, the Assertion Consumer
//! Service, logout and a provider chooser — and on every other request puts
//! the signed-in [`SamlUser`] into the request extensions. [`RequireLoginLayer`]
//! gates routes: browsers are redirected to the login (the deep link is kept),
//! API callers get 401 and gRPC callers `grpc-status: 16`.
//!
//! Everything stateful goes through the component traits of
//! [`saml_core::store`]; `saml-store-memory` and `saml-store-sql` implement them.
//!
//! ```
//! use std::sync::Arc;
//! use saml_tower::SamlLayer;
//! use saml_store_memory::{MemoryStore, StaticMetadataResolver};
//!
//! let store = MemoryStore::new();
//! let layer = SamlLayer::builder("https://app.example.com")
//!     .stores(store)
//!     .metadata_resolver(StaticMetadataResolver::new(Vec::new()))
//!     .build()?;
//! // axum: Router::new().route(...).layer(layer)
//! # let _ = layer;
//! # Ok::<(), saml_tower::ConfigError>(())
//! ```

mod acs;
#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
mod artifact;
mod audit;
mod body;
mod cookie;
mod endpoints;
mod future;
mod layer;
mod policy;
mod reject;
mod service;
mod slo;
mod test_login;

#[cfg(feature = "axum")]
mod axum;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{ConfigError, SamlLayer, SamlLayerBuilder};
pub use policy::{ClientKind, RequireLogin, RequireLoginLayer};
pub use reject::Rejection;
pub use saml_core::store::SamlUser;
pub use service::SamlService;

#[cfg(feature = "axum")]
pub use crate::axum::{NotSignedIn, SignedIn};

/// The boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

// The user guide in `docs/` is plain Markdown; its Rust code blocks are
// compiled (and, unless marked `no_run`, run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../docs/quickstart.md")]
struct QuickstartGuide;

#[cfg(doctest)]
#[doc = include_str!("../../docs/configuration.md")]
struct ConfigurationGuide;

#[cfg(all(doctest, feature = "admin"))]
#[doc = include_str!("../../docs/admin-api.md")]
struct AdminApiGuide;
