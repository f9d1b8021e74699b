//! Remote SAML metadata and server-to-server HTTP for `saml-tower`.
//!
//! "Give us your metadata URL": instead of copying an IdP's certificate and
//! endpoints by hand, point the SP at the IdP's metadata URL (or at a
//! federation's aggregate, or its MDQ service) and let it fetch, verify,
//! cache and refresh the metadata, notice key rollover, and survive the URL
//! being down.
//!
//! - [`RemoteMetadataResolver`] ([`MetadataSource`] per URL): one IdP's
//!   metadata or a signed aggregate of thousands of entities, indexed by
//!   entity ID. It implements [`saml_core::store::MetadataResolver`], so it
//!   plugs into the layer like the static resolver.
//! - [`MdqResolver`]: the Metadata Query Protocol, one entity on demand.
//! - [`RefreshPolicy`]: refresh intervals (bounded by `cacheDuration` and
//!   `validUntil`), the retry wait, the certificate expiry warning, timeouts.
//! - [`HttpClient`]: the one small trait every server-to-server call goes
//!   through, with [`ReqwestClient`] (feature `reqwest`, on by default) as
//!   the bundled implementation. Plug in your own client, or a fake in tests.
//! - [`fetch_metadata_xml`]: one document, fetched once under the same
//!   rules (an admin's "fetch metadata" preview).
//! - [`MetadataArchive`]: where last good copies are persisted across
//!   restarts ([`MemoryArchive`] here).
//!
//! Security rules, enforced by the resolvers whatever client is plugged in:
//! HTTPS only (plain HTTP to loopback hosts for development), a response
//! size cap, signed metadata unless [`MetadataSource::allow_unsigned`] is
//! called, signing keys taken only from the verified document, and metadata
//! past its `validUntil` refused (`expired`) rather than used. Events go to
//! the `tracing` target `saml::metadata` (see [`events`]).
//!
//! Features: `reqwest` ([`ReqwestClient`]; default) and `tokio` (the
//! `refresh_task` background loops; default).
//!
//! # Example
//!
//! A resolver over an IdP's metadata URL; a fake client stands in for the
//! network here (use the default [`ReqwestClient`] in an application).
//!
//! ```
//! use std::sync::Arc;
//! use saml_core::store::{MetadataResolver, ProviderSettings};
//! use saml_remote::{
//!     HttpClient, HttpError, HttpRequest, HttpResponse, MetadataSource, RemoteMetadataResolver,
//! };
//!
//! /// Serves one metadata document for every request.
//! #[derive(Debug)]
//! struct Canned(&'static str);
//!
//! #[async_trait::async_trait]
//! impl HttpClient for Canned {
//!     async fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpError> {
//!         Ok(HttpResponse::new(200, self.0).header("ETag", "\"v1\""))
//!     }
//! }
//!
//! const METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
//!     entityID="https://idp.example.org" cacheDuration="PT6H">
//!   <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
//!     <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
//!         Location="https://idp.example.org/sso"/>
//!   </md:IDPSSODescriptor>
//! </md:EntityDescriptor>"#;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let resolver = RemoteMetadataResolver::builder()
//!     .source(
//!         MetadataSource::new("https://idp.example.org/metadata")
//!             .provider("example", ProviderSettings::default())
//!             // This IdP does not sign its metadata: trust HTTPS alone.
//!             // Federations do sign: use .signed_by_pem(FEDERATION_CERT)? instead.
//!             .allow_unsigned(),
//!     )
//!     .http_client(Arc::new(Canned(METADATA)))
//!     .build()?;
//! resolver.refresh().await?; // fetch at startup; lookups would fetch lazily too
//!
//! let idp = resolver.provider_by_entity_id("https://idp.example.org").await?;
//! assert_eq!(idp.map(|p| p.name.clone()).as_deref(), Some("example"));
//! # Ok(())
//! # }
//! ```
//!
//! A federation aggregate, every IdP a provider, refreshed in the
//! background (needs a tokio runtime):
//!
//! ```no_run
//! use std::time::Duration;
//! use saml_core::store::ProviderSettings;
//! use saml_remote::{MetadataSource, RefreshPolicy, RemoteMetadataResolver};
//!
//! # async fn run(federation_cert_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let resolver = RemoteMetadataResolver::builder()
//!     .source(
//!         MetadataSource::new("https://federation.example.org/metadata/idps.xml")
//!             .signed_by_pem(federation_cert_pem)?
//!             .all_entities(ProviderSettings::default())
//!             .max_response_bytes(256 << 20),
//!     )
//!     .policy(RefreshPolicy::new().with_refresh_on_lookup(false))
//!     .build()?;
//! resolver.refresh().await?;
//! let refresher = tokio::spawn(resolver.clone().refresh_task());
//! // ... hand `resolver` to the layer, serve, then at shutdown:
//! refresher.abort();
//! # Ok(())
//! # }
//! ```

