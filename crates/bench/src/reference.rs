//! The heat map's exactness reference: what the server must count, cell by cell. The heat
//! map counts exactly the points the server stores unflagged, so the reference replays
//! `bench load`'s ingest of the workload with the domain's own [`validate_history`]
//! ([`ingested`]: a point per volunteer and `ts` kept, implied speeds above 30 m/s flagged,
//! volunteers.csv's live positions stored too), and counts the cells of what it kept, from the
//! CSV files here ([`csv_reference`]) or from the PostGIS peer's tables
//! ([`crate::peers::postgis::queries::pg_reference`]). [`compare`] sets our answer against it.

use crate::workload::meta::Bbox;
use crate::workload::{self, Ping, ACCURACY_M};
use anyhow::Context as _;
use pp_domain::position::{validate_history, Crs, PointIn, Position, MAX_BATCH};
use pp_domain::time::{from_millis, Clock as _, SystemClock};
use pp_geo::cells::{cell_boundary, Cells};
use pp_geo::LatLng;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

/// The heat map resolution measured and checked.
pub const RES: u8 = 9;

/// A cell's visits and distinct envoys.
pub type Pair = (u64, u64);
/// Per H3 cell: visits and distinct envoys.
pub type Counts = HashMap<u64, Pair>;

/// The outcome of comparing our cells with a reference.
pub struct Check {
    /// our cells inside the box
    pub ours_inside: usize,
    /// the reference's cells inside the box
    pub reference_inside: usize,
    /// cells compared (inside, on either side)
    pub compared: usize,
    /// the reference's visits over the cells compared
    pub visits: u64,
    /// the reference's distinct envoys, summed over the cells compared
    pub envoys: u64,
    /// (cell, ours, reference), by cell
    pub mismatches: Vec<(u64, Pair, Pair)>,
}

/// Compares the cells whose hexagon lies inside `bbox`, of either side (a cell missing on one
/// side counts 0 there).
pub fn compare(ours: &Counts, reference: &Counts, bbox: &Bbox) -> Check {
    let inside = |cell: &u64| {
        cell_boundary(*cell).is_some_and(|b| !b.is_empty() && b.iter().all(|v| bbox.contains(*v)))
    };
    let ours_in: HashSet<u64> = ours.keys().copied().filter(inside).collect();
    let reference_in: HashSet<u64> = reference.keys().copied().filter(inside).collect();
    let mut cells: Vec<u64> = ours_in.union(&reference_in).copied().collect();
    cells.sort_unstable();
    let mut check = Check {
        ours_inside: ours_in.len(),
        reference_inside: reference_in.len(),
        compared: cells.len(),
        visits: 0,
        envoys: 0,
        mismatches: Vec::new(),
    };
    for cell in cells {
        let o = ours.get(&cell).copied().unwrap_or((0, 0));
        let r = reference.get(&cell).copied().unwrap_or((0, 0));
        check.visits += r.0;
        check.envoys += r.1;
        if o != r {
            check.mismatches.push((cell, o, r));
        }
    }
    check
}

/// What `bench load`'s ingest made of a workload point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Stored unflagged: counted by the heat map.
    Counted,
    /// Repeats the (volunteer, ts) of a point before it: not stored again.
    Duplicate,
    /// Stored, but flagged by the speed rule: never counted.
    Flagged,
    /// Refused by validation (nothing is, in the shared workload).
    Rejected,
}

impl Fate {
    /// Its name in `footprints_not_counted.why`.
    pub fn name(self) -> &'static str {
        match self {
            Fate::Counted => "counted",
            Fate::Duplicate => "duplicate",
            Fate::Flagged => "flagged",
            Fate::Rejected => "rejected",
        }
    }
}

/// How many points met each fate: counted, duplicate, flagged, rejected.
pub fn tally(fates: &[Fate]) -> [usize; 4] {
    let mut n = [0; 4];
    for f in fates {
        n[*f as usize] += 1;
    }
    n
}

