//! `peacepatrol bench load --workload DIR`: the shared workload of `../shared/bench/` into the
//! configured database, through the same ingest pipeline as `POST /positions`.
//!
//! 1. Envoys (`accounts.rs`): one per row of `volunteers.csv`, phone
//!    [`phone_of`](workload::phone_of) its id, password [`BENCH_PASSWORD`] (hashed once), made
//!    with `create_users_bulk` (a phone already registered is skipped, so a second load adds no
//!    one).
//! 2. Footprints (`footprints.csv`, sorted by `ts`): grouped per volunteer, then appended in
//!    chunks of `--chunk` points, `--concurrency` volunteers at once but each one's chunks
//!    strictly in order (`append.rs`), every chunk through `Ingest::submit_history`, the path of
//!    `POST /positions` without its 24-hour freshness limit: validated against the envoy's
//!    latest point in the live index, queued, group-committed, and only then in the live index
//!    (`pipeline.rs`).
//! 3. Each volunteer's live position (`volunteers.csv`: one point at `last_seen_unix`), after
//!    its footprints, the same way.
//! 4. A session (30 days) for every envoy of `updates.csv`, written to
//!    `DIR/peacepatrol-sessions.csv` (`volunteer_id,token`) for `bench ingest`.
//! 5. A commander, phone [`COMMANDER_PHONE`] (password [`BENCH_PASSWORD`], the envoys' hash),
//!    made once, and a session for it; `DIR/peacepatrol-bench.json` holds
//!    `{"shift_ms": …, "commander_token": "…"}` for `bench heatmap` (a commander sees every
//!    cell of the heat map, however few envoys it has).
//!
//! Every time is shifted by `wall now - meta.json's now_unix` rounded down to a whole hour, so
//! the workload's now is at most an hour ago and its hours are the server's hour buckets of the
//! heat map (whose windows count whole hours). The database keeps that shift (setting
//! `bench_load_time_shift_ms`) and a later load reuses it, whole hours or not (databases loaded
//! before the rounding): its points are then duplicates, so loading again changes nothing.

mod accounts;
mod append;
mod pipeline;

pub use accounts::COMMANDER_PHONE;

use crate::harness::durability;
use crate::workload::{self, BenchFile, Ping, BENCH_PASSWORD};
use accounts::{commander, create_envoys, create_sessions};
use anyhow::Context as _;
use append::{append_all, Envoy};
use clap::Args;
use pipeline::Pipeline;
use pp_domain::account::{generate_session_token, hash_password, session_token_hash};
use pp_domain::heat::HOUR_MS;
use pp_domain::position::MAX_BATCH;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use pp_domain::UserId;
use pp_store::DbKind;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The setting under which a database keeps the time shift of its first load, so that loading
/// again repeats the same points (duplicates) rather than adding a shifted copy.
const SHIFT_KEY: &str = "bench_load_time_shift_ms";

/// Where `bench load` writes, from the binary's settings (`--database-url` / `--data-dir`).
#[derive(Debug, Clone)]
pub struct Target {
    /// the database
    pub database_url: String,
    /// the server's retention: points older than this many days are not loaded
    pub retention_days: u32,
    /// how long the sessions written for `bench ingest` and `bench heatmap` last
    pub session_ttl_days: i64,
}

/// `bench load` flags; the database comes from the global `--database-url` / `--data-dir`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The workload directory (`python3 ../shared/bench/gen_workload.py --out DIR`); the load
    /// writes into it `peacepatrol-sessions.csv` (a session per envoy of updates.csv, for
    /// `bench ingest`) and `peacepatrol-bench.json` (`shift_ms` and a commander's
    /// `commander_token`, for `bench heatmap`).
    #[arg(long)]
    pub workload: PathBuf,
    /// Volunteers whose points are in flight at once (each one's chunks strictly in order).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Points per append (1 to the API's batch limit, 1000).
    #[arg(long, default_value_t = MAX_BATCH)]
    pub chunk: usize,
    /// Writer tasks of the ingest pipeline (default: as `serve`, 1 on SQLite, 2 on PostgreSQL).
    #[arg(long)]
    pub writers: Option<usize>,
}

