//! The development IdP (being written).
