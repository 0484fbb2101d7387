//! The PostGIS peer's queries: the README's peer figures (`GROUP BY h3_9`, and
//! `GROUP BY ST_SnapToGrid(geom, 0.0025)`) timed for each window, and the reference counts of
//! the exactness check.

use crate::reference::Counts;
use crate::workload::meta::Meta;
use sqlx::{Executor as _, PgConnection, Row as _};
use std::time::Instant;

/// PostGIS timings: the median of this many runs, after one warm-up run.
pub const PG_RUNS: usize = 3;

/// One timed peer query.
#[derive(Debug, Clone)]
pub struct Timing {
    /// the window, days
    pub days: i64,
    /// which query (`GROUP BY h3_9`, `ST_SnapToGrid`)
    pub what: &'static str,
    /// the median of [`PG_RUNS`] runs, ms
    pub median_ms: f64,
    /// rows it returned
    pub rows: usize,
}

/// Times both peer queries over each of meta.json's windows (the longest first), after
/// printing them and their plans for the longest.
pub async fn time_windows(conn: &mut PgConnection, meta: &Meta) -> anyhow::Result<Vec<Timing>> {
    let mut peer = Vec::new();
    let envelope = format!("ST_MakeEnvelope({}, 4326)", meta.bbox.csv());
    let mut days: Vec<i64> = meta.windows.clone();
    days.sort_unstable_by(|a, b| b.cmp(a));
    for d in days {
        let filter = format!(
            "ts >= to_timestamp({} - {d} * 86400) AND geom && {envelope}",
            meta.now_unix
        );
        let h3 = format!(
            "SELECT h3_9, count(*), count(DISTINCT volunteer_id) FROM footprints WHERE {filter} GROUP BY h3_9"
        );
        let snap = format!(
            "SELECT ST_SnapToGrid(geom, {}) AS g, count(*), count(DISTINCT volunteer_id) FROM footprints WHERE {filter} GROUP BY g",
            meta.grid_deg
        );
        if d == meta.days {
            println!("PostGIS query: {h3}");
            println!("  plan: {}", plan(conn, &h3).await?);
            println!("PostGIS query: {snap}");
            println!("  plan: {}", plan(conn, &snap).await?);
        }
        for (what, sql) in [("GROUP BY h3_9", &h3), ("ST_SnapToGrid", &snap)] {
            let (median, runs, rows) = time_query(conn, sql).await?;
            println!(
                "PostGIS {d} days, {what}: median {median:.0} ms of {PG_RUNS} runs ({}) after a warm-up, {rows} rows",
                runs.iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            peer.push(Timing {
                days: d,
                what,
                median_ms: median,
                rows,
            });
        }
    }
    Ok(peer)
}

/// The reference counts over workload times `[a_ms, b_ms)`: of what the server stores
/// unflagged, and of every footprints.csv row; prints what the ingest does not count.
pub async fn reference(
    conn: &mut PgConnection,
    a_ms: i64,
    b_ms: i64,
) -> anyhow::Result<(Counts, Counts)> {
    let t = Instant::now();
    let stored = pg_reference(conn, a_ms, b_ms, true).await?;
    let raw = pg_reference(conn, a_ms, b_ms, false).await?;
    let why: Vec<(String, i64)> = sqlx::query_as(
        "SELECT why, count(*) FROM footprints_not_counted GROUP BY why ORDER BY why",
    )
    .fetch_all(&mut *conn)
    .await?;
    let (live_counted, live): (i64, i64) =
        sqlx::query_as("SELECT count(*) FILTER (WHERE counted), count(*) FROM live_positions")
            .fetch_one(&mut *conn)
            .await?;
    println!(
        "reference: PostGIS, {:.1} s; footprints the ingest does not count: {}; live positions counted: {live_counted} of {live}",
        t.elapsed().as_secs_f64(),
        if why.is_empty() {
            "none".to_owned()
        } else {
            why.iter()
                .map(|(w, n)| format!("{n} {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok((stored, raw))
}

/// The reference counts from PostGIS over workload times `[a_ms, b_ms)`: with `as_stored`, of
/// what the server counts (footprints, less those of `footprints_not_counted`, and the counted
/// `live_positions`); without, of every footprints.csv row (the README's peer query).
pub async fn pg_reference(
    conn: &mut PgConnection,
    a_ms: i64,
    b_ms: i64,
    as_stored: bool,
) -> anyhow::Result<Counts> {
    let range = format!(
        "ts >= to_timestamp({:.3}) AND ts < to_timestamp({:.3})",
        a_ms as f64 / 1000.0,
        b_ms as f64 / 1000.0
    );
    let rows = if as_stored {
        format!(
            "(SELECT volunteer_id, ts, h3_9 FROM footprints WHERE {range} \
             EXCEPT ALL SELECT volunteer_id, ts, h3_9 FROM footprints_not_counted WHERE {range}) \
             UNION ALL SELECT volunteer_id, ts, h3_9 FROM live_positions WHERE {range} AND counted"
        )
    } else {
        format!("SELECT volunteer_id, ts, h3_9 FROM footprints WHERE {range}")
    };
    let sql = format!(
        "SELECT h3_9, count(*), count(DISTINCT volunteer_id) FROM ({rows}) p GROUP BY h3_9"
    );
    // the multiset difference of 10M rows: in memory rather than sorted on disk
    conn.execute("SET work_mem = '1GB'").await?;
    let answer = sqlx::query(&sql).fetch_all(&mut *conn).await;
    conn.execute("RESET work_mem").await?;
    let mut out = Counts::new();
    for row in answer? {
        let (cell, visits, envoys): (i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        out.insert(
            cell as u64,
            (u64::try_from(visits)?, u64::try_from(envoys)?),
        );
    }
    Ok(out)
}

/// The plan's nodes, on one line (`EXPLAIN` without running the query).
async fn plan(conn: &mut PgConnection, sql: &str) -> anyhow::Result<String> {
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *conn)
        .await?;
    // the plan nodes (the first line and each `->`) and the parallel workers, without costs
    Ok(rows
        .iter()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.contains("->") || l.contains("Workers Planned"))
        .map(|(_, l)| {
            let l = l.trim_start().trim_start_matches("->").trim();
            l.split("  (").next().unwrap_or(l).to_owned()
        })
        .collect::<Vec<_>>()
        .join(" / "))
}

/// One warm-up run, then [`PG_RUNS`] timed runs fetching every row: (median ms, runs, rows).
async fn time_query(conn: &mut PgConnection, sql: &str) -> anyhow::Result<(f64, Vec<f64>, usize)> {
    let _ = sqlx::query(sql).fetch_all(&mut *conn).await?;
    let mut runs = Vec::with_capacity(PG_RUNS);
    let mut rows = 0;
    for _ in 0..PG_RUNS {
        let t = Instant::now();
        rows = sqlx::query(sql).fetch_all(&mut *conn).await?.len();
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    Ok((sorted[sorted.len() / 2], runs, rows))
}
