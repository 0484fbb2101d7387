//! Patrol qualification: how long a member was inside the task's area, and whether that is
//! enough.
//!
//! Time inside is measured from the member's positions: the time between two consecutive
//! points that are both inside the area counts, unless they are more than [`MAX_GAP_SECS`]
//! apart (the phone was off, or the envoy somewhere else meanwhile). Flagged points (an
//! implausible jump, see [`crate::position`]) are ignored altogether.

use crate::position::Position;
use crate::time::Timestamp;
use pp_geo::Area;

/// Longest gap between two consecutive in-area points that still counts, in seconds.
pub const MAX_GAP_SECS: i64 = 120;

/// Seconds an envoy spent inside `area` between `from` and `until` (both inclusive), from their
/// `positions` (in any order).
///
/// Flagged points and points outside `[from, until]` are ignored. The remaining points are
/// taken in `ts` order, and the time between two consecutive ones counts when both are inside
/// the area and they are at most [`MAX_GAP_SECS`] apart. Several points with the same `ts` (the
/// store keeps one per envoy and `ts`, so this only happens with hand-made input) count as one
/// instant that is inside only if all of them are inside, so the result never depends on the
/// input order.
///
/// The sum is taken in whole milliseconds, so it is exact; minutes are the result / 60. It never
/// exceeds `until - from`.
pub fn seconds_inside(
    positions: &[Position],
    area: &Area,
    from: Timestamp,
    until: Timestamp,
) -> f64 {
    let mut points: Vec<(Timestamp, bool)> = positions
        .iter()
        .filter(|p| p.counts() && from <= p.ts && p.ts <= until)
        .map(|p| (p.ts, area.contains(p.at)))
        .collect();
    // (ts, false) sorts before (ts, true): the first point of each instant says whether any of
    // that instant's points is outside.
    points.sort_unstable();
    points.dedup_by_key(|p| p.0);
    let max_gap_ms = MAX_GAP_SECS * 1000;
    let total_ms: i64 = points
        .windows(2)
        .filter(|w| w[0].1 && w[1].1)
        .map(|w| (w[1].0 - w[0].0).num_milliseconds())
        .filter(|&dt| dt <= max_gap_ms)
        .sum();
    total_ms as f64 / 1000.0
}

/// Patrol progress of one member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Minutes spent inside the area so far.
    pub minutes_inside: f64,
    /// The task's `patrol_minutes`.
    pub required_minutes: u32,
    /// Whether `minutes_inside` reaches `required_minutes`.
    pub qualified: bool,
}

