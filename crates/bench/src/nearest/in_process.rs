//! `bench nearest`'s step 4: the same search in process, a [`PointIndex`] of the active
//! volunteers queried on one thread (`nearest`, k 20, 2 km), and moves (`set` to a shifted
//! place) as the live index does on ingest. Alone with `--in-process-only`, from the
//! workload's files (no server, no sessions, no Redis).

use super::sample::Sample;
use crate::recall::score_all;
use crate::workload::queries::Query;
use crate::workload::Ping;
use pp_geo::near::PointIndex;
use pp_geo::LatLng;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The in-process search: k and radius.
const K: usize = 20;
const RADIUS_M: f64 = 2000.0;
/// Each in-process timing runs at least this long.
const MIN_TIMED: Duration = Duration::from_secs(2);

/// `--in-process-only`: step 4 alone, on the workload's active volunteers.
pub fn in_process_only(dir: &Path) -> anyhow::Result<()> {
    let sample = Sample::read(dir)?;
    println!("workload {}: {}", dir.display(), sample.size);
    in_process(
        &sample.active,
        &sample.queries,
        &sample.expected,
        &sample.size,
    )
}

/// Step 4: the search and the moves in process, one thread.
pub fn in_process(
    active: &[Ping],
    queries: &[Query],
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    size: &str,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let points: Vec<(u32, LatLng)> = active
        .iter()
        .map(|v| Ok((v.id, LatLng::new(v.lat, v.lng)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut index = PointIndex::of(points.iter().copied());
    println!(
        "in process: PointIndex<u32> of {} active volunteers built in {:.0} ms",
        index.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let at: Vec<LatLng> = queries
        .iter()
        .map(|q| LatLng::new(q.lat, q.lng))
        .collect::<Result<_, _>>()?;
    let answers: Vec<Vec<(u32, f64)>> = at
        .iter()
        .map(|p| index.nearest(*p, K, RADIUS_M, |_| true))
        .collect();
    let score = score_all(queries, &answers, expected);
    let mut latencies = Vec::new();
    let mut found = 0usize;
    let mut rounds = 0;
    let t = Instant::now();
    while rounds < 3 || t.elapsed() < MIN_TIMED {
        for p in &at {
            let q = Instant::now();
            found += std::hint::black_box(index.nearest(*p, K, RADIUS_M, |_| true)).len();
            latencies.push(u64::try_from(q.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        rounds += 1;
    }
    let wall = t.elapsed();
    let n = latencies.len();
    let mut sorted = latencies.clone();
    sorted.sort_unstable();
    println!(
        "IN PROCESS nearest (k {K}, {RADIUS_M} m; {size}), 1 thread: {n} queries ({rounds} rounds): {:.0} q/s, {:.2} µs/query, p50 {:.2} µs, p99 {:.2} µs ({} entries); {}",
        n as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / n as f64,
        sorted[n / 2] as f64 / 1000.0,
        sorted[(n * 99 / 100).min(n - 1)] as f64 / 1000.0,
        found,
        score.line()
    );

    let mut moves = 0usize;
    let mut rounds = 0;
    let t = Instant::now();
    while rounds < 3 || t.elapsed() < MIN_TIMED {
        // about 1.1 m north, then back
        let dlat = if rounds % 2 == 0 { 1e-5 } else { 0.0 };
        for (id, p) in &points {
            index.set(*id, LatLng::new(p.lat + dlat, p.lng)?);
            moves += 1;
        }
        rounds += 1;
    }
    let wall = t.elapsed();
    println!(
        "IN PROCESS moves (set to a place ~1.1 m away; {} envoys in the index), 1 thread: {moves} moves ({rounds} rounds): {:.0} moves/s, {:.2} µs/move",
        index.len(),
        moves as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / moves as f64
    );
    Ok(())
}
