//! SAML 2.0 protocol and XML security for service providers, in pure Rust.
//!
//! This crate is sans-IO: it parses, canonicalizes, verifies and builds
//! messages, and leaves HTTP, storage and time sources to its callers.
//!
//! What is here today:
//! - [`xml`]: a hardened XML reader (no DTDs, no entities, bounded everything)
//!   into a compact tree with resolved namespaces and byte spans;
//! - [`c14n`]: Exclusive XML Canonicalization 1.0 and Canonical XML 1.0, with
//!   and without comments, written into any [`c14n::Sink`];
//! - [`Error`] with stable [`ErrorCode`]s and the resource [`Limits`].
//!
//! ```
//! use saml_core::{c14n, xml::Document, Limits};
//!
//! let doc = Document::parse(r#"<a xmlns:u="urn:unused"><b z="2" a="1"/></a>"#, &Limits::default())?;
//! let out = c14n::Method::Exclusive.canonicalize(doc.root());
//! assert_eq!(out, br#"<a><b a="1" z="2"></b></a>"#);
//! # Ok::<(), saml_core::Error>(())
//! ```

pub mod admin;
pub mod binding;
pub mod c14n;
pub mod clock;
pub mod crypto;
pub mod dsig;
mod error;
#[doc(hidden)]
pub mod internal;
mod limits;
pub mod mapping;
pub mod metadata;
pub mod protocol;
pub mod store;
pub mod xml;
pub mod xmlenc;

pub use error::{Error, ErrorCode, Result};
pub use limits::Limits;