/// A member's progress: [`seconds_inside`] over `[from, until]`, qualified when it reaches
/// `required_minutes` minutes (exactly reaching it qualifies).
pub fn progress(
    positions: &[Position],
    area: &Area,
    from: Timestamp,
    until: Timestamp,
    required_minutes: u32,
) -> Progress {
    let secs = seconds_inside(positions, area, from, until);
    Progress {
        minutes_inside: secs / 60.0,
        required_minutes,
        qualified: secs >= f64::from(required_minutes) * 60.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::tests::{now, TOWER};
    use chrono::Duration;
    use pp_geo::LatLng;
    use proptest::prelude::*;

    /// A 300 m circle around Canton Tower.
    fn area() -> Area {
        Area::circle(LatLng::new(TOWER.0, TOWER.1).unwrap(), 300.0).unwrap()
    }

    /// A position `secs` after `now()`, `north_m` metres north of the tower.
    fn at(secs: i64, north_m: f64) -> Position {
        Position {
            ts: now() + Duration::seconds(secs),
            at: LatLng::new(TOWER.0 + north_m / 111_195.08, TOWER.1).unwrap(),
            accuracy_m: 10.0,
            flagged: false,
        }
    }

    fn inside(secs: i64) -> Position {
        at(secs, 100.0)
    }

    fn outside(secs: i64) -> Position {
        at(secs, 1000.0)
    }

    fn flagged(mut p: Position) -> Position {
        p.flagged = true;
        p
    }

    /// seconds_inside over a wide window (a day either side of `now()`).
    fn secs(positions: &[Position]) -> f64 {
        seconds_inside(
            positions,
            &area(),
            now() - Duration::days(1),
            now() + Duration::days(1),
        )
    }

    #[test]
    fn nothing_counts_without_two_points() {
        assert_eq!(secs(&[]), 0.0);
        assert_eq!(secs(&[inside(0)]), 0.0);
    }

    #[test]
    fn points_outside_the_area_do_not_count() {
        // in, in, out, in, in: only the in-in stretches count
        let ps = [inside(0), inside(30), outside(60), inside(90), inside(120)];
        assert_eq!(secs(&ps), 60.0);
        assert_eq!(secs(&[outside(0), outside(30)]), 0.0);
        assert_eq!(secs(&[outside(0), inside(30)]), 0.0);
        // inside the polygon form too: a square of ~400 m around the tower
        let d = 0.0018;
        let square = Area::polygon(vec![
            [TOWER.1 - d, TOWER.0 - d],
            [TOWER.1 + d, TOWER.0 - d],
            [TOWER.1 + d, TOWER.0 + d],
            [TOWER.1 - d, TOWER.0 + d],
            [TOWER.1 - d, TOWER.0 - d],
        ])
        .unwrap();
        let window = (now() - Duration::hours(1), now() + Duration::hours(1));
        assert_eq!(seconds_inside(&ps, &square, window.0, window.1), 60.0);
    }

    #[test]
    fn gaps_over_two_minutes_do_not_count() {
        assert_eq!(secs(&[inside(0), inside(180)]), 0.0);
        assert_eq!(secs(&[inside(0), inside(121)]), 0.0);
        assert_eq!(secs(&[inside(0), inside(120)]), 120.0, "2 minutes exactly");
        assert_eq!(
            secs(&[inside(0), inside(60), inside(240), inside(300)]),
            120.0
        );
    }

    #[test]
    fn flagged_points_do_not_count_and_break_nothing() {
        // a flagged jump between two honest points leaves their stretch intact
        let ps = [inside(0), flagged(at(30, 100_000.0)), inside(60)];
        assert_eq!(secs(&ps), 60.0);
        // a flagged point inside the area does not bridge a gap
        let ps = [inside(0), flagged(inside(100)), inside(200)];
        assert_eq!(secs(&ps), 0.0);
        // flagged points alone count nothing
        let ps = [flagged(inside(0)), flagged(inside(30))];
        assert_eq!(secs(&ps), 0.0);
    }

    #[test]
    fn only_the_window_counts() {
        let ps: Vec<Position> = (0..=20).map(|i| inside(i * 30)).collect(); // 0..=600 s
        let from = now() + Duration::seconds(120);
        let until = now() + Duration::seconds(300);
        assert_eq!(seconds_inside(&ps, &area(), from, until), 180.0);
        // a window between two pings holds no point, so nothing counts
        let from = now() + Duration::seconds(31);
        let until = now() + Duration::seconds(59);
        assert_eq!(seconds_inside(&ps, &area(), from, until), 0.0);
    }

    #[test]
    fn input_order_and_same_instant_points() {
        let ps = [inside(60), inside(0), inside(30)];
        assert_eq!(secs(&ps), 60.0);
        // two reports at one instant, one of them outside: that instant is not inside
        let ps = [inside(0), inside(30), outside(30), inside(60)];
        assert_eq!(secs(&ps), 0.0);
        let ps = [inside(0), inside(30), inside(30), inside(60)];
        assert_eq!(secs(&ps), 60.0);
    }

    #[test]
    fn qualification_boundary() {
        // 30 minutes of 30-s pings: 61 points from 0 to 1800 s
        let full: Vec<Position> = (0..=60).map(|i| inside(i * 30)).collect();
        let from = now();
        let until = now() + Duration::hours(1);
        let p = progress(&full, &area(), from, until, 30);
        assert_eq!(p.minutes_inside, 30.0);
        assert_eq!(p.required_minutes, 30);
        assert!(p.qualified);
        // 29.5 minutes
        let short = &full[..60];
        let p = progress(short, &area(), from, until, 30);
        assert_eq!(p.minutes_inside, 29.5);
        assert!(!p.qualified);
        // nothing is needed for 0 minutes
        assert!(progress(&[], &area(), from, until, 0).qualified);
    }

    /// A position `secs` after `now()` at (north, east) metres from the tower; the area is a
    /// 300 m circle, so some are inside and some outside.
    fn arb_position() -> impl Strategy<Value = Position> {
        (
            0i64..3600,
            -500.0f64..500.0,
            -500.0f64..500.0,
            prop::bool::weighted(0.1),
        )
            .prop_map(|(s, n, e, flagged)| Position {
                ts: now() + Duration::seconds(s),
                at: LatLng::new(
                    TOWER.0 + n / 111_195.08,
                    TOWER.1 + e / (111_195.08 * TOWER.0.to_radians().cos()),
                )
                .unwrap(),
                accuracy_m: 5.0,
                flagged,
            })
    }

    fn arb_window() -> impl Strategy<Value = (Timestamp, Timestamp)> {
        (-100i64..3700, 0i64..4000).prop_map(|(a, len)| {
            let from = now() + Duration::seconds(a);
            (from, from + Duration::seconds(len))
        })
    }

    proptest! {
        #[test]
        fn shuffling_changes_nothing(
            ps in prop::collection::vec(arb_position(), 0..80),
            (from, until) in arb_window(),
            seed in any::<u64>(),
        ) {
            let a = seconds_inside(&ps, &area(), from, until);
            let mut shuffled = ps.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let b = seconds_inside(&shuffled, &area(), from, until);
            prop_assert_eq!(a, b);
            let mut reversed = ps;
            reversed.reverse();
            prop_assert_eq!(a, seconds_inside(&reversed, &area(), from, until));
        }

        #[test]
        fn never_more_than_the_window(
            ps in prop::collection::vec(arb_position(), 0..80),
            (from, until) in arb_window(),
        ) {
            let s = seconds_inside(&ps, &area(), from, until);
            prop_assert!(s >= 0.0);
            prop_assert!(s <= (until - from).num_milliseconds() as f64 / 1000.0);
        }

        #[test]
        fn a_point_outside_never_adds_time(
            ps in prop::collection::vec(arb_position(), 0..80),
            (from, until) in arb_window(),
            extra_secs in 0i64..3600,
            extra_flagged in any::<bool>(),
        ) {
            let before = seconds_inside(&ps, &area(), from, until);
            let mut more = ps;
            let mut extra = outside(extra_secs);
            extra.flagged = extra_flagged;
            more.push(extra);
            prop_assert!(seconds_inside(&more, &area(), from, until) <= before);
        }

        #[test]
        fn regular_pings_inside_count_in_full(
            n in 1i64..200,
            step in 1i64..=MAX_GAP_SECS,
            start in -3600i64..3600,
        ) {
            let ps: Vec<Position> = (0..n).map(|i| inside(start + i * step)).collect();
            let s = secs(&ps);
            prop_assert_eq!(s, ((n - 1) * step) as f64);
            // and a step just over the limit counts nothing
            let ps: Vec<Position> = (0..n).map(|i| inside(start + i * (MAX_GAP_SECS + 1))).collect();
            prop_assert_eq!(secs(&ps), 0.0);
        }
    }
}
