//! How often metadata is fetched again, how long a copy may be used, and
//! the limits of each fetch.
//!
//! A copy fetched at `t` is used until its *refresh time*: `t` plus the
//! document's `cacheDuration` (or [`RefreshPolicy::default_interval`] when it
//! has none), clamped to [`min_interval`](RefreshPolicy::min_interval) ..=
//! [`max_interval`](RefreshPolicy::max_interval), and brought forward to
//! three quarters of the way to `validUntil` when that comes sooner (never
//! below the minimum). A `304 Not Modified` answer starts the same period
//! again for the copy in hand. A failed fetch is retried after
//! [`retry_interval`](RefreshPolicy::retry_interval), and the last good copy
//! stays in use meanwhile — until its `validUntil` passes: then it is no
//! longer trusted and lookups fail with `expired`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::http::DEFAULT_TIMEOUT;

/// Refresh and fetch settings shared by every source of a resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// Shortest time between two fetches of one document, whatever its
    /// `cacheDuration` or `validUntil` say (default 5 minutes).
    pub min_interval: Duration,
    /// Longest time a copy is used before it is fetched again, whatever its
    /// `cacheDuration` says (default 6 hours): a key rollover is noticed at
    /// the latest after this long.
    pub max_interval: Duration,
    /// Refresh period of documents without `cacheDuration` (default 1 hour).
    pub default_interval: Duration,
    /// Wait after a failed fetch before the next try (default 1 minute).
    pub retry_interval: Duration,
    /// Whether a lookup that finds its copy due fetches it again before
    /// answering (default `true`). Turn it off when a background task
    /// ([`RemoteMetadataResolver::refresh_task`](crate::RemoteMetadataResolver::refresh_task))
    /// keeps copies fresh, so no login waits for the network. A source
    /// without any copy is always fetched on first use.
    pub refresh_on_lookup: bool,
    /// How long before an IdP signing certificate's end a warning event is
    /// emitted at each refresh (default 30 days; `None`: never).
    pub certificate_warning: Option<Duration>,
    /// Time limit of one fetch, connection to last byte (default 30 s).
    pub timeout: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RefreshPolicy {
    /// The defaults (see each field).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(6 * 3600),
            default_interval: Duration::from_secs(3600),
            retry_interval: Duration::from_secs(60),
            refresh_on_lookup: true,
            certificate_warning: Some(Duration::from_secs(30 * 86_400)),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the minimum refresh interval.
    #[must_use]
    pub const fn with_min_interval(mut self, d: Duration) -> Self {
        self.min_interval = d;
        self
    }

    /// Sets the maximum refresh interval.
    #[must_use]
    pub const fn with_max_interval(mut self, d: Duration) -> Self {
        self.max_interval = d;
        self
    }

    /// Sets the refresh interval of documents without `cacheDuration`.
    #[must_use]
    pub const fn with_default_interval(mut self, d: Duration) -> Self {
        self.default_interval = d;
        self
    }

    /// Sets the wait after a failed fetch.
    #[must_use]
    pub const fn with_retry_interval(mut self, d: Duration) -> Self {
        self.retry_interval = d;
        self
    }

    /// Sets whether lookups refresh due copies.
    #[must_use]
    pub const fn with_refresh_on_lookup(mut self, on: bool) -> Self {
        self.refresh_on_lookup = on;
        self
    }

    /// Sets the certificate expiry warning lead time (`None`: no warnings).
    #[must_use]
    pub const fn with_certificate_warning(mut self, lead: Option<Duration>) -> Self {
        self.certificate_warning = lead;
        self
    }

    /// Sets the time limit of one fetch.
    #[must_use]
    pub const fn with_timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        if self.min_interval > self.max_interval {
            return Err(crate::ConfigError(format!(
                "the minimum refresh interval ({:?}) is longer than the maximum ({:?})",
                self.min_interval, self.max_interval
            )));
        }
        if self.timeout.is_zero() {
            return Err(crate::ConfigError(
                "the fetch timeout is zero; every fetch would fail".into(),
            ));
        }
        Ok(())
    }

    /// When a copy confirmed at `now` is due again.
    pub(crate) fn refresh_at(
        &self,
        now: DateTime<Utc>,
        cache_duration: Option<Duration>,
        valid_until: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let interval = cache_duration
            .unwrap_or(self.default_interval)
            .min(self.max_interval)
            .max(self.min_interval);
        let mut due = add(now, interval);
        if let Some(until) = valid_until {
            let left = until
                .signed_duration_since(now)
                .to_std()
                .unwrap_or(Duration::ZERO);
            let early = add(now, left.mul_f64(0.75));
            if early < due {
                due = early.max(add(now, self.min_interval));
            }
        }
        due
    }
}

/// `t + d`, saturating far in the future.
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn refresh_time_is_bounded() {
        let p = RefreshPolicy::new();
        // No cacheDuration: the default hour.
        assert_eq!(p.refresh_at(t(0), None, None), t(3600));
        // cacheDuration inside the bounds.
        assert_eq!(
            p.refresh_at(t(0), Some(Duration::from_secs(1800)), None),
            t(1800)
        );
        // Below the minimum, above the maximum.
        assert_eq!(
            p.refresh_at(t(0), Some(Duration::from_secs(1)), None),
            t(300)
        );
        assert_eq!(
            p.refresh_at(t(0), Some(Duration::from_secs(86_400 * 30)), None),
            t(6 * 3600)
        );
        // validUntil in 40 minutes: refresh after 30.
        assert_eq!(p.refresh_at(t(0), None, Some(t(2400))), t(1800));
        // validUntil in 2 minutes (or past): not before the minimum.
        assert_eq!(p.refresh_at(t(0), None, Some(t(120))), t(300));
        assert_eq!(p.refresh_at(t(0), None, Some(t(-100))), t(300));
        // Huge intervals saturate instead of overflowing.
        let huge = RefreshPolicy::new()
            .with_min_interval(Duration::MAX)
            .with_max_interval(Duration::MAX);
        assert_eq!(huge.refresh_at(t(0), None, None), DateTime::<Utc>::MAX_UTC);
    }
}
