//! `peacepatrol bench heatmap --workload DIR --url URL`: the heat map of a running server whose
//! database `bench load` filled, signed in as the commander it made (`peacepatrol-bench.json`:
//! a commander sees every cell, so the counts can be checked), against the PostGIS peer of
//! `../shared/bench/README.md` on the same footprints, in the same run.
//!
//! 1. The PostGIS peer (unless `--no-postgis`): the database of `--postgis-url` (created if
//!    missing) gets the `postgis` extension and the table
//!    `footprints (volunteer_id int, ts timestamptz, geom geometry(Point,4326), h3_9 bigint)`
//!    loaded from `footprints.csv` with `COPY` (workload times, not shifted; `h3_9` computed
//!    here with [`Cells`], `geom` as EWKT), a BRIN index on `ts` (the rows arrive in `ts`
//!    order), a GiST index on `geom`, `VACUUM ANALYZE`. For the exactness check only, next to
//!    it: `footprints_not_counted` (the rows the server does not count, see 4) and
//!    `live_positions` (volunteers.csv, with `counted`). A table `pp_bench_loaded` records the
//!    sha256 of both files (meta.json's): with the same sha256 and row counts, nothing is
//!    reloaded.
//! 2. Over HTTP, after [`WARMUP`] warm-up requests each, `--requests` requests of: the heat map
//!    of meta.json's `heat_bbox` at res 9 for the workload's own 15 days (`from`/`to` =
//!    `now_unix - 15 d .. now_unix - 1 s`, shifted by `shift_ms`, exact: with a whole-hour
//!    shift the 360 whole hours before the workload's now, and not the hour after it, where
//!    `bench ingest` adds points), then for `window=5d`, `7d`
//!    and `15d` (meta.json's `heat_windows_days`, ending at the server's now), and the z14 heat
//!    tile holding Canton Tower (window 15d): p50, p99, mean, req/s, answer size and cells.
//! 3. PostGIS, one warm-up then the median of 3 runs of each query of the README's peer
//!    figures (`GROUP BY h3_9`, and `GROUP BY ST_SnapToGrid(geom, 0.0025)`), for 15, 7 and 5
//!    days, and their ratio to our p50 of the same window.
//! 4. Exactness, over the whole hours the 15-day answer counts: for every cell whose hexagon
//!    lies inside `heat_bbox` (all its vertices), ours or the reference's, our `visits` and
//!    `envoys` must equal the reference's `count(*)` and `count(DISTINCT volunteer_id)`; any
//!    difference is listed and the command fails. The reference is what the server stores
//!    unflagged, since the heat map counts exactly that: `bench load`'s ingest replayed here
//!    with the domain's [`validate_history`] ([`ingested`]) keeps one point per volunteer and
//!    `ts` (footprints.csv repeats 1,180), flags implied speeds above 30 m/s (39,350
//!    footprints: the generator gives some volunteers overlapping sessions km apart), and
//!    also stores volunteers.csv's live positions. It comes from PostGIS (`footprints` less
//!    `footprints_not_counted`, plus the counted `live_positions`), or with `--no-postgis`
//!    from the CSV files. The comparison with every raw footprints.csv row (the README's peer
//!    query) is printed as well, with how many cells differ, but does not fail the run.
//!
//! The timed parts assume an idle machine: client, server and PostgreSQL share its cores.

use super::load::ACCURACY_M;
use super::workload::{self, BenchFile, Ping};
use super::{drive, Call, Figures, Tally};
use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::Args;
use pp_domain::heat::HOUR_MS;
use pp_domain::position::{validate_history, Crs, PointIn, Position, MAX_BATCH};
use pp_domain::time::{from_millis, Clock as _, SystemClock};
use pp_geo::cells::{cell_boundary, cell_string, Cells};
use pp_geo::tile::Tile;
use pp_geo::LatLng;
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _, PgConnection, Row as _};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The PostGIS peer's database when `--postgis-url` is not given.
pub const DEFAULT_POSTGIS_URL: &str = "postgres://postgres@127.0.0.1:5432/pp_bench_postgis";
/// Requests sent before each measurement, not counted.
pub const WARMUP: usize = 5;
/// Requests per heat map measurement when `--requests` is not given.
const MAP_REQUESTS: usize = 200;
/// Requests for the tile when `--requests` is not given.
const TILE_REQUESTS: usize = 1000;
/// The heat map resolution measured and checked.
const RES: u8 = 9;
/// The tile measured: zoom 14, the one holding Canton Tower.
const TILE_ZOOM: u8 = 14;
const CANTON_TOWER: (f64, f64) = (23.1066, 113.3245);
/// PostGIS timings: the median of this many runs, after one warm-up run.
const PG_RUNS: usize = 3;
/// Bytes of COPY data sent at once.
const COPY_CHUNK: usize = 4 << 20;
/// Mismatching cells listed before giving up.
const LIST_MISMATCHES: usize = 30;

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
    #[arg(long, default_value = DEFAULT_POSTGIS_URL)]
    pub postgis_url: String,
    /// No PostGIS peer: the exactness check then streams the workload's CSV files.
    #[arg(long)]
    pub no_postgis: bool,
    /// The server's process id: its resident memory (VmRSS, and the peak VmHWM) is printed.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// What the bench needs of `meta.json`.
