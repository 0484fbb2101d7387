//! `peacepatrol bench nearest --workload DIR --url URL`: `GET /api/v1/envoys/nearest` of a
//! running server whose database `bench load` filled, checked against `queries_expected.csv`
//! and compared with the same search in process and in Redis.
//!
//! 1. Live set: the server counts envoys seen in the last 10 minutes of its own clock. Every
//!    volunteer with a session (those of updates.csv: exactly the volunteers.csv rows with
//!    `last_seen_unix >= now_unix - 600`) posts its volunteers.csv position at
//!    `anchor - (now_unix - last_seen_unix)`, where the anchor (the workload's now on the wall
//!    clock) is [`LEAD_S`] seconds after the posting starts: at the recall check the server's
//!    live set is then exactly the workload's active set, each envoy at its own age (the check
//!    runs before the anchor; a volunteer of age 600 s drops out of the window at the anchor).
//!    The others were loaded at `last_seen + shift`, more than 10 minutes ago, and stay out.
//!    `GET /me` per session maps volunteer ids to user ids.
//! 2. Recall: every query of queries.csv once against queries_expected.csv (the server's
//!    10-minute window stands for `max_age_s` 600).
//! 3. HTTP throughput: `--requests` queries cycling through queries.csv, at concurrency 1 and
//!    `--concurrency`, after a warm-up.
//! 4. In process: a [`PointIndex`] of the active volunteers, `nearest` (k 20, 2 km) on one
//!    thread, and moves (`set` to a shifted place) as the live index does on ingest.
//! 5. Redis peer (if one answers at 127.0.0.1:6379): GEOADD the active volunteers into
//!    [`REDIS_KEY`], `GEOSEARCH … FROMLONLAT lng lat BYRADIUS 2000 m ASC COUNT 20` per query at
//!    concurrency 1 and `--concurrency` (one connection per client, one request in flight on
//!    each, as the HTTP clients), then delete the key.
//!
//! With `--in-process-only` only step 4 runs (from the workload's files alone: no server, no
//! sessions, no Redis), for measuring [`PointIndex`] by itself.

use super::ingest::Report;
use super::workload::{self, BenchFile, Ping};
use super::{drive, Call, Figures};
use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::Args;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use pp_geo::near::PointIndex;
use pp_geo::LatLng;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server's live window (`LIVE_MINUTES`), seconds.
const WINDOW_S: i64 = 600;
/// The anchor (workload now on the wall clock) is this far after the posting starts; the
/// server takes points up to 60 s ahead of its clock.
const LEAD_S: i64 = 45;
/// The recall the run must reach.
const MIN_RECALL: f64 = 0.999;
/// The in-process search: k and radius.
const K: usize = 20;
const RADIUS_M: f64 = 2000.0;
/// Each in-process timing runs at least this long.
const MIN_TIMED: Duration = Duration::from_secs(2);
/// Redis key of the peer.
const REDIS_KEY: &str = "pp:bench:live";
/// Redis address of the peer.
const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// `bench nearest` flags.
#[derive(Debug, Args)]
pub struct NearestArgs {
    /// The workload directory, with the files `bench load` wrote.
    #[arg(long)]
    pub workload: PathBuf,
    /// The running server, e.g. http://127.0.0.1:8080 (not needed with `--in-process-only`).
    #[arg(long, required_unless_present = "in_process_only")]
    pub url: Option<String>,
    /// Run only the in-process step (`PointIndex` queries and moves on one thread, recall
    /// against queries_expected.csv) from the workload's files: no server, HTTP or Redis.
    #[arg(long)]
    pub in_process_only: bool,
    /// Concurrent client connections of the second run.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Requests per throughput run (cycling through queries.csv).
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// The server's process id: its resident memory (VmRSS) is printed before and after.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// A row of queries.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Query {
    id: u32,
    lat: f64,
    lng: f64,
    radius_m: f64,
    k: usize,
}

/// How a set of answers compares with the expected ones.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Score {
    /// expected entries found
    found: usize,
    /// expected entries
    expected: usize,
    /// entries answered
    answered: usize,
    /// ranks with a different id whose distances differ by more than 0.01 m (or an id not
    /// expected at all)
    order_mismatches: usize,
    /// largest |answered distance - expected distance| of the found entries, m
    max_dist_err_m: f64,
}

