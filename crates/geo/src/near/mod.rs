//! Nearest points on the sphere: a grid of cells about [`CELL_M`] metres on a side, each
//! point also kept as its position on the unit sphere.
//!
//! **Ranking.** A point is kept as its position on the unit sphere (x, y, z). The straight-line
//! (chord) distance between two such positions grows with their great-circle distance
//! (`chord = 2 sin(θ / 2)`), so ordering by chord is exactly the great-circle order, with no
//! projection error. Distances are reported in metres on the sphere of [`EARTH_RADIUS_M`].
//!
//! **Cells.** Latitude is cut into rows [`CELL_M`] metres high; each row is cut into equal
//! longitude columns, as many as fit at least [`CELL_M`] metres wide along the poleward edge
//! of its band of 64 rows (fewer near the poles; one column in the rows at the poles), so a
//! cell is at least [`CELL_M`] metres on each side at any latitude. Columns wrap around at the
//! antimeridian. A point's cell is a pure function of its coordinates. The index keeps the
//! occupied rows in a hash map, each row's occupied cells sorted by column (the column numbers
//! in a `Vec` of their own, searched by bisection, the cells in a parallel one), and each key's
//! row, column and place in its cell: a move within the cell rewrites the point in place, a
//! move to another cell is a swap-remove from one `Vec` and a push onto another. A cell also
//! keeps a ball that holds all of it, made when the cell is: its middle on the unit sphere and
//! a chord length no point of the cell is beyond (its farthest corner's, widened by 0.1 % and
//! 10⁻⁹, about 6 mm; no bound for cells over a degree wide or beyond 89° of latitude).
//!
//! **Search.** A search grows a *reach* around the query point and visits the cells that the
//! spherical cap of that reach may touch and that it has not visited yet: the rows within the
//! cap's latitudes and, in each, the columns within its longitudes (`±asin(sin δ / cos φ)`,
//! every longitude when the cap holds a pole), both widened by 10⁻⁹° so that rounding never
//! leaves a cell out. It offers a growth's new cells nearest middle first, and skips a cell
//! whose ball lies wholly beyond the `k`-th nearest candidate so far, or the radius (the chord
//! is a distance in space, so a point is no nearer than the middle's chord less the ball's).
//! After each growth every point within the reach has been seen, so the candidates within it
//! are final and are handed to `keep` nearest first. While looking, a search keeps only the candidates
//! not beyond the `k`-th nearest so far (ties included), nearest first: the first `k` are
//! pushed and then sorted, after which a point is rejected with one comparison unless it is
//! nearer than the `k`-th, when it takes its place by bisection and the `k`-th (with its ties)
//! goes. If `keep` then says no to some, it looks again for the points it has not handed over
//! yet. The next reach is the distance of the candidate that would complete the answer if
//! every one were kept (or twice the reach when too few were seen). A search that would look
//! up more rows than scanning every point costs scans every point instead (skipping the cells
//! the same way), so no radius (up to the whole sphere) and no latitude makes it slow.

mod search;

use crate::{LatLng, EARTH_RADIUS_M};
use foldhash::fast::RandomState;
use search::{by_distance, Search};
use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::Hash;

/// The side of a cell in metres (its height; at least its width).
pub const CELL_M: f64 = 200.0;

/// A point on the unit sphere.
type Unit = [f64; 3];

fn unit(p: LatLng) -> Unit {
    let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
    let (sin_lat, cos_lat) = lat.sin_cos();
    let (sin_lng, cos_lng) = lng.sin_cos();
    [cos_lat * cos_lng, cos_lat * sin_lng, sin_lat]
}

/// Squared chord length between two points on the unit sphere.
fn distance2(a: &Unit, b: &Unit) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

/// Squared chord length of a great-circle distance in metres (capped at the antipode).
fn chord2(distance_m: f64) -> f64 {
    let theta = (distance_m / EARTH_RADIUS_M).clamp(0.0, std::f64::consts::PI);
    let c = 2.0 * (theta / 2.0).sin();
    c * c
}

