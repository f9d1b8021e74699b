//! [`DirectoryMapper`]: a [`UserMapper`] that lets users in according to
//! the [`UserDirectory`].
//!
//! It first runs an inner mapper (default [`PassThroughMapper`]), takes the
//! user's external ID from the mapped user (the NameID by default, or an
//! attribute), and then applies the [`SignInMode`]:
//!
//! - [`SignInMode::AdmitPreProvisioned`]: only users already in the
//!   directory for this provider, and enabled, sign in.
//! - [`SignInMode::JustInTime`]: a user not yet in the directory is added
//!   (enabled, with the email address and display name found among the
//!   attributes) on the first sign-in; of several concurrent first
//!   sign-ins, one adds the row. A disabled user is still refused.
//!
//! A refused user gets [`REFUSED_CODE`] (`user_not_allowed`) with a detail
//! saying whether the user is unknown or disabled; a database failure gets `store_unavailable`, so the
//! login fails closed.
//!
//! ```
//! use saml_store_sql::{DirectoryMapper, SignInMode, SqlStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let mapper = DirectoryMapper::new(store.users(), SignInMode::AdmitPreProvisioned)
//!     // The directory's external IDs are the IdP's `uid` attribute here.
//!     .external_id_attribute("uid");
//! // `SamlLayer::builder(..).user_mapper(mapper)` puts it in front of sign-in.
//! # let _ = mapper;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use saml_core::clock::{Clock, SystemClock};
use saml_core::protocol::Assertion;
use saml_core::store::{PassThroughMapper, Provider, SamlUser, UserMapper};
use saml_core::{Error, ErrorCode};

use crate::directory::{
    DirectoryError, MAX_DISPLAY_NAME_LEN, MAX_EMAIL_LEN, NewUser, UserDirectory,
};

/// The error code of a refused user (unknown or disabled).
///
/// `user_not_allowed` (HTTP 403 through the layer); the detail says whether
/// the user is unknown or disabled.
pub const REFUSED_CODE: ErrorCode = ErrorCode::UserNotAllowed;

/// Attributes searched, in order, for a new user's email address.
pub const DEFAULT_EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];

/// Attributes searched, in order, for a new user's display name.
pub const DEFAULT_NAME_ATTRIBUTES: &[&str] = &[
    "name",
    "displayName",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "urn:oid:2.16.840.1.113730.3.1.241",
];

/// Who may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInMode {
    /// Only users in the directory, and enabled.
    AdmitPreProvisioned,
    /// Unknown users are added on their first sign-in; disabled users are refused.
    JustInTime,
}

/// Where the external ID comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ExternalId {
    NameId,
    Attribute(String),
}

/// A [`UserMapper`] in front of a [`UserDirectory`]; see the
/// [module docs](self).
#[derive(Clone)]
pub struct DirectoryMapper<M = PassThroughMapper> {
    directory: UserDirectory,
    inner: M,
    mode: SignInMode,
    external_id: ExternalId,
    clock: Arc<dyn Clock>,
    email_attributes: Vec<String>,
    name_attributes: Vec<String>,
}

impl<M: fmt::Debug> fmt::Debug for DirectoryMapper<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryMapper")
            .field("directory", &self.directory)
            .field("inner", &self.inner)
            .field("mode", &self.mode)
            .field("external_id", &self.external_id)
            .finish_non_exhaustive()
    }
}

