//! The heat map's in-memory index: the stored hourly aggregates ([`pp_store::HeatRow`]), per
//! resolution and cell, so that a window's map is a scan of a few hundred thousand small
//! entries rather than a query over millions of footprints.
//!
//! ```text
//! resolution ──► cell ──► [(hour, envoy, visits)]  sorted by (hour, envoy)
//! ```
//!
//! A window's visits are the sum over its hours; its distinct envoys are counted exactly (each
//! envoy once per cell, with a stamp per envoy), so summing hours never counts one envoy twice.
//! The `live` window is served from the points of the last minutes, kept apart.
//!
//! Rebuilt from the store at start ([`HeatIndex::load`]) and moved forward by the ingest
//! pipeline after each group commit, with exactly what that commit added: the index is a cache
//! of the store, like the live index.

use pp_domain::heat::{Span, HOUR_MS, LIVE_MINUTES};
use pp_domain::position::Position;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::UserId;
use pp_geo::cells::{cell_center, cell_may_overlap, Cells, MAX_RES, MIN_RES, RES_COUNT};
use pp_geo::{BBox, LatLng};
use pp_store::{HeatRow, Store, StoreError};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// One cell of a heat map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatCell {
    /// The H3 index.
    pub cell: u64,
    /// Unflagged points in the window.
    pub visits: u64,
    /// Distinct envoys of those points.
    pub envoys: u32,
}

/// One envoy's visits to a cell in one hour.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hour: u32,
    envoy: u32,
    visits: u32,
}

/// A cell's entries, sorted by (hour, envoy), and its centre (for box filters).
#[derive(Debug)]
struct Series {
    center: Option<LatLng>,
    entries: Vec<Entry>,
}

/// A point of the live window.
#[derive(Debug, Clone, Copy)]
struct Recent {
    ts_ms: i64,
    envoy: u32,
    cells: Cells,
}

#[derive(Debug, Default)]
struct Inner {
    /// envoy ids as small numbers (entries are 12 bytes)
    envoys: HashMap<UserId, u32>,
    grids: [HashMap<u64, Series>; RES_COUNT],
    /// the points of the last minutes, in commit order
    recent: VecDeque<Recent>,
}

impl Inner {
    fn envoy(&mut self, user: UserId) -> u32 {
        let next = u32::try_from(self.envoys.len()).unwrap_or(u32::MAX);
        *self.envoys.entry(user).or_insert(next)
    }

    fn add(&mut self, hour: i64, cells: &Cells, envoy: u32, visits: u32) {
        let hour = u32::try_from(hour).unwrap_or(0);
        for (grid, &cell) in self.grids.iter_mut().zip(&cells.0) {
            let series = grid.entry(cell).or_insert_with(|| Series {
                center: cell_center(cell),
                entries: Vec::new(),
            });
            let e = &mut series.entries;
            // new points are nearly always of the latest hour: look at the end first
            let at = match e.last() {
                Some(last) if (last.hour, last.envoy) < (hour, envoy) => Err(e.len()),
                _ => e.binary_search_by(|x| (x.hour, x.envoy).cmp(&(hour, envoy))),
            };
            match at {
                Ok(i) => e[i].visits = e[i].visits.saturating_add(visits),
                Err(i) => e.insert(
                    i,
                    Entry {
                        hour,
                        envoy,
                        visits,
                    },
                ),
            }
        }
    }
}

/// The heat map's index. See the module documentation.
#[derive(Debug, Default)]
pub struct HeatIndex {
    inner: RwLock<Inner>,
    /// the busiest cell's visits per (window, resolution, suppression), for the tiles' colour
    /// scale: computed at most every [`MAX_CACHE`]
    max: Mutex<HashMap<MaxKey, (Instant, u64)>>,
}

/// A window's name, a resolution and a suppression threshold.
type MaxKey = (String, u8, u32);

/// How long a window's busiest cell is reused by the tiles.
const MAX_CACHE: Duration = Duration::from_secs(30);

/// Hours of aggregates read from the store per query while loading.
const LOAD_HOURS: i64 = 24;

