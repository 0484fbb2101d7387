//! `peacepatrol bench heatmap --workload DIR --url URL`: the heat map of a running server whose
//! database `bench load` filled, signed in as the commander it made (`peacepatrol-bench.json`:
//! a commander sees every cell, so the counts can be checked), against the PostGIS peer of
//! `../shared/bench/README.md` on the same footprints, in the same run.
//!
//! 1. The PostGIS peer (unless `--no-postgis`, [`crate::peers::postgis`]): the database of
//!    `--postgis-url` (created if missing) gets the `postgis` extension and the table
//!    `footprints (volunteer_id int, ts timestamptz, geom geometry(Point,4326), h3_9 bigint)`
//!    loaded from `footprints.csv` with `COPY` (workload times, not shifted; `h3_9` computed
//!    here with the same H3 code), a BRIN index on `ts` (the rows arrive in `ts` order), a GiST
//!    index on `geom`, `VACUUM ANALYZE`. For the exactness check only, next to it:
//!    `footprints_not_counted` (the rows the server does not count, see 4) and
//!    `live_positions` (volunteers.csv, with `counted`). A table `pp_bench_loaded` records the
//!    sha256 of both files (meta.json's): with the same sha256 and row counts, nothing is
//!    reloaded.
//! 2. Over HTTP, after 5 warm-up requests each, `--requests` requests of: the
//!    heat map of meta.json's `heat_bbox` at res 9 for the workload's own 15 days (`from`/`to`
//!    = `now_unix - 15 d .. now_unix - 1 s`, shifted by `shift_ms`, exact: with a whole-hour
//!    shift the 360 whole hours before the workload's now, and not the hour after it, where
//!    `bench ingest` adds points), then for `window=5d`, `7d` and `15d` (meta.json's
//!    `heat_windows_days`, ending at the server's now), and the z14 heat tile holding Canton
//!    Tower (window 15d): p50, p99, mean, req/s, answer size and cells.
//! 3. PostGIS, one warm-up then the median of 3 runs of each query of the README's peer
//!    figures (`GROUP BY h3_9`, and `GROUP BY ST_SnapToGrid(geom, 0.0025)`), for 15, 7 and 5
//!    days, and their ratio to our p50 of the same window.
//! 4. Exactness, over the whole hours the 15-day answer counts: for every cell whose hexagon
//!    lies inside `heat_bbox` (all its vertices), ours or the reference's, our `visits` and
//!    `envoys` must equal the reference's `count(*)` and `count(DISTINCT volunteer_id)`; any
//!    difference is listed and the command fails. The reference is what the server stores
//!    unflagged, since the heat map counts exactly that: `bench load`'s ingest replayed here
//!    with the domain's `validate_history` (`ingested`) keeps one point per volunteer and `ts`
//!    (footprints.csv repeats 1,180), flags implied speeds above 30 m/s (39,350 footprints: the
//!    generator gives some volunteers overlapping sessions km apart), and also stores
//!    volunteers.csv's live positions ([`crate::reference`]). It comes from PostGIS
//!    (`footprints` less `footprints_not_counted`, plus the counted `live_positions`), or with
//!    `--no-postgis` from the CSV files. The comparison with every raw footprints.csv row (the
//!    README's peer query) is printed as well, with how many cells differ, but does not fail
//!    the run.
//!
//! The HTTP measurements are `http.rs`, what is printed of the check and the summary
//! `report.rs`. The timed parts assume an idle machine: client, server and PostgreSQL share its
//! cores.

mod http;
mod report;

use crate::harness::server::announce_server;
use crate::peers::postgis;
use crate::reference::{csv_reference, RES};
use crate::workload::meta::Meta;
use crate::workload::BenchFile;
use chrono::SecondsFormat;
use clap::Args;
use http::{measure_map, measure_tile, tile_of, CANTON_TOWER, TILE_ZOOM};
use pp_domain::heat::HOUR_MS;
use pp_domain::time::from_millis;
use pp_geo::tile::Tile;
use pp_sim::api::{Api, Call};
use pp_sim::measure::{vm_rss_kib, vm_status_kib};
use report::Reference;
use std::path::PathBuf;
use std::sync::Arc;

/// Requests per heat map measurement when `--requests` is not given.
const MAP_REQUESTS: usize = 200;
/// Requests for the tile when `--requests` is not given.
const TILE_REQUESTS: usize = 1000;

