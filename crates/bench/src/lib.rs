//! `pp-bench`, the `peacepatrol bench …` benchmarks: measure the server over real HTTP on
//! loopback and print the figures with the workload size.
//!
//! * `tasks-near`, `join`: each starts the server in this process on a fresh database (a
//!   temporary SQLite file, or `--bench-database-url`), seeds its workload through the store,
//!   and drives it with `--concurrency` client tasks; client and server share the machine, as
//!   the reference figures in `../shared/bench/` do.
//! * `load` ([`load`]): loads the shared workload of `../shared/bench/` into the configured
//!   database through the ingest pipeline, and writes sessions for `ingest` and a commander's
//!   session and the time shift for `heatmap`.
//! * `ingest` ([`ingest`]): measures `POST /positions` of a running server.
//! * `nearest` ([`nearest`]): measures `GET /envoys/nearest` of a running server, checks its
//!   recall, and times the same search in process and in Redis.
//! * `heatmap` ([`heatmap`]): measures `GET /heatmap` and a heat tile of a running server,
//!   checks its counts against a reference, and times the PostGIS peer on the same footprints.

pub mod heatmap;
pub mod ingest;
pub mod load;
pub mod nearest;
pub mod stream;
mod workload;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::Duration;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use pp_domain::account::{
    generate_session_token, hash_password, session_token_hash, NewUser, Phone,
};
use pp_domain::task::{NewTask, Task};
use pp_domain::time::{Clock as _, SystemClock, Timestamp};
use pp_domain::{Role, UserId};
use pp_server::{AppState, ServerConfig};
use pp_store::{DbKind, Store};
use rand::{Rng as _, SeedableRng as _};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// `GET /tasks?near=` with `--tasks` open tasks spread over Haizhu district.
    TasksNear(TasksNearArgs),
    /// `POST /teams/join`: `--teams` forming teams of up to 10, each joined by 9 envoys.
    Join(JoinArgs),
    /// Load the workload of ../shared/bench (110,000 envoys, their footprint history and live
    /// positions) into the configured database through the ingest pipeline, times shifted by
    /// whole hours to now, and write into DIR a session per envoy of updates.csv for `bench
    /// ingest` (peacepatrol-sessions.csv) and the shift and a commander's session for `bench
    /// heatmap` (peacepatrol-bench.json).
    Load(load::LoadArgs),
    /// `POST /positions` against a running server on a loaded database (see `bench load`).
    Ingest(ingest::IngestArgs),
    /// `GET /heatmap` (the workload's 15 days as from/to, exact; the 5d, 7d and 15d windows)
    /// over meta.json's heat_bbox at res 9, and a z14 heat tile, against a running server on a
    /// loaded database (see `bench load`), signed in as its commander; checks the counts cell
    /// by cell, and times the PostGIS peer (GROUP BY a precomputed H3 column, ST_SnapToGrid)
    /// on the same footprints.
    Heatmap(heatmap::HeatmapArgs),
    /// `GET /envoys/nearest` against a running server on a loaded database (see `bench
    /// load`): posts the workload's active volunteers at their ages so that the server's
    /// 10-minute window is the workload's, checks recall against queries_expected.csv, times
    /// it at concurrency 1 and `--concurrency`, and compares with the same search in process
    /// (`PointIndex`) and in Redis (`GEOSEARCH`, if one answers at 127.0.0.1:6379).
    /// `--in-process-only` runs just the in-process step, from the workload's files alone.
    Nearest(nearest::NearestArgs),
    /// Hold `--clients` event streams (`GET /stream`) of a running server open at once, one
    /// envoy of bench load's sessions each, and print the server's memory per stream.
    Stream(stream::StreamArgs),
}

/// Shared flags.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database for the in-process server (default: a temporary SQLite file).
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Random seed of the workload.
    #[arg(long, default_value_t = 20261001)]
    pub seed: u64,
}

/// `bench tasks-near` flags.
#[derive(Debug, Args)]
pub struct TasksNearArgs {
    #[command(flatten)]
    common: Common,
    /// Open tasks.
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    /// Requests to send.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Search radius in metres.
    #[arg(long, default_value_t = 2000.0)]
    radius_m: f64,
    /// Tasks per answer (`limit`; the API's default is 100).
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// `bench join` flags.
#[derive(Debug, Args)]
pub struct JoinArgs {
    #[command(flatten)]
    common: Common,
    /// Forming teams (each takes 9 joins).
    #[arg(long, default_value_t = 500)]
    teams: usize,
}

/// What an acknowledged write survives, on each backend (see `pp_store`'s `sqlite` module).
pub fn durability(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Sqlite => {
            "durability: SQLite WAL, synchronous=NORMAL: each group commit is written to the OS \
             (the WAL file) before the answer, so it survives kill -9 of the server but not a power \
             cut; fsync at WAL checkpoints"
        }
        DbKind::Postgres => {
            "durability: PostgreSQL synchronous_commit=on (the server's default; the store leaves \
             it as configured): fsync of the WAL at each group commit before the answer"
        }
    }
}