impl HeatIndex {
    /// Builds the index from the store's aggregates, and the live window from the recent points
    /// of the envoys in `recent` (those the live index saw in the last minutes).
    pub async fn load(
        store: &dyn Store,
        recent: &[UserId],
        now: Timestamp,
    ) -> Result<HeatIndex, StoreError> {
        let index = HeatIndex::default();
        if let Some((first, last)) = store.heat_hours().await? {
            let mut from = first;
            while from <= last {
                let rows = store.heat_rows(from, from + LOAD_HOURS - 1).await?;
                index.add_rows(&rows);
                from += LOAD_HOURS;
            }
        }
        let since = now - chrono::Duration::minutes(LIVE_MINUTES);
        let tracks = store.tracks(recent, since, now).await?;
        {
            let mut inner = index.write();
            for (user, points) in tracks {
                let envoy = inner.envoy(user);
                for p in points.iter().filter(|p| !p.flagged) {
                    inner.recent.push_back(Recent {
                        ts_ms: to_millis(p.ts),
                        envoy,
                        cells: Cells::of(p.at),
                    });
                }
            }
            for grid in &mut inner.grids {
                for s in grid.values_mut() {
                    s.entries.shrink_to_fit();
                }
            }
        }
        Ok(index)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds stored aggregate rows.
    pub fn add_rows(&self, rows: &[HeatRow]) {
        let mut inner = self.write();
        for r in rows {
            let envoy = inner.envoy(r.user);
            inner.add(r.hour, &r.cells, envoy, r.visits);
        }
    }

    /// Adds what a group commit stored: each new unflagged point of `user` (`new[i]` says
    /// whether `points[i]` was new), one visit in its cells' hour; and, when taken in the last
    /// minutes before `now`, to the live window.
    pub fn record(
        &self,
        user: UserId,
        points: &[Position],
        cells: &[Cells],
        new: &[bool],
        now: Timestamp,
    ) {
        let live_since = to_millis(now) - LIVE_MINUTES * 60_000;
        let mut inner = self.write();
        let envoy = inner.envoy(user);
        for ((p, c), _) in points
            .iter()
            .zip(cells)
            .zip(new)
            .filter(|((p, _), &n)| n && !p.flagged)
        {
            let ts_ms = to_millis(p.ts);
            inner.add(ts_ms.div_euclid(HOUR_MS), c, envoy, 1);
            if ts_ms >= live_since {
                inner.recent.push_back(Recent {
                    ts_ms,
                    envoy,
                    cells: *c,
                });
            }
        }
        // points are at most a minute in the future: what was committed before the window
        // (plus that minute) can go
        while inner
            .recent
            .front()
            .is_some_and(|r| r.ts_ms < live_since - 60_000)
        {
            inner.recent.pop_front();
        }
    }

    /// The heat map of `span` at resolution `res`: cells whose hexagon may overlap `bbox`
    /// (`None`: everywhere) with at least `min_envoys` distinct envoys, ordered by cell.
    pub fn cells(
        &self,
        span: Span,
        res: u8,
        bbox: Option<&BBox>,
        min_envoys: u32,
    ) -> Vec<HeatCell> {
        let res = res.clamp(MIN_RES, MAX_RES);
        let i = usize::from(res - MIN_RES);
        let inner = self.read();
        let grid = &inner.grids[i];
        let near = |cell: u64| -> bool {
            bbox.is_none_or(|b| {
                grid.get(&cell)
                    .and_then(|s| s.center)
                    .is_some_and(|c| cell_may_overlap(c, res, b))
            })
        };
        // distinct envoys: stamp[envoy] holds the last cell (numbered from 1) that counted it
        let mut stamp = vec![0u32; inner.envoys.len()];
        let mut out = Vec::new();
        match span {
            Span::Hours { first, last } => {
                let first = u32::try_from(first.max(0)).unwrap_or(u32::MAX);
                let last = u32::try_from(last.max(0)).unwrap_or(u32::MAX);
                for (n, (&cell, series)) in grid.iter().enumerate() {
                    if !near(cell) {
                        continue;
                    }
                    let e = &series.entries;
                    let lo = e.partition_point(|x| x.hour < first);
                    let hi = e.partition_point(|x| x.hour <= last);
                    if lo >= hi {
                        continue;
                    }
                    let mark = n as u32 + 1;
                    let (mut visits, mut envoys) = (0u64, 0u32);
                    for x in &e[lo..hi] {
                        visits += u64::from(x.visits);
                        let s = &mut stamp[x.envoy as usize];
                        if *s != mark {
                            *s = mark;
                            envoys += 1;
                        }
                    }
                    if envoys >= min_envoys {
                        out.push(HeatCell {
                            cell,
                            visits,
                            envoys,
                        });
                    }
                }
            }
            Span::Since(since) => {
                let since = to_millis(since);
                // cell → (visits, envoys, its number for the stamps)
                let mut sums: HashMap<u64, (u64, u32, u32)> = HashMap::new();
                for r in inner.recent.iter().filter(|r| r.ts_ms >= since) {
                    let cell = r.cells.0[i];
                    let next = sums.len() as u32 + 1;
                    let sum = sums.entry(cell).or_insert((0, 0, next));
                    sum.0 += 1;
                    let s = &mut stamp[r.envoy as usize];
                    if *s != sum.2 {
                        *s = sum.2;
                        sum.1 += 1;
                    }
                }
                out.extend(
                    sums.into_iter()
                        .filter(|&(cell, (_, envoys, _))| envoys >= min_envoys && near(cell))
                        .map(|(cell, (visits, envoys, _))| HeatCell {
                            cell,
                            visits,
                            envoys,
                        }),
                );
            }
        }
        out.sort_unstable_by_key(|c| c.cell);
        out
    }

    /// The most visits of one cell in the window (named `window` for the cache) at `res`,
    /// among the cells shown with `min_envoys`: what a tile's colours are scaled to, the same
    /// for every tile of the window. Recomputed at most every 30 s.
    pub fn max_visits(&self, window: &str, span: Span, res: u8, min_envoys: u32) -> u64 {
        let key = (window.to_owned(), res, min_envoys);
        let mut cache = self.max.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&(at, max)) = cache.get(&key) {
            if at.elapsed() < MAX_CACHE {
                return max;
            }
        }
        let max = self
            .cells(span, res, None, min_envoys)
            .iter()
            .map(|c| c.visits)
            .max()
            .unwrap_or(0);
        cache.insert(key, (Instant::now(), max));
        max
    }