impl Score {
    /// Scores one query's answer (`(volunteer id, metres)`, nearest first) against the
    /// expected one (the same, ordered by distance then id).
    fn of(ours: &[(u32, f64)], expected: &[(u32, f64)]) -> Score {
        let want: HashMap<u32, f64> = expected.iter().copied().collect();
        let mut s = Score {
            expected: expected.len(),
            answered: ours.len(),
            ..Score::default()
        };
        for (rank, &(id, d)) in ours.iter().enumerate() {
            if let Some(&e) = want.get(&id) {
                s.found += 1;
                if d.is_finite() {
                    s.max_dist_err_m = s.max_dist_err_m.max((d - e).abs());
                }
            }
            match (want.get(&id), expected.get(rank)) {
                (_, Some(&(eid, _))) if eid == id => {}
                (Some(&d_ours), Some(&(_, d_exp))) if (d_ours - d_exp).abs() <= 0.01 => {}
                _ => s.order_mismatches += 1,
            }
        }
        s
    }

    fn add(&mut self, o: Score) {
        self.found += o.found;
        self.expected += o.expected;
        self.answered += o.answered;
        self.order_mismatches += o.order_mismatches;
        self.max_dist_err_m = self.max_dist_err_m.max(o.max_dist_err_m);
    }

    fn recall(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.found as f64 / self.expected as f64
        }
    }

    fn line(&self) -> String {
        format!(
            "recall {:.4} ({} of {} expected found; {} answered), order mismatches {}, max distance error {:.2} m",
            self.recall(),
            self.found,
            self.expected,
            self.answered,
            self.order_mismatches,
            self.max_dist_err_m
        )
    }
}

/// Scores every query's answer against `expected` (by query id).
fn score_all(
    queries: &[Query],
    answers: &[Vec<(u32, f64)>],
    expected: &HashMap<u32, Vec<(u32, f64)>>,
) -> Score {
    let mut total = Score::default();
    for (q, a) in queries.iter().zip(answers) {
        let e = expected.get(&q.id).map_or(&[][..], Vec::as_slice);
        total.add(Score::of(a, e));
    }
    total
}

/// Reads queries.csv.
fn read_queries(path: &Path) -> anyhow::Result<Vec<Query>> {
    read_rows(path, "query_id,lat,lng,radius_m,k,", |f| {
        Ok(Query {
            id: f[0].parse()?,
            lat: f[1].parse()?,
            lng: f[2].parse()?,
            radius_m: f[3].parse()?,
            k: f[4].parse()?,
        })
    })
}

/// Reads queries_expected.csv: per query id, `(volunteer id, dist_m)` by rank.
fn read_expected(path: &Path) -> anyhow::Result<HashMap<u32, Vec<(u32, f64)>>> {
    let rows = read_rows(path, "query_id,rank,volunteer_id,dist_m", |f| {
        Ok((
            f[0].parse::<u32>()?,
            f[1].parse::<u32>()?,
            f[2].parse::<u32>()?,
            f[3].parse::<f64>()?,
        ))
    })?;
    let mut out: HashMap<u32, Vec<(u32, u32, f64)>> = HashMap::new();
    for (q, rank, id, d) in rows {
        out.entry(q).or_default().push((rank, id, d));
    }
    Ok(out
        .into_iter()
        .map(|(q, mut v)| {
            v.sort_by_key(|r| r.0);
            (q, v.into_iter().map(|(_, id, d)| (id, d)).collect())
        })
        .collect())
}

/// Reads a CSV file whose header starts with `header`, parsing each row's fields with `parse`.
fn read_rows<T>(
    path: &Path,
    header: &str,
    parse: impl Fn(&[&str]) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    anyhow::ensure!(
        first.starts_with(header),
        "{}: unexpected header {first:?}",
        path.display()
    );
    let columns = header.split(',').filter(|c| !c.is_empty()).count();
    lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            anyhow::ensure!(f.len() >= columns, "too few columns");
            parse(&f).with_context(|| format!("{} line {}: {line:?}", path.display(), i + 2))
        })
        .collect()
}