impl DirectoryMapper<PassThroughMapper> {
    /// A mapper over [`PassThroughMapper`] that applies `mode`, with the
    /// NameID as external ID and the system clock.
    #[must_use]
    pub fn new(directory: UserDirectory, mode: SignInMode) -> Self {
        Self {
            directory,
            inner: PassThroughMapper,
            mode,
            external_id: ExternalId::NameId,
            clock: Arc::new(SystemClock),
            email_attributes: DEFAULT_EMAIL_ATTRIBUTES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            name_attributes: DEFAULT_NAME_ATTRIBUTES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

impl<M> DirectoryMapper<M> {
    /// Maps with `inner` first (its user is what the directory checks and
    /// what the session keeps).
    #[must_use]
    pub fn with_inner<N: UserMapper>(self, inner: N) -> DirectoryMapper<N> {
        DirectoryMapper {
            directory: self.directory,
            inner,
            mode: self.mode,
            external_id: self.external_id,
            clock: self.clock,
            email_attributes: self.email_attributes,
            name_attributes: self.name_attributes,
        }
    }

    /// Takes the external ID from the first value of attribute `name` of
    /// the mapped user instead of the NameID. A user without it is refused
    /// with `missing_attribute`.
    #[must_use]
    pub fn external_id_attribute(mut self, name: impl Into<String>) -> Self {
        self.external_id = ExternalId::Attribute(name.into());
        self
    }

    /// Attributes searched, in order, for the email address of a user added
    /// just in time (default [`DEFAULT_EMAIL_ATTRIBUTES`]).
    #[must_use]
    pub fn email_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.email_attributes = names.into_iter().map(Into::into).collect();
        self
    }

    /// Attributes searched, in order, for the display name of a user added
    /// just in time (default [`DEFAULT_NAME_ATTRIBUTES`]).
    #[must_use]
    pub fn name_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.name_attributes = names.into_iter().map(Into::into).collect();
        self
    }

    /// The clock that stamps users added just in time (default: the system clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The sign-in mode.
    #[must_use]
    pub fn mode(&self) -> SignInMode {
        self.mode
    }

    fn new_user(&self, provider: &str, external_id: &str, user: &SamlUser) -> NewUser {
        let first = |names: &[String], max: usize| {
            names
                .iter()
                .filter_map(|n| user.attribute(n))
                .map(str::trim)
                .find(|v| !v.is_empty() && v.chars().count() <= max)
                .map(str::to_owned)
        };
        let mut new = NewUser::new(provider, external_id);
        if let Some(email) = first(&self.email_attributes, MAX_EMAIL_LEN)
            && crate::directory::is_email(&email)
        {
            new = new.email(email);
        }
        if let Some(name) = first(&self.name_attributes, MAX_DISPLAY_NAME_LEN)
            && !name.chars().any(char::is_control)
        {
            new = new.display_name(name);
        }
        new
    }
}

fn store_error(e: DirectoryError) -> Error {
    match e {
        DirectoryError::Invalid { field, reason } => Error::new(
            REFUSED_CODE,
            format!("the user's {field} is not acceptable: {reason}"),
        ),
        other => Error::new(ErrorCode::StoreUnavailable, other.to_string()),
    }
}

#[async_trait]
impl<M: UserMapper> UserMapper for DirectoryMapper<M> {
    async fn map(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error> {
        let user = self.inner.map(provider, assertion).await?;
        self.admit(provider, user, true).await
    }

    /// As `map`, but a user missing in just-in-time mode is not added.
    async fn preview(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error> {
        let user = self.inner.preview(provider, assertion).await?;
        self.admit(provider, user, false).await
    }
}

impl<M: UserMapper> DirectoryMapper<M> {
    /// Looks `user` up in the directory; a missing user is refused or, in
    /// just-in-time mode, added (only when `write`).
    async fn admit(
        &self,
        provider: &Provider,
        user: SamlUser,
        write: bool,
    ) -> Result<SamlUser, Error> {
        let external_id = match &self.external_id {
            ExternalId::NameId => user.name_id.clone(),
            ExternalId::Attribute(name) => {
                user.attribute(name).map(str::to_owned).ok_or_else(|| {
                    Error::new(
                        ErrorCode::MissingAttribute,
                        format!("no `{name}` attribute to look the user up by"),
                    )
                })?
            }
        };
        let provider_name = provider.name.as_str();
        let found = self
            .directory
            .get(provider_name, &external_id)
            .await
            .map_err(store_error)?;
        let stored = match (found, self.mode) {
            (Some(stored), _) => stored,
            (None, SignInMode::AdmitPreProvisioned) => {
                return Err(Error::new(
                    REFUSED_CODE,
                    format!(
                        "user `{external_id}` is not in the user directory of provider `{provider_name}`"
                    ),
                ));
            }
            // A preview admits whom the sign-in would add, writing nothing.
            (None, SignInMode::JustInTime) if !write => return Ok(user),
            (None, SignInMode::JustInTime) => {
                let new = self.new_user(provider_name, &external_id, &user);
                let (stored, _) = self
                    .directory
                    .get_or_add(new, self.clock.now())
                    .await
                    .map_err(store_error)?;
                stored
            }
        };
        if !stored.enabled {
            return Err(Error::new(
                REFUSED_CODE,
                format!("user `{external_id}` of provider `{provider_name}` is disabled"),
            ));
        }
        Ok(user)
    }
}
