//! The heat map's in-memory index: the stored hourly aggregates ([`pp_store::HeatRow`]), per
//! resolution and cell, so that a window's map is a scan of a few hundred thousand small
//! entries rather than a query over millions of footprints.
//!
//! ```text
//! resolution ──► cell ──► hours:  [(hour, visits, start)]  ascending
//!                         envoys: [envoy, …]  each hour's distinct envoys from its `start`
//! ```
//!
//! A window's visits are the sum over its hours; its distinct envoys are counted exactly (each
//! envoy once per cell, with a stamp per envoy), so summing hours never counts one envoy twice.
//! An envoy in a cell for an hour costs 4 bytes, a cell's hour 12 (the benchmark's 10 M
//! footprints over 15 days: 5 M envoy-hours and 1.4 M cell-hours over the four resolutions).
//! The `live` window is served from per-minute sums of the last minutes, kept apart: an envoy's
//! visits to a cell combination in a minute, so its size follows the envoys, not their points.
//!
//! Rebuilt from the store at start ([`HeatIndex::load`]) and moved forward by the ingest
//! pipeline after each group commit, with exactly what that commit added: the index is a cache
//! of the store, like the live index.

mod load;
mod series;
mod tile;

use pp_domain::heat::{Span, HOUR_MS, LIVE_MINUTES};
use pp_domain::position::Position;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::UserId;
use pp_geo::cells::{cell_center, cell_may_overlap, Cells, MAX_RES, MIN_RES, RES_COUNT};
use pp_geo::BBox;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use series::Series;

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

/// One minute of the live window: each envoy's visits per cell combination.
#[derive(Debug)]
struct Minute {
    /// minutes since the Unix epoch
    minute: i64,
    /// (envoy, combination number of [`Inner::combos`]) → visits
    visits: HashMap<(u32, u32), u32>,
}

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Default)]
struct Inner {
    /// envoy ids as small numbers
    envoys: HashMap<UserId, u32>,
    grids: [HashMap<u64, Series>; RES_COUNT],
    /// the minutes of the live window (and one before it), oldest first
    recent: VecDeque<Minute>,
    /// the cell combinations of the live window's points, numbered (as many as the places
    /// envoys have been: a district has tens of thousands)
    combos: HashMap<Cells, u32>,
    combo_cells: Vec<Cells>,
}

impl Inner {
    fn envoy(&mut self, user: UserId) -> u32 {
        let next = u32::try_from(self.envoys.len()).unwrap_or(u32::MAX);
        *self.envoys.entry(user).or_insert(next)
    }

    /// Adds a point taken at `ts_ms` to the live window's minute (when it is not older than
    /// the window at `now_ms`).
    fn add_recent(&mut self, ts_ms: i64, cells: &Cells, envoy: u32, now_ms: i64) {
        let minute = ts_ms.div_euclid(MINUTE_MS);
        if minute < live_first_minute(now_ms) {
            return;
        }
        let at = self.recent.partition_point(|m| m.minute < minute);
        if self.recent.get(at).is_none_or(|m| m.minute != minute) {
            self.recent.insert(
                at,
                Minute {
                    minute,
                    visits: HashMap::new(),
                },
            );
        }
        let next = u32::try_from(self.combo_cells.len()).unwrap_or(u32::MAX);
        let combo = *self.combos.entry(*cells).or_insert(next);
        if combo == next {
            self.combo_cells.push(*cells);
        }
        if let Some(m) = self.recent.get_mut(at) {
            *m.visits.entry((envoy, combo)).or_default() += 1;
        }
    }

    fn add(&mut self, hour: i64, cells: &Cells, envoy: u32, visits: u32) {
        let hour = u32::try_from(hour).unwrap_or(0);
        for (grid, &cell) in self.grids.iter_mut().zip(&cells.0) {
            grid.entry(cell)
                .or_insert_with(|| Series {
                    center: cell_center(cell),
                    hours: Vec::new(),
                    envoys: Vec::new(),
                })
                .add(hour, envoy, visits);
        }
    }
}

/// The first minute the live window at `now_ms` counts: the current minute and the
/// [`LIVE_MINUTES`] before it are kept.
fn live_first_minute(now_ms: i64) -> i64 {
    now_ms.div_euclid(MINUTE_MS) - LIVE_MINUTES
}

/// The heat map's index. See the module documentation.
#[derive(Debug, Default)]
pub struct HeatIndex {
    inner: RwLock<Inner>,
    /// While the live window is rebuilt after a start: points taken at or before this instant
    /// (Unix ms) are the rebuild's to add, not the pipeline's (0: no rebuild running).
    live_from: AtomicI64,
    /// told when a rebuild of the live window ends ([`HeatIndex::live_ready`] turns true)
    rebuilt: tokio::sync::Notify,
    /// the busiest cell's visits per (window, resolution, suppression), for the tiles' colour
    /// scale: computed at most every [`tile::MAX_CACHE`]
    max: Mutex<HashMap<MaxKey, (Instant, u64)>>,
}

/// A window's name, a resolution and a suppression threshold.
type MaxKey = (String, u8, u32);

impl HeatIndex {
    /// Whether the live window is complete (not being rebuilt after a start).
    pub fn live_ready(&self) -> bool {
        self.live_from.load(Ordering::Acquire) == 0
    }