#[derive(Debug, Clone)]
struct Meta {
    now_unix: i64,
    bbox: Bbox,
    windows: Vec<i64>,
    grid_deg: f64,
    footprints: u64,
    volunteers: u64,
    sessions: u64,
    days: i64,
    footprints_sha256: String,
    volunteers_sha256: String,
}

/// meta.json's `heat_bbox`, degrees.
#[derive(Debug, Clone, Copy)]
struct Bbox {
    min_lng: f64,
    min_lat: f64,
    max_lng: f64,
    max_lat: f64,
}

impl Bbox {
    fn contains(&self, p: LatLng) -> bool {
        (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lng..=self.max_lng).contains(&p.lng)
    }

    /// `minLng,minLat,maxLng,maxLat`, the API's and ST_MakeEnvelope's order.
    fn csv(&self) -> String {
        format!(
            "{},{},{},{}",
            self.min_lng, self.min_lat, self.max_lng, self.max_lat
        )
    }
}

impl Meta {
    fn read(dir: &Path) -> anyhow::Result<Meta> {
        let path = dir.join("meta.json");
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing {}", path.display()))?;
        let f = |v: &serde_json::Value, what: &str| {
            v.as_f64()
                .with_context(|| format!("{}: no number {what}", path.display()))
        };
        let i = |v: &serde_json::Value, what: &str| {
            v.as_i64()
                .with_context(|| format!("{}: no integer {what}", path.display()))
        };
        let s = |v: &serde_json::Value, what: &str| {
            v.as_str()
                .map(str::to_owned)
                .with_context(|| format!("{}: no string {what}", path.display()))
        };
        let b = &m["heat_bbox"];
        let windows = m["heat_windows_days"]
            .as_array()
            .context("meta.json: no heat_windows_days")?
            .iter()
            .map(|d| i(d, "heat_windows_days"))
            .collect::<anyhow::Result<Vec<i64>>>()?;
        Ok(Meta {
            now_unix: i(&m["now_unix"], "now_unix")?,
            bbox: Bbox {
                min_lng: f(&b["lng_min"], "heat_bbox.lng_min")?,
                min_lat: f(&b["lat_min"], "heat_bbox.lat_min")?,
                max_lng: f(&b["lng_max"], "heat_bbox.lng_max")?,
                max_lat: f(&b["lat_max"], "heat_bbox.lat_max")?,
            },
            days: windows.iter().copied().max().unwrap_or(15),
            windows,
            grid_deg: f(&m["heat_grid_deg"], "heat_grid_deg")?,
            footprints: u64::try_from(i(&m["rows"]["footprints.csv"], "rows.footprints.csv")?)?,
            volunteers: u64::try_from(i(&m["rows"]["volunteers.csv"], "rows.volunteers.csv")?)?,
            sessions: m["footprint_sessions"].as_u64().unwrap_or(0),
            footprints_sha256: s(&m["sha256"]["footprints.csv"], "sha256.footprints.csv")?,
            volunteers_sha256: s(&m["sha256"]["volunteers.csv"], "sha256.volunteers.csv")?,
        })
    }
}

/// The body sizes of a run's answers.
#[derive(Debug, Default)]
struct Size {
    answers: u64,
    bytes: u64,
    min: u64,
    max: u64,
}

impl Tally for Size {
    fn add(&mut self, body: &[u8]) {
        let n = body.len() as u64;
        self.min = if self.answers == 0 {
            n
        } else {
            self.min.min(n)
        };
        self.max = self.max.max(n);
        self.answers += 1;
        self.bytes += n;
    }

