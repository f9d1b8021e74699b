//! Who may sign metadata, and how fetched documents are parsed: the same
//! rules for a remote source and an MDQ service.

use chrono::{DateTime, Utc};
use saml_core::Limits;
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::VerifyOptions;
use saml_core::metadata::MetadataOptions;
use saml_core::store::ProviderSettings;

use crate::error::ConfigError;

/// Signature settings and parser limits of one metadata publisher.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    pub(crate) signers: Vec<PublicKey>,
    pub(crate) allow_unsigned: bool,
    pub(crate) verify: VerifyOptions,
    pub(crate) limits: Option<Limits>,
    pub(crate) max_response_bytes: usize,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            signers: Vec::new(),
            allow_unsigned: false,
            verify: VerifyOptions::new(),
            limits: None,
            max_response_bytes: crate::http::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl Trust {
    pub(crate) fn add_signers(&mut self, certificates: Vec<Certificate>) {
        self.signers
            .extend(certificates.iter().map(|c| c.public_key().clone()));
    }

    pub(crate) fn add_signers_pem(&mut self, pem: &str) -> Result<(), ConfigError> {
        let certs = Certificate::from_pem(pem).map_err(|e| {
            ConfigError(format!(
                "the metadata signing certificate cannot be read: {}",
                e.detail()
            ))
        })?;
        self.add_signers(certs);
        Ok(())
    }

    pub(crate) fn validate(&self, what: &str) -> Result<(), ConfigError> {
        if self.signers.is_empty() && !self.allow_unsigned {
            return Err(ConfigError(format!(
                "{what} has no metadata signing certificate: configure the publisher's certificate with `signed_by_pem(..)` (federations publish it), or call `allow_unsigned()` to trust the HTTPS connection alone (what most single IdPs expect)"
            )));
        }
        if self.max_response_bytes == 0 {
            return Err(ConfigError(format!(
                "{what} has a response size cap of zero"
            )));
        }
        Ok(())
    }

    /// The XML limits: as configured, or scaled to the response cap (a node
    /// takes at least a few bytes, so `bytes / 8` nodes is a loose bound).
    pub(crate) fn limits(&self) -> Limits {
        self.limits.unwrap_or(Limits {
            max_xml_bytes: self.max_response_bytes,
            max_nodes: (self.max_response_bytes / 8).max(Limits::DEFAULT.max_nodes),
            ..Limits::DEFAULT
        })
    }

    pub(crate) fn options(&self, now: DateTime<Utc>) -> MetadataOptions {
        MetadataOptions::new()
            .with_trusted_signers(self.signers.clone())
            .with_allow_unsigned(self.allow_unsigned)
            .with_limits(self.limits())
            .with_now(now)
            .with_verify_options(self.verify)
    }
}

/// The settings of an entity that was not named in the configuration: the
/// given ones, with the entity ID as display name unless one is set.
pub(crate) fn settings_for(settings: &ProviderSettings, entity_id: &str) -> ProviderSettings {
    let mut s = settings.clone();
    if s.display_name.is_none() {
        s.display_name = Some(entity_id.to_owned());
    }
    s
}