/// Great-circle metres of a squared chord length.
fn metres(chord2: f64) -> f64 {
    2.0 * (chord2.sqrt() / 2.0).clamp(0.0, 1.0).asin() * EARTH_RADIUS_M
}

/// Half the circumference: no two points are farther apart.
const HALF_ROUND_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;
/// A row's height (and a column's least width at the equator) in degrees.
const ROW_DEG: f64 = CELL_M / crate::distance::M_PER_DEG;
/// Rows from the south pole (row 0) to the north pole.
const ROWS: i64 = (180.0 / ROW_DEG) as i64 + 1;
/// Rows share their column count in bands of this many rows (so a search computes it a few
/// times, not once per row); a band's cells are sized for its poleward edge.
const BAND_ROWS: i64 = 64;
/// How much a search widens its latitude and longitude spans, in degrees (about 0.1 mm; far
/// above the rounding of the coordinates, far below any use).
const SLACK_DEG: f64 = 1e-9;

/// `x.floor()` as an integer (saturating; NaN is 0), without the call to libm's `floor` that
/// `f64::floor` costs on x86-64 without SSE 4.1.
fn floor(x: f64) -> i64 {
    let t = x as i64;
    t - i64::from((t as f64) > x)
}

/// The row of a latitude.
fn row_of(lat: f64) -> i64 {
    // the clamp keeps the poles in the end rows
    floor((lat + 90.0) / ROW_DEG).clamp(0, ROWS - 1)
}

/// How many columns the rows of `row`'s band have.
fn columns(row: i64) -> i64 {
    let band = row.div_euclid(BAND_ROWS);
    let south = -90.0 + (band * BAND_ROWS) as f64 * ROW_DEG;
    let north = (south + BAND_ROWS as f64 * ROW_DEG).min(90.0);
    let poleward = south.abs().max(north.abs()).min(90.0);
    floor(360.0 * poleward.to_radians().cos() / ROW_DEG).max(1)
}

/// The column of a longitude in a row of `n` columns, not wrapped: from -180° on (`lng` may
/// lie outside -180..=180 by a turn or so).
fn column(lng: f64, n: i64) -> i64 {
    floor((lng + 180.0) * n as f64 / 360.0)
}

/// The cell of a point: its row and its column (wrapped into the row).
fn cell_of(p: LatLng) -> (u32, u32) {
    let row = row_of(p.lat);
    let n = columns(row);
    (row as u32, column(p.lng, n).rem_euclid(n) as u32)
}

/// The cells a cap around a point may touch: rows `rows.0..=rows.1` and, in each, the
/// longitudes within `dlng` degrees of the point's (`None`: every longitude, the cap holds a
/// pole).
#[derive(Debug, Clone, Copy)]
struct Span {
    rows: (i64, i64),
    dlng: Option<f64>,
}

impl Span {
    /// The span of the cap of `reach_m` metres around `p`.
    fn of(p: LatLng, reach_m: f64) -> Span {
        let delta = reach_m / EARTH_RADIUS_M;
        let ddeg = delta.to_degrees() * (1.0 + SLACK_DEG) + SLACK_DEG;
        let (south, north) = (p.lat - ddeg, p.lat + ddeg);
        // the cap holds no pole, so δ < 90° - |φ| and sin δ < cos φ
        let dlng = (south > -90.0 && north < 90.0)
            .then(|| delta.sin() / p.lat.to_radians().cos())
            .filter(|s| *s < 1.0)
            .map(|s| s.asin().to_degrees() * (1.0 + SLACK_DEG) + SLACK_DEG);
        Span {
            rows: (row_of(south), row_of(north)),
            dlng,
        }
    }

