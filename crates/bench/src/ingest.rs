//! `peacepatrol bench ingest --workload DIR --url URL`: `POST /api/v1/positions` against a
//! running server whose database `bench load` filled, signed in with the sessions it wrote.
//!
//! * `--batch 1`: `updates.csv` replayed in `ts` order, one point per request, its times
//!   shifted so that its last row is 1 s before now.
//! * `--batch N` (N > 1, default 500): per request one envoy of `updates.csv` and N points, a
//!   1 Hz walk of N seconds: from the envoy's first `updates.csv` position at 1.3 m/s along a
//!   seeded heading for N/2 s, then back (at most 325 m out for N = 500). The walks repeat
//!   every N s of absolute time and a run sends the last whole period that ends before now,
//!   so a run repeated later continues the same tracks, and a point is 1.3 m from the one
//!   before: nothing is refused for freshness, nothing flagged for speed (unless `--batch 1`
//!   moved the envoys less than a period before). Request i is envoy `i % envoys`; later laps
//!   (`--requests` above the number of envoys) take the periods before.
//!
//! Times keep the millisecond of the run's start, so two runs never repeat a `ts`. Request
//! bodies are built before the clock starts. Only accepted points count toward points/s.

use crate::harness::server::announce_server;
use crate::harness::{drive, Figures, Tally};
use crate::workload::{self, Ping, ACCURACY_M};
use anyhow::Context as _;
use bytes::Bytes;
use chrono::SecondsFormat;
use clap::Args;
use pp_domain::position::MAX_BATCH;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use pp_sim::api::answers::Posted;
use pp_sim::api::{Api, Call};
use pp_sim::measure::vm_rss_kib;
use rand::{Rng as _, SeedableRng as _};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Walking speed of the synthetic walks, m/s.
const WALK_MPS: f64 = 1.3;
/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_320.0;

/// `bench ingest` flags.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The workload directory, with the `peacepatrol-sessions.csv` of `bench load`.
    #[arg(long)]
    pub workload: PathBuf,
    /// The running server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Points per request: 1 replays updates.csv a point per request; N > 1 sends each envoy
    /// of updates.csv N seconds of a synthetic 1 Hz walk per request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Requests to send (default: one per envoy of updates.csv with --batch > 1, every row of
    /// updates.csv with --batch 1).
    #[arg(long)]
    pub requests: Option<usize>,
    /// The server's process id: its resident memory (VmRSS) is printed before and after.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seed of the synthetic walks (their headings).
    #[arg(long, default_value_t = 20261001)]
    pub seed: u64,
}

/// What the answers of `POST /positions` added up to (also `bench nearest`'s).
#[derive(Debug, Default)]
pub struct Report {
    pub accepted: u64,
    pub duplicates: u64,
    pub flagged: u64,
    pub rejected: u64,
    /// 2xx answers that were not an ingest report
    pub unreadable: u64,
}

impl Tally for Report {
    fn add(&mut self, body: &[u8]) {
        match serde_json::from_slice::<Posted>(body) {
            Ok(a) => {
                self.accepted += a.accepted;
                self.duplicates += a.duplicates;
                self.flagged += a.flagged;
                self.rejected += a.rejected.len() as u64;
            }
            Err(_) => self.unreadable += 1,
        }
    }

    fn merge(&mut self, o: Self) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.flagged += o.flagged;
        self.rejected += o.rejected;
        self.unreadable += o.unreadable;
    }
}

/// A request ready to send: whose token, and the JSON body.
struct Request {
    token: Arc<str>,
    body: Bytes,
}