/// `bench heatmap` flags.
#[derive(Debug, Args)]
pub struct HeatmapArgs {
    /// The workload directory, with the `peacepatrol-bench.json` of `bench load` (time shift
    /// and a commander's session).
    #[arg(long)]
    pub workload: PathBuf,
    /// The running server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Requests per measurement, after 5 warm-up requests (default: 200 for each heat map,
    /// 1000 for the tile).
    #[arg(long)]
    pub requests: Option<usize>,
    /// The PostGIS peer's database, created if missing; PostgreSQL must have PostGIS
    /// (`apt-get install -y postgresql-15-postgis-3`).
    #[arg(long, default_value = postgis::DEFAULT_POSTGIS_URL)]
    pub postgis_url: String,
    /// No PostGIS peer: the exactness check then streams the workload's CSV files.
    #[arg(long)]
    pub no_postgis: bool,
    /// The server's process id: its resident memory (VmRSS, and the peak VmHWM) is printed.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// `peacepatrol bench heatmap`.
pub async fn run(a: HeatmapArgs) -> anyhow::Result<()> {
    let dir = a.workload.clone();
    let meta = Meta::read(&dir)?;
    let bench = BenchFile::read(&dir)?;
    let api = Api::builder(&a.url).build()?;
    announce_server(&api).await?;
    let shift = bench.shift_ms;
    println!(
        "workload {}: {} envoys, {} footprints over {} days ({} patrol sessions; footprints.csv sha256 {}…) and {} live positions (volunteers.csv); heat_bbox {} (lng,lat), res {RES}; times shifted by {:+} s{}",
        dir.display(),
        meta.volunteers,
        meta.footprints,
        meta.days,
        meta.sessions,
        &meta.footprints_sha256[..meta.footprints_sha256.len().min(16)],
        meta.volunteers,
        meta.bbox.csv(),
        shift / 1000,
        if shift.rem_euclid(HOUR_MS) == 0 {
            format!(" = {} h (whole hours)", shift / HOUR_MS)
        } else {
            ", NOT whole hours (a database loaded before bench load rounded its shift): the server's hour buckets straddle the workload's hours".to_owned()
        }
    );
    let rss_before = a.server_pid.map(vm_rss_kib).transpose()?;

    // 1. the PostGIS peer, loaded before anything is timed
    let mut pg = if a.no_postgis {
        println!("PostGIS: skipped (--no-postgis)");
        None
    } else {
        Some(postgis::connect(&a.postgis_url, &dir, &meta, shift).await?)
    };

    // 2. over HTTP
    let token: Arc<str> = Arc::from(bench.commander_token.as_str());
    let map_n = a.requests.unwrap_or(MAP_REQUESTS);
    let tile_n = a.requests.unwrap_or(TILE_REQUESTS);
    let days_ms = meta.days * 86_400_000;
    // `to` is the workload's last second: the server counts the whole hour holding `to`, and
    // the hour from `now_unix` on is where `bench ingest` adds its points later
    let (from_ms, to_ms) = (
        meta.now_unix * 1000 + shift - days_ms,
        meta.now_unix * 1000 + shift - 1000,
    );
    let rfc = |ms: i64| from_millis(ms).to_rfc3339_opts(SecondsFormat::Secs, true);
    let area = format!("bbox={}&res={RES}", meta.bbox.csv());
    let exact_query = format!("from={}&to={}&{area}", rfc(from_ms), rfc(to_ms));
    let (exact, ours) = measure_map(
        &api,
        &format!(
            "GET /api/v1/heatmap {} days from/to (the workload's own, exact), heat_bbox, res {RES}",
            meta.days
        ),
        Call::heatmap(&token, &exact_query),
        a.concurrency,
        map_n,
    )
    .await?;
    let mut named = Vec::new();
    for d in &meta.windows {
        let (m, _) = measure_map(
            &api,
            &format!("GET /api/v1/heatmap window={d}d, heat_bbox, res {RES}"),
            Call::heatmap(&token, &format!("window={d}d&{area}")),
            a.concurrency,
            map_n,
        )
        .await?;
        named.push((*d, m.0));
    }
    let Tile { x, y, .. } = tile_of(CANTON_TOWER.0, CANTON_TOWER.1, TILE_ZOOM)?;
    let tile_window = format!("{}d", meta.days);
    let tile = measure_tile(
        &api,
        &format!("GET /api/v1/tiles/heat/{tile_window}/{TILE_ZOOM}/{x}/{y}.png (Canton Tower)"),
        Call::heat_tile(&token, &tile_window, TILE_ZOOM, x, y),
        a.concurrency,
        tile_n,
    )
    .await?;

    // 3. PostGIS timings
    let peer = match pg.as_mut() {
        Some(conn) => postgis::queries::time_windows(conn, &meta).await?,
        None => Vec::new(),
    };

    // 4. exactness
    let window = (
        from_ms.div_euclid(HOUR_MS) * HOUR_MS - shift,
        (to_ms.div_euclid(HOUR_MS) + 1) * HOUR_MS - shift,
    );
    let (a_ms, b_ms) = window;
    let reference = match pg.as_mut() {
        Some(conn) => {
            let (stored, raw) = postgis::queries::reference(conn, a_ms, b_ms).await?;
            Reference {
                stored,
                raw,
                source: "PostGIS",
                window,
            }
        }
        None => {
            let (stored, raw) = csv_reference(&dir, a_ms, b_ms, shift).await?;
            Reference {
                stored,
                raw,
                source: "footprints.csv and volunteers.csv read here",
                window,
            }
        }
    };
    let check = report::exactness(&meta, &exact.1, &ours, &reference);
    report::summary(
        &meta,
        &exact.0,
        ours.len(),
        &named,
        (&tile_window, &tile),
        &peer,
    );
    if let (Some(pid), Some(before)) = (a.server_pid, rss_before) {
        let after = vm_rss_kib(pid)?;
        println!(
            "server RSS (pid {pid}): {:.1} MiB before, {:.1} MiB after (peak VmHWM {:.1} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            vm_status_kib(pid, "VmHWM:")? as f64 / 1024.0
        );
    }
    let errors = exact.0.figures.errors()
        + named.iter().map(|(_, m)| m.figures.errors()).sum::<usize>()
        + tile.figures.errors();
    anyhow::ensure!(
        check.mismatches.is_empty(),
        "the {}-day heat map differs from the reference in {} of {} cells (listed above): the server's counts are wrong",
        meta.days,
        check.mismatches.len(),
        check.compared
    );
    anyhow::ensure!(
        errors == 0,
        "{errors} requests failed or were not answered 2xx"
    );
    Ok(())
}
