//! Envoy positions: validating a batch posted by a phone (`POST /positions`).
//!
//! [`validate_batch`] decides, for one envoy's batch, which points are refused (and why), which
//! repeat a point already known (duplicates) and which are stored; of the stored ones it flags
//! those implying an implausible speed. Flagged points are kept (so the envoy's track stays
//! complete) but never count toward patrol qualification (see [`crate::patrol`]).

use crate::time::Timestamp;
use crate::{DomainError, DomainResult};
use pp_geo::{gcj02_to_wgs84, haversine_m, LatLng};

/// Most points in one batch.
pub const MAX_BATCH: usize = 1000;
/// Largest accepted reported accuracy (radius, metres).
pub const MAX_ACCURACY_M: f64 = 500.0;
/// How far ahead of the server's clock a point's `ts` may be (phone clocks drift).
pub const MAX_FUTURE_SECS: i64 = 60;
/// How old a point may be when it arrives (live positions only; history imports bypass this).
pub const MAX_AGE_HOURS: i64 = 24;
/// Fastest plausible speed between two points, metres per second (108 km/h).
pub const MAX_SPEED_MPS: f64 = 30.0;

/// The coordinate reference system of a batch.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84, as GPS reports it (the default).
    #[default]
    Wgs84,
    /// GCJ-02, as phones and map SDKs in mainland China report it; converted on arrival.
    Gcj02,
}

/// A point as the phone sends it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct PointIn {
    /// When the point was measured (RFC 3339).
    pub ts: chrono::DateTime<chrono::Utc>,
    /// Latitude, degrees, -90..=90.
    pub lat: f64,
    /// Longitude, degrees, -180..=180.
    pub lng: f64,
    /// Reported accuracy radius in metres, 0..=500.
    pub accuracy_m: f64,
}

/// A validated point, in WGS-84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// When it was measured.
    pub ts: Timestamp,
    /// Where (WGS-84).
    pub at: LatLng,
    /// Reported accuracy radius in metres.
    pub accuracy_m: f64,
    /// Implied an implausible speed: stored, but never counted.
    pub flagged: bool,
}

impl Position {
    /// Whether a stored point counts (toward a patrol, on the heat map, on the live map):
    /// a flagged point is kept as evidence, never counted.
    pub fn counts(&self) -> bool {
        !self.flagged
    }

    /// Whether a point an append has just stored adds to the counts: it is new (a duplicate
    /// counted when it was first stored) and it [counts](Position::counts). The one rule the
    /// store's heat rows, the live index, the heat index and the ingest's answer share.
    pub fn newly_counted(&self, new: bool) -> bool {
        new && self.counts()
    }
}

/// Why a point of a batch was refused.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Rejected {
    /// The point's index in the batch as sent (0-based).
    pub index: usize,
    /// Machine-readable reason: `coordinate_out_of_range`, `invalid_accuracy`,
    /// `timestamp_in_future` or `timestamp_too_old`.
    #[schema(value_type = String)]
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
}

/// The outcome of [`validate_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCheck {
    /// Points to store, in ascending `ts` (strictly: no two share a `ts`), flagged ones included.
    pub accepted: Vec<Position>,
    /// Valid points whose `ts` repeated an earlier point of the batch or `previous`.
    pub duplicates: usize,
    /// Refused points, in batch order.
    pub rejected: Vec<Rejected>,
}

impl BatchCheck {
    /// How many accepted points are flagged.
    pub fn flagged(&self) -> usize {
        self.accepted.iter().filter(|p| p.flagged).count()
    }
}

