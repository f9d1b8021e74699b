//! SAML 2.0 metadata: reading an identity provider's metadata and writing
//! our own service-provider metadata.
//!
//! - [`IdpMetadata::parse`] reads an `md:EntityDescriptor`, or picks one IdP
//!   entity out of an `md:EntitiesDescriptor` aggregate, and returns its
//!   endpoints per binding, its signing and encryption certificates, NameID
//!   formats, `validUntil` and `cacheDuration`. With
//!   [`MetadataOptions::trusted_signers`] set, the document must carry a valid
//!   enveloped signature on its root element by one of those keys.
//!   [`IdpMetadata::parse_all`] lists every IdP entity of an aggregate, and
//!   [`IdpMetadata::from_parts`] builds the same value from an SSO URL and a
//!   certificate entered by hand. [`IdpMetadata::lint`] reports what an
//!   administrator should fix (expiring certificates, missing endpoints...).
//! - [`SpMetadata`] builds the `md:EntityDescriptor` of our service provider,
//!   unsigned ([`SpMetadata::to_xml`]) or signed ([`SpMetadata::to_signed_xml`]).
//! - [`parse_duration`] and [`format_duration`] convert `xs:duration` values
//!   such as `PT1H` or `P1D` (the type of `cacheDuration`).
//!
//! ```
//! use saml_core::metadata::{IdpMetadata, MetadataOptions};
//! use saml_core::protocol::bindings::HTTP_REDIRECT;
//!
//! let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
//!     entityID="https://idp.example.org" cacheDuration="PT6H">
//!   <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
//!     <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
//!         Location="https://idp.example.org/sso"/>
//!   </md:IDPSSODescriptor>
//! </md:EntityDescriptor>"#;
//! let idp = IdpMetadata::parse(xml, &MetadataOptions::new())?;
//! assert_eq!(idp.entity_id(), "https://idp.example.org");
//! assert_eq!(
//!     idp.sso_endpoint(HTTP_REDIRECT).map(|e| e.location.as_str()),
//!     Some("https://idp.example.org/sso")
//! );
//! assert_eq!(idp.cache_duration(), Some(std::time::Duration::from_secs(6 * 3600)));
//! assert!(!idp.signature_verified());
//! # Ok::<(), saml_core::Error>(())
//! ```

mod idp;
mod sp;

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

pub use idp::{
    Endpoint, IdpMetadata, KeyDescriptor, KeyUse, LintFinding, MetadataOptions, Severity,
};
pub use sp::{ContactType, SpMetadata};

/// The `xmlenc` encryption methods we advertise for an SP encryption key,
/// strongest first: AES-GCM content, RSA-OAEP key transport.
pub const SP_ENCRYPTION_METHODS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];

/// Seconds in the approximate year and month of an `xs:duration` (365 and
/// 30 days): a cache lifetime does not need calendar precision.
const YEAR_SECS: u64 = 365 * 86_400;
const MONTH_SECS: u64 = 30 * 86_400;

