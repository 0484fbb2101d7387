//! Heat map rules: which time window a request means, at which resolution, and which cells a
//! viewer may see.
//!
//! Footprints are aggregated per H3 cell and per **hour** (UTC hours of the Unix epoch). A
//! window of days therefore counts whole hours: from the hour holding its start to the hour
//! holding its end, both included. `live` is different: it counts the points taken in the last
//! [`LIVE_MINUTES`] minutes, in whole minutes (from the minute holding "now − 10 minutes").

use crate::time::Timestamp;
use crate::{DomainError, DomainResult, Role};
use chrono::Duration;

/// The finest resolution served.
pub const MAX_RES: u8 = 10;
/// The coarsest resolution served.
pub const MIN_RES: u8 = 7;
/// The resolution when a request names none.
pub const DEFAULT_RES: u8 = 9;
/// Cells seen by fewer distinct envoys are left out for anyone but the command centre.
pub const DEFAULT_MIN_ENVOYS: u32 = 3;
/// What `live` means: points taken in the last this many minutes.
pub const LIVE_MINUTES: i64 = 10;
/// The longest `from`/`to` range served.
pub const MAX_RANGE_DAYS: i64 = 366;
/// An hour in milliseconds: the aggregates' time bucket.
pub const HOUR_MS: i64 = 3_600_000;

/// A heat map's time window, as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatWindow {
    /// Points of the last [`LIVE_MINUTES`] minutes.
    Live,
    /// The last N days (5, 7, 15 or 30), up to now.
    Days(u16),
    /// From one instant to another.
    Range {
        /// Start.
        from: Timestamp,
        /// End.
        to: Timestamp,
    },
}

/// The days a named window may have.
pub const WINDOW_DAYS: [u16; 4] = [5, 7, 15, 30];

/// What a window resolves to at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Points taken at or after this instant (the live window).
    Since(Timestamp),
    /// Hour buckets `first..=last`, as hours since the Unix epoch.
    Hours {
        /// The first hour counted.
        first: i64,
        /// The last hour counted.
        last: i64,
    },
}

impl HeatWindow {
    /// Parses a window name: `live`, `5d`, `7d`, `15d` or `30d`.
    pub fn parse(name: &str) -> DomainResult<HeatWindow> {
        if name == "live" {
            return Ok(HeatWindow::Live);
        }
        name.strip_suffix('d')
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|d| WINDOW_DAYS.contains(d))
            .map(HeatWindow::Days)
            .ok_or_else(|| {
                DomainError::invalid(
                    "invalid_window",
                    format!(
                        "unknown window {name:?}: use live, 5d, 7d, 15d or 30d (or from= and to=)"
                    ),
                )
            })
    }

    /// A custom window; `to` must not precede `from`, and it spans at most [`MAX_RANGE_DAYS`].
    pub fn range(from: Timestamp, to: Timestamp) -> DomainResult<HeatWindow> {
        if to < from {
            return Err(DomainError::invalid(
                "invalid_window",
                format!("to ({to}) is before from ({from})"),
            ));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(DomainError::invalid(
                "invalid_window",
                format!("a window spans at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(HeatWindow::Range { from, to })
    }

    /// The window's name in URLs and caches (`live`, `7d`, or `from..to` in milliseconds).
    pub fn name(&self) -> String {
        match self {
            HeatWindow::Live => "live".to_owned(),
            HeatWindow::Days(d) => format!("{d}d"),
            HeatWindow::Range { from, to } => {
                format!("{}..{}", from.timestamp_millis(), to.timestamp_millis())
            }
        }
    }

    /// What the window counts at `now`.
    pub fn span(&self, now: Timestamp) -> Span {
        match *self {
            HeatWindow::Live => Span::Since(now - Duration::minutes(LIVE_MINUTES)),
            HeatWindow::Days(d) => Span::Hours {
                first: hour_of(now - Duration::days(i64::from(d))),
                last: hour_of(now),
            },
            HeatWindow::Range { from, to } => Span::Hours {
                first: hour_of(from),
                last: hour_of(to),
            },
        }
    }
}

/// The hour (since the Unix epoch) an instant falls in.
pub fn hour_of(t: Timestamp) -> i64 {
    t.timestamp_millis().div_euclid(HOUR_MS)
}

/// Checks a requested resolution (`None`: [`DEFAULT_RES`]).
pub fn resolution(res: Option<u8>) -> DomainResult<u8> {
    let res = res.unwrap_or(DEFAULT_RES);
    if (MIN_RES..=MAX_RES).contains(&res) {
        Ok(res)
    } else {
        Err(DomainError::invalid(
            "invalid_resolution",
            format!("res must be {MIN_RES} to {MAX_RES}, got {res}"),
        ))
    }
}

/// The fewest distinct envoys a cell needs to be shown to `role`: everything for the command
/// centre (commanders and admins), `k` for everyone else (so a lone envoy's track cannot be
/// read off the map).
pub fn min_envoys(role: Role, k: u32) -> u32 {
    match role {
        Role::Commander | Role::Admin => 1,
        Role::Envoy | Role::Staff => k.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn windows_parse_and_resolve_to_whole_hours() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 30, 0).unwrap();
        assert_eq!(HeatWindow::parse("7d").unwrap(), HeatWindow::Days(7));
        for bad in ["", "6d", "7", "d", "-7d", "live ", "30D"] {
            assert_eq!(
                HeatWindow::parse(bad).unwrap_err().code(),
                "invalid_window",
                "{bad:?}"
            );
        }
        let h = hour_of(now);
        assert_eq!(h, now.timestamp() / 3600);
        assert_eq!(
            HeatWindow::Days(5).span(now),
            Span::Hours {
                first: h - 5 * 24,
                last: h
            }
        );
        assert_eq!(
            HeatWindow::Live.span(now),
            Span::Since(Utc.with_ymd_and_hms(2026, 6, 15, 12, 20, 0).unwrap())
        );
        // a range counts the hours holding its ends
        let from = Utc.with_ymd_and_hms(2026, 6, 15, 9, 59, 59).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 6, 15, 11, 0, 0).unwrap();
        assert_eq!(
            HeatWindow::range(from, to).unwrap().span(now),
            Span::Hours {
                first: h - 3,
                last: h - 1
            }
        );
        assert!(HeatWindow::range(to, from).is_err());
        assert!(HeatWindow::range(from, from + Duration::days(367)).is_err());
        // before the epoch, hours still floor
        assert_eq!(hour_of(Utc.timestamp_opt(-1, 0).unwrap()), -1);
    }

    #[test]
    fn resolution_and_suppression() {
        assert_eq!(resolution(None).unwrap(), 9);
        assert_eq!(resolution(Some(7)).unwrap(), 7);
        assert_eq!(
            resolution(Some(11)).unwrap_err().code(),
            "invalid_resolution"
        );
        assert_eq!(
            resolution(Some(6)).unwrap_err().code(),
            "invalid_resolution"
        );
        assert_eq!(min_envoys(Role::Commander, 3), 1);
        assert_eq!(min_envoys(Role::Admin, 3), 1);
        assert_eq!(min_envoys(Role::Envoy, 3), 3);
        assert_eq!(min_envoys(Role::Staff, 0), 1);
    }
}