mod archive;
mod cell;
mod error;
pub mod events;
mod fetch;
mod http;
mod mdq;
mod policy;
mod remote;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod trust;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub use archive::{ArchivedMetadata, MemoryArchive, MetadataArchive};
pub use cell::RefreshOutcome;
pub use error::{ConfigError, RemoteError};
pub use fetch::fetch_metadata_xml;
pub use http::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HttpClient, HttpError, HttpErrorKind, HttpMethod,
    HttpRequest, HttpResponse, check_transport,
};
pub use mdq::{MDQ_MEDIA_TYPE, MdqResolver, MdqResolverBuilder, mdq_url};
pub use policy::RefreshPolicy;
pub use remote::{
    MetadataSource, RemoteMetadataResolver, RemoteMetadataResolverBuilder, SourceStatus,
};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;

/// Characters kept as they are in generated provider names (RFC 3986
/// unreserved); everything else is percent-encoded.
const NAME_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The provider name given to an entity that was not named in the
/// configuration ([`MetadataSource::all_entities`],
/// [`MdqResolverBuilder::any_entity`]): its entity ID, percent-encoded so
/// the name is URL-safe and maps back to exactly one entity.
///
/// ```
/// assert_eq!(
///     saml_remote::provider_name_for("https://idp.example.org/idp"),
///     "https%3A%2F%2Fidp.example.org%2Fidp"
/// );
/// ```
#[must_use]
pub fn provider_name_for(entity_id: &str) -> String {
    utf8_percent_encode(entity_id, NAME_SET).to_string()
}

/// The entity ID behind a generated provider name (the inverse of
/// [`provider_name_for`]), if the name decodes to UTF-8.
#[must_use]
pub fn entity_id_for_name(name: &str) -> Option<String> {
    percent_decode_str(name)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// How long a background task sleeps before looking again: until `next`,
/// at least a second, at most the policy's maximum interval.
#[cfg(feature = "tokio")]
fn sleep_until(
    next: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    policy: &RefreshPolicy,
) -> std::time::Duration {
    let floor = std::time::Duration::from_secs(1);
    let wait = next
        .and_then(|n| n.signed_duration_since(now).to_std().ok())
        .unwrap_or(floor);
    wait.max(floor).min(policy.max_interval.max(floor))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_names_round_trip() {
        for id in [
            "https://idp.example.org/idp/shibboleth",
            "urn:mace:example.org:idp",
            "https://idp.example.org/?a=b&c=d#frag",
            "ünïcödé entity",
            "plain",
        ] {
            let name = provider_name_for(id);
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                "{name}"
            );
            assert_eq!(entity_id_for_name(&name).unwrap(), id);
        }
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn background_sleep_is_bounded() {
        use std::time::Duration;
        let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let p = RefreshPolicy::new();
        assert_eq!(sleep_until(None, now, &p), Duration::from_secs(1));
        assert_eq!(
            sleep_until(Some(now - chrono::TimeDelta::seconds(5)), now, &p),
            Duration::from_secs(1)
        );
        assert_eq!(
            sleep_until(Some(now + chrono::TimeDelta::seconds(90)), now, &p),
            Duration::from_secs(90)
        );
        assert_eq!(
            sleep_until(Some(now + chrono::TimeDelta::days(30)), now, &p),
            p.max_interval
        );
    }
}