/// Cuts a value echoed in an error detail to a readable length.
pub(crate) fn short(s: &str) -> &str {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Parses an `xs:duration` as metadata's `cacheDuration` uses it, e.g.
/// `PT1H`, `P1D`, `PT5M30S`, `P1DT12H`, `PT0.5S`.
///
/// The grammar is followed strictly: a `P`, then date parts in the order
/// `Y`, `M`, `D`, then optionally `T` and time parts in the order `H`, `M`,
/// `S`, each at least once and with digits; only seconds may have a fraction.
/// Years count as 365 days and months as 30 days. Negative durations (a
/// leading `-`) and values that overflow are refused.
///
/// Errors: `malformed_xml` with the value and an example of the syntax.
///
/// ```
/// use std::time::Duration;
/// use saml_core::metadata::parse_duration;
///
/// assert_eq!(parse_duration("PT5M30S")?, Duration::from_secs(330));
/// assert_eq!(parse_duration("P1D")?, Duration::from_secs(86_400));
/// assert!(parse_duration("P1H").is_err()); // hours need the `T`
/// # Ok::<(), saml_core::Error>(())
/// ```
pub fn parse_duration(value: &str) -> Result<Duration> {
    let text = value.trim();
    let bad = |why: &str| {
        Error::new(
            ErrorCode::MalformedXml,
            format!(
                "`{}` is not a valid xs:duration ({why}; expected e.g. PT1H, P1D, PT5M30S)",
                short(text)
            ),
        )
    };
    if text.starts_with('-') {
        return Err(bad("negative durations are not allowed"));
    }
    let rest = text
        .strip_prefix('P')
        .ok_or_else(|| bad("it must start with `P`"))?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    if time == Some("") {
        return Err(bad("`T` must be followed by hours, minutes or seconds"));
    }
    if date.is_empty() && time.is_none() {
        return Err(bad("it has no components"));
    }
    let mut total = Duration::ZERO;
    let date_units: &[(char, u64)] = &[('Y', YEAR_SECS), ('M', MONTH_SECS), ('D', 86_400)];
    let time_units: &[(char, u64)] = &[('H', 3_600), ('M', 60), ('S', 1)];
    total = add_components(date, date_units, false, total).map_err(&bad)?;
    if let Some(time) = time {
        total = add_components(time, time_units, true, total).map_err(&bad)?;
    }
    Ok(total)
}

/// Adds the components of one part (date or time) of a duration to `total`.
/// `units` lists the designators in their required order with their length
/// in seconds; a fraction is allowed on the last unit when `fraction_last`.
fn add_components(
    part: &str,
    units: &[(char, u64)],
    fraction_last: bool,
    mut total: Duration,
) -> std::result::Result<Duration, &'static str> {
    let mut next_unit = 0usize;
    let mut chars = part.chars().peekable();
    while chars.peek().is_some() {
        let mut whole: u64 = 0;
        let mut digits = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(d)))
                .ok_or("a number is too large")?;
            digits += 1;
            chars.next();
        }
        if digits == 0 {
            return Err("a component has no digits");
        }
        let mut nanos: u32 = 0;
        let mut has_fraction = false;
        if chars.peek() == Some(&'.') {
            chars.next();
            has_fraction = true;
            let mut scale = 100_000_000u32;
            let mut frac_digits = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                nanos += d * scale;
                scale /= 10;
                frac_digits += 1;
                chars.next();
            }
            if frac_digits == 0 {
                return Err("a decimal point must be followed by digits");
            }
        }
        let designator = chars.next().ok_or("a number has no designator")?;
        let offset = units
            .iter()
            .skip(next_unit)
            .position(|(c, _)| *c == designator)
            .ok_or("a designator is unknown, repeated or out of order")?;
        let index = next_unit + offset;
        let (_, unit_secs) = units.get(index).copied().ok_or("a designator is unknown")?;
        if has_fraction && !(fraction_last && index + 1 == units.len()) {
            return Err("only seconds may have a fraction");
        }
        let secs = whole
            .checked_mul(unit_secs)
            .ok_or("the duration is too long")?;
        total = total
            .checked_add(Duration::new(secs, nanos))
            .ok_or("the duration is too long")?;
        next_unit = index + 1;
    }
    Ok(total)
}

/// Formats a duration as a canonical `xs:duration` with days, hours, minutes
/// and seconds (`PT0S` for zero, `P1D`, `PT1H30M`, `PT0.25S`).
///
/// ```
/// use std::time::Duration;
/// use saml_core::metadata::format_duration;
///
/// assert_eq!(format_duration(Duration::from_secs(90_061)), "P1DT1H1M1S");
/// assert_eq!(format_duration(Duration::from_secs(3_600)), "PT1H");
/// ```
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    let days = secs / 86_400;
    let hours = secs % 86_400 / 3_600;
    let minutes = secs % 3_600 / 60;
    let seconds = secs % 60;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || nanos > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || nanos > 0 || (hours == 0 && minutes == 0) {
            if nanos > 0 {
                let fraction = format!("{nanos:09}");
                out.push_str(&format!("{seconds}.{}S", fraction.trim_end_matches('0')));
            } else {
                out.push_str(&format!("{seconds}S"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        let ok = [
            ("PT1H", 3_600, 0),
            ("P1D", 86_400, 0),
            ("PT5M30S", 330, 0),
            ("P1DT12H", 129_600, 0),
            ("PT0.5S", 0, 500_000_000),
            ("P1Y", YEAR_SECS, 0),
            ("P2M", 2 * MONTH_SECS, 0),
            ("P0D", 0, 0),
            (" PT10M ", 600, 0),
            ("PT1.000000001S", 1, 1),
            (
                "P1Y2M3DT4H5M6S",
                YEAR_SECS + 2 * MONTH_SECS + 3 * 86_400 + 4 * 3_600 + 306,
                0,
            ),
        ];
        for (text, secs, nanos) in ok {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::new(secs, nanos),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_are_refused() {
        for text in [
            "",
            "P",
            "PT",
            "1H",
            "P1H",
            "PT1D",
            "P1S",
            "PT1M1H",
            "P1D1D",
            "-PT1H",
            "PT1.S",
            "PT.5S",
            "PT1.5M",
            "P1.5D",
            "PTH",
            "PT1HX",
            "P1DT",
            "pt1h",
            "PT99999999999999999999S",
            "P99999999999999999Y",
            "PT1H 2M",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert_eq!(err.code(), ErrorCode::MalformedXml, "{text}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for secs in [
            0u64, 1, 59, 60, 3_599, 3_600, 86_399, 86_400, 90_061, 10_000_000,
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{secs}");
        }
        let d = Duration::new(3, 250_000_000);
        assert_eq!(format_duration(d), "PT3.25S");
        assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        assert_eq!(format_duration(Duration::ZERO), "PT0S");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "P1D");
    }
}