    fn merge(&mut self, o: Self) {
        if o.answers > 0 {
            self.min = if self.answers == 0 {
                o.min
            } else {
                self.min.min(o.min)
            };
        }
        self.max = self.max.max(o.max);
        self.answers += o.answers;
        self.bytes += o.bytes;
    }
}

/// `GET /heatmap`'s answer, as far as the bench reads it.
#[derive(Debug, Deserialize)]
struct MapAnswer {
    features: Vec<MapFeature>,
    from: String,
    to: String,
    min_envoys: u32,
}

#[derive(Debug, Deserialize)]
struct MapFeature {
    properties: MapCell,
}

#[derive(Debug, Deserialize)]
struct MapCell {
    cell: String,
    visits: u64,
    envoys: u64,
}

/// A cell's visits and distinct envoys.
type Pair = (u64, u64);
/// Per H3 cell: visits and distinct envoys.
type Counts = HashMap<u64, Pair>;

/// One HTTP measurement's result, for the summary.
struct Measured {
    figures: Figures<Size>,
    cells: Option<usize>,
}

impl Measured {
    fn p50(&self) -> f64 {
        self.figures.percentile_ms(0.50)
    }

    /// `p50 … ms, p99 … ms, mean … ms, … req/s`.
    fn latencies(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms, {:.0} req/s",
            self.p50(),
            self.figures.percentile_ms(0.99),
            self.figures.mean_ms(),
            self.figures.requests() as f64 / self.figures.wall().as_secs_f64()
        )
    }
}