/// Sends `requests` from `concurrency` tasks and returns each answer's body (2xx) or error,
/// in request order.
async fn fetch_all(
    concurrency: usize,
    requests: Vec<reqwest::RequestBuilder>,
) -> Vec<anyhow::Result<Vec<u8>>> {
    let n = requests.len();
    let requests: Arc<Vec<std::sync::Mutex<Option<reqwest::RequestBuilder>>>> = Arc::new(
        requests
            .into_iter()
            .map(|r| std::sync::Mutex::new(Some(r)))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let request = requests[i].lock().ok().and_then(|mut r| r.take());
                    let result = async {
                        let r = request.context("request taken twice")?.send().await?;
                        let status = r.status();
                        let body = r.bytes().await?;
                        anyhow::ensure!(
                            status.is_success(),
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        );
                        Ok(body.to_vec())
                    }
                    .await;
                    out.push((i, result));
                }
                out
            })
        })
        .collect();
    let mut all: Vec<Option<anyhow::Result<Vec<u8>>>> = (0..n).map(|_| None).collect();
    for w in workers {
        match w.await {
            Ok(v) => {
                for (i, r) in v {
                    all[i] = Some(r);
                }
            }
            Err(e) => tracing::warn!("a client task failed: {e}"),
        }
    }
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("no answer"))))
        .collect()
}

/// `GET /envoys/nearest`.
#[derive(Debug, Deserialize)]
struct NearestAnswer {
    envoys: Vec<NearestEnvoy>,
}

#[derive(Debug, Deserialize)]
struct NearestEnvoy {
    id: String,
    distance_m: f64,
}

/// The URL of query `q`.
fn nearest_url(base: &str, q: &Query) -> String {
    format!(
        "{base}/api/v1/envoys/nearest?lat={}&lng={}&k={}&radius_m={}",
        q.lat, q.lng, q.k, q.radius_m
    )
}