/// Checks that a server answers at `base` and prints which database it runs on and what an
/// acknowledged write survives there.
async fn announce_server(base: &str) -> anyhow::Result<DbKind> {
    let health: serde_json::Value = reqwest::get(format!("{base}/healthz"))
        .await
        .with_context(|| format!("is the server running at {base}?"))?
        .error_for_status()?
        .json()
        .await?;
    let (kind, database) = match health["database"].as_str() {
        Some("sqlite") => (DbKind::Sqlite, "SQLite"),
        Some("postgres") => (DbKind::Postgres, "PostgreSQL"),
        _ => anyhow::bail!("{base}/healthz answered {health}"),
    };
    println!("server: {base}, database {database}");
    println!("{}", durability(kind));
    Ok(kind)
}

use pp_sim::measure::{percentile_ms, vm_rss_kib, vm_status_kib};

/// Haizhu district's bounding box (from ../shared/bench): lat 23.045..23.125, lng 113.235..113.420.
const LAT: (f64, f64) = (23.045, 23.125);
const LNG: (f64, f64) = (113.235, 113.420);

struct Server {
    base: String,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn start(common: &Common) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let url = common
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = pp_store::connect(&url, true).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(
        store.clone(),
        ServerConfig::new(base.clone(), dir.path()),
        Arc::new(SystemClock),
    )
    .await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(pp_server::serve(listener, state, shutdown.clone()));
    println!("server: in process, database {}", pp_store::redact(&url));
    Ok(Server {
        base,
        store,
        shutdown,
        _dir: dir,
    })
}

/// Accounts made straight in the store with one shared hash and a session each: the bench
/// measures the endpoint, not 10,000 argon2 hashes.
async fn accounts(
    store: &dyn Store,
    role: Role,
    from: usize,
    n: usize,
    now: Timestamp,
) -> anyhow::Result<Vec<(UserId, String)>> {
    let hash = hash_password("bench-password");
    let mut out = Vec::with_capacity(n);
    for i in from..from + n {
        let user = store
            .create_user(
                &NewUser {
                    phone: Phone::parse(&format!("+86139{i:08}"))?,
                    name: format!("bench {i}"),
                    role,
                    password_hash: hash.clone(),
                    department: None,
                },
                now,
            )
            .await?;
        let token = generate_session_token();
        store
            .create_session(
                &session_token_hash(&token),
                user.id,
                now,
                now + Duration::days(1),
            )
            .await?;
        out.push((user.id, token));
    }
    Ok(out)
}

fn task_input(
    rng: &mut rand::rngs::StdRng,
    now: Timestamp,
    max_teams: u32,
    team_max: u32,
) -> NewTask {
    let (lat, lng) = (rng.gen_range(LAT.0..LAT.1), rng.gen_range(LNG.0..LNG.1));
    NewTask {
        title: format!("patrol at {lat:.4},{lng:.4}"),
        place: "Haizhu".to_owned(),
        description: String::new(),
        area: serde_json::json!({"type": "Circle", "center": [lng, lat], "radius_m": rng.gen_range(100.0..800.0)}),
        starts_at: now - Duration::hours(1),
        ends_at: now + Duration::hours(6),
        patrol_minutes: 30,
        team_min: 2,
        team_max,
        max_teams,
        reward_points: 10,
        reward_fund_cents: 500,
    }
}

/// What a run's answers add up to beyond their latency: counts read from each 2xx body.
pub trait Tally: Default + Send + 'static {
    /// Adds one 2xx answer's body.
    fn add(&mut self, body: &[u8]);
    /// Adds another client task's tally.
    fn merge(&mut self, other: Self);
}

/// Benches that only count answers.
impl Tally for () {
    fn add(&mut self, _body: &[u8]) {}
    fn merge(&mut self, _other: Self) {}
}