    /// The columns of `row` (of `n` columns) in the span around longitude `lng`, not wrapped;
    /// `None` for the whole row. Rows outside the span are not asked for.
    fn columns(&self, lng: f64, n: i64) -> Option<(i64, i64)> {
        let d = self.dlng?;
        let (west, east) = (column(lng - d, n), column(lng + d, n));
        (east - west + 1 < n).then_some((west, east))
    }

    fn has_row(&self, row: i64) -> bool {
        (self.rows.0..=self.rows.1).contains(&row)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry<K> {
    at: Unit,
    key: K,
}

/// The points of one occupied cell, and a ball holding the whole cell.
#[derive(Debug)]
struct Cell<K> {
    /// The cell's middle on the unit sphere.
    mid: Unit,
    /// A chord length from `mid` beyond which no point of the cell lies (4: no bound).
    spread: f64,
    entries: Vec<Entry<K>>,
}

impl<K> Cell<K> {
    fn new((row, column): (u32, u32)) -> Cell<K> {
        let (mid, spread) = ball(row, column);
        Cell {
            mid,
            spread,
            entries: Vec::new(),
        }
    }

    /// Whether a point of the cell may lie within `within` (a chord length) of `q`.
    fn may_reach(&self, q: &Unit, within: f64) -> bool {
        let r = within + self.spread;
        distance2(&self.mid, q) <= r * r
    }
}

/// The middle of cell `(row, column)` on the unit sphere and a chord length from it that no
/// point of the cell is beyond: the farthest corner's, widened by 0.1 % and 10⁻⁹ (about 6 mm,
/// far above the rounding of a point's cell and coordinates). For cells over a degree wide or
/// beyond 89° of latitude, whose corners need not be their farthest points, 4 (twice the
/// sphere's diameter: no bound).
fn ball(row: u32, column: u32) -> (Unit, f64) {
    let row = i64::from(row);
    let n = columns(row);
    let south = -90.0 + row as f64 * ROW_DEG;
    let north = (south + ROW_DEG).min(90.0);
    let width = 360.0 / n as f64;
    let west = -180.0 + f64::from(column) * width;
    let at = |lat: f64, lng: f64| unit(LatLng { lat, lng });
    let mid = at((south + north) / 2.0, west + width / 2.0);
    if width > 1.0 || south.abs().max(north.abs()) > 89.0 {
        return (mid, 4.0);
    }
    let far = [
        (south, west),
        (south, west + width),
        (north, west),
        (north, west + width),
    ]
    .into_iter()
    .map(|(lat, lng)| distance2(&mid, &at(lat, lng)))
    .fold(0.0, f64::max);
    (mid, far.sqrt() * 1.001 + 1e-9)
}

/// The occupied cells of a row: their columns, ascending, and their points, in the same
/// order.
#[derive(Debug)]
struct Row<K> {
    columns: Vec<u32>,
    cells: Vec<Cell<K>>,
}

impl<K> Row<K> {
    /// Where `column` is in `columns` (`Err`: where it would go).
    fn find(&self, column: u32) -> Result<usize, usize> {
        self.columns.binary_search(&column)
    }

    /// The cells of columns `west..=east` (`west <= east`, both in the row).
    fn between(&self, west: u32, east: u32) -> &[Cell<K>] {
        let from = self.columns.partition_point(|&c| c < west);
        let to = from
            + self.columns[from..]
                .iter()
                .take_while(|&&c| c <= east)
                .count();
        &self.cells[from..to]
    }
}

/// Where a key's point is: its row, its column and its place among the cell's entries.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    row: u32,
    column: u32,
    entry: u32,
}

impl Place {
    fn cell(&self) -> (u32, u32) {
        (self.row, self.column)
    }
}

/// Points by key (an envoy, …), each at one place, with nearest-first search.
#[derive(Debug)]
pub struct PointIndex<K> {
    places: HashMap<K, Place, RandomState>,
    /// The rows with a point, by row number.
    rows: HashMap<u32, Row<K>, RandomState>,
}

impl<K> Default for PointIndex<K> {
    fn default() -> Self {
        PointIndex {
            places: HashMap::default(),
            rows: HashMap::default(),
        }
    }
}

impl<K: Copy + Eq + Hash + PartialEq> PointIndex<K> {
    /// An index of `points`; a repeated key keeps its last place.
    pub fn of(points: impl IntoIterator<Item = (K, LatLng)>) -> Self {
        let points = points.into_iter();
        let mut index = PointIndex::default();
        index.places.reserve(points.size_hint().0);
        for (key, p) in points {
            index.set(key, p);
        }
        index
    }

