//! Time as the domain sees it: UTC instants, and a clock that tests can set.

use chrono::{DateTime, Utc};

/// A UTC instant.
pub type Timestamp = DateTime<Utc>;

/// Where "now" comes from. Production uses [`SystemClock`]; tests inject a fixed one so that
/// time windows and expiries are tested without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the clock module: the one place that reads the wall clock"
    )]
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// Milliseconds since the Unix epoch, as the store keeps instants.
pub fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch.
pub fn from_millis(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
