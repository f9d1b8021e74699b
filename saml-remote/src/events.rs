//! The `tracing` events of remote metadata, all with target
//! `saml::metadata` and a field `event` naming what happened:
//!
//! | `event` | level | when |
//! |---|---|---|
//! | `refresh_succeeded` | info | a new copy was fetched, verified and put in use |
//! | `refresh_not_modified` | debug | the server answered 304; the copy in hand stays fresh |
//! | `refresh_failed` | error | a fetch, the signature check or parsing failed (the last good copy, if any, stays in use) |
//! | `archived_copy_used` | warn | nothing in memory and the fetch failed: the archived last good copy is used |
//! | `metadata_expired` | error | a copy's `validUntil` passed: lookups are refused with `expired` |
//! | `entity_missing` | warn | a configured entity is not in the fetched document |
//! | `entity_not_found` | debug | MDQ answered 404 (cached as a negative result) |
//! | `entity_ambiguous` | error | an entity ID appears twice in one document: both copies are refused |
//! | `key_added` / `key_removed` | warn | an IdP's signing certificates changed at refresh (rollover) |
//! | `certificate_expiring` / `certificate_expired` | warn | an IdP signing certificate ends within the warning lead time, or has ended |
//! | `source_unavailable` | error | a source (or MDQ entity) is left out of `providers()` because it cannot answer |
//! | `archive_failed` / `archived_copy_refused` | warn / error | the archive could not be written or read, or its copy failed today's checks |
//! | `cache_evicted` | debug | the MDQ cache was full and dropped its least recently used entity |
//!
//! Fields: `url`, `entity_id`, `code` (the stable error code), `error`,
//! `fingerprint` (SHA-256 of the certificate, hex), `subject`, `not_after`.
//! Metadata documents themselves are never logged.

use chrono::{DateTime, Utc};
use saml_core::clock::format_datetime;
use saml_core::crypto::Certificate;

/// The target of every event of this crate.
pub const TARGET: &str = "saml::metadata";

/// SHA-256 of a certificate's DER, lowercase hex.
pub(crate) fn fingerprint(cert: &Certificate) -> String {
    saml_core::crypto::sha256_hex(cert.der())
}

pub(crate) fn not_after(cert: &Certificate) -> String {
    DateTime::<Utc>::from_timestamp(cert.not_after(), 0)
        .map_or_else(|| cert.not_after().to_string(), format_datetime)
}

/// Events for signing certificates added and removed between two copies of
/// one entity.
pub(crate) fn key_changes(url: &str, entity_id: &str, old: &[Certificate], new: &[Certificate]) {
    for cert in new {
        if !old.iter().any(|c| c.der() == cert.der()) {
            tracing::warn!(
                target: TARGET,
                event = "key_added",
                url,
                entity_id,
                fingerprint = %fingerprint(cert),
                subject = cert.subject(),
                not_after = %not_after(cert),
                "the IdP published a new signing certificate; it is trusted from now on"
            );
        }
    }
    for cert in old {
        if !new.iter().any(|c| c.der() == cert.der()) {
            tracing::warn!(
                target: TARGET,
                event = "key_removed",
                url,
                entity_id,
                fingerprint = %fingerprint(cert),
                subject = cert.subject(),
                "the IdP removed a signing certificate; it is no longer trusted"
            );
        }
    }
}

/// Warnings for signing certificates that end within `lead` of `now`.
pub(crate) fn certificate_warnings(
    url: &str,
    entity_id: &str,
    certs: &[Certificate],
    now: DateTime<Utc>,
    lead: Option<std::time::Duration>,
) {
    let Some(lead) = lead else { return };
    let lead = i64::try_from(lead.as_secs()).unwrap_or(i64::MAX);
    let now = now.timestamp();
    for cert in certs {
        if cert.not_after() < now {
            tracing::warn!(
                target: TARGET,
                event = "certificate_expired",
                url,
                entity_id,
                fingerprint = %fingerprint(cert),
                subject = cert.subject(),
                not_after = %not_after(cert),
                "an IdP signing certificate has expired; it stays trusted while the metadata lists it, but ask the IdP to roll to a current one"
            );
        } else if cert.not_after().saturating_sub(now) <= lead {
            tracing::warn!(
                target: TARGET,
                event = "certificate_expiring",
                url,
                entity_id,
                fingerprint = %fingerprint(cert),
                subject = cert.subject(),
                not_after = %not_after(cert),
                "an IdP signing certificate expires soon; make sure the IdP publishes its next certificate in the metadata before then"
            );
        }
    }
}
