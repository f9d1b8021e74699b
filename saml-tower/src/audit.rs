//! Audit events: each is a `saml::audit` tracing event and, when an
//! [`AuditSink`](saml_core::store::AuditSink) is configured, a row in the
//! audit log, with the client address the layer was told how to find.

use chrono::{DateTime, Utc};
use http::StatusCode;
use http::request::Parts;
use saml_core::ErrorCode;
use saml_core::store::AuditEvent;
pub(crate) use saml_core::store::AuditKind;

use crate::layer::Shared;
use crate::reject::Rejection;

/// The client address of a request, found once by the layer and kept in
/// its extensions for the audit log.
#[derive(Debug, Clone)]
pub(crate) struct ClientAddress(pub(crate) String);

/// The default way to find the client address: a `SocketAddr` in the
/// request extensions (servers that record the peer put it there).
pub(crate) fn peer_address(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
}

/// An audit event being put together.
#[derive(Debug)]
pub(crate) struct Audit(AuditEvent);

impl Audit {
    pub(crate) fn new(kind: AuditKind, at: DateTime<Utc>) -> Self {
        Self(AuditEvent::new(kind, at))
    }

    pub(crate) fn provider(mut self, provider: &str) -> Self {
        self.0 = self.0.provider(provider);
        self
    }

    pub(crate) fn subject(mut self, subject: &str) -> Self {
        self.0 = self.0.subject(subject);
        self
    }

    pub(crate) fn code(mut self, code: &str) -> Self {
        self.0 = self.0.code(code);
        self
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0 = self.0.detail(detail);
        self
    }

    fn finish(mut self, parts: &Parts) -> AuditEvent {
        if let Some(ClientAddress(a)) = parts.extensions.get::<ClientAddress>() {
            self.0 = self.0.client_address(a.as_str());
        }
        let e = &self.0;
        tracing::info!(
            target: "saml::audit",
            event = e.kind.as_str(),
            provider = e.provider.as_deref().unwrap_or(""),
            subject = e.subject.as_deref().unwrap_or(""),
            client = e.client_address.as_deref().unwrap_or(""),
            code = e.code.as_deref().unwrap_or(""),
            detail = e.detail.as_deref().unwrap_or(""),
        );
        self.0
    }

    /// Records the event; a failing sink is logged and otherwise ignored
    /// (for refusals and logouts, which must not depend on the log).
    pub(crate) async fn record(self, shared: &Shared, parts: &Parts) {
        let event = self.finish(parts);
        if let Some(sink) = &shared.audit
            && let Err(e) = sink.record(event).await
        {
            tracing::error!(target: "saml::audit", error = %e, "the audit sink failed; event not stored");
        }
    }

    /// Records the event; `Err` (with the sink's error, for the server log)
    /// when no sink is configured or the sink fails. For changes that must
    /// not happen unrecorded (fail closed).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) async fn record_strict(self, shared: &Shared, parts: &Parts) -> Result<(), String> {
        let event = self.finish(parts);
        match &shared.audit {
            Some(sink) => sink.record(event).await.map_err(|e| e.to_string()),
            None => Err("no audit sink is configured".to_owned()),
        }
    }

    /// Records the event or refuses: a sign-in that cannot be recorded
    /// does not happen (fail closed).
    pub(crate) async fn record_or_refuse(
        self,
        shared: &Shared,
        parts: &Parts,
    ) -> Result<(), Rejection> {
        let event = self.finish(parts);
        if let Some(sink) = &shared.audit {
            sink.record(event).await.map_err(|e| {
                Rejection::new(
                    ErrorCode::StoreUnavailable,
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the audit log cannot record this sign-in: {e}"),
                )
            })?;
        }
        Ok(())
    }
}