/// Checks one point; the coordinate is converted to WGS-84.
fn check_point(
    p: &PointIn,
    crs: Crs,
    now: Timestamp,
    live: bool,
) -> Result<Position, (&'static str, String)> {
    let at = LatLng::new(p.lat, p.lng).map_err(|e| (e.code, e.message))?;
    if !p.accuracy_m.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&p.accuracy_m) {
        return Err((
            "invalid_accuracy",
            format!(
                "accuracy_m must be a number from 0 to {MAX_ACCURACY_M} metres (got {})",
                p.accuracy_m
            ),
        ));
    }
    if p.ts > now + chrono::Duration::seconds(MAX_FUTURE_SECS) {
        return Err((
            "timestamp_in_future",
            format!(
                "ts {} is more than {MAX_FUTURE_SECS} s ahead of the server's clock ({})",
                p.ts.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    if live && p.ts < now - chrono::Duration::hours(MAX_AGE_HOURS) {
        return Err((
            "timestamp_too_old",
            format!(
                "ts {} is more than {MAX_AGE_HOURS} hours old",
                p.ts.to_rfc3339()
            ),
        ));
    }
    let at = match crs {
        Crs::Wgs84 => at,
        Crs::Gcj02 => gcj02_to_wgs84(at),
    };
    Ok(Position {
        ts: p.ts,
        at,
        accuracy_m: p.accuracy_m,
        flagged: false,
    })
}

/// Speed in m/s implied by going from `a` to `b`; `b` must be later than `a`.
fn speed_mps(a: &Position, b: &Position) -> f64 {
    let dt_s = (b.ts - a.ts).num_milliseconds() as f64 / 1000.0;
    haversine_m(a.at, b.at) / dt_s
}

/// Validates one envoy's batch of positions.
///
/// * The batch must hold 1..=[`MAX_BATCH`] points, else the whole batch is refused with
///   [`DomainError::Invalid`] code `invalid_batch_size`.
/// * Each point is checked on its own; a refused point lands in [`BatchCheck::rejected`] (with
///   its index in the batch as sent) and does not stop the others. In order: lat/lng finite and
///   in range (`coordinate_out_of_range`), `accuracy_m` finite and 0..=[`MAX_ACCURACY_M`]
///   (`invalid_accuracy`), `ts` at most [`MAX_FUTURE_SECS`] after `now`
///   (`timestamp_in_future`) and at most [`MAX_AGE_HOURS`] before it (`timestamp_too_old`);
///   both limits are inclusive.
/// * With [`Crs::Gcj02`] valid points are converted to WGS-84.
/// * Valid points are sorted by `ts`. Of points sharing a `ts` the first in the batch is kept
///   and the others count as [`BatchCheck::duplicates`]; so does a point whose `ts` equals
///   `previous.ts`. (Duplicates against older stored points are the store's business: it keeps
///   one point per envoy and `ts`.)
/// * Speed check: the kept points are walked in `ts` order; each is compared with the *reference*,
///   the latest **unflagged** point known to be earlier than it, and is flagged when the implied
///   great-circle speed exceeds [`MAX_SPEED_MPS`]. A flagged point never becomes the reference,
///   so one bad jump does not flag the honest points after it. `previous` (the envoy's latest
///   stored point, if any) serves as the reference only for points later than it, and only if it
///   is not itself flagged (callers should pass the latest *unflagged* stored point). A point
///   older than `previous` (a late retry of an earlier batch) is checked only against the
///   earlier points of this batch, since the stored points around it are not known here; the
///   first point of an envoy with no reference is never flagged.
pub fn validate_batch(
    points: Vec<PointIn>,
    crs: Crs,
    previous: Option<Position>,
    now: Timestamp,
) -> DomainResult<BatchCheck> {
    validate(points, crs, previous, now, true)
}

/// [`validate_batch`] for an import of recorded history (the benchmark workload, a district's
/// archive): the same rules except that a point may be any age; future points are still
/// refused.
pub fn validate_history(
    points: Vec<PointIn>,
    crs: Crs,
    previous: Option<Position>,
    now: Timestamp,
) -> DomainResult<BatchCheck> {
    validate(points, crs, previous, now, false)
}

fn validate(
    points: Vec<PointIn>,
    crs: Crs,
    previous: Option<Position>,
    now: Timestamp,
    live: bool,
) -> DomainResult<BatchCheck> {
    if points.is_empty() || points.len() > MAX_BATCH {
        return Err(DomainError::invalid(
            "invalid_batch_size",
            format!(
                "a batch holds 1 to {MAX_BATCH} points (got {})",
                points.len()
            ),
        ));
    }
    let mut rejected = Vec::new();
    let mut valid = Vec::with_capacity(points.len());
    for (index, p) in points.iter().enumerate() {
        match check_point(p, crs, now, live) {
            Ok(pos) => valid.push(pos),
            Err((code, message)) => rejected.push(Rejected {
                index,
                code,
                message,
            }),
        }
    }
    // Stable: among equal timestamps the batch order is kept, so `dedup` keeps the first.
    valid.sort_by_key(|p| p.ts);
    let before = valid.len();
    valid.dedup_by_key(|p| p.ts);
    if let Some(prev) = previous {
        valid.retain(|p| p.ts != prev.ts);
    }
    let duplicates = before - valid.len();

    // `previous` joins the walk just before the first point later than it.
    let mut pending_previous = previous.filter(|p| !p.flagged);
    let mut reference: Option<Position> = None;
    for p in &mut valid {
        if let Some(prev) = pending_previous.filter(|prev| prev.ts < p.ts) {
            // Every point walked so far is earlier than `prev`, so it is the latest one known.
            reference = Some(prev);
            pending_previous = None;
        }
        if let Some(r) = reference {
            p.flagged = speed_mps(&r, p) > MAX_SPEED_MPS;
        }
        if !p.flagged {
            reference = Some(*p);
        }
    }
    Ok(BatchCheck {
        accepted: valid,
        duplicates,
        rejected,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    /// Canton Tower, WGS-84.
    pub(crate) const TOWER: (f64, f64) = (23.1066, 113.3245);

    pub(crate) fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap()
    }

    fn pt(secs_before_now: i64, lat: f64, lng: f64) -> PointIn {
        PointIn {
            ts: now() - Duration::seconds(secs_before_now),
            lat,
            lng,
            accuracy_m: 10.0,
        }
    }

    /// A point `north_m` metres north of the tower (1 degree of latitude = 111,195 m).
    fn north(secs_before_now: i64, north_m: f64) -> PointIn {
        pt(secs_before_now, TOWER.0 + north_m / 111_195.08, TOWER.1)
    }

    fn stored(p: &PointIn) -> Position {
        Position {
            ts: p.ts,
            at: LatLng::new(p.lat, p.lng).unwrap(),
            accuracy_m: p.accuracy_m,
            flagged: false,
        }
    }

    fn check(points: Vec<PointIn>) -> BatchCheck {
        validate_batch(points, Crs::Wgs84, None, now()).unwrap()
    }

    #[test]
    fn accepts_a_plain_batch() {
        let r = check(vec![north(60, 0.0), north(30, 30.0), north(0, 60.0)]);
        assert_eq!(r.accepted.len(), 3);
        assert_eq!(r.duplicates, 0);
        assert!(r.rejected.is_empty());
        assert_eq!(r.flagged(), 0);
        assert_eq!(r.accepted[0].at, LatLng::new(TOWER.0, TOWER.1).unwrap());
        assert_eq!(r.accepted[0].accuracy_m, 10.0);
    }

    #[test]
    fn batch_size_limits() {
        let e = validate_batch(vec![], Crs::Wgs84, None, now()).unwrap_err();
        assert_eq!(e.code(), "invalid_batch_size");
        let many: Vec<PointIn> = (0..1001).map(|i| north(i, 0.0)).collect();
        let e = validate_batch(many, Crs::Wgs84, None, now()).unwrap_err();
        assert_eq!(e.code(), "invalid_batch_size");
        assert!(e.to_string().contains("1001"), "{e}");
        assert_eq!(check(vec![north(0, 0.0)]).accepted.len(), 1);
        let full: Vec<PointIn> = (0..1000).map(|i| north(i, 0.0)).collect();
        assert_eq!(check(full).accepted.len(), 1000);
    }

    #[test]
    fn history_may_be_old_but_not_in_the_future() {
        let old = north(40 * 24 * 3600, 0.0);
        let live = check(vec![old.clone()]);
        assert_eq!(live.rejected[0].code, "timestamp_too_old");
        let h = validate_history(vec![old, north(-61, 0.0)], Crs::Wgs84, None, now()).unwrap();
        assert_eq!(h.accepted.len(), 1);
        assert_eq!(h.rejected.len(), 1);
        assert_eq!(h.rejected[0].code, "timestamp_in_future");
    }

    #[test]
    fn every_rejection_code() {
        let mut bad_acc = north(5, 0.0);
        bad_acc.accuracy_m = 500.5;
        let mut neg_acc = north(5, 0.0);
        neg_acc.accuracy_m = -1.0;
        let mut nan_acc = north(5, 0.0);
        nan_acc.accuracy_m = f64::NAN;
        let mut edge_acc = north(4, 0.0);
        edge_acc.accuracy_m = 500.0;
        let mut zero_acc = north(3, 0.0);
        zero_acc.accuracy_m = 0.0;
        let points = vec![
            pt(10, 91.0, 113.0),       // 0
            pt(10, 23.0, -180.5),      // 1
            pt(10, f64::NAN, 113.0),   // 2
            bad_acc,                   // 3
            neg_acc,                   // 4
            nan_acc,                   // 5
            north(-61, 0.0),           // 6: 61 s ahead
            north(24 * 3600 + 1, 0.0), // 7: just over a day old
            north(-60, 0.0),           // 8: exactly 60 s ahead: fine
            north(24 * 3600, 0.0),     // 9: exactly a day old: fine
            edge_acc,                  // 10
            zero_acc,                  // 11
            pt(2, 90.0, 180.0),        // 12: limits are fine (far away: flagged)
        ];
        let r = check(points);
        let codes: Vec<(usize, &str)> = r.rejected.iter().map(|x| (x.index, x.code)).collect();
        assert_eq!(
            codes,
            vec![
                (0, "coordinate_out_of_range"),
                (1, "coordinate_out_of_range"),
                (2, "coordinate_out_of_range"),
                (3, "invalid_accuracy"),
                (4, "invalid_accuracy"),
                (5, "invalid_accuracy"),
                (6, "timestamp_in_future"),
                (7, "timestamp_too_old"),
            ]
        );
        assert!(r.rejected.iter().all(|x| !x.message.is_empty()));
        assert_eq!(r.accepted.len(), 5);
        assert_eq!(r.duplicates, 0);
    }

    #[test]
    fn rejected_serializes_as_strings() {
        let r = check(vec![pt(0, 95.0, 0.0)]);
        let v = serde_json::to_value(&r.rejected[0]).unwrap();
        assert_eq!(v["index"], 0);
        assert_eq!(v["code"], "coordinate_out_of_range");
        assert!(v["message"].as_str().unwrap().contains("latitude"));
    }

    #[test]
    fn crs_wire_names() {
        assert_eq!(serde_json::to_value(Crs::Gcj02).unwrap(), "gcj02");
        let c: Crs = serde_json::from_str("\"wgs84\"").unwrap();
        assert_eq!(c, Crs::Wgs84);
        assert_eq!(Crs::default(), Crs::Wgs84);
        assert!(serde_json::from_str::<Crs>("\"GCJ02\"").is_err());
        let p: PointIn = serde_json::from_value(serde_json::json!(
            {"ts": "2026-10-01T18:00:00+08:00", "lat": 23.1, "lng": 113.3, "accuracy_m": 5}
        ))
        .unwrap();
        assert_eq!(p.ts, now());
    }

    #[test]
    fn gcj02_is_converted_near_canton_tower() {
        let truth = LatLng::new(TOWER.0, TOWER.1).unwrap();
        let g = pp_geo::wgs84_to_gcj02(truth);
        // the raw GCJ-02 value is hundreds of metres off
        assert!(haversine_m(truth, g) > 100.0);
        let r = validate_batch(vec![pt(0, g.lat, g.lng)], Crs::Gcj02, None, now()).unwrap();
        let d = haversine_m(r.accepted[0].at, truth);
        assert!(d < 1.0, "{d} m from the truth");
        // the same numbers read as WGS-84 are taken as they are
        let r = validate_batch(vec![pt(0, g.lat, g.lng)], Crs::Wgs84, None, now()).unwrap();
        assert_eq!(r.accepted[0].at, g);
    }

    #[test]
    fn sorted_and_deduplicated_keeping_the_first() {
        let mut second_copy = north(30, 5.0);
        second_copy.accuracy_m = 3.0;
        let r = check(vec![
            north(0, 20.0),
            north(30, 10.0),
            north(60, 0.0),
            second_copy,
            north(30, 10.0),
        ]);
        assert_eq!(r.duplicates, 2);
        let ts: Vec<Timestamp> = r.accepted.iter().map(|p| p.ts).collect();
        assert_eq!(
            ts,
            vec![
                now() - Duration::seconds(60),
                now() - Duration::seconds(30),
                now()
            ]
        );
        // the first of the three points at -30 s is kept
        assert_eq!(r.accepted[1].accuracy_m, 10.0);
        assert!((r.accepted[1].at.lat - (TOWER.0 + 10.0 / 111_195.08)).abs() < 1e-12);
    }

    #[test]
    fn duplicate_of_previous() {
        let prev = stored(&north(60, 0.0));
        let r = validate_batch(
            vec![north(60, 0.0), north(30, 10.0)],
            Crs::Wgs84,
            Some(prev),
            now(),
        )
        .unwrap();
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.accepted.len(), 1);
        assert_eq!(r.accepted[0].ts, now() - Duration::seconds(30));
        // a batch retried in full is all duplicates
        let r = validate_batch(vec![north(60, 0.0)], Crs::Wgs84, Some(prev), now()).unwrap();
        assert_eq!((r.accepted.len(), r.duplicates), (0, 1));
    }

    #[test]
    fn a_jump_is_flagged_and_the_next_honest_point_is_not() {
        let r = check(vec![
            north(90, 0.0),
            north(60, 20.0),
            north(30, 100_000.0), // 100 km in 30 s
            north(0, 40.0),       // back where the envoy really is
        ]);
        let flags: Vec<bool> = r.accepted.iter().map(|p| p.flagged).collect();
        assert_eq!(flags, vec![false, false, true, false]);
        assert_eq!(r.flagged(), 1);
        // just under 30 m/s is still plausible, just over is not
        let r = check(vec![north(10, 0.0), north(0, 299.9)]);
        assert!(!r.accepted[1].flagged);
        let r = check(vec![north(10, 0.0), north(0, 300.1)]);
        assert!(r.accepted[1].flagged);
    }

    #[test]
    fn the_speed_check_continues_from_previous() {
        let prev = stored(&north(120, 0.0));
        let r = validate_batch(
            vec![north(60, 100_000.0), north(0, 50.0)],
            Crs::Wgs84,
            Some(prev),
            now(),
        )
        .unwrap();
        let flags: Vec<bool> = r.accepted.iter().map(|p| p.flagged).collect();
        assert_eq!(flags, vec![true, false]);
        // a flagged `previous` is no reference: the first point is not judged by it
        let mut bad_prev = stored(&north(120, 100_000.0));
        bad_prev.flagged = true;
        let r = validate_batch(vec![north(60, 0.0)], Crs::Wgs84, Some(bad_prev), now()).unwrap();
        assert!(!r.accepted[0].flagged);
        // without a flag, the same far-away previous flags it
        bad_prev.flagged = false;
        let r = validate_batch(vec![north(60, 0.0)], Crs::Wgs84, Some(bad_prev), now()).unwrap();
        assert!(r.accepted[0].flagged);
    }

    #[test]
    fn late_points_are_not_judged_by_a_later_previous() {
        // previous at -60 s is 10 km away; a retried older batch at -300/-240 s near the tower is
        // checked among itself, and the point at 0 s after previous is checked against previous.
        let prev = stored(&north(60, 10_000.0));
        let r = validate_batch(
            vec![north(0, 10_020.0), north(240, 10.0), north(300, 0.0)],
            Crs::Wgs84,
            Some(prev),
            now(),
        )
        .unwrap();
        let got: Vec<(i64, bool)> = r
            .accepted
            .iter()
            .map(|p| ((now() - p.ts).num_seconds(), p.flagged))
            .collect();
        assert_eq!(got, vec![(300, false), (240, false), (0, false)]);
        // and a point after previous that is near the late points (not previous) is flagged
        let r = validate_batch(
            vec![north(300, 0.0), north(0, 20.0)],
            Crs::Wgs84,
            Some(prev),
            now(),
        )
        .unwrap();
        let flags: Vec<bool> = r.accepted.iter().map(|p| p.flagged).collect();
        assert_eq!(flags, vec![false, true]);
    }

    fn arb_point() -> impl Strategy<Value = PointIn> {
        // mostly valid points within ~2 km of the tower, a few far away or out of range
        (
            -120i64..3600,
            prop_oneof![8 => -0.02f64..0.02, 1 => -5.0f64..5.0, 1 => 66.0f64..70.0],
            -0.02f64..0.02,
            prop_oneof![9 => 0.0f64..500.0, 1 => 500.1f64..1000.0],
        )
            .prop_map(|(s, dlat, dlng, acc)| PointIn {
                ts: now() - Duration::seconds(s),
                lat: TOWER.0 + dlat,
                lng: TOWER.1 + dlng,
                accuracy_m: acc,
            })
    }

    proptest! {
        #[test]
        fn batch_invariants(
            points in proptest::collection::vec(arb_point(), 1..60),
            prev_secs in proptest::option::of(0i64..3600),
        ) {
            let previous = prev_secs.map(|s| stored(&north(s, 0.0)));
            let n = points.len();
            let r = validate_batch(points, Crs::Wgs84, previous, now()).unwrap();
            // every point is accounted for exactly once
            prop_assert_eq!(r.accepted.len() + r.duplicates + r.rejected.len(), n);
            // strictly ascending, none at previous.ts
            prop_assert!(r.accepted.windows(2).all(|w| w[0].ts < w[1].ts));
            if let Some(p) = previous {
                prop_assert!(r.accepted.iter().all(|a| a.ts != p.ts));
            }
            // rejected in batch order
            prop_assert!(r.rejected.windows(2).all(|w| w[0].index < w[1].index));
            // the unflagged chain (with previous merged in) never exceeds the speed limit
            let mut chain: Vec<Position> = r.accepted.iter().filter(|p| !p.flagged).copied().collect();
            if let Some(p) = previous {
                chain.push(p);
                chain.sort_by_key(|p| p.ts);
            }
            let prev_ts = previous.map(|p| p.ts);
            for w in chain.windows(2) {
                // a late point before previous is not checked against previous... but the point
                // after previous is; pairs (late point, previous) are the one exception
                if Some(w[1].ts) == prev_ts {
                    continue;
                }
                prop_assert!(speed_mps(&w[0], &w[1]) <= MAX_SPEED_MPS);
            }
        }

        #[test]
        fn order_of_the_batch_does_not_matter(
            points in proptest::collection::vec(arb_point(), 1..40),
            seed in any::<u64>(),
        ) {
            // distinct timestamps, so which copy of a duplicate is kept cannot differ
            let mut points = points;
            points.sort_by_key(|p| p.ts);
            points.dedup_by_key(|p| p.ts);
            let a = check(points.clone());
            let mut shuffled = points;
            let len = shuffled.len();
            let mut s = seed;
            for i in (1..len).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let b = check(shuffled);
            prop_assert_eq!(a.accepted, b.accepted);
            prop_assert_eq!(a.duplicates, b.duplicates);
            prop_assert_eq!(a.rejected.len(), b.rejected.len());
        }
    }
}