    /// Puts `key` at `p` (moving it when it is in the index already): in place within its
    /// cell, else from one cell's entries to the other's.
    pub fn set(&mut self, key: K, p: LatLng) {
        let (at, cell) = (unit(p), cell_of(p));
        match self.places.entry(key) {
            Slot::Occupied(mut o) => {
                let old = *o.get();
                if old.cell() == cell {
                    if let Some(e) = self.rows.get_mut(&old.row).and_then(|r| {
                        let i = r.find(old.column).ok()?;
                        r.cells[i].entries.get_mut(old.entry as usize)
                    }) {
                        e.at = at;
                    }
                    return;
                }
                *o.get_mut() = push(&mut self.rows, cell, Entry { at, key });
                self.take_out(old);
            }
            Slot::Vacant(v) => {
                v.insert(push(&mut self.rows, cell, Entry { at, key }));
            }
        }
    }

    /// Takes `key` out of the index.
    pub fn remove(&mut self, key: K) {
        if let Some(place) = self.places.remove(&key) {
            self.take_out(place);
        }
    }

    /// Swap-removes the entry at `place` (whose key is no longer there or elsewhere): the
    /// cell's last entry takes its place; an emptied cell, and an emptied row, go.
    fn take_out(&mut self, place: Place) {
        let Some(row) = self.rows.get_mut(&place.row) else {
            return;
        };
        let Ok(i) = row.find(place.column) else {
            return;
        };
        let entries = &mut row.cells[i].entries;
        entries.swap_remove(place.entry as usize);
        if let Some(moved) = entries.get(place.entry as usize) {
            if let Some(p) = self.places.get_mut(&moved.key) {
                p.entry = place.entry;
            }
        } else if entries.is_empty() {
            row.cells.remove(i);
            row.columns.remove(i);
            if row.cells.is_empty() {
                self.rows.remove(&place.row);
            }
        }
    }

    /// How many keys the index holds.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Up to `k` keys within `radius_m` great-circle metres of `p` for which `keep` holds,
    /// nearest first, with their distance in metres. `keep` is asked nearest first, and only
    /// until `k` keys are kept.
    pub fn nearest(
        &self,
        p: LatLng,
        k: usize,
        radius_m: f64,
        mut keep: impl FnMut(K) -> bool,
    ) -> Vec<(K, f64)> {
        if k == 0 || self.is_empty() || radius_m.is_nan() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(k.min(self.len()));
        let radius_m = radius_m.clamp(0.0, HALF_ROUND_M);
        let limit2 = chord2(radius_m);
        let mut s = Search {
            q: unit(p),
            done2: -1.0,
            prune2: limit2,
            need: k,
            candidates: Vec::with_capacity(k.min(self.len()) + 4),
        };
        // row look-ups that cost about as much as scanning every point
        let mut budget = self.rows.len() + self.len() / 8;
        let mut seen: Option<Span> = None;
        let mut order = Vec::with_capacity(16);
        let mut reach = radius_m.min(CELL_M / 2.0);
        loop {
            let span = Span::of(p, reach);
            if !self.visit(p, span, seen, &mut budget, &mut s, &mut order) {
                break;
            }
            seen = Some(span);
            let complete = reach >= radius_m;
            let final2 = if complete { limit2 } else { chord2(reach) };
            if s.hand_over(final2, &mut keep, &mut out) {
                return out;
            }
            if s.prune2 < limit2 && s.candidates.len() < s.need {
                // `keep` said no to some: look again for all the points not handed over yet
                s.restart(final2.min(s.prune2), limit2);
                seen = None;
                continue;
            }
            if complete {
                return out;
            }
            s.done2 = final2;
            reach = if s.candidates.len() >= s.need {
                // enough candidates to answer: reach the `need`-th
                (metres(s.prune2) + 1e-3).max(reach + 1e-3)
            } else {
                reach * 2.0
            }
            .min(radius_m);
        }
        // scan every point instead, and finish
        s.candidates.clear();
        loop {
            for cell in self.rows.values().flat_map(|r| &r.cells) {
                s.offer(cell);
            }
            if s.hand_over(f64::INFINITY, &mut keep, &mut out) || s.prune2 >= limit2 {
                return out;
            }
            s.restart(s.prune2, limit2);
        }
    }