/// Replays `bench load`'s ingest of the workload with the domain's own [`validate_history`]:
/// per volunteer its footprints in `ts` order (ties in file order) in batches of
/// [`MAX_BATCH`] (`bench load`'s default `--chunk`), then its live position, each batch
/// checked against the volunteer's latest stored unflagged point (as the live index holds it),
/// and a point whose (volunteer, ts) is stored already not stored again. Returns the fate of
/// every footprint (in file order) and of every live position (in `volunteers` order).
pub fn ingested(
    footprints: &[Ping],
    volunteers: &[Ping],
    shift_ms: i64,
) -> anyhow::Result<(Vec<Fate>, Vec<Fate>)> {
    let now = SystemClock.now();
    let mut tracks: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, p) in footprints.iter().enumerate() {
        tracks.entry(p.id).or_default().push(i);
    }
    let mut fates = vec![Fate::Rejected; footprints.len()];
    let mut live = vec![Fate::Rejected; volunteers.len()];
    for (vi, v) in volunteers.iter().enumerate() {
        let mut track = tracks.remove(&v.id).unwrap_or_default();
        track.sort_by_key(|&i| footprints[i].ts);
        let mut envoy = Envoy {
            stored: HashSet::with_capacity(track.len() + 1),
            latest: None,
            shift_ms,
            now,
        };
        for chunk in track.chunks(MAX_BATCH) {
            let batch: Vec<(usize, Ping)> = chunk.iter().map(|&i| (i, footprints[i])).collect();
            envoy.append(&batch, &mut fates)?;
        }
        envoy.append(&[(vi, *v)], &mut live)?;
    }
    let orphans: usize = tracks.values().map(Vec::len).sum();
    anyhow::ensure!(
        orphans == 0,
        "{orphans} footprints name no volunteer of volunteers.csv (bench load refuses them)"
    );
    Ok((fates, live))
}

/// One volunteer's stored points while replaying the ingest.
struct Envoy {
    /// the `ts` (ms) of its stored points
    stored: HashSet<i64>,
    /// its latest stored unflagged point
    latest: Option<Position>,
    shift_ms: i64,
    now: pp_domain::time::Timestamp,
}

impl Envoy {
    /// One append of `bench load`: `(index, point)`s, their fates written at their index.
    fn append(&mut self, batch: &[(usize, Ping)], fates: &mut [Fate]) -> anyhow::Result<()> {
        let ts = |p: &Ping| p.ts * 1000 + self.shift_ms;
        let points = batch
            .iter()
            .map(|(_, p)| PointIn {
                ts: from_millis(ts(p)),
                lat: p.lat,
                lng: p.lng,
                accuracy_m: ACCURACY_M,
            })
            .collect();
        let check = validate_history(points, Crs::Wgs84, self.latest, self.now)?;
        let refused: HashSet<usize> = check.rejected.iter().map(|r| r.index).collect();
        // of the valid points sharing a ts, the first of the batch is the one kept
        let mut first: HashMap<i64, usize> = HashMap::new();
        for (k, (i, p)) in batch.iter().enumerate() {
            fates[*i] = if refused.contains(&k) {
                Fate::Rejected
            } else {
                first.entry(ts(p)).or_insert(*i);
                Fate::Duplicate
            };
        }
        for p in &check.accepted {
            let ms = p.ts.timestamp_millis();
            let i = *first
                .get(&ms)
                .context("validate_history accepted a point that was not sent")?;
            fates[i] = if !self.stored.insert(ms) {
                Fate::Duplicate
            } else if p.flagged {
                Fate::Flagged
            } else {
                if self.latest.is_none_or(|l| p.ts > l.ts) {
                    self.latest = Some(*p);
                }
                Fate::Counted
            };
        }
        Ok(())
    }
}

