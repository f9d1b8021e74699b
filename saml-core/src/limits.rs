//! Resource limits applied to every untrusted input. The defaults are safe for
//! SAML traffic; raise them only for known large inputs such as federation
//! metadata aggregates.

/// Bounds on what the XML reader accepts. Exceeding any of them fails with
/// [`ErrorCode::InputTooLarge`](crate::ErrorCode::InputTooLarge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest XML document in bytes (default 1 MiB).
    pub max_xml_bytes: usize,
    /// Deepest element nesting (default 64).
    pub max_depth: usize,
    /// Most attributes (namespace declarations included) on one element (default 256).
    pub max_attributes: usize,
    /// Most nodes (elements, text, comments, processing instructions) in one document (default 100,000).
    pub max_nodes: usize,
}

impl Limits {
    /// The defaults, usable in `const` context.
    pub const DEFAULT: Self = Self {
        max_xml_bytes: 1024 * 1024,
        max_depth: 64,
        max_attributes: 256,
        max_nodes: 100_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