/// `peacepatrol bench nearest`.
pub async fn run(a: NearestArgs) -> anyhow::Result<()> {
    if a.in_process_only {
        return in_process_only(&a.workload);
    }
    let base = a
        .url
        .as_deref()
        .context("--url is required")?
        .trim_end_matches('/')
        .to_owned();
    super::announce_server(&base).await?;
    let rss_before = a.server_pid.map(super::vm_rss_kib).transpose()?;
    let dir = &a.workload;
    let Sample {
        now_unix,
        active,
        queries,
        expected,
        size,
    } = Sample::read(dir)?;
    let bench = BenchFile::read(dir)?;
    let sessions = workload::read_sessions(dir)?;
    let with_session = active
        .iter()
        .filter(|v| sessions.contains_key(&v.id))
        .count();
    anyhow::ensure!(
        with_session == active.len() && sessions.len() == active.len(),
        "{} volunteers seen in the last {WINDOW_S} s, {} sessions, {with_session} of them active: \
         the sessions are not the active set (run `bench load` again)",
        active.len(),
        sessions.len()
    );
    println!(
        "workload {}: {size}; {} expected entries; bench load's shift {:+} h",
        dir.display(),
        expected.values().map(Vec::len).sum::<usize>(),
        bench.shift_ms / 3_600_000
    );

    // 1. volunteer id -> user id, then the live set
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()?;
    let t = Instant::now();
    let ids: Vec<u32> = active.iter().map(|v| v.id).collect();
    let requests = ids
        .iter()
        .map(|id| {
            client
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(&sessions[id])
        })
        .collect();
    let mut user_of: HashMap<String, u32> = HashMap::with_capacity(ids.len());
    for (id, body) in ids.iter().zip(fetch_all(a.concurrency, requests).await) {
        let me: serde_json::Value =
            serde_json::from_slice(&body.with_context(|| format!("GET /me of volunteer {id}"))?)?;
        let user = me["id"]
            .as_str()
            .with_context(|| format!("GET /me answered {me}"))?;
        user_of.insert(user.to_owned(), *id);
    }
    println!(
        "GET /api/v1/me: {} sessions mapped to user ids in {:.1} s (concurrency {})",
        user_of.len(),
        t.elapsed().as_secs_f64(),
        a.concurrency
    );

    let start_ms = to_millis(SystemClock.now());
    let anchor_ms = start_ms + LEAD_S * 1000;
    let bodies: Arc<Vec<(Arc<str>, String)>> = Arc::new(
        active
            .iter()
            .map(|v| {
                let ts = from_millis(anchor_ms - (now_unix - v.ts) * 1000)
                    .to_rfc3339_opts(SecondsFormat::Millis, true);
                let body = serde_json::json!({"points": [{"ts": ts, "lat": v.lat, "lng": v.lng, "accuracy_m": 5.0}]});
                (Arc::from(sessions[&v.id].as_str()), body.to_string())
            })
            .collect(),
    );
    let n = bodies.len();
    let posted: Figures<Report> = drive(&base, a.concurrency, n, move |i| {
        let (token, body) = &bodies[i];
        Call::post("/api/v1/positions".to_owned(), token, body.clone())
    })
    .await?;
    posted.print(
        "POST /api/v1/positions (each active volunteer at its age)",
        a.concurrency,
    );
    let p = &posted.tally;
    println!(
        "  points: accepted {}, duplicates {}, flagged {}, rejected {}, unreadable answers {}; \
         workload now = {} (posting start + {LEAD_S} s): the server's 10-minute window is the \
         workload's active set until then",
        p.accepted,
        p.duplicates,
        p.flagged,
        p.rejected,
        p.unreadable,
        from_millis(anchor_ms).to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    anyhow::ensure!(
        posted.errors() == 0 && p.rejected == 0,
        "positions were refused"
    );

    // 2. recall
    let commander = bench.commander_token.clone();
    let t = Instant::now();
    let requests = queries
        .iter()
        .map(|q| client.get(nearest_url(&base, q)).bearer_auth(&commander))
        .collect();
    let mut answers = Vec::with_capacity(queries.len());
    let mut unknown = 0;
    for (q, body) in queries.iter().zip(fetch_all(a.concurrency, requests).await) {
        let body: NearestAnswer = serde_json::from_slice(
            &body.with_context(|| format!("GET /envoys/nearest of query {}", q.id))?,
        )?;
        answers.push(
            body.envoys
                .into_iter()
                .map(|e| match user_of.get(&e.id) {
                    Some(&v) => (v, e.distance_m),
                    None => {
                        unknown += 1;
                        (0, e.distance_m)
                    }
                })
                .collect::<Vec<_>>(),
        );
    }
    let checked_ms = to_millis(SystemClock.now());
    let score = score_all(&queries, &answers, &expected);
    println!(
        "RECALL HTTP ({size}): {}; {unknown} answered envoys without a session; checked {:.1} s after posting started ({:.1} s before the anchor), {:.1} s",
        score.line(),
        (checked_ms - start_ms) as f64 / 1000.0,
        (anchor_ms - checked_ms) as f64 / 1000.0,
        t.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        checked_ms <= anchor_ms,
        "the check ended after the anchor: envoys aged out of the window (posting too slow?)"
    );
    anyhow::ensure!(
        score.recall() >= MIN_RECALL,
        "recall {:.4} is below {MIN_RECALL}",
        score.recall()
    );

    // 3. HTTP throughput
    let queries = Arc::new(queries);
    let mut http_c8 = 0.0;
    for c in [1, a.concurrency] {
        let run = |n: usize| {
            let (token, queries): (Arc<str>, _) =
                (Arc::from(commander.as_str()), Arc::clone(&queries));
            drive::<(), _>(&base, c, n, move |i| {
                Call::get(nearest_url("", &queries[i % queries.len()]), &token)
            })
        };
        run(a.requests.min(2000)).await?;
        let before = live_count(&active, now_unix, anchor_ms);
        let f = run(a.requests).await?;
        let after = live_count(&active, now_unix, anchor_ms);
        f.print(&format!("GET /api/v1/envoys/nearest ({size})"), c);
        println!("  envoys in the window during the run: {before} → {after}");
        if c == a.concurrency {
            http_c8 = f.requests() as f64 / f.wall().as_secs_f64();
        }
    }
    if let Some(pid) = a.server_pid {
        println!(
            "server VmRSS: {} MiB before, {} MiB after",
            rss_before.unwrap_or(0) / 1024,
            super::vm_rss_kib(pid)? / 1024
        );
    }

    // 4. in process
    in_process(&active, &queries, &expected, &size)?;

    // 5. Redis
    match redis_peer(&active, &queries, &expected, a.concurrency, &size).await {
        Ok(Some(redis_c8)) => println!(
            "ours / Redis at concurrency {}: {:.2}× ({http_c8:.0} vs {redis_c8:.0} req/s)",
            a.concurrency,
            http_c8 / redis_c8
        ),
        Ok(None) => {}
        Err(e) => println!("Redis peer failed: {e:#}"),
    }
    Ok(())
}

/// `--in-process-only`: step 4 alone, on the workload's active volunteers.
fn in_process_only(dir: &Path) -> anyhow::Result<()> {
    let sample = Sample::read(dir)?;
    println!("workload {}: {}", dir.display(), sample.size);
    in_process(
        &sample.active,
        &sample.queries,
        &sample.expected,
        &sample.size,
    )
}

/// What the benchmark takes from the workload: the volunteers seen in its last
/// [`WINDOW_S`] seconds, the queries and their expected answers.
struct Sample {
    now_unix: i64,
    active: Vec<Ping>,
    queries: Vec<Query>,
    expected: HashMap<u32, Vec<(u32, f64)>>,
    /// the workload's size, for the figures' lines
    size: String,
}

impl Sample {
    fn read(dir: &Path) -> anyhow::Result<Sample> {
        let now_unix = workload::now_unix(dir)?;
        let mut volunteers = Vec::new();
        workload::read_pings(&dir.join("volunteers.csv"), "id", |p| volunteers.push(p))?;
        let queries = read_queries(&dir.join("queries.csv"))?;
        let expected = read_expected(&dir.join("queries_expected.csv"))?;
        let active: Vec<Ping> = volunteers
            .iter()
            .filter(|v| v.ts >= now_unix - WINDOW_S)
            .copied()
            .collect();
        let size = format!(
            "{} live envoys of {}, {} queries (k {}, {} m)",
            active.len(),
            volunteers.len(),
            queries.len(),
            queries.first().map_or(0, |q| q.k),
            queries.first().map_or(0.0, |q| q.radius_m)
        );
        Ok(Sample {
            now_unix,
            active,
            queries,
            expected,
            size,
        })
    }
}

/// How many active volunteers are inside the server's window now, given the anchor.
fn live_count(active: &[Ping], now_unix: i64, anchor_ms: i64) -> usize {
    let late_s = (to_millis(SystemClock.now()) - anchor_ms).max(0) / 1000;
    active
        .iter()
        .filter(|v| now_unix - v.ts <= WINDOW_S - late_s)
        .count()
}

/// Latencies of one thread's timed calls as [`Figures`].
fn figures_of(mut latencies_us: Vec<u64>, wall: Duration) -> Figures<()> {
    latencies_us.sort_unstable();
    Figures {
        latencies_us,
        wall,
        ..Figures::default()
    }
}

/// Step 4: the search and the moves in process, one thread.
fn in_process(
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

/// Step 5: the Redis peer; `None` when no Redis answers.
async fn redis_peer(
    active: &[Ping],
    queries: &Arc<Vec<Query>>,
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    concurrency: usize,
    size: &str,
) -> anyhow::Result<Option<f64>> {
    let client = redis::Client::open(REDIS_URL)?;
    let connect = || async {
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))?
        .map_err(anyhow::Error::from)
    };
    let mut con = match connect().await {
        Ok(c) => c,
        Err(e) => {
            println!("Redis peer: none at {REDIS_URL} ({e:#}), skipped");
            return Ok(None);
        }
    };
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async::<String>(&mut con)
        .await?
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    redis::cmd("DEL")
        .arg(REDIS_KEY)
        .query_async::<()>(&mut con)
        .await?;
    let t = Instant::now();
    let mut pipe = redis::pipe();
    for chunk in active.chunks(1000) {
        let cmd = pipe.cmd("GEOADD").arg(REDIS_KEY);
        for v in chunk {
            cmd.arg(v.lng).arg(v.lat).arg(v.id);
        }
        cmd.ignore();
    }
    pipe.query_async::<()>(&mut con).await?;
    let members: usize = redis::cmd("ZCARD")
        .arg(REDIS_KEY)
        .query_async(&mut con)
        .await?;
    println!(
        "Redis {version} at {REDIS_URL}: GEOADD of {members} active volunteers into {REDIS_KEY} (pipelined, 1000 per command) in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let result = redis_runs(&client, &mut con, queries, expected, concurrency, size).await;
    redis::cmd("DEL")
        .arg(REDIS_KEY)
        .query_async::<()>(&mut con)
        .await?;
    println!("Redis: {REDIS_KEY} deleted");
    result.map(Some)
}

fn geosearch(q: &Query) -> redis::Cmd {
    let mut c = redis::cmd("GEOSEARCH");
    c.arg(REDIS_KEY)
        .arg("FROMLONLAT")
        .arg(q.lng)
        .arg(q.lat)
        .arg("BYRADIUS")
        .arg(q.radius_m)
        .arg("m")
        .arg("ASC")
        .arg("COUNT")
        .arg(q.k);
    c
}

/// Recall and the timed runs against Redis; returns req/s at `concurrency`.
async fn redis_runs(
    client: &redis::Client,
    con: &mut redis::aio::MultiplexedConnection,
    queries: &Arc<Vec<Query>>,
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    concurrency: usize,
    size: &str,
) -> anyhow::Result<f64> {
    // recall: distances from the expected file (the command asks for none)
    let mut answers = Vec::with_capacity(queries.len());
    for q in queries.iter() {
        let ids: Vec<u32> = geosearch(q).query_async(con).await?;
        let dist: HashMap<u32, f64> = expected
            .get(&q.id)
            .map(|e| e.iter().copied().collect())
            .unwrap_or_default();
        answers.push(
            ids.into_iter()
                .map(|id| (id, dist.get(&id).copied().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>(),
        );
    }
    let score = score_all(queries, &answers, expected);
    println!("RECALL Redis GEOSEARCH ({size}): {}", score.line());
    let n = queries.len() * 20;
    let mut at_c = 0.0;
    for c in [1, concurrency] {
        let mut cons = Vec::with_capacity(c);
        for _ in 0..c {
            cons.push(client.get_multiplexed_async_connection().await?);
        }
        redis_drive(&cons, queries, queries.len()).await?;
        let f = redis_drive(&cons, queries, n).await?;
        f.print(
            &format!("Redis GEOSEARCH … BYRADIUS 2000 m ASC COUNT 20 ({size})"),
            c,
        );
        at_c = f.requests() as f64 / f.wall().as_secs_f64();
    }
    Ok(at_c)
}

/// `n` GEOSEARCH commands cycling through the queries, one client task per connection, each
/// with one command in flight.
async fn redis_drive(
    cons: &[redis::aio::MultiplexedConnection],
    queries: &Arc<Vec<Query>>,
    n: usize,
) -> anyhow::Result<Figures<()>> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = cons
        .iter()
        .map(|con| {
            let (mut con, next, queries) = (con.clone(), Arc::clone(&next), Arc::clone(queries));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let cmd = geosearch(&queries[i % queries.len()]);
                    let t = Instant::now();
                    let _: Vec<u32> = cmd.query_async(&mut con).await?;
                    latencies.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(figures_of(latencies, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_found_entries_and_ties_are_not_mismatches() {
        let expected = [(1, 10.0), (2, 20.0), (3, 20.005), (4, 30.0)];
        // all found, 2 and 3 swapped (a tie within 0.01 m)
        let s = Score::of(&[(1, 10.0), (3, 20.0), (2, 20.0), (4, 30.04)], &expected);
        assert_eq!((s.found, s.expected, s.order_mismatches), (4, 4, 0));
        assert!((s.max_dist_err_m - 0.04).abs() < 1e-9);
        assert_eq!(s.recall(), 1.0);
        // 4 missing, 9 in its place; 1 and 2 swapped (10 m apart)
        let s = Score::of(&[(2, 20.0), (1, 10.0), (3, 20.0), (9, 31.0)], &expected);
        assert_eq!((s.found, s.order_mismatches), (3, 3));
        let mut total = s;
        total.add(Score::of(&[], &[(5, 1.0)]));
        assert_eq!((total.found, total.expected), (3, 5));
        assert!((total.recall() - 0.6).abs() < 1e-12);
        assert_eq!(Score::default().recall(), 1.0);
    }

    #[test]
    fn queries_and_expected_rows_parse() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("queries.csv");
        std::fs::write(
            &q,
            "query_id,lat,lng,radius_m,k,max_age_s\n1,23.112533,113.324705,2000.0,20,600\n",
        )
        .unwrap();
        assert_eq!(
            read_queries(&q).unwrap(),
            [Query {
                id: 1,
                lat: 23.112533,
                lng: 113.324705,
                radius_m: 2000.0,
                k: 20
            }]
        );
        let e = dir.path().join("queries_expected.csv");
        std::fs::write(
            &e,
            "query_id,rank,volunteer_id,dist_m\n1,2,5328,21.01\n1,1,79543,10.13\n",
        )
        .unwrap();
        assert_eq!(
            read_expected(&e).unwrap()[&1],
            [(79543, 10.13), (5328, 21.01)]
        );
        assert!(read_queries(&e).is_err());
    }
}