/// Latencies, wall time, failures and the tally of a run.
#[derive(Debug, Default)]
pub struct Figures<T> {
    latencies_us: Vec<u64>,
    wall: std::time::Duration,
    /// answers that were not 2xx, by status
    statuses: BTreeMap<u16, usize>,
    /// requests that got no answer at all (connection or timeout errors)
    failed: usize,
    /// the first non-2xx answer or failure, for the report
    first_error: Option<String>,
    /// what the 2xx bodies added up to
    pub tally: T,
}

impl<T> Figures<T> {
    /// Requests sent.
    pub fn requests(&self) -> usize {
        self.latencies_us.len()
    }

    /// Requests that failed or were answered with a non-2xx status.
    pub fn errors(&self) -> usize {
        self.failed + self.statuses.values().sum::<usize>()
    }

    /// The run's wall time.
    pub fn wall(&self) -> std::time::Duration {
        self.wall
    }

    /// The latency below which a share `p` (0..=1) of the requests were answered, in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies_us, p)
    }

    /// The mean latency, in ms.
    pub fn mean_ms(&self) -> f64 {
        let n = self.latencies_us.len().max(1);
        self.latencies_us.iter().sum::<u64>() as f64 / n as f64 / 1000.0
    }

    /// Prints the request line, then every non-2xx status and the first error, if any.
    pub fn print(&self, what: &str, concurrency: usize) {
        println!(
            "{what}: {} requests, concurrency {concurrency}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
            self.requests(),
            self.requests() as f64 / self.wall.as_secs_f64(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors()
        );
        if self.errors() > 0 {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(s, n)| format!("{n} × HTTP {s}"))
                .collect();
            println!(
                "  NOT 2xx: {} without an answer; {}; first: {}",
                self.failed,
                if statuses.is_empty() {
                    "no error status".to_owned()
                } else {
                    statuses.join(", ")
                },
                self.first_error.as_deref().unwrap_or("-")
            );
        }
    }

    fn merge(&mut self, other: Worker<T>)
    where
        T: Tally,
    {
        self.latencies_us.extend(other.latencies_us);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.tally.merge(other.tally);
    }
}

/// One client task's share of a run.
#[derive(Default)]
struct Worker<T> {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, usize>,
    failed: usize,
    first_error: Option<String>,
    tally: T,
}