    /// Offers to `s` the points of the cells in `span` and not in `seen`, the cells nearest
    /// `s.q` by their middle first (gathered in `order`), spending `budget` row look-ups;
    /// false when it would exceed it.
    fn visit<'a>(
        &'a self,
        p: LatLng,
        span: Span,
        seen: Option<Span>,
        budget: &mut usize,
        s: &mut Search<K>,
        order: &mut Vec<(f64, &'a Cell<K>)>,
    ) -> bool {
        let rows = (span.rows.1 - span.rows.0 + 1) as usize;
        if rows > *budget {
            return false;
        }
        order.clear();
        let mut n = 0;
        let mut band = -1;
        for r in span.rows.0..=span.rows.1 {
            if r.div_euclid(BAND_ROWS) != band {
                band = r.div_euclid(BAND_ROWS);
                n = columns(r);
            }
            let now = span.columns(p.lng, n);
            let before = seen.filter(|s| s.has_row(r)).map(|s| s.columns(p.lng, n));
            // up to two runs of new columns
            let runs = match (now, before) {
                (_, None) => {
                    let (w, e) = now.unwrap_or((0, n - 1));
                    [(w, e), (1, 0)]
                }
                (None, Some(None)) => continue,
                (None, Some(Some((w, e)))) => [(e + 1, w + n - 1), (1, 0)],
                (Some((w, e)), Some(Some((w0, e0)))) => [(w, w0 - 1), (e0 + 1, e)],
                // a span only grows
                (Some(_), Some(None)) => continue,
            };
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let Some(row) = self.rows.get(&(r as u32)) else {
                continue;
            };
            for (west, east) in runs {
                if west > east {
                    continue;
                }
                // a run of fewer than n columns, wrapped into the row: one or two pieces
                let (w, e) = (west.rem_euclid(n) as u32, east.rem_euclid(n) as u32);
                let pieces = if w <= e {
                    [(w, e), (1, 0)]
                } else {
                    [(w, (n - 1) as u32), (0, e)]
                };
                for (w, e) in pieces {
                    if w <= e {
                        for cell in row.between(w, e) {
                            order.push((distance2(&cell.mid, &s.q), cell));
                        }
                    }
                }
            }
        }
        order.sort_unstable_by(by_distance);
        for (_, cell) in order.drain(..) {
            s.offer(cell);
        }
        true
    }
}

/// Puts `entry` in the cell `(row, column)` (adding the cell, and its row, when new) and says
/// where.
fn push<K>(
    rows: &mut HashMap<u32, Row<K>, RandomState>,
    (row, column): (u32, u32),
    entry: Entry<K>,
) -> Place {
    let r = rows.entry(row).or_insert_with(|| Row {
        columns: Vec::new(),
        cells: Vec::new(),
    });
    let i = match r.find(column) {
        Ok(i) => i,
        Err(i) => {
            r.columns.insert(i, column);
            r.cells.insert(i, Cell::new((row, column)));
            i
        }
    };
    let entries = &mut r.cells[i].entries;
    entries.push(entry);
    Place {
        row,
        column,
        entry: (entries.len() - 1) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haversine_m;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn chords_and_metres_agree_with_haversine() {
        let (a, b) = (ll(23.1066, 113.3245), ll(23.0830, 113.3390));
        let d2 = distance2(&unit(a), &unit(b));
        assert!((metres(d2) - haversine_m(a, b)).abs() < 1e-6);
        assert!((chord2(haversine_m(a, b)) - d2).abs() < 1e-15);
    }

    #[test]
    fn cells_are_at_least_a_cell_wide_and_wrap() {
        for lat in [-90.0, -89.99, -60.0, 0.0, 23.1, 45.0, 89.0, 89.999, 90.0] {
            let row = row_of(lat);
            assert!((0..ROWS).contains(&row));
            let n = columns(row);
            assert!(n >= 1);
            // a column is at least CELL_M wide along the row (at its latitude)
            let width = 360.0 / n as f64 * crate::distance::M_PER_DEG;
            assert!(n == 1 || width * lat.to_radians().cos() >= CELL_M, "{lat}");
        }
        assert_eq!(cell_of(ll(10.0, -180.0)), cell_of(ll(10.0, 180.0)));
        assert_eq!(cell_of(ll(10.0, -180.0)).1, 0);
        assert_eq!(cell_of(ll(90.0, -120.0)), cell_of(ll(90.0, 60.0)));
    }

    #[test]
    fn moves_and_removals_are_seen() {
        let mut index = PointIndex::default();
        index.set(1, ll(23.1066, 113.3245));
        index.set(2, ll(23.0830, 113.3390));
        index.set(1, ll(23.0831, 113.3390));
        let near = index.nearest(ll(23.0830, 113.3390), 5, 100.0, |_| true);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), [2, 1]);
        index.remove(2);
        assert_eq!(index.len(), 1);
        let near = index.nearest(ll(23.0830, 113.3390), 5, 100.0, |k| k != 1);
        assert!(near.is_empty());
        // the antimeridian is no edge
        index.set(3, ll(0.0, 179.9999));
        let near = index.nearest(ll(0.0, -179.9999), 1, 50.0, |_| true);
        assert_eq!(near.first().map(|n| n.0), Some(3));
        // nor are the poles
        index.set(4, ll(89.9999, -170.0));
        let near = index.nearest(ll(89.9999, 10.0), 1, 50.0, |_| true);
        assert_eq!(near.first().map(|n| n.0), Some(4));
        assert!((near[0].1 - haversine_m(ll(89.9999, -170.0), ll(89.9999, 10.0))).abs() < 1e-6);
    }

