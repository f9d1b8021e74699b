//! Tower layer that serves the SAML 2.0 service-provider endpoints and puts the
//! authenticated user into every request.
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace;
//! the layer, its service and the component traits arrive with the "saml-tower
//! sign-in" issue. See the README's status table.
