//! `peacepatrol bench load --workload DIR`: the shared workload of `../shared/bench/` into the
//! configured database, through the same ingest pipeline as `POST /positions`.
//!
//! 1. Envoys: one per row of `volunteers.csv`, phone [`phone_of`] its id, password
//!    [`BENCH_PASSWORD`] (hashed once), made with `create_users_bulk` (a phone already
//!    registered is skipped, so a second load adds no one).
//! 2. Footprints (`footprints.csv`, sorted by `ts`): grouped per volunteer, then appended in
//!    chunks of `--chunk` points, `--concurrency` volunteers at once but each one's chunks
//!    strictly in order, every chunk validated as the API does (`validate_history`: the API's
//!    rules without its 24-hour freshness limit) against the envoy's latest point in the live
//!    index, then `Ingest::append`: queued, group-committed, and only then in the live index.
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

use super::workload::{self, phone_of, BenchFile, Ping, BENCH_PASSWORD};
use anyhow::Context as _;
use clap::Args;
use pp_domain::account::{
    generate_session_token, hash_password, session_token_hash, NewUser, Phone,
};
use pp_domain::heat::HOUR_MS;
use pp_domain::position::{validate_history, Crs, PointIn, MAX_BATCH};
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock, Timestamp};
use pp_domain::{Role, UserId};
use pp_server::ingest::Ingest;
use pp_store::{DbKind, Store};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The accuracy radius given to every workload point (its GPS noise is 4 m, one sigma).
pub const ACCURACY_M: f64 = 5.0;
/// Accounts per `create_users_bulk` call (one transaction each).
const USERS_PER_CALL: usize = 10_000;
/// Sessions created at once.
const SESSION_TASKS: usize = 16;
/// The setting under which a database keeps the time shift of its first load, so that loading
/// again repeats the same points (duplicates) rather than adding a shifted copy.
const SHIFT_KEY: &str = "bench_load_time_shift_ms";
/// The phone of the commander `bench load` makes: `170` and 0 on 8 digits, next to the
/// envoys' [`phone_of`] (whose ids start at 1).
pub const COMMANDER_PHONE: &str = "17000000000";

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

/// What happened to the points of a phase.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sent: u64,
    accepted: u64,
    duplicates: u64,
    flagged: u64,
    rejected: u64,
    appends: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.sent += o.sent;
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.flagged += o.flagged;
        self.rejected += o.rejected;
        self.appends += o.appends;
    }

    fn line(&self) -> String {
        format!(
            "{} points in {} appends: accepted {}, duplicates {}, flagged {} (of the accepted), rejected {}",
            self.sent, self.appends, self.accepted, self.duplicates, self.flagged, self.rejected
        )
    }
}