    #[test]
    fn emptied_cells_go_and_the_whole_sphere_is_searched() {
        let mut index = PointIndex::default();
        for i in 0..100 {
            index.set(i, ll(23.0 + f64::from(i) * 0.01, 113.3));
        }
        for round in 0..3 {
            for i in 0..100 {
                index.set(i, ll(-40.0 + f64::from(i) * 0.01, -70.0 + f64::from(round)));
            }
        }
        assert_eq!(index.len(), 100);
        // the cells left behind are gone
        let cells: usize = index.rows.values().map(|r| r.cells.len()).sum();
        assert_eq!(cells, 100);
        assert!(
            index
                .rows
                .values()
                .all(|r| r.columns.len() == r.cells.len()
                    && r.columns.windows(2).all(|w| w[0] < w[1]))
        );
        // a search of the whole sphere (scans every point)
        let near = index.nearest(ll(40.0, 110.0), 3, f64::INFINITY, |_| true);
        assert_eq!(near.len(), 3);
        assert!(near.windows(2).all(|w| w[0].1 <= w[1].1));
        let all = index.nearest(ll(0.0, 0.0), 1000, 1e9, |_| true);
        assert_eq!(all.len(), 100);
        assert!(index
            .nearest(ll(0.0, 0.0), 5, f64::NAN, |_| true)
            .is_empty());
        assert!(index.nearest(ll(0.0, 0.0), 0, 1e9, |_| true).is_empty());
        for i in 0..100 {
            index.remove(i);
        }
        assert!(index.is_empty() && index.rows.is_empty());
    }

