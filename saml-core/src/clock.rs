//! The injectable clock. No validation code reads the system time directly:
//! it asks a [`Clock`], so tests, the CLI's `--now` and replays of captured
//! messages can fix the time.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{Error, ErrorCode, Result};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant (tests, `saml verify-response --now`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Parses an `xs:dateTime` as SAML uses it: RFC 3339 with `Z` or an offset,
/// fractional seconds allowed; a value without a zone is taken as UTC.
pub fn parse_datetime(value: &str) -> Result<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|_| {
            Error::new(
                ErrorCode::MalformedXml,
                format!("`{}` is not an xs:dateTime", crate::xml::shorten(value)),
            )
        })
}

/// Formats a time the way SAML messages carry it (`2024-06-01T12:00:00Z`).
#[must_use]
pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_saml_times() {
        let t = parse_datetime("2024-06-01T12:00:00.123Z").unwrap();
        assert_eq!(format_datetime(t), "2024-06-01T12:00:00Z");
        assert_eq!(
            parse_datetime("2024-06-01T14:00:00+02:00").unwrap(),
            parse_datetime("2024-06-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_datetime("2024-06-01T12:00:00").unwrap(),
            parse_datetime("2024-06-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_datetime("yesterday").unwrap_err().code(),
            ErrorCode::MalformedXml
        );
    }
}