/// `peacepatrol bench load`.
pub async fn run(settings: &Target, a: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&a.chunk),
        "--chunk must be 1 to {MAX_BATCH}"
    );
    let dir = a.workload.clone();
    let url = settings.database_url.clone();
    let store = pp_store::connect(&url, true).await?;
    println!("database: {}", pp_store::redact(&url));
    println!("{}", durability(store.kind()));

    let now_unix = workload::now_unix(&dir)?;
    let now = SystemClock.now();
    // whole hours, so that the workload's hours are the heat map's hour buckets
    let fresh = (to_millis(now) - now_unix * 1000).div_euclid(HOUR_MS) * HOUR_MS;
    let stored = store
        .secret(SHIFT_KEY, fresh.to_string().as_bytes())
        .await?;
    let shift_ms: i64 = std::str::from_utf8(&stored)
        .ok()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("the database's setting {SHIFT_KEY} is not a number"))?;
    println!(
        "workload {}: times shifted by {:+} s{} (meta.json now_unix {now_unix} is {}{})",
        dir.display(),
        shift_ms / 1000,
        if shift_ms.rem_euclid(HOUR_MS) == 0 {
            format!(" = {} h", shift_ms / HOUR_MS)
        } else {
            ", not whole hours: the heat map's hour buckets straddle the workload's hours"
                .to_owned()
        },
        from_millis(now_unix * 1000 + shift_ms).format("%Y-%m-%d %H:%M:%S UTC"),
        if shift_ms == fresh {
            ", this hour"
        } else {
            ": the shift of this database's first load, so its points repeat"
        }
    );
    let started = Instant::now();

    // 1. envoys
    let t = Instant::now();
    let mut volunteers = Vec::new();
    workload::read_pings(&dir.join("volunteers.csv"), "id", |p| volunteers.push(p))?;
    let hash = hash_password(BENCH_PASSWORD);
    let (created, ids) = create_envoys(store.as_ref(), &volunteers, &hash, now).await?;
    println!(
        "envoys: {} in volunteers.csv: {created} created, {} there already (password {BENCH_PASSWORD:?}, phones 170 + id on 8 digits), {:.1} s",
        volunteers.len(),
        ids.len() - created,
        t.elapsed().as_secs_f64()
    );

    // 2. footprints, grouped per volunteer in ts order
    let t = Instant::now();
    let footprints_path = dir.join("footprints.csv");
    let (rows, mut tracks) = tokio::task::spawn_blocking(move || {
        let mut tracks: HashMap<u32, Vec<Ping>> = HashMap::new();
        let rows = workload::read_pings(&footprints_path, "volunteer_id", |p| {
            tracks.entry(p.id).or_default().push(p);
        })?;
        for track in tracks.values_mut() {
            track.sort_by_key(|p| p.ts);
        }
        anyhow::Ok((rows, tracks))
    })
    .await??;
    println!(
        "footprints: {rows} rows of {} volunteers read and grouped in {:.1} s",
        tracks.len(),
        t.elapsed().as_secs_f64()
    );
    let mut unknown = 0;
    let envoys: Vec<Envoy> = volunteers
        .iter()
        .filter_map(|v| {
            let track = tracks.remove(&v.id).unwrap_or_default();
            match ids.get(&v.id) {
                Some(&user) => Some(Envoy {
                    user,
                    track,
                    live: *v,
                }),
                None => {
                    unknown += 1;
                    None
                }
            }
        })
        .collect();
    let orphans: usize = tracks.values().map(Vec::len).sum();
    anyhow::ensure!(
        unknown == 0 && orphans == 0,
        "{unknown} volunteers have no account, {orphans} footprints name no volunteer"
    );

    // 3. appends through the ingest pipeline
    let writers = a.writers.unwrap_or(match store.kind() {
        DbKind::Sqlite => 1,
        DbKind::Postgres => 2,
    });
    let pipeline = Arc::new(
        Pipeline::start(
            Arc::clone(&store),
            now - chrono::Duration::days(i64::from(settings.retention_days)),
            writers,
        )
        .await?,
    );
    println!(
        "appending: {} volunteers at once, chunks of {} points, {writers} writer task(s); live index holds {} envoys at start",
        a.concurrency,
        a.chunk,
        pipeline.live_envoys()
    );
    let t = Instant::now();
    let (footprints, live) = append_all(
        Arc::clone(&pipeline),
        envoys,
        a.concurrency,
        a.chunk,
        shift_ms,
    )
    .await?;
    let elapsed = t.elapsed().as_secs_f64();
    let total = footprints.sent + live.sent;
    println!("footprints: {}", footprints.line());
    println!("live positions: {}", live.line());
    println!(
        "LOAD: {total} rows ({} footprints + {} live positions) appended in {elapsed:.1} s: {:.0} rows/s \
         (accepted {:.0}/s); live index: {} envoys; whole command so far {:.1} s",
        footprints.sent,
        live.sent,
        total as f64 / elapsed,
        (footprints.accepted + live.accepted) as f64 / elapsed,
        pipeline.live_envoys(),
        started.elapsed().as_secs_f64()
    );
    drop(pipeline);

    // 4. sessions for bench ingest
    let t = Instant::now();
    let mut in_updates = Vec::new();
    workload::read_pings(&dir.join("updates.csv"), "volunteer_id", |p| {
        in_updates.push(p.id);
    })?;
    in_updates.sort_unstable();
    in_updates.dedup();
    let users: Vec<(u32, UserId)> = in_updates
        .iter()
        .map(|id| {
            ids.get(id)
                .map(|u| (*id, *u))
                .with_context(|| format!("updates.csv names volunteer {id}, not in volunteers.csv"))
        })
        .collect::<anyhow::Result<_>>()?;
    let sessions = create_sessions(&store, users, now, settings.session_ttl_days).await?;
    workload::write_sessions(&dir, &sessions)?;
    println!(
        "sessions: {} (the envoys of updates.csv, {} days) in {}, {:.1} s",
        sessions.len(),
        settings.session_ttl_days,
        dir.join(workload::SESSIONS_FILE).display(),
        t.elapsed().as_secs_f64()
    );

    // 5. a commander, for bench heatmap
    let commander = commander(store.as_ref(), &hash, now).await?;
    let commander_token = generate_session_token();
    store
        .create_session(
            &session_token_hash(&commander_token),
            commander,
            now,
            now + chrono::Duration::days(settings.session_ttl_days),
        )
        .await?;
    let bench = BenchFile {
        shift_ms,
        commander_token,
    };
    bench.write(&dir)?;
    println!(
        "commander: phone {COMMANDER_PHONE}, a session ({} days) in {}",
        settings.session_ttl_days,
        dir.join(workload::BENCH_FILE).display()
    );
    Ok(())
}