/// The reference counts from the CSV files over workload times `[a_ms, b_ms)`: of what the
/// server counts ([`ingested`]), and of every footprints.csv row.
pub async fn csv_reference(
    dir: &Path,
    a_ms: i64,
    b_ms: i64,
    shift_ms: i64,
) -> anyhow::Result<(Counts, Counts)> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let volunteers = read_volunteers(&dir)?;
        let mut footprints = Vec::new();
        workload::read_pings(&dir.join("footprints.csv"), "volunteer_id", |p| {
            footprints.push(p);
        })?;
        let (fates, live) = ingested(&footprints, &volunteers, shift_ms)?;
        let mut stored: HashMap<u64, (u64, HashSet<u32>)> = HashMap::new();
        let mut raw: HashMap<u64, (u64, HashSet<u32>)> = HashMap::new();
        let add = |cells: &mut HashMap<u64, (u64, HashSet<u32>)>, p: &Ping| -> anyhow::Result<()> {
            if (a_ms..b_ms).contains(&(p.ts * 1000)) {
                let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES);
                let e = cells.entry(cell).or_default();
                e.0 += 1;
                e.1.insert(p.id);
            }
            Ok(())
        };
        for (p, fate) in footprints.iter().zip(&fates) {
            add(&mut raw, p)?;
            if *fate == Fate::Counted {
                add(&mut stored, p)?;
            }
        }
        for (p, fate) in volunteers.iter().zip(&live) {
            if *fate == Fate::Counted {
                add(&mut stored, p)?;
            }
        }
        let [fc, fd, ff, fr] = tally(&fates);
        let [lc, _, lf, _] = tally(&live);
        println!(
            "reference: {} footprints ({fc} counted, {fd} duplicates, {ff} flagged, {fr} rejected) and {} live positions ({lc} counted, {lf} flagged) read and replayed in {:.1} s",
            footprints.len(),
            volunteers.len(),
            t.elapsed().as_secs_f64()
        );
        Ok((counts(&stored), counts(&raw)))
    })
    .await?
}

/// Visits and distinct envoys of each cell.
fn counts(cells: &HashMap<u64, (u64, HashSet<u32>)>) -> Counts {
    cells
        .iter()
        .map(|(c, (v, e))| (*c, (*v, e.len() as u64)))
        .collect()
}

/// The rows of volunteers.csv, in file order.
pub fn read_volunteers(dir: &Path) -> anyhow::Result<Vec<Ping>> {
    let mut v = Vec::new();
    workload::read_pings(&dir.join("volunteers.csv"), "id", |p| v.push(p))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ingest_replay_drops_repeats_and_flags_jumps() {
        let at = |id, ts, lat| Ping {
            id,
            lat,
            lng: 113.3,
            ts,
        };
        // 0.1° of latitude is 11 km: 11 km in 30 s is far above 30 m/s
        let footprints = [
            at(1, 1_000, 23.10),
            at(1, 1_000, 23.11), // same ts: not stored
            at(2, 1_010, 23.05),
            at(1, 1_030, 23.20),   // a jump: flagged
            at(1, 1_060, 23.1001), // checked against ts 1000, not the flagged point
        ];
        let volunteers = [
            at(1, 1_090, 23.40), // 33 km from ts 1060 in 30 s: flagged
            at(2, 900, 23.40),   // older than its footprint: no reference, counted
            at(3, 1_000, 23.10), // no footprints: counted
        ];
        let (fates, live) = ingested(&footprints, &volunteers, 3_600_000).unwrap();
        assert_eq!(
            fates,
            [
                Fate::Counted,
                Fate::Duplicate,
                Fate::Counted,
                Fate::Flagged,
                Fate::Counted
            ]
        );
        assert_eq!(live, [Fate::Flagged, Fate::Counted, Fate::Counted]);
        assert_eq!(tally(&fates), [3, 1, 1, 0]);
        // a footprint of someone not in volunteers.csv: bench load refuses the workload
        assert!(ingested(&footprints, &volunteers[1..], 0).is_err());
    }

    #[test]
    fn comparison_covers_cells_inside_the_box_of_either_side() {
        let bbox = Bbox {
            min_lng: 113.24,
            min_lat: 23.06,
            max_lng: 113.38,
            max_lat: 23.12,
        };
        let inside = Cells::of(LatLng::new(23.1066, 113.3245).unwrap()).at(9);
        let other = Cells::of(LatLng::new(23.09, 113.30).unwrap()).at(9);
        let outside = Cells::of(LatLng::new(23.2, 113.3).unwrap()).at(9);
        let ours: Counts = [(inside, (5, 2)), (outside, (1, 1))].into();
        let reference: Counts = [(inside, (5, 2)), (other, (1, 1))].into();
        let check = compare(&ours, &reference, &bbox);
        assert_eq!(check.compared, 2);
        assert_eq!(check.mismatches, vec![(other, (0, 0), (1, 1))]);
        assert_eq!(compare(&ours, &ours, &bbox).mismatches, vec![]);
    }
}