    /// A place: in a city, anywhere, near a pole, near the antimeridian or on a cell's edge.
    fn place() -> impl Strategy<Value = (f64, f64)> {
        prop_oneof![
            3 => (23.0f64..23.2, 113.2f64..113.45),
            2 => (-90.0f64..=90.0, -180.0f64..=180.0),
            1 => (89.9f64..=90.0, -180.0f64..=180.0),
            1 => (-90.0f64..-89.98, -180.0f64..=180.0),
            1 => (-1.0f64..1.0, prop_oneof![179.98f64..=180.0, -180.0f64..-179.98]),
            1 => (0i64..ROWS, 0u32..1000, any::<bool>()).prop_map(|(row, c, up)| {
                let lat = (-90.0 + row as f64 * ROW_DEG).clamp(-90.0, 90.0);
                let n = columns(row);
                let lng = -180.0 + 360.0 * f64::from(c) / n as f64;
                let lng = if up { lng } else { lng - 1e-12 };
                (lat, lng.clamp(-180.0, 180.0))
            }),
        ]
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Put a key at a place.
        Set(usize, (f64, f64)),
        /// Move a key by a few metres (most often within its cell).
        Nudge(usize, f64, f64),
        Remove(usize),
        /// Search around a place: k, radius, only odd keys.
        Nearest((f64, f64), usize, f64, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..300, place()).prop_map(|(i, p)| Op::Set(i, p)),
            3 => (0usize..300, -3e-5f64..3e-5, -3e-5f64..3e-5).prop_map(|(i, a, b)| Op::Nudge(i, a, b)),
            1 => (0usize..300).prop_map(Op::Remove),
            2 => (
                place(),
                1usize..30,
                prop_oneof![0.0f64..3_000.0, 0.0f64..300_000.0, 0.0f64..25_000_000.0],
                any::<bool>(),
            )
                .prop_map(|(p, k, r, odd)| Op::Nearest(p, k, r, odd)),
        ]
    }

    /// How far our distance (from the chord) and haversine's may differ: rounding makes both
    /// inexact within a few kilometres of the antipode.
    fn tolerance(d: f64) -> f64 {
        if d > HALF_ROUND_M - 20_000.0 {
            0.5
        } else {
            1e-6
        }
    }

    /// `nearest` against the brute-force great-circle ranking of `places`: the same keys in
    /// the same order (ties aside), the same distances, only kept keys, none beyond the radius;
    /// `keep` asked nearest first and no further than the last key answered.
    fn check(
        index: &PointIndex<usize>,
        places: &HashMap<usize, LatLng>,
        q: LatLng,
        k: usize,
        radius_m: f64,
        odd_only: bool,
    ) -> Result<(), TestCaseError> {
        let keep = |i: usize| !odd_only || i % 2 == 1;
        let mut asked = Vec::new();
        let got = index.nearest(q, k, radius_m, |i| {
            asked.push(i);
            keep(i)
        });
        let mut ranking: Vec<(usize, f64)> = places
            .iter()
            .map(|(&i, p)| (i, haversine_m(q, *p)))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        ranking.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut want: Vec<(usize, f64)> = ranking.iter().copied().filter(|w| keep(w.0)).collect();
        want.truncate(k);
        prop_assert_eq!(got.len(), want.len(), "{:?} vs {:?}", got, want);
        for (g, w) in got.iter().zip(&want) {
            let tol = tolerance(w.1);
            prop_assert!((g.1 - w.1).abs() < tol, "{:?} {:?}", g, w);
            // equal distances may come in either order; otherwise the same key
            prop_assert!(g.0 == w.0 || (g.1 - w.1).abs() < tol, "{:?} {:?}", g, w);
            prop_assert!(keep(g.0));
        }
        // asked nearest first, each once, and only up to the last answer (or all)
        let last = if got.len() == k {
            let (d, tol) = (got[k - 1].1, tolerance(got[k - 1].1));
            let before = ranking.iter().filter(|r| r.1 < d - tol).count();
            before + 1..=ranking.iter().filter(|r| r.1 <= d + tol).count()
        } else {
            ranking.len()..=ranking.len()
        };
        prop_assert!(
            last.contains(&asked.len()),
            "{} asked, {:?}",
            asked.len(),
            last
        );
        for (a, r) in asked.iter().zip(&ranking) {
            let d = haversine_m(q, places[a]);
            prop_assert!(
                (d - r.1).abs() < tolerance(d),
                "asked {a} at {d}, rank {:?}",
                r
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The answer is the brute-force great-circle ranking after a city's worth of points
        /// and moves.
        #[test]
        fn nearest_equals_a_brute_force_ranking(
            points in prop::collection::vec((23.0f64..23.2, 113.2f64..113.45), 1..400),
            moves in prop::collection::vec((0usize..400, 23.0f64..23.2, 113.2f64..113.45), 0..50),
            q in (23.0f64..23.2, 113.2f64..113.45),
            k in 1usize..30,
            radius_m in 100.0f64..20_000.0,
            odd_only in any::<bool>(),
        ) {
            let mut places: HashMap<usize, LatLng> =
                points.iter().enumerate().map(|(i, &(a, b))| (i, ll(a, b))).collect();
            let mut index = PointIndex::of(places.iter().map(|(i, p)| (*i, *p)));
            for (i, a, b) in moves {
                let i = i % places.len();
                places.insert(i, ll(a, b));
                index.set(i, places[&i]);
            }
            check(&index, &places, ll(q.0, q.1), k, radius_m, odd_only)?;
        }

        /// The same when many points share a place (ties at every distance), `keep` saying no
        /// to some of them.
        #[test]
        fn nearest_equals_a_brute_force_ranking_with_ties(
            points in prop::collection::vec((0u8..6, 0u8..6), 1..300),
            q in (0u8..6, 0u8..6),
            k in 1usize..40,
            radius_m in 100.0f64..3_000.0,
            odd_only in any::<bool>(),
        ) {
            let at = |(a, b): (u8, u8)| ll(23.1 + f64::from(a) * 1e-3, 113.3 + f64::from(b) * 1e-3);
            let places: HashMap<usize, LatLng> =
                points.iter().enumerate().map(|(i, &p)| (i, at(p))).collect();
            let index = PointIndex::of(places.iter().map(|(i, p)| (*i, *p)));
            check(&index, &places, at(q), k, radius_m, odd_only)?;
        }

        /// The same at every step of a mix of puts, small moves, removals and searches,
        /// anywhere on the sphere (poles, antimeridian and cell edges included).
        #[test]
        fn nearest_equals_a_brute_force_ranking_through_moves(
            ops in prop::collection::vec(op(), 1..400),
        ) {
            let mut places: HashMap<usize, LatLng> = HashMap::new();
            let mut index = PointIndex::default();
            for op in ops {
                match op {
                    Op::Set(i, (a, b)) => {
                        places.insert(i, ll(a, b));
                        index.set(i, ll(a, b));
                    }
                    Op::Nudge(i, a, b) => {
                        if let Some(p) = places.get_mut(&i) {
                            *p = ll((p.lat + a).clamp(-90.0, 90.0), (p.lng + b).clamp(-180.0, 180.0));
                            index.set(i, *p);
                        }
                    }
                    Op::Remove(i) => {
                        places.remove(&i);
                        index.remove(i);
                    }
                    Op::Nearest((a, b), k, radius_m, odd_only) => {
                        check(&index, &places, ll(a, b), k, radius_m, odd_only)?;
                    }
                }
                prop_assert_eq!(index.len(), places.len());
            }
        }
    }
}