    /// Waits until the live window is complete ([`HeatIndex::live_ready`]).
    pub async fn wait_live_ready(&self) {
        let mut rebuilt = std::pin::pin!(self.rebuilt.notified());
        loop {
            // registered before the check, so a rebuild ending in between is not missed
            rebuilt.as_mut().enable();
            if self.live_ready() {
                return;
            }
            rebuilt.as_mut().await;
            rebuilt.set(self.rebuilt.notified());
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
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
        let now_ms = to_millis(now);
        let mut inner = self.write();
        let envoy = inner.envoy(user);
        for ((p, c), _) in points
            .iter()
            .zip(cells)
            .zip(new)
            .filter(|((p, _), &n)| p.newly_counted(n))
        {
            let ts_ms = to_millis(p.ts);
            inner.add(ts_ms.div_euclid(HOUR_MS), c, envoy, 1);
            if ts_ms > self.live_from.load(Ordering::Acquire) {
                inner.add_recent(ts_ms, c, envoy, now_ms);
            }
        }
        let first = live_first_minute(now_ms);
        while inner.recent.front().is_some_and(|m| m.minute < first) {
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
                    let h = &series.hours;
                    let lo = h.partition_point(|x| x.hour < first);
                    let hi = h.partition_point(|x| x.hour <= last);
                    if lo >= hi {
                        continue;
                    }
                    let visits: u64 = h[lo..hi].iter().map(|x| u64::from(x.visits)).sum();
                    let mark = n as u32 + 1;
                    let mut envoys = 0u32;
                    for &e in &series.envoys[h[lo].start as usize..series.end(hi - 1)] {
                        let s = &mut stamp[e as usize];
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
                // whole minutes: from the one holding `since`
                let first = to_millis(since).div_euclid(MINUTE_MS);
                // cell → (visits, envoys, its number for the stamps)
                let mut sums: HashMap<u64, (u64, u32, u32)> = HashMap::new();
                let minutes = inner.recent.iter().filter(|m| m.minute >= first);
                for (&(envoy, combo), &visits) in minutes.flat_map(|m| &m.visits) {
                    let Some(cells) = inner.combo_cells.get(combo as usize) else {
                        continue;
                    };
                    let cell = cells.0[i];
                    let next = sums.len() as u32 + 1;
                    let sum = sums.entry(cell).or_insert((0, 0, next));
                    sum.0 += u64::from(visits);
                    let s = &mut stamp[envoy as usize];
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

    /// What the index holds over all resolutions, for logs and benchmarks: (cells, cell-hours,
    /// envoy-hours).
    pub fn size(&self) -> (usize, usize, usize) {
        let inner = self.read();
        inner
            .grids
            .iter()
            .flat_map(|g| g.values())
            .fold((0, 0, 0), |(c, h, e), s| {
                (c + 1, h + s.hours.len(), e + s.envoys.len())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use pp_domain::heat::{hour_of, HeatWindow};
    use pp_geo::LatLng;

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

    #[test]
    fn while_the_live_window_is_rebuilt_the_pipeline_adds_only_newer_points() {
        let start = Utc.with_ymd_and_hms(2026, 6, 15, 12, 30, 0).unwrap();
        let index = HeatIndex::default();
        assert!(index.live_ready());
        index.live_from.store(to_millis(start), Ordering::Release);
        assert!(!index.live_ready());
        let u = UserId::new();
        let points = [
            at(start, 23.1066, 113.3245),
            at(start + Duration::seconds(5), 23.1066, 113.3245),
        ];
        let cells: Vec<Cells> = points.iter().map(|p| Cells::of(p.at)).collect();
        index.record(
            u,
            &points,
            &cells,
            &[true, true],
            start + Duration::seconds(5),
        );
        let now = start + Duration::seconds(6);
        // the hours have both; the live window only the point taken after the start
        assert_eq!(
            index.cells(HeatWindow::Days(5).span(now), 9, None, 1)[0].visits,
            2
        );
        assert_eq!(
            index.cells(HeatWindow::Live.span(now), 9, None, 1)[0].visits,
            1
        );
    }

    #[test]
    fn the_live_window_sums_minutes_and_forgets_old_ones() {
        let t = Utc.with_ymd_and_hms(2026, 6, 15, 12, 30, 40).unwrap();
        let index = HeatIndex::default();
        let u = UserId::new();
        // a point a second for two minutes, then one 9.5 minutes before the last
        let walk: Vec<Position> = (0..120)
            .map(|s| at(t - Duration::seconds(s), 23.1066, 113.3245))
            .collect();
        let cells: Vec<Cells> = walk.iter().map(|p| Cells::of(p.at)).collect();
        index.record(u, &walk, &cells, &[true; 120], t);
        let old = [at(t - Duration::seconds(570), 23.1066, 113.3245)];
        index.record(u, &old, &[Cells::of(old[0].at)], &[true], t);
        // per-minute sums, not points: 3 minutes of the walk and the old point's
        assert_eq!(index.read().recent.len(), 4);
        let live = |now| index.cells(HeatWindow::Live.span(now), 9, None, 1);
        assert_eq!(
            live(t),
            vec![HeatCell {
                cell: cells[0].at(9),
                visits: 121,
                envoys: 1
            }]
        );
        // at 12:32:00 the old point's minute (12:21) is before the one holding now − 10 min
        let later = t + Duration::seconds(80);
        assert_eq!(live(later)[0].visits, 120);
        // recording moves the window: old minutes are dropped
        index.record(u, &[], &[], &[], t + Duration::minutes(30));
        assert!(index.read().recent.is_empty());
        assert!(live(t + Duration::minutes(30)).is_empty());
    }
}