/// `peacepatrol bench heatmap`.
pub async fn run(a: HeatmapArgs) -> anyhow::Result<()> {
    let dir = a.workload.clone();
    let meta = Meta::read(&dir)?;
    let bench = BenchFile::read(&dir)?;
    let base = a.url.trim_end_matches('/').to_owned();
    super::announce_server(&base).await?;
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
    let rss_before = a.server_pid.map(super::vm_rss_kib).transpose()?;

    // 1. the PostGIS peer, loaded before anything is timed
    let mut pg = if a.no_postgis {
        println!("PostGIS: skipped (--no-postgis)");
        None
    } else {
        Some(postgis(&a.postgis_url, &dir, &meta, shift).await?)
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
    let exact_url = format!(
        "{base}/api/v1/heatmap?from={}&to={}&{area}",
        rfc(from_ms),
        rfc(to_ms)
    );
    let (exact, ours) = measure_map(
        &format!(
            "GET /api/v1/heatmap {} days from/to (the workload's own, exact), heat_bbox, res {RES}",
            meta.days
        ),
        &exact_url,
        &token,
        a.concurrency,
        map_n,
    )
    .await?;
    let mut named = Vec::new();
    for d in &meta.windows {
        let (m, _) = measure_map(
            &format!("GET /api/v1/heatmap window={d}d, heat_bbox, res {RES}"),
            &format!("{base}/api/v1/heatmap?window={d}d&{area}"),
            &token,
            a.concurrency,
            map_n,
        )
        .await?;
        named.push((*d, m.0));
    }
    let Tile { x, y, .. } = tile_of(CANTON_TOWER.0, CANTON_TOWER.1, TILE_ZOOM)?;
    let tile_window = format!("{}d", meta.days);
    let tile = measure_tile(
        &format!("GET /api/v1/tiles/heat/{tile_window}/{TILE_ZOOM}/{x}/{y}.png (Canton Tower)"),
        &format!("{base}/api/v1/tiles/heat/{tile_window}/{TILE_ZOOM}/{x}/{y}.png"),
        &token,
        a.concurrency,
        tile_n,
    )
    .await?;

    // 3. PostGIS timings
    let mut peer: Vec<(i64, &str, f64, usize)> = Vec::new();
    if let Some(conn) = pg.as_mut() {
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
                peer.push((d, what, median, rows));
            }
        }
    }

    // 4. exactness
    let (a_ms, b_ms) = (
        from_ms.div_euclid(HOUR_MS) * HOUR_MS - shift,
        (to_ms.div_euclid(HOUR_MS) + 1) * HOUR_MS - shift,
    );
    let (stored, raw, source) = match pg.as_mut() {
        Some(conn) => {
            let t = Instant::now();
            let stored = pg_reference(conn, a_ms, b_ms, true).await?;
            let raw = pg_reference(conn, a_ms, b_ms, false).await?;
            let why: Vec<(String, i64)> = sqlx::query_as(
                "SELECT why, count(*) FROM footprints_not_counted GROUP BY why ORDER BY why",
            )
            .fetch_all(&mut *conn)
            .await?;
            let (live_counted, live): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE counted), count(*) FROM live_positions",
            )
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
            (stored, raw, "PostGIS")
        }
        None => {
            let (stored, raw) = csv_reference(&dir, a_ms, b_ms, shift).await?;
            (stored, raw, "footprints.csv and volunteers.csv read here")
        }
    };
    let check = compare(&ours, &stored, &meta.bbox);
    let literal = compare(&ours, &raw, &meta.bbox);
    println!(
        "EXACT: the {}-day answer counts workload times [{}, {}) ({} .. {} shifted: whole hours), {} cells, {} of them inside heat_bbox (every vertex; the reference has {})",
        meta.days,
        a_ms / 1000,
        b_ms / 1000,
        exact.1.from,
        exact.1.to,
        ours.len(),
        check.ours_inside,
        check.reference_inside
    );
    println!(
        "EXACT as stored: {} cells inside heat_bbox (ours or the reference's) compared with the reference's count(*) and count(DISTINCT volunteer_id) ({source}) of the points the server stores unflagged (footprints.csv less repeated (volunteer, ts) and speed-flagged rows, plus volunteers.csv's live positions, as bench load ingests them): {}",
        check.compared,
        if check.mismatches.is_empty() {
            format!(
                "all equal ({} visits; distinct envoys summed over cells {})",
                check.visits, check.envoys
            )
        } else {
            format!("{} MISMATCH", check.mismatches.len())
        }
    );
    for (cell, o, r) in check.mismatches.iter().take(LIST_MISMATCHES) {
        println!(
            "  cell {}: ours visits {} envoys {}, reference visits {} envoys {}",
            cell_string(*cell),
            o.0,
            o.1,
            r.0,
            r.1
        );
    }
    println!(
        "EXACT raw: against every footprints.csv row (the README's peer query; no live positions, duplicates and flagged rows counted) {} of {} cells differ{}",
        literal.mismatches.len(),
        literal.compared,
        if literal.mismatches.is_empty() {
            String::new()
        } else {
            format!(
                " ({} visits there, {} as stored): the ingest's rules, not the heat map; e.g. {}",
                literal.visits,
                check.visits,
                literal
                    .mismatches
                    .iter()
                    .take(3)
                    .map(|(c, o, r)| format!(
                        "{} ours {}/{} raw {}/{}",
                        cell_string(*c),
                        o.0,
                        o.1,
                        r.0,
                        r.1
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );

    // summary
    let exact_p50 = exact.0.p50();
    println!(
        "HEATMAP: {} days from/to exact: {}, {} cells, {} bytes",
        meta.days,
        exact.0.latencies(),
        ours.len(),
        exact.0.figures.tally.max
    );
    for (d, m) in &named {
        println!(
            "HEATMAP: window={d}d: {}, {} cells, {} bytes",
            m.latencies(),
            m.cells.unwrap_or(0),
            m.figures.tally.max
        );
    }
    println!(
        "HEATMAP: tile z{TILE_ZOOM} {tile_window}: {}, {} bytes",
        tile.latencies(),
        tile.figures.tally.max
    );
    for (d, what, ms, rows) in &peer {
        let ours_p50 = if *d == meta.days {
            Some((format!("{d} days from/to"), exact_p50))
        } else {
            named
                .iter()
                .find(|(n, _)| n == d)
                .map(|(_, m)| (format!("window={d}d"), m.p50()))
        };
        if let Some((name, p50)) = ours_p50 {
            println!(
                "PEER: PostGIS {d} days {what}: {ms:.0} ms ({rows} rows) = {:.0} × our HTTP p50 ({name}, {p50:.2} ms)",
                ms / p50.max(0.001)
            );
        }
    }
    if let (Some(pid), Some(before)) = (a.server_pid, rss_before) {
        let after = super::vm_rss_kib(pid)?;
        println!(
            "server RSS (pid {pid}): {:.1} MiB before, {:.1} MiB after (peak VmHWM {:.1} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            super::vm_status_kib(pid, "VmHWM:")? as f64 / 1024.0
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

/// An answer's body and content type.
struct Body {
    content_type: String,
    bytes: Vec<u8>,
}

/// [`WARMUP`] requests, each of which must succeed; returns the last answer.
async fn warm_up(url: &str, token: &str) -> anyhow::Result<Body> {
    let client = reqwest::Client::new();
    let mut last = None;
    for _ in 0..WARMUP {
        let r = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = r.status();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = r.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "GET {url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
        last = Some(Body {
            content_type,
            bytes: body.to_vec(),
        });
    }
    last.context("no warm-up request")
}

/// Measures a heat map URL; returns the figures and the answer (parsed once, from the last
/// warm-up request) as counts per cell.
async fn measure_map(
    what: &str,
    url: &str,
    token: &Arc<str>,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<((Measured, MapAnswer), Counts)> {
    let body = warm_up(url, token).await?;
    let answer: MapAnswer = serde_json::from_slice(&body.bytes)
        .with_context(|| format!("GET {url}: not a heat map"))?;
    anyhow::ensure!(
        answer.min_envoys <= 1,
        "GET {url}: cells with fewer than {} envoys are left out: is peacepatrol-bench.json's commander_token a commander's?",
        answer.min_envoys
    );
    let mut counts = Counts::with_capacity(answer.features.len());
    for f in &answer.features {
        let cell = u64::from_str_radix(&f.properties.cell, 16)
            .with_context(|| format!("GET {url}: bad cell {:?}", f.properties.cell))?;
        anyhow::ensure!(
            counts
                .insert(cell, (f.properties.visits, f.properties.envoys))
                .is_none(),
            "GET {url}: cell {} twice",
            f.properties.cell
        );
    }
    let figures = timed(what, url, token, concurrency, n).await?;
    println!(
        "  {} cells, {} bytes{}; window {} .. {}; mean {:.2} ms",
        counts.len(),
        body.bytes.len(),
        sizes(&figures.tally),
        answer.from,
        answer.to,
        figures.mean_ms()
    );
    let measured = Measured {
        figures,
        cells: Some(counts.len()),
    };
    Ok(((measured, answer), counts))
}

/// Measures a tile URL.
async fn measure_tile(
    what: &str,
    url: &str,
    token: &Arc<str>,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<Measured> {
    let body = warm_up(url, token).await?;
    anyhow::ensure!(
        body.content_type == "image/png" && body.bytes.starts_with(b"\x89PNG"),
        "GET {url}: not a PNG ({})",
        body.content_type
    );
    let figures = timed(what, url, token, concurrency, n).await?;
    println!(
        "  PNG of {} bytes{}; mean {:.2} ms",
        body.bytes.len(),
        sizes(&figures.tally),
        figures.mean_ms()
    );
    Ok(Measured {
        figures,
        cells: None,
    })
}

async fn timed(
    what: &str,
    url: &str,
    token: &Arc<str>,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<Figures<Size>> {
    let (base, path) = url.split_at(url.find("/api/").context("not an API URL")?);
    let (path, token) = (path.to_owned(), Arc::clone(token));
    let figures: Figures<Size> = drive(base, concurrency, n, move |_| {
        Call::get(path.clone(), &token)
    })
    .await?;
    figures.print(what, concurrency);
    Ok(figures)
}

/// ", every answer the same size" or the range of sizes.
fn sizes(s: &Size) -> String {
    if s.min == s.max {
        String::new()
    } else {
        format!(" (answers {} to {} bytes)", s.min, s.max)
    }
}

/// The XYZ tile (Web Mercator, as OpenStreetMap's) holding a point.
fn tile_of(lat: f64, lng: f64, z: u8) -> anyhow::Result<Tile> {
    Ok(Tile::containing(LatLng::new(lat, lng)?, z)?)
}

/// The outcome of comparing our cells with a reference.
struct Check {
    ours_inside: usize,
    reference_inside: usize,
    compared: usize,
    visits: u64,
    envoys: u64,
    /// (cell, ours, reference), by cell
    mismatches: Vec<(u64, Pair, Pair)>,
}

/// Compares the cells whose hexagon lies inside `bbox`, of either side (a cell missing on one
/// side counts 0 there).
fn compare(ours: &Counts, reference: &Counts, bbox: &Bbox) -> Check {
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
enum Fate {
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
    fn name(self) -> &'static str {
        match self {
            Fate::Counted => "counted",
            Fate::Duplicate => "duplicate",
            Fate::Flagged => "flagged",
            Fate::Rejected => "rejected",
        }
    }
}

/// How many points met each fate: counted, duplicate, flagged, rejected.
fn tally(fates: &[Fate]) -> [usize; 4] {
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
fn ingested(
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

/// The reference counts from PostGIS over workload times `[a_ms, b_ms)`: with `as_stored`, of
/// what the server counts (footprints, less those of `footprints_not_counted`, and the counted
/// `live_positions`); without, of every footprints.csv row (the README's peer query).
async fn pg_reference(
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

/// The reference counts from the CSV files over workload times `[a_ms, b_ms)`: of what the
/// server counts ([`ingested`]), and of every footprints.csv row.
async fn csv_reference(
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

fn counts(cells: &HashMap<u64, (u64, HashSet<u32>)>) -> Counts {
    cells
        .iter()
        .map(|(c, (v, e))| (*c, (*v, e.len() as u64)))
        .collect()
}

fn read_volunteers(dir: &Path) -> anyhow::Result<Vec<Ping>> {
    let mut v = Vec::new();
    workload::read_pings(&dir.join("volunteers.csv"), "id", |p| v.push(p))?;
    Ok(v)
}

/// Connects to the PostGIS peer's database (creating it and the extension if missing) and
/// loads its tables unless they hold this workload already.
async fn postgis(
    url: &str,
    dir: &Path,
    meta: &Meta,
    shift_ms: i64,
) -> anyhow::Result<PgConnection> {
    let opts: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .with_context(|| format!("--postgis-url {url}"))?
        .disable_statement_logging();
    let name = opts
        .get_database()
        .context("--postgis-url names no database")?
        .to_owned();
    let mut admin = PgConnection::connect_with(&opts.clone().database("postgres"))
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", pp_store::redact(url)))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        admin
            .execute(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")).as_str())
            .await
            .with_context(|| format!("creating the database {name}"))?;
        println!("PostGIS: created the database {name}");
    }
    admin.close().await?;
    let mut conn = PgConnection::connect_with(&opts).await?;
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await?;
    let major = version.parse::<u32>().unwrap_or(150_000) / 10_000;
    if let Err(e) = conn.execute("CREATE EXTENSION IF NOT EXISTS postgis").await {
        anyhow::bail!(
            "PostGIS is not installed for this PostgreSQL {major} ({e}): install it with\n    apt-get install -y postgresql-{major}-postgis-3\nand run again (or pass --no-postgis)"
        );
    }
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&mut conn)
        .await?;
    let mut settings = Vec::new();
    for s in [
        "shared_buffers",
        "work_mem",
        "max_parallel_workers_per_gather",
        "jit",
    ] {
        let v: String = sqlx::query_scalar(&format!("SHOW {s}"))
            .fetch_one(&mut conn)
            .await?;
        settings.push(format!("{s} {v}"));
    }
    println!(
        "PostGIS: {} (PostgreSQL {major}, PostGIS {postgis}; {}, as configured)",
        pp_store::redact(url),
        settings.join(", ")
    );

    conn.execute(
        "CREATE TABLE IF NOT EXISTS pp_bench_loaded (footprints_sha256 text NOT NULL, footprints bigint NOT NULL, volunteers_sha256 text NOT NULL, live_positions bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let marked: Option<(i64, i64)> = sqlx::query_as(
        "SELECT footprints, live_positions FROM pp_bench_loaded WHERE footprints_sha256 = $1 AND volunteers_sha256 = $2",
    )
    .bind(&meta.footprints_sha256)
    .bind(&meta.volunteers_sha256)
    .fetch_optional(&mut conn)
    .await?;
    let tables: (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT to_regclass('footprints')::text, to_regclass('live_positions')::text, to_regclass('footprints_not_counted')::text",
    )
    .fetch_one(&mut conn)
    .await?;
    let held = match (marked, tables) {
        (Some((f, l)), (Some(_), Some(_), Some(_))) => {
            let rows: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM footprints), (SELECT count(*) FROM live_positions)",
            )
            .fetch_one(&mut conn)
            .await?;
            rows == (f, l) && u64::try_from(f).ok() == Some(meta.footprints)
        }
        _ => false,
    };
    if held {
        println!(
            "PostGIS: footprints holds the {} rows of footprints.csv sha256 {}… already (pp_bench_loaded): not reloaded",
            meta.footprints,
            &meta.footprints_sha256[..16]
        );
    } else {
        load(&mut conn, dir, meta, shift_ms).await?;
    }
    let t = Instant::now();
    // as a DBA would: rows arrive in ts order (BRIN), boxes over points (GiST)
    conn.execute("SET maintenance_work_mem = '1GB'").await?;
    conn.execute("CREATE INDEX IF NOT EXISTS footprints_ts_brin ON footprints USING brin (ts)")
        .await?;
    conn.execute("CREATE INDEX IF NOT EXISTS footprints_geom_gist ON footprints USING gist (geom)")
        .await?;
    if !held {
        println!(
            "PostGIS: indexes (BRIN on ts, GiST on geom) built in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        conn.execute("VACUUM (ANALYZE) footprints").await?;
        conn.execute("VACUUM (ANALYZE) live_positions").await?;
        conn.execute("VACUUM (ANALYZE) footprints_not_counted")
            .await?;
        println!(
            "PostGIS: VACUUM ANALYZE in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    } else {
        conn.execute("ANALYZE footprints").await?;
        conn.execute("ANALYZE live_positions").await?;
        conn.execute("ANALYZE footprints_not_counted").await?;
    }
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('footprints'))")
            .fetch_one(&mut conn)
            .await?;
    println!("PostGIS: footprints with its indexes: {size}");
    Ok(conn)
}

/// (Re)creates and fills the PostGIS tables with COPY.
async fn load(
    conn: &mut PgConnection,
    dir: &Path,
    meta: &Meta,
    shift_ms: i64,
) -> anyhow::Result<()> {
    conn.execute("DROP TABLE IF EXISTS footprints, live_positions, footprints_not_counted")
        .await?;
    conn.execute("DELETE FROM pp_bench_loaded").await?;
    conn.execute(
        "CREATE TABLE footprints (volunteer_id int NOT NULL, ts timestamptz NOT NULL, geom geometry(Point,4326) NOT NULL, h3_9 bigint NOT NULL)",
    )
    .await?;
    conn.execute(
        "CREATE TABLE live_positions (volunteer_id int NOT NULL, ts timestamptz NOT NULL, geom geometry(Point,4326) NOT NULL, h3_9 bigint NOT NULL, counted boolean NOT NULL)",
    )
    .await?;
    conn.execute(
        "CREATE TABLE footprints_not_counted (volunteer_id int NOT NULL, ts timestamptz NOT NULL, h3_9 bigint NOT NULL, why text NOT NULL)",
    )
    .await?;

    let t = Instant::now();
    let volunteers = read_volunteers(dir)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let path = dir.join("footprints.csv");
    let producer = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        anyhow::ensure!(
            header == "volunteer_id,lat,lng,ts",
            "{}: unexpected header {header:?}",
            path.display()
        );
        let mut footprints = Vec::with_capacity(text.len() / 36);
        let mut buf = Vec::with_capacity(COPY_CHUNK + 256);
        let mut rows = 0u64;
        for (i, line) in lines.enumerate() {
            let row = copy_row(line, &mut buf)
                .with_context(|| format!("{} line {}: {line:?}", path.display(), i + 2))?;
            footprints.push(row);
            rows += 1;
            if buf.len() >= COPY_CHUNK {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(COPY_CHUNK + 256));
                if tx.blocking_send(full).is_err() {
                    anyhow::bail!("COPY stopped");
                }
            }
        }
        if !buf.is_empty() && tx.blocking_send(buf).is_err() {
            anyhow::bail!("COPY stopped");
        }
        anyhow::Ok((rows, footprints))
    });
    let mut copy = conn
        .copy_in_raw("COPY footprints (volunteer_id, ts, geom, h3_9) FROM STDIN")
        .await?;
    let mut sent = 0usize;
    let mut sending = Ok(());
    while let Some(chunk) = rx.recv().await {
        sent += chunk.len();
        if let Err(e) = copy.send(chunk).await {
            sending = Err(e);
            break;
        }
        if sent % (COPY_CHUNK * 64) < COPY_CHUNK {
            eprintln!("  … COPY footprints: {} MB sent", sent >> 20);
        }
    }
    drop(rx);
    let produced = producer.await?;
    let (rows, footprints) = match (sending, produced) {
        (Ok(()), Ok(done)) => done,
        (Err(e), _) => {
            let _ = copy.abort("bench heatmap: sending failed").await;
            return Err(e).context("COPY footprints");
        }
        (_, Err(e)) => {
            let _ = copy
                .abort("bench heatmap: reading footprints.csv failed")
                .await;
            return Err(e);
        }
    };
    let copied = copy.finish().await.context("COPY footprints")?;
    anyhow::ensure!(
        copied == rows && rows == meta.footprints,
        "COPY footprints: {copied} rows copied, {rows} read, meta.json says {}",
        meta.footprints
    );
    let secs = t.elapsed().as_secs_f64();
    println!(
        "PostGIS: COPY footprints: {rows} rows ({} MB of COPY text, h3_9 computed here) in {secs:.1} s, {:.0} rows/s",
        sent >> 20,
        rows as f64 / secs
    );

    // what the server counts of them: the rows it does not, and the live positions
    let t = Instant::now();
    let (fates, live) = ingested(&footprints, &volunteers, shift_ms)?;
    let mut buf = Vec::new();
    for (p, fate) in footprints.iter().zip(&fates) {
        if *fate != Fate::Counted {
            let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
            let _ = writeln!(
                Text(&mut buf),
                "{}\t{}\t{cell}\t{}",
                p.id,
                pg_time(p.ts),
                fate.name()
            );
        }
    }
    let mut copy = conn
        .copy_in_raw("COPY footprints_not_counted (volunteer_id, ts, h3_9, why) FROM STDIN")
        .await?;
    copy.send(buf).await?;
    let not_counted = copy.finish().await?;
    let mut buf = Vec::new();
    for (p, fate) in volunteers.iter().zip(&live) {
        let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
        let _ = writeln!(
            Text(&mut buf),
            "{}\t{}\tSRID=4326;POINT({:.6} {:.6})\t{cell}\t{}",
            p.id,
            pg_time(p.ts),
            p.lng,
            p.lat,
            *fate == Fate::Counted
        );
    }
    let mut copy = conn
        .copy_in_raw("COPY live_positions (volunteer_id, ts, geom, h3_9, counted) FROM STDIN")
        .await?;
    copy.send(buf).await?;
    let copied = copy.finish().await?;
    let [_, fd, ff, fr] = tally(&fates);
    let [lc, ld, lf, lr] = tally(&live);
    println!(
        "PostGIS: bench load's ingest replayed (validate_history, batches of {MAX_BATCH}) in {:.1} s: footprints_not_counted: {not_counted} rows ({fd} duplicates of a (volunteer, ts), {ff} flagged, {fr} rejected); live_positions: {copied} rows of volunteers.csv, {lc} counted ({lf} flagged, {ld} duplicates, {lr} rejected); for the exactness check only",
        t.elapsed().as_secs_f64()
    );
    sqlx::query(
        "INSERT INTO pp_bench_loaded (footprints_sha256, footprints, volunteers_sha256, live_positions) VALUES ($1, $2, $3, $4)",
    )
    .bind(&meta.footprints_sha256)
    .bind(i64::try_from(rows)?)
    .bind(&meta.volunteers_sha256)
    .bind(i64::try_from(copied)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends a footprints.csv line as a COPY text row
/// `volunteer_id \t ts \t SRID=4326;POINT(lng lat) \t h3_9` and returns it parsed.
fn copy_row(line: &str, buf: &mut Vec<u8>) -> anyhow::Result<Ping> {
    let mut f = line.split(',');
    let mut next = || f.next().context("too few columns");
    let (id, lat, lng, ts) = (next()?, next()?, next()?, next()?);
    let p = Ping {
        id: id.parse()?,
        lat: lat.parse()?,
        lng: lng.parse()?,
        ts: ts.parse()?,
    };
    let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
    let _ = writeln!(
        Text(buf),
        "{}\t{}\tSRID=4326;POINT({lng} {lat})\t{cell}",
        p.id,
        pg_time(p.ts)
    );
    Ok(p)
}

/// Unix seconds as a PostgreSQL `timestamptz` literal in UTC.
fn pg_time(ts: i64) -> impl std::fmt::Display {
    from_millis(ts * 1000).format("%Y-%m-%d %H:%M:%S+00")
}

/// `fmt::Write` into a byte buffer.
struct Text<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canton_tower_tile_is_the_osm_one() {
        // x = (lng + 180) / 360 * 2^14 = 13349.6; y = (1 - asinh(tan(lat)) / pi) / 2 * 2^14 = 7110.6
        let xy = |lat, lng, z| tile_of(lat, lng, z).map(|t| (t.x, t.y)).unwrap();
        assert_eq!(xy(CANTON_TOWER.0, CANTON_TOWER.1, 14), (13349, 7110));
        assert_eq!(xy(0.0, 0.0, 1), (1, 1));
        assert_eq!(xy(85.0, -179.9, 3), (0, 0));
    }

    #[test]
    fn copy_rows_are_postgres_text() {
        let mut buf = Vec::new();
        let p = copy_row("66,23.107996,113.318595,1781524801", &mut buf).unwrap();
        assert_eq!(p.id, 66);
        let cell = Cells::of(LatLng::new(23.107996, 113.318595).unwrap()).at(9) as i64;
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("66\t2026-06-15 12:00:01+00\tSRID=4326;POINT(113.318595 23.107996)\t{cell}\n")
        );
    }

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