    /// Entries held, for metrics and benchmarks: (cells, hour entries) over all resolutions.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.read();
        inner.grids.iter().fold((0, 0), |(c, e), g| {
            (
                c + g.len(),
                e + g.values().map(|s| s.entries.len()).sum::<usize>(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use pp_domain::heat::{hour_of, HeatWindow};

    fn at(ts: Timestamp, lat: f64, lng: f64) -> Position {
        Position {
            ts,
            at: LatLng::new(lat, lng).unwrap(),
            accuracy_m: 5.0,
            flagged: false,
        }
    }

    #[test]
    fn windows_sum_hours_and_count_each_envoy_once() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 30, 0).unwrap();
        let index = HeatIndex::default();
        let (a, b) = (UserId::new(), UserId::new());
        let tower = |ts| at(ts, 23.1066, 113.3245);
        // a: one point now and one three days ago; b: one point 6 days ago
        let pa = [
            tower(now - Duration::days(3)),
            tower(now - Duration::minutes(1)),
        ];
        let pb = [tower(now - Duration::days(6))];
        let cells = |ps: &[Position]| ps.iter().map(|p| Cells::of(p.at)).collect::<Vec<_>>();
        index.record(a, &pa, &cells(&pa), &[true, true], now);
        index.record(b, &pb, &cells(&pb), &[true], now);
        // a point that was not new adds nothing
        index.record(b, &pb, &cells(&pb), &[false], now);
        let cell = Cells::of(pa[0].at).at(9);
        let get = |w: HeatWindow| index.cells(w.span(now), 9, None, 1);
        let c7 = get(HeatWindow::Days(7));
        assert_eq!(
            c7,
            vec![HeatCell {
                cell,
                visits: 3,
                envoys: 2
            }]
        );
        assert_eq!(get(HeatWindow::Days(5))[0].envoys, 1);
        assert_eq!(get(HeatWindow::Days(5))[0].visits, 2);
        assert_eq!(get(HeatWindow::Live)[0].visits, 1);
        // k-suppression
        assert!(index
            .cells(HeatWindow::Days(7).span(now), 9, None, 3)
            .is_empty());
        // boxes
        let far = BBox::parse("113.40,23.00,113.41,23.01").unwrap();
        assert!(index
            .cells(HeatWindow::Days(7).span(now), 9, Some(&far), 1)
            .is_empty());
        let near = BBox::parse("113.32,23.10,113.33,23.11").unwrap();
        assert_eq!(
            index
                .cells(HeatWindow::Days(7).span(now), 9, Some(&near), 1)
                .len(),
            1
        );
        // the hour of the point three days ago is the window's edge
        let first = hour_of(pa[0].ts);
        let span = Span::Hours { first, last: first };
        assert_eq!(index.cells(span, 9, None, 1)[0].visits, 1);
        let span = Span::Hours {
            first: first + 1,
            last: first + 1,
        };
        assert!(index.cells(span, 9, None, 1).is_empty());
        assert_eq!(index.size().0, 4);
    }
}
