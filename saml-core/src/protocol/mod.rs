//! SAML 2.0 protocol messages: building requests and validating responses.

pub(crate) mod markup;
mod response;

pub use response::{
    Assertion, Attribute, AuthnContextRequirement, DEFAULT_CLOCK_SKEW_SECONDS, Expectation, NameId,
    ResponseValidator,
};

/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 protocol namespace.
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 metadata namespace.
pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The top-level status code of a successful response.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// The bearer subject-confirmation method.
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// SAML binding URIs.
pub mod bindings {
    /// HTTP-Redirect.
    pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    /// HTTP-POST.
    pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    /// HTTP-Artifact.
    pub const HTTP_ARTIFACT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
    /// SOAP.
    pub const SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
}

/// NameID format URIs.
pub mod name_id_format {
    /// Unspecified (the default: no IdP refuses it).
    pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    /// Email address.
    pub const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    /// Persistent, opaque.
    pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    /// Transient, one session.
    pub const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    /// Entity identifier (used for Issuer).
    pub const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
}

mod authn_request;
pub use authn_request::{
    AuthnContextComparison, AuthnRequest, AuthnRequestBuilder, PendingAuthnRequest, generate_id,
};

mod logout;
pub use logout::{
    DEFAULT_MAX_MESSAGE_AGE_SECONDS, IncomingLogoutRequest, LogoutOutcome, LogoutRequest,
    LogoutRequestBuilder, LogoutResponse, LogoutResponseBuilder, LogoutValidator,
    PendingLogoutRequest, logout_reason, status,
};

mod artifact;
pub use artifact::{
    ARTIFACT_TYPE_CODE, Artifact, ArtifactResolve, ArtifactResolveBuilder, ArtifactResponse,
    ArtifactResponseBuilder, ArtifactResponseValidator, ResolvedArtifact, SOAP_ACTION, SOAP_ENV_NS,
};