/// One volunteer's work: its footprints in `ts` order, then its live position.
struct Envoy {
    user: UserId,
    track: Vec<Ping>,
    live: Ping,
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
    println!("{}", super::durability(store.kind()));

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
    let ingest = Arc::new(
        Ingest::start(
            Arc::clone(&store),
            now - chrono::Duration::days(i64::from(settings.retention_days)),
            writers,
            Arc::new(pp_domain::time::SystemClock),
            None,
        )
        .await?,
    );
    println!(
        "appending: {} volunteers at once, chunks of {} points, {writers} writer task(s); live index holds {} envoys at start",
        a.concurrency,
        a.chunk,
        ingest.live().len()
    );
    let t = Instant::now();
    let (footprints, live) = append_all(
        Arc::clone(&ingest),
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
        ingest.live().len(),
        started.elapsed().as_secs_f64()
    );
    drop(ingest);

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

/// The bench's commander (made with the envoys' `hash` unless its phone is registered already).
async fn commander(store: &dyn Store, hash: &str, now: Timestamp) -> anyhow::Result<UserId> {
    let phone = Phone::parse(COMMANDER_PHONE)?;
    if let Some((_, id)) = store
        .user_ids_by_phone(std::slice::from_ref(&phone))
        .await?
        .into_iter()
        .next()
    {
        return Ok(id);
    }
    let user = store
        .create_user(
            &NewUser {
                phone,
                name: "bench commander".to_owned(),
                role: Role::Commander,
                password_hash: hash.to_owned(),
                department: None,
            },
            now,
        )
        .await?;
    Ok(user.id)
}

/// Creates the volunteers' accounts (skipping phones already registered) and returns how many
/// were created and every volunteer's account id.
async fn create_envoys(
    store: &dyn Store,
    volunteers: &[Ping],
    hash: &str,
    now: Timestamp,
) -> anyhow::Result<(usize, HashMap<u32, UserId>)> {
    let users: Vec<NewUser> = volunteers
        .iter()
        .map(|v| {
            Ok(NewUser {
                phone: Phone::parse(&phone_of(v.id))?,
                name: format!("envoy {}", v.id),
                role: Role::Envoy,
                password_hash: hash.to_owned(),
                department: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut created = 0;
    let mut ids = HashMap::with_capacity(users.len());
    for (chunk, vols) in users
        .chunks(USERS_PER_CALL)
        .zip(volunteers.chunks(USERS_PER_CALL))
    {
        created += store.create_users_bulk(chunk, now).await?;
        let phones: Vec<Phone> = chunk.iter().map(|u| u.phone.clone()).collect();
        let by_phone: HashMap<String, UserId> = store
            .user_ids_by_phone(&phones)
            .await?
            .into_iter()
            .map(|(p, id)| (p.as_str().to_owned(), id))
            .collect();
        for (u, v) in chunk.iter().zip(vols) {
            if let Some(id) = by_phone.get(u.phone.as_str()) {
                ids.insert(v.id, *id);
            }
        }
    }
    Ok((usize::try_from(created)?, ids))
}

/// Appends every envoy's footprints then live position from `concurrency` tasks; returns the
/// counts of both phases.
async fn append_all(
    ingest: Arc<Ingest>,
    envoys: Vec<Envoy>,
    concurrency: usize,
    chunk: usize,
    shift_ms: i64,
) -> anyhow::Result<(Counts, Counts)> {
    let envoys = Arc::new(envoys);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let total: usize = envoys.iter().map(|e| e.track.len() + 1).sum();
    let progress = tokio::spawn({
        let done = Arc::clone(&done);
        async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "  … {n} of {total} rows, {:.0} rows/s",
                    n as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
    });
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (ingest, envoys, next, done) = (
                Arc::clone(&ingest),
                Arc::clone(&envoys),
                Arc::clone(&next),
                Arc::clone(&done),
            );
            tokio::spawn(async move {
                let (mut footprints, mut live) = (Counts::default(), Counts::default());
                while let Some(e) = envoys.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for part in e.track.chunks(chunk) {
                        footprints.add(append(&ingest, e.user, part, shift_ms).await?);
                        done.fetch_add(part.len() as u64, Ordering::Relaxed);
                    }
                    live.add(append(&ingest, e.user, &[e.live], shift_ms).await?);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok((footprints, live))
            })
        })
        .collect();
    let (mut footprints, mut live) = (Counts::default(), Counts::default());
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok((f, l)) => {
                footprints.add(f);
                live.add(l);
            }
            Err(e) => failure = Some(e),
        }
    }
    progress.abort();
    match failure {
        Some(e) => Err(e),
        None => Ok((footprints, live)),
    }
}

/// Validates one envoy's points as `POST /positions` does (minus the 24-hour rule) and appends
/// them through the pipeline, waiting for the commit.
async fn append(
    ingest: &Ingest,
    user: UserId,
    pings: &[Ping],
    shift_ms: i64,
) -> anyhow::Result<Counts> {
    let points: Vec<PointIn> = pings
        .iter()
        .map(|p| PointIn {
            ts: from_millis(p.ts * 1000 + shift_ms),
            lat: p.lat,
            lng: p.lng,
            accuracy_m: ACCURACY_M,
        })
        .collect();
    let sent = points.len() as u64;
    let previous = ingest.live().latest(user);
    let check = validate_history(points, Crs::Wgs84, previous, SystemClock.now())?;
    let rejected = check.rejected.len() as u64;
    let flags: Vec<bool> = check.accepted.iter().map(|p| p.flagged).collect();
    let new = ingest
        .append(user, check.accepted)
        .await
        .map_err(|e| anyhow::anyhow!("appending positions: {e}"))?;
    let accepted = new.iter().filter(|&&n| n).count() as u64;
    let flagged = new.iter().zip(&flags).filter(|(&n, &f)| n && f).count() as u64;
    Ok(Counts {
        sent,
        accepted,
        duplicates: sent - rejected - accepted,
        flagged,
        rejected,
        appends: 1,
    })
}

/// A session for each envoy, `SESSION_TASKS` at a time; returns `(volunteer id, token)`.
async fn create_sessions(
    store: &Arc<dyn Store>,
    users: Vec<(u32, UserId)>,
    now: Timestamp,
    ttl_days: i64,
) -> anyhow::Result<Vec<(u32, String)>> {
    let expires = now + chrono::Duration::days(ttl_days);
    let users = Arc::new(users);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..SESSION_TASKS)
        .map(|_| {
            let (store, users, next) = (Arc::clone(store), Arc::clone(&users), Arc::clone(&next));
            tokio::spawn(async move {
                let mut out = Vec::new();
                while let Some(&(id, user)) = users.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let token = generate_session_token();
                    store
                        .create_session(&session_token_hash(&token), user, now, expires)
                        .await?;
                    out.push((id, token));
                }
                anyhow::Ok(out)
            })
        })
        .collect();
    let mut sessions = Vec::with_capacity(users.len());
    for task in tasks {
        sessions.extend(task.await??);
    }
    sessions.sort_unstable_by_key(|(id, _)| *id);
    Ok(sessions)
}
