//! The rows of one position append, prepared alike for both backends' `Appender::append_rows`
//! (`sqlite/positions.rs`, `postgres/positions.rs`): the points in key order, one per key, each
//! envoy's latest counted point and the visits the counted points add to the heat map. Compiled
//! once; nothing here touches the database.

use crate::PositionBatch;
use pp_domain::position::Position;
use pp_domain::time::to_millis;
use pp_geo::cells::Cells;
use std::collections::HashMap;
use uuid::Uuid;

/// A point of an [`crate::PositionStore::append_positions`] call, with where it came from.
pub(crate) struct PointRow<'a> {
    pub(crate) user: Uuid,
    /// Unix milliseconds, as stored: two points of an envoy less than a millisecond apart are
    /// one point.
    pub(crate) ts: i64,
    pub(crate) point: &'a Position,
    pub(crate) cells: &'a Cells,
    batch: usize,
    index: usize,
}

/// The points of `batches` in key order, one per key (user, ts).
///
/// Key order: concurrent appends (several nodes on PostgreSQL) take their index locks in the
/// same order, SQLite appends to its B-trees in order, and each envoy's points end up together.
/// The sort is stable, so of several copies of one key in this call the first is kept: it is
/// the one stored, and the only one that can be new.
pub(crate) fn point_rows(batches: &[PositionBatch]) -> Vec<PointRow<'_>> {
    let mut rows: Vec<PointRow<'_>> = batches
        .iter()
        .enumerate()
        .flat_map(|(batch, b)| {
            b.points()
                .iter()
                .zip(b.cells())
                .enumerate()
                .map(move |(index, (point, cells))| PointRow {
                    user: b.user.0,
                    ts: to_millis(point.ts),
                    point,
                    cells,
                    batch,
                    index,
                })
        })
        .collect();
    rows.sort_by_key(|r| (r.user, r.ts));
    rows.dedup_by_key(|r| (r.user, r.ts));
    rows
}

/// Per batch and per point, whether the point was new: `new` says it for each of `rows` (from
/// [`point_rows`]); a copy of a key within the call is not new.
pub(crate) fn fresh_points(
    batches: &[PositionBatch],
    rows: &[PointRow<'_>],
    new: &[bool],
) -> Vec<Vec<bool>> {
    let mut fresh: Vec<Vec<bool>> = batches
        .iter()
        .map(|b| vec![false; b.points().len()])
        .collect();
    for (r, &is_new) in rows.iter().zip(new) {
        fresh[r.batch][r.index] = is_new;
    }
    fresh
}

/// The rows that count (`Position::newly_counted`: new and not flagged), in `rows` order.
fn counted<'r, 'a>(
    rows: &'r [PointRow<'a>],
    new: &'r [bool],
) -> impl Iterator<Item = &'r PointRow<'a>> {
    rows.iter()
        .zip(new)
        .filter(|(r, &n)| r.point.newly_counted(n))
        .map(|(r, _)| r)
}

/// A heat row's key: hour, the point's cells, the envoy.
pub(crate) type HeatKey = (i64, Cells, Uuid);

/// The visits the new unflagged points add to their heat rows, summed per row, in key order
/// (concurrent writers lock rows in one order, as for the points).
pub(crate) fn heat_visits(rows: &[PointRow<'_>], new: &[bool]) -> Vec<(HeatKey, i64)> {
    let mut visits: HashMap<HeatKey, i64> = HashMap::new();
    for r in counted(rows, new) {
        let hour = r.ts.div_euclid(pp_domain::heat::HOUR_MS);
        *visits.entry((hour, *r.cells, r.user)).or_default() += 1;
    }
    let mut visits: Vec<_> = visits.into_iter().collect();
    visits.sort_unstable_by_key(|(k, _)| *k);
    visits
}

/// Each envoy's latest new unflagged point: `rows` are in (user, ts) order, so it is the last
/// such row of the envoy's run.
pub(crate) fn latest_rows<'r, 'a>(
    rows: &'r [PointRow<'a>],
    new: &'r [bool],
) -> Vec<&'r PointRow<'a>> {
    let mut latest: Vec<&PointRow<'_>> = Vec::new();
    for r in counted(rows, new) {
        match latest.last_mut() {
            Some(last) if last.user == r.user => *last = r,
            _ => latest.push(r),
        }
    }
    latest
}