impl<T> Worker<T> {
    fn error(&mut self, what: String) {
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// A request for [`drive`]: method, path (with the query) under the server's URL, the session
/// token it is sent with, and a JSON body.
pub struct Call {
    method: Method,
    path: String,
    token: Arc<str>,
    json: Option<Bytes>,
}

impl Call {
    /// `GET path` with the session `token`.
    pub fn get(path: String, token: &Arc<str>) -> Call {
        Call {
            method: Method::GET,
            path,
            token: Arc::clone(token),
            json: None,
        }
    }

    /// `POST path` with the session `token` and a JSON body.
    pub fn post(path: String, token: &Arc<str>, json: impl Into<Bytes>) -> Call {
        Call {
            method: Method::POST,
            path,
            token: Arc::clone(token),
            json: Some(json.into()),
        }
    }

    fn request(self, host: &HeaderValue, prefix: &str) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut r = Request::builder()
            .method(self.method)
            .uri(format!("{prefix}{}", self.path))
            .header(header::HOST, host)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if self.json.is_some() {
            r = r.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(r.body(Full::new(self.json.unwrap_or_default()))?)
    }
}

/// Sends `n` requests from `concurrency` tasks, each on a keep-alive HTTP/1.1 connection of its
/// own to the plain-HTTP server at `base`; `make(i)` builds request i (its time is not counted
/// in the latency), and each 2xx body is added to the tally `T`.
///
/// The client is hyper's connection API, not a pooled client: client and server share the
/// machine's cores, and a pool's per-request hand-overs between tasks cost the server CPU time
/// it would otherwise have (reqwest took about 45 µs of CPU a request, this about a third).
pub async fn drive<T, F>(
    base: &str,
    concurrency: usize,
    n: usize,
    make: F,
) -> anyhow::Result<Figures<T>>
where
    T: Tally,
    F: Fn(usize) -> Call + Send + Sync + 'static,
{
    let uri: Uri = base
        .parse()
        .with_context(|| format!("bad server URL {base:?}"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "the benchmarks drive a plain-HTTP server (http://host:port), not {base}"
    );
    let authority = uri
        .authority()
        .with_context(|| format!("no host in {base:?}"))?
        .to_string();
    let host = HeaderValue::from_str(&authority)?;
    let prefix: Arc<str> = Arc::from(uri.path().trim_end_matches('/'));
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, make) = (next.clone(), make.clone());
            let (authority, host, prefix) = (authority.clone(), host.clone(), prefix.clone());
            tokio::spawn(async move {
                let mut w = Worker::<T>::default();
                let mut conn: Option<SendRequest<Full<Bytes>>> = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let request = match make(i).request(&host, &prefix) {
                        Ok(r) => r,
                        Err(e) => {
                            w.failed += 1;
                            w.error(format!("building request {i}: {e}"));
                            continue;
                        }
                    };
                    let t = Instant::now();
                    match send(&mut conn, &authority, request).await {
                        Ok((status, body)) if status.is_success() => w.tally.add(&body),
                        Ok((status, body)) => {
                            *w.statuses.entry(status.as_u16()).or_default() += 1;
                            w.error(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            ));
                        }
                        Err(e) => {
                            // a new connection for the next request
                            conn = None;
                            w.failed += 1;
                            w.error(format!("{e:#}"));
                        }
                    }
                    w.latencies_us
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                w
            })
        })
        .collect();
    let mut figures = Figures::<T>::default();
    for w in workers {
        match w.await {
            Ok(w) => figures.merge(w),
            Err(e) => {
                figures.failed += 1;
                figures.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    figures.wall = start.elapsed();
    figures.latencies_us.sort_unstable();
    Ok(figures)
}

/// Sends one request on the worker's connection (connecting first when it has none, or when
/// the server closed it: the request was not sent then) and reads the whole answer.
async fn send(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    authority: &str,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let open = match conn {
        Some(sender) => sender.ready().await.is_ok(),
        None => false,
    };
    let sender = match conn {
        Some(sender) if open => sender,
        _ => {
            let mut sender = connect(authority).await?;
            sender.ready().await?;
            conn.insert(sender)
        }
    };
    let answer = sender.send_request(request).await?;
    let status = answer.status();
    let body = answer.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A keep-alive HTTP/1.1 connection to `authority`, its I/O driven by a task of its own until
/// the sender is dropped or the server closes it.
async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let tcp = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// `peacepatrol bench tasks-near`.
pub async fn tasks_near(a: TasksNearArgs) -> anyhow::Result<()> {
    let server = start(&a.common).await?;
    let now = SystemClock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.common.seed);
    let (commander, _) = accounts(server.store.as_ref(), Role::Commander, 0, 1, now)
        .await?
        .remove(0);
    let (_, token) = accounts(server.store.as_ref(), Role::Envoy, 1, 1, now)
        .await?
        .remove(0);
    let token: Arc<str> = Arc::from(token);
    for _ in 0..a.tasks {
        server
            .store
            .insert_task(&Task::publish(
                task_input(&mut rng, now, 5, 5),
                commander,
                now,
            )?)
            .await?;
    }
    let points: Arc<Vec<(f64, f64)>> = Arc::new(
        (0..a.requests)
            .map(|_| (rng.gen_range(LAT.0..LAT.1), rng.gen_range(LNG.0..LNG.1)))
            .collect(),
    );
    println!(
        "workload: {} open tasks over Haizhu district, radius {} m, limit {}, {} requests",
        a.tasks, a.radius_m, a.limit, a.requests
    );
    for c in [1, a.common.concurrency] {
        let (base, token, points, radius, limit) = (
            server.base.clone(),
            token.clone(),
            points.clone(),
            a.radius_m,
            a.limit,
        );
        let figures: Figures<()> = drive(&base, c, a.requests, move |i| {
            let (lat, lng) = points[i];
            Call::get(
                format!("/api/v1/tasks?near={lat},{lng}&radius_m={radius}&limit={limit}"),
                &token,
            )
        })
        .await?;
        figures.print("GET /api/v1/tasks?near=", c);
    }
    server.shutdown.cancel();
    Ok(())
}

/// `peacepatrol bench join`.
pub async fn join(a: JoinArgs) -> anyhow::Result<()> {
    let server = start(&a.common).await?;
    let now = SystemClock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.common.seed);
    let store = server.store.as_ref();
    let (commander, _) = accounts(store, Role::Commander, 0, 1, now).await?.remove(0);
    let task_count = a.teams.div_ceil(1000);
    let leaders = accounts(store, Role::Envoy, 1, a.teams, now).await?;
    let joiners = accounts(store, Role::Envoy, 1 + a.teams, a.teams * 9, now).await?;
    let mut tokens = Vec::with_capacity(a.teams);
    let client = reqwest::Client::new();
    let mut task = None;
    for (i, (leader, leader_token)) in leaders.iter().enumerate() {
        if i % 1000 == 0 {
            let t = Task::publish(task_input(&mut rng, now, 1000, 10), commander, now)?;
            store.insert_task(&t).await?;
            task = Some(t.id);
        }
        let task = task.ok_or_else(|| anyhow::anyhow!("no task"))?;
        let team = store.claim_team(task, *leader, now).await?;
        let body: serde_json::Value = client
            .get(format!("{}/api/v1/teams/{}", server.base, team.id))
            .bearer_auth(leader_token)
            .send()
            .await?
            .json()
            .await?;
        let token = body["join_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no join_token in {body}"))?;
        tokens.push(token.to_owned());
    }
    println!(
        "workload: {} forming teams of up to 10 in {task_count} task(s), {} joins (9 per team)",
        a.teams,
        joiners.len()
    );
    let jobs: Arc<Vec<(Arc<str>, String)>> = Arc::new(
        joiners
            .into_iter()
            .enumerate()
            .map(|(i, (_, t))| (Arc::from(t), tokens[i % tokens.len()].clone()))
            .collect(),
    );
    let (base, n) = (server.base.clone(), jobs.len());
    let figures: Figures<()> = drive(&base, a.common.concurrency, n, move |i| {
        let (session, join_token) = &jobs[i];
        Call::post(
            "/api/v1/teams/join".to_owned(),
            session,
            serde_json::json!({ "token": join_token }).to_string(),
        )
    })
    .await?;
    figures.print("POST /api/v1/teams/join", a.common.concurrency);
    server.shutdown.cancel();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use std::sync::atomic::AtomicU64;

    /// Sums the numbers the test server echoes.
    #[derive(Default)]
    struct Sum(u64);

    impl Tally for Sum {
        fn add(&mut self, body: &[u8]) {
            self.0 += std::str::from_utf8(body)
                .ok()
                .and_then(|b| b.parse::<u64>().ok())
                .unwrap_or(1_000_000);
        }
        fn merge(&mut self, other: Self) {
            self.0 += other.0;
        }
    }

    /// A server on a free loopback port: `POST /api/v1/echo` answers its body when the bearer
    /// token is "ok" (401 otherwise), and closes the connection after every third answer.
    async fn echo_server() -> String {
        let answered = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/api/v1/echo",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let n = answered.fetch_add(1, Ordering::Relaxed);
                let close = [(
                    header::CONNECTION,
                    if n % 3 == 2 { "close" } else { "keep-alive" },
                )];
                let json = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
                if headers
                    .get(header::AUTHORIZATION)
                    .map(HeaderValue::as_bytes)
                    != Some(b"Bearer ok")
                    || json != Some(b"application/json")
                {
                    return (StatusCode::UNAUTHORIZED, close, Bytes::new()).into_response();
                }
                (StatusCode::OK, close, body).into_response()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn drive_sends_every_request_once_and_counts_the_answers() {
        let base = echo_server().await;
        let (ok, bad): (Arc<str>, Arc<str>) = (Arc::from("ok"), Arc::from("nope"));
        let figures: Figures<Sum> = drive(&base, 3, 30, move |i| {
            let token = if i % 10 == 4 { &bad } else { &ok };
            Call::post("/api/v1/echo".to_owned(), token, i.to_string())
        })
        .await
        .unwrap();
        assert_eq!(figures.requests(), 30);
        // requests 4, 14 and 24 were refused; the closed connections were opened again
        // without losing a request
        assert_eq!(figures.errors(), 3, "{:?}", figures.first_error);
        assert_eq!(figures.statuses.get(&401), Some(&3));
        assert_eq!(
            figures.tally.0,
            (0..30).filter(|i| i % 10 != 4).sum::<u64>()
        );
    }

    #[tokio::test]
    async fn drive_wants_a_plain_http_server_and_says_when_none_answers() {
        let token: Arc<str> = Arc::from("ok");
        let t = Arc::clone(&token);
        let https = drive::<(), _>("https://127.0.0.1:1", 1, 1, move |_| {
            Call::get("/healthz".to_owned(), &t)
        })
        .await;
        assert!(https.err().unwrap().to_string().contains("plain-HTTP"));
        // nothing listens on port 1: every request fails, with the reason
        let none = drive::<(), _>("http://127.0.0.1:1", 2, 4, move |_| {
            Call::get("/healthz".to_owned(), &token)
        })
        .await
        .unwrap();
        assert_eq!((none.requests(), none.errors()), (4, 4));
        assert!(none
            .first_error
            .unwrap()
            .contains("connecting to 127.0.0.1:1"));
    }
}
