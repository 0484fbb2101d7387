//! `peacepatrol bench nearest --workload DIR --url URL`: `GET /api/v1/envoys/nearest` of a
//! running server whose database `bench load` filled, checked against `queries_expected.csv`
//! and compared with the same search in process and in Redis.
//!
//! 1. Live set: the server counts envoys seen in the last 10 minutes of its own clock. Every
//!    volunteer with a session (those of updates.csv: exactly the volunteers.csv rows with
//!    `last_seen_unix >= now_unix - 600`) posts its volunteers.csv position at
//!    `anchor - (now_unix - last_seen_unix)`, where the anchor (the workload's now on the wall
//!    clock) is `LEAD_S` seconds after the posting starts: at the recall check the server's
//!    live set is then exactly the workload's active set, each envoy at its own age (the check
//!    runs before the anchor; a volunteer of age 600 s drops out of the window at the anchor).
//!    The others were loaded at `last_seen + shift`, more than 10 minutes ago, and stay out.
//!    `GET /me` per session maps volunteer ids to user ids.
//! 2. Recall: every query of queries.csv once against queries_expected.csv (the server's
//!    10-minute window stands for `max_age_s` 600).
//! 3. HTTP throughput: `--requests` queries cycling through queries.csv, at concurrency 1 and
//!    `--concurrency`, after a warm-up.
//! 4. In process (`in_process.rs`): a `PointIndex` of the active volunteers, `nearest` (k 20,
//!    2 km) on one thread, and moves (`set` to a shifted place) as the live index does on
//!    ingest.
//! 5. Redis peer ([`crate::peers`], in builds with the `bench-peers` feature; if one answers
//!    at 127.0.0.1:6379): GEOADD the active volunteers, `GEOSEARCH … FROMLONLAT lng lat
//!    BYRADIUS 2000 m ASC COUNT 20` per query at concurrency 1 and `--concurrency` (one
//!    connection per client, one request in flight on each, as the HTTP clients), then delete
//!    the key.
//!
//! With `--in-process-only` only step 4 runs (from the workload's files alone: no server, no
//! sessions, no Redis), for measuring `PointIndex` by itself.

mod in_process;
mod sample;

use crate::harness::server::announce_server;
use crate::harness::{drive, fetch_all, Figures};
use crate::ingest::Report;
use crate::peers;
use crate::recall::score_all;
use crate::workload::{self, BenchFile, Ping};
use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::Args;
use in_process::{in_process, in_process_only};
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use pp_domain::UserId;
use pp_sim::api::{Api, Call};
use pp_sim::measure::vm_rss_kib;
use sample::{Sample, WINDOW_S};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The anchor (workload now on the wall clock) is this far after the posting starts; the
/// server takes points up to 60 s ahead of its clock.
const LEAD_S: i64 = 45;
/// The recall the run must reach.
const MIN_RECALL: f64 = 0.999;

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

/// `peacepatrol bench nearest`.
pub async fn run(a: NearestArgs) -> anyhow::Result<()> {
    if a.in_process_only {
        return in_process_only(&a.workload);
    }
    let api = Api::builder(a.url.as_deref().context("--url is required")?)
        .connections(a.concurrency)
        .build()?;
    announce_server(&api).await?;
    let rss_before = a.server_pid.map(vm_rss_kib).transpose()?;
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
    let api = Arc::new(api);
    let t = Instant::now();
    let ids: Vec<u32> = active.iter().map(|v| v.id).collect();
    let tokens: Arc<Vec<String>> = Arc::new(ids.iter().map(|id| sessions[id].clone()).collect());
    let me = {
        let (api, tokens) = (Arc::clone(&api), Arc::clone(&tokens));
        fetch_all(a.concurrency, ids.len(), move |i| {
            let (api, tokens) = (Arc::clone(&api), Arc::clone(&tokens));
            async move { Ok(api.me(&tokens[i]).await?) }
        })
        .await
    };
    let mut user_of: HashMap<UserId, u32> = HashMap::with_capacity(ids.len());
    for (id, me) in ids.iter().zip(me) {
        let me = me.with_context(|| format!("GET /me of volunteer {id}"))?;
        user_of.insert(me.id, *id);
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
    let posted: Figures<Report> = drive(&api, a.concurrency, n, move |i| {
        let (token, body) = &bodies[i];
        Call::positions(token, body.clone())
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
    let queries = Arc::new(queries);
    let found = {
        let (api, queries, token) = (
            Arc::clone(&api),
            Arc::clone(&queries),
            Arc::<str>::from(commander.as_str()),
        );
        fetch_all(a.concurrency, queries.len(), move |i| {
            let (api, token, q) = (Arc::clone(&api), Arc::clone(&token), queries[i]);
            async move { Ok(api.nearest(&token, q.lat, q.lng, q.k, q.radius_m).await?) }
        })
        .await
    };
    let mut answers = Vec::with_capacity(queries.len());
    let mut unknown = 0;
    for (q, body) in queries.iter().zip(found) {
        let body = body.with_context(|| format!("GET /envoys/nearest of query {}", q.id))?;
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
    let mut http_c8 = 0.0;
    for c in [1, a.concurrency] {
        let run = |n: usize| {
            let (token, queries): (Arc<str>, _) =
                (Arc::from(commander.as_str()), Arc::clone(&queries));
            drive::<(), _>(&api, c, n, move |i| {
                let q = &queries[i % queries.len()];
                Call::nearest(&token, q.lat, q.lng, q.k, q.radius_m)
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
            vm_rss_kib(pid)? / 1024
        );
    }

    // 4. in process
    in_process(&active, &queries, &expected, &size)?;

    // 5. Redis
    match peers::redis(&active, &queries, &expected, a.concurrency, &size).await {
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

/// How many active volunteers are inside the server's window now, given the anchor.
fn live_count(active: &[Ping], now_unix: i64, anchor_ms: i64) -> usize {
    let late_s = (to_millis(SystemClock.now()) - anchor_ms).max(0) / 1000;
    active
        .iter()
        .filter(|v| now_unix - v.ts <= WINDOW_S - late_s)
        .count()
}