/// `peacepatrol bench ingest`.
pub async fn run(a: IngestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&a.batch),
        "--batch must be 1 to {MAX_BATCH}"
    );
    let api = Api::builder(&a.url).build()?;
    announce_server(&api).await?;
    let rss_before = a.server_pid.map(vm_rss_kib).transpose()?;

    let tokens: HashMap<u32, Arc<str>> = workload::read_sessions(&a.workload)?
        .into_iter()
        .map(|(id, t)| (id, Arc::from(t)))
        .collect();
    let mut updates = Vec::new();
    workload::read_pings(&a.workload.join("updates.csv"), "volunteer_id", |p| {
        updates.push(p);
    })?;
    updates.sort_by_key(|p| p.ts);
    let token = |id: u32| {
        tokens
            .get(&id)
            .cloned()
            .with_context(|| format!("no session for volunteer {id}: run `bench load` again"))
    };

    let t = Instant::now();
    let now_ms = to_millis(SystemClock.now());
    let requests: Vec<Request> = if a.batch == 1 {
        let n = a.requests.unwrap_or(updates.len());
        anyhow::ensure!(
            n <= updates.len(),
            "--batch 1 replays updates.csv: at most {} requests",
            updates.len()
        );
        let last = updates.last().map_or(0, |p| p.ts);
        let shift_ms = now_ms - 1000 - last * 1000;
        println!(
            "workload: updates.csv replayed in ts order, {n} of its {} rows ({} envoys), one point per request, times shifted by {:+} s",
            updates.len(),
            tokens.len(),
            shift_ms / 1000
        );
        updates[..n]
            .iter()
            .map(|p| {
                Ok(Request {
                    token: token(p.id)?,
                    body: body([(p.ts * 1000 + shift_ms, p.lat, p.lng)]),
                })
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        let walks = walks(&updates, a.seed);
        let n = a.requests.unwrap_or(walks.len());
        // the last whole period that ends at least 1 s before now, keeping now's millisecond
        let period_ms = a.batch as i64 * 1000;
        let first_ms = (now_ms - 1000 - period_ms + 1000).div_euclid(period_ms) * period_ms
            + now_ms.rem_euclid(1000);
        println!(
            "workload: {} envoys of updates.csv, each a 1 Hz walk out and back at {WALK_MPS} m/s (seed {}); {n} requests of {} points, {} points, from {} to {} s before now",
            walks.len(),
            a.seed,
            a.batch,
            n * a.batch,
            (now_ms - first_ms) / 1000,
            (now_ms - first_ms - period_ms + 1000) / 1000
        );
        (0..n)
            .map(|i| {
                let w = &walks[i % walks.len()];
                let lap = (i / walks.len()) as i64;
                let points = (0..a.batch as i64).map(|j| {
                    let ts = first_ms - lap * period_ms + j * 1000;
                    let (lat, lng) = w.at(ts, period_ms);
                    (ts, lat, lng)
                });
                Ok(Request {
                    token: token(w.id)?,
                    body: body(points),
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    println!(
        "prepared {} request bodies in {:.1} s",
        requests.len(),
        t.elapsed().as_secs_f64()
    );

    let (n, requests) = (requests.len(), Arc::new(requests));
    let figures: Figures<Report> = drive(&api, a.concurrency, n, move |i| {
        let r = &requests[i];
        Call::positions(&r.token, r.body.clone())
    })
    .await?;
    figures.print(
        &format!("POST /api/v1/positions, {} point(s) per request", a.batch),
        a.concurrency,
    );
    let r = &figures.tally;
    let secs = figures.wall().as_secs_f64();
    println!(
        "INGEST: {:.0} accepted points/s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; points sent {}: accepted {}, duplicates {}, flagged {} (of the accepted), rejected {}; errors {}{}",
        r.accepted as f64 / secs,
        n as f64 / secs,
        figures.percentile_ms(0.50),
        figures.percentile_ms(0.99),
        n * a.batch,
        r.accepted,
        r.duplicates,
        r.flagged,
        r.rejected,
        figures.errors(),
        if r.unreadable > 0 {
            format!(", {} 2xx answers that were not an ingest report", r.unreadable)
        } else {
            String::new()
        }
    );
    if let (Some(pid), Some(before)) = (a.server_pid, rss_before) {
        let after = vm_rss_kib(pid)?;
        println!(
            "server RSS (pid {pid}): {:.1} MiB before, {:.1} MiB after",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }
    Ok(())
}

/// One envoy's synthetic walk.
struct Walk {
    id: u32,
    /// its first position in updates.csv, where each period starts and ends
    lat: f64,
    lng: f64,
    /// heading: metres north and east per metre walked
    north: f64,
    east: f64,
}

impl Walk {
    /// Where the envoy is at `ts_ms` (Unix milliseconds): it leaves its start at each multiple
    /// of `period_ms`, walks out at [`WALK_MPS`] for half the period and back.
    fn at(&self, ts_ms: i64, period_ms: i64) -> (f64, f64) {
        let x = ts_ms.rem_euclid(period_ms) as f64 / 1000.0;
        let d = WALK_MPS * x.min(period_ms as f64 / 1000.0 - x);
        (
            self.lat + d * self.north / M_PER_DEG,
            self.lng + d * self.east / (M_PER_DEG * self.lat.to_radians().cos()),
        )
    }
}

/// A walk for each envoy of updates.csv (in the order they first appear); the headings are
/// drawn in id order from `seed`.
fn walks(updates: &[Ping], seed: u64) -> Vec<Walk> {
    let mut first: HashMap<u32, usize> = HashMap::new();
    let mut order = Vec::new();
    for (i, p) in updates.iter().enumerate() {
        first.entry(p.id).or_insert_with(|| {
            order.push(p.id);
            i
        });
    }
    let mut ids = order.clone();
    ids.sort_unstable();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let headings: HashMap<u32, f64> = ids
        .into_iter()
        .map(|id| (id, rng.gen_range(0.0..std::f64::consts::TAU)))
        .collect();
    order
        .into_iter()
        .map(|id| {
            let p = updates[first[&id]];
            let heading = headings[&id];
            Walk {
                id,
                lat: p.lat,
                lng: p.lng,
                north: heading.cos(),
                east: heading.sin(),
            }
        })
        .collect()
}

/// `{"points":[{"ts":…,"lat":…,"lng":…,"accuracy_m":5.0},…]}` of `(Unix ms, lat, lng)`.
fn body(points: impl IntoIterator<Item = (i64, f64, f64)>) -> Bytes {
    let mut out = String::from(r#"{"points":["#);
    for (i, (ts, lat, lng)) in points.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"ts":"{}","lat":{lat:.6},"lng":{lng:.6},"accuracy_m":{}}}"#,
            from_millis(ts).to_rfc3339_opts(SecondsFormat::Millis, true),
            ACCURACY_M
        );
    }
    out.push_str("]}");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pp_geo::{haversine_m, LatLng};

    #[test]
    fn walks_move_at_walking_speed_out_and_back_to_their_start() {
        let updates = [
            Ping {
                id: 7,
                lat: 23.1,
                lng: 113.3,
                ts: 10,
            },
            Ping {
                id: 3,
                lat: 23.09,
                lng: 113.31,
                ts: 11,
            },
            Ping {
                id: 7,
                lat: 23.2,
                lng: 113.2,
                ts: 40,
            },
        ];
        let walks = walks(&updates, 1);
        assert_eq!(walks.iter().map(|w| w.id).collect::<Vec<_>>(), [7, 3]);
        let w = &walks[0];
        let at = |ms: i64| {
            let (lat, lng) = w.at(ms, 500_000);
            LatLng::new(lat, lng).unwrap()
        };
        let start = LatLng::new(23.1, 113.3).unwrap();
        let period = 1_781_525_000_000; // a multiple of 500 s
        assert!(haversine_m(at(period), start) < 0.01);
        assert!(haversine_m(at(period + 499_000), start) < 1.4);
        assert!((haversine_m(at(period + 250_000), start) - 325.0).abs() < 0.5);
        for s in 0..1000 {
            let step = haversine_m(at(period + s * 1000 + 7), at(period + s * 1000 + 1007));
            assert!(step <= WALK_MPS + 0.01, "{step} m in 1 s");
        }
    }

    #[test]
    fn bodies_are_the_apis_json() {
        let b = body([(1_781_524_800_123, 23.1, 113.3)]);
        assert_eq!(
            b,
            &br#"{"points":[{"ts":"2026-06-15T12:00:00.123Z","lat":23.100000,"lng":113.300000,"accuracy_m":5}]}"#[..]
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["points"][0]["accuracy_m"], 5.0);
    }
}
