//! `peacepatrol drill national-day`: replays the district's National Day holiday against a
//! running server, only through its HTTP API, signed in as an admin made beforehand with
//! `peacepatrol user add --role admin`, and checks the server's statistics against what it did.
//!
//! What it does, in order:
//! 1. Checks the server is quiet (`GET /stats` over the current hour shows no activity: the
//!    statistics of active envoys count whole hours) and notes the envoys already registered.
//! 2. Makes a commander and department staff (`POST /users`), imports `--envoys` envoys
//!    (`POST /users/import`, CSV), and the commander publishes the 21 patrol tasks.
//! 3. Activates (`POST /auth/activate`) only the envoys it uses: the 261 team members and the
//!    `--crowd` background crowd.
//! 4. The holiday: the crowd walks around the district's gathering spots and posts its
//!    positions; 86 teams are claimed, joined by QR join token and started with a photo; their
//!    members patrol (a few fall short: their phones stop early, or they wait outside the
//!    area); envoys report incidents, which the routed department's staff work through; the
//!    commander dispatches to emergencies near the crowd, whose phones hear the alerts on their
//!    event streams and answer, hurry over and mark arrival; leaders finish their patrols.
//! 5. Reads `GET /stats` (and its CSV and JSON exports) for the drill's period and compares
//!    every figure with what it did, then prints the throughput it sustained.
//!
//! Time: the server runs on the real clock, so `--speed N` compresses the holiday's clock: a
//! phone takes a point every 30 s of holiday time, 30/N s of real time; the hour of patrol a
//! member needs is published as `patrol_minutes` = 60/N (at least 1, the smallest the API
//! takes); the tasks' 12-hour window is published as 12 h/N (at least 10 minutes); the
//! departments' handling times (minutes) are divided by N. Not compressed: distances and
//! walking speeds (the server flags any point implying over 30 m/s of real time, so walkers
//! walk at 1.1–1.5 m/s and responders hurry at 25 m/s, real), and the server's own dispatch
//! timers (an alert expires after 45 s, the search widens after 60 s), so volunteers answer
//! alerts after 3–12 real seconds, as in the demo.

mod district;
mod figures;

use self::district::{Outcome, Patrol};
use crate::api::Api;
use crate::crowd::{self, Anchor, PointOut, Walker};
use crate::responders::{self, Choice, Heard};
use chrono::Utc;
use clap::{Args, Subcommand};
use pp_domain::patrol::seconds_inside;
use pp_domain::position::Position;
use pp_domain::time::{from_millis, to_millis, Timestamp};
use pp_domain::{DispatchId, TaskId, TeamId, UserId};
use pp_geo::{Area, LatLng};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// Drills.
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Replay the National Day holiday (110,000 envoys, 21 tasks, 86 teams, incidents,
    /// dispatches, a moving crowd) against a running server through its HTTP API, then check
    /// every figure of GET /stats against what was done and print the throughput.
    NationalDay(NationalDayArgs),
}

/// `drill national-day` flags.
#[derive(Debug, Args)]
pub struct NationalDayArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// Phone of an admin account (`peacepatrol user add --role admin`).
    #[arg(long)]
    admin_phone: String,
    /// Its password.
    #[arg(long)]
    admin_password: String,
    /// Envoys registered by bulk import.
    #[arg(long, default_value_t = 110_000)]
    envoys: usize,
    /// How many times faster than the holiday's clock the drill runs (see the module docs:
    /// points every 30/N s, patrol requirement 60/N minutes, handling times / N).
    #[arg(long, default_value_t = 60)]
    speed: u32,
    /// Envoys of the background crowd walking the district (activated, posting positions,
    /// answering dispatches, reporting incidents).
    #[arg(long, default_value_t = 300)]
    crowd: usize,
    /// The server's process id, to report its peak memory (VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seed of everything drawn at random.
    #[arg(long, default_value_t = 20_261_001)]
    seed: u64,
}

/// Runs a drill.
pub async fn run(cmd: DrillCommand) -> anyhow::Result<()> {
    match cmd {
        DrillCommand::NationalDay(a) => national_day(a).await,
    }
}

/// Password of every account the drill makes.
const PASSWORD: &str = "national-day-2026";
/// Activations (argon2 on the server) in flight at once.
const ACTIVATE_CONCURRENCY: usize = 4;
/// Teams being formed at once.
const FORM_CONCURRENCY: usize = 6;
/// Rows per import request (each well under the 16 MiB limit).
const IMPORT_CHUNK: usize = 200_000;
/// How often the drill's loop looks at what is due.
const TICK: Duration = Duration::from_millis(20);
/// Qualifying members post until they have this share of the requirement inside the area…
const FULL_SHARE: f64 = 1.2;
/// …plus this much more.
const FULL_EXTRA_MS: i64 = 5_000;
/// Members whose phone stops early stop at this share.
const EARLY_SHARE: f64 = 0.5;
/// Responders hurry to a scene at this speed (real m/s; the server flags over 30).
const HURRY_MPS: f64 = 25.0;
/// How often the commander looks at an open dispatch.
const DISPATCH_CHECK: Duration = Duration::from_secs(2);
/// The commander closes a dispatch that has not got its envoys on the scene after this long.
const DISPATCH_GIVE_UP: Duration = Duration::from_secs(120);
/// The drill fails when the holiday has not ended after this long.
const HOLIDAY_LIMIT: Duration = Duration::from_secs(20 * 60);
/// Departments and how many staff each has.
const STAFF: [(&str, usize); 3] = [
    ("public_security", 2),
    ("sanitation", 1),
    ("urban_management", 2),
];

// ---- answers of the API ----------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct SessionJson {
    token: String,
    user: UserJson,
}

#[derive(Debug, Deserialize)]
struct UserJson {
    id: UserId,
}

#[derive(Debug, Deserialize)]
struct ImportJson {
    imported: usize,
    reissued: usize,
    refused: Vec<Value>,
    codes: Vec<CodeJson>,
}

#[derive(Debug, Deserialize)]
struct CodeJson {
    phone: String,
    code: String,
}

#[derive(Debug, Deserialize)]
struct TaskJson {
    id: TaskId,
    patrol_minutes: u32,
    reward_points: i64,
    reward_fund_cents: i64,
    ends_at: Timestamp,
}

#[derive(Debug, Deserialize)]
struct TeamJson {
    id: TeamId,
    started_at: Option<Timestamp>,
    members: Vec<MemberJson>,
    join_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MemberJson {
    user_id: UserId,
}

#[derive(Debug, Deserialize)]
struct FinishJson {
    finished_at: Option<Timestamp>,
    already_finished: bool,
    members: Vec<ResultJson>,
}

#[derive(Debug, Deserialize)]
struct ResultJson {
    user_id: UserId,
    minutes_inside: f64,
    qualified: bool,
    points: i64,
    fund_cents: i64,
}

#[derive(Debug, Deserialize)]
struct PostJson {
    accepted: usize,
    duplicates: usize,
    flagged: usize,
    rejected: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct IncidentJson {
    id: String,
    department: String,
    status: String,
    created_at: Timestamp,
    closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
struct DispatchJson {
    id: DispatchId,
    state: String,
    created_at: Timestamp,
    needed: usize,
    recipients: Vec<RecipientJson>,
}

#[derive(Debug, Clone, Deserialize)]
struct RecipientJson {
    user_id: UserId,
    state: String,
    answered_at: Option<Timestamp>,
    arrived_at: Option<Timestamp>,
}

// ---- the drill's state -----------------------------------------------------------------

/// A signed-in account.
#[derive(Debug, Clone)]
struct Account {
    id: UserId,
    token: String,
}

/// What an envoy's phone does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duty {
    /// Member `m` of team `t`, patrolling as `Patrol` says.
    Member { t: usize, m: usize, patrol: Patrol },
    /// One of the background crowd.
    Crowd,
}

/// A simulated envoy's phone.
struct Phone {
    account: Account,
    duty: Duty,
    walk: Walker,
    /// taking and sending points
    posting: bool,
    /// done patrolling (members)
    done: bool,
    next_point: Instant,
    last_point: Option<Instant>,
    last_ts: Option<Timestamp>,
    /// points taken, not sent yet (sent as one batch when the last batch is answered)
    queue: Vec<PointOut>,
    in_flight: bool,
    /// points the server accepted (members keep them to compute their patrol time)
    acked: Vec<Position>,
    /// where the server last saw it
    last_acked: Option<LatLng>,
    /// whether the server accepted any point of it
    seen: bool,
    answering: Option<Answering>,
    /// the walk it left to hurry to a scene
    home: Option<(Anchor, f64)>,
}

/// A phone's part in a dispatch.
struct Answering {
    k: usize,
    scene: LatLng,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Deciding { accept: bool, at: Instant },
    Sending,
    Going,
    Marking,
    OnScene,
}

/// A published task.
struct TaskInfo {
    id: TaskId,
    area: Area,
    ends_at: Timestamp,
    patrol_minutes: u32,
    reward_points: i64,
    reward_fund_cents: i64,
}

/// A team of the holiday.
struct TeamRun {
    task: usize,
    /// phones of its members, leader first
    phones: Vec<usize>,
    id: Option<TeamId>,
    started_at: Option<Timestamp>,
    started: Option<Instant>,
    members_at_start: Vec<UserId>,
    finishing: bool,
    finish: Option<FinishJson>,
}

/// A report of the holiday.
struct Report {
    category: &'static str,
    description: &'static str,
    reporter: usize,
    due: Instant,
    outcome: Outcome,
    filed: Option<IncidentJson>,
    sending: bool,
    /// status steps done
    steps_done: usize,
    next_step: Option<Instant>,
}

/// A dispatch of the holiday.
struct DispatchRun {
    message: &'static str,
    needed: u32,
    at: LatLng,
    due: Instant,
    sending: bool,
    id: Option<DispatchId>,
    opened: Option<Instant>,
    next_check: Option<Instant>,
    checking: bool,
    closing: bool,
    closed: Option<DispatchJson>,
    /// envoys whose acceptance the server confirmed, and whose arrival
    accepted_by: Vec<UserId>,
    arrived_by: Vec<UserId>,
}

/// What a spawned request came back with.
enum Ev {
    Posted {
        phone: usize,
        points: Vec<PointOut>,
        answer: anyhow::Result<PostJson>,
    },
    TeamStarted {
        t: usize,
        team: TeamJson,
    },
    Finished {
        t: usize,
        body: FinishJson,
    },
    Reported {
        i: usize,
        body: IncidentJson,
    },
    Stepped {
        i: usize,
        body: IncidentJson,
    },
    Dispatched {
        k: usize,
        body: DispatchJson,
    },
    DispatchView {
        k: usize,
        body: DispatchJson,
    },
    Closed {
        k: usize,
        body: DispatchJson,
    },
    Responded {
        phone: usize,
        k: usize,
        accept: bool,
        ok: bool,
    },
    Arrived {
        phone: usize,
        k: usize,
        ok: bool,
    },
    Failed(String),
}

/// `peacepatrol drill national-day`.
async fn national_day(a: NationalDayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=600).contains(&a.speed),
        "--speed must be 1 to 600 (got {})",
        a.speed
    );
    anyhow::ensure!(
        a.crowd >= district::CROWD_SPOTS.len(),
        "--crowd must be at least {}",
        district::CROWD_SPOTS.len()
    );
    anyhow::ensure!(
        a.envoys >= district::PARTICIPANTS + a.crowd && a.envoys <= 999_999,
        "--envoys must be at least the {} team members plus the --crowd ({}), and below 1,000,000",
        district::PARTICIPANTS,
        a.crowd
    );
    let connections = 64;
    let api = Arc::new(Api::new(&a.url, connections)?);
    let wall = Instant::now();
    let outcome = drill(&a, api.clone()).await;
    api.report(wall.elapsed(), a.server_pid);
    let errors = api.errors();
    match outcome {
        Ok(()) if errors == 0 => {
            println!(
                "\nnational-day drill: PASSED in {:.1} s (speed {}, {} envoys registered, crowd {})",
                wall.elapsed().as_secs_f64(),
                a.speed,
                a.envoys,
                a.crowd
            );
            Ok(())
        }
        Ok(()) => anyhow::bail!("national-day drill: {errors} requests failed"),
        Err(e) => Err(e.context("national-day drill FAILED")),
    }
}

/// The whole drill; the throughput report is printed by the caller, also on failure.
async fn drill(a: &NationalDayArgs, api: Arc<Api>) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let phase = |what: &str| println!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());
    let health: Value = reqwest::get(format!("{}/healthz", api.base()))
        .await
        .map_err(|e| anyhow::anyhow!("is the server running at {}? {e}", api.base()))?
        .json()
        .await?;
    println!(
        "server {} (database {}); speed {}: a point every {:.2} s, patrol requirement {} min",
        api.base(),
        health["database"].as_str().unwrap_or("?"),
        a.speed,
        district::SIM_POINT_EVERY_SECS / f64::from(a.speed),
        published_patrol_minutes(a.speed)
    );
    let admin = login(&api, &a.admin_phone, &a.admin_password).await?;
    let from = from_millis(to_millis(Utc::now()));
    let registered_before = figures::check_quiet(&api, &admin.token, from).await?;
    phase(&format!(
        "the server is quiet ({registered_before} envoys registered before the drill)"
    ));

    // phones: a random three-digit tag keeps a second drill on the same database apart
    let tag: u16 = rand::thread_rng().gen_range(0..1000);
    let mut rng = StdRng::seed_from_u64(a.seed);

    let routing: Value = api
        .json(
            "GET /routing",
            api.get("/routing").bearer_auth(&admin.token),
        )
        .await?;
    let categories: Vec<String> = routing["rules"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["category"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

    // the command centre: a commander and each department's staff
    let commander = make_account(
        &api,
        &admin,
        tag,
        0,
        "指挥中心 Commander",
        "commander",
        None,
    )
    .await?;
    let mut staff: HashMap<String, Vec<Account>> = HashMap::new();
    let mut n = 1;
    for (dept, count) in STAFF {
        for i in 0..count {
            let name = format!("{dept} staff {}", i + 1);
            let acc = make_account(&api, &admin, tag, n, &name, "staff", Some(dept)).await?;
            staff.entry(dept.to_owned()).or_default().push(acc);
            n += 1;
        }
    }
    phase("commander and department staff made (POST /users) and signed in");

    // the district's envoys, all pending until activated
    let phones: Vec<String> = (0..a.envoys).map(|i| envoy_phone(tag, i)).collect();
    let mut imported = 0;
    let mut codes: HashMap<String, String> = HashMap::new();
    let used = district::PARTICIPANTS + a.crowd;
    for (c, chunk) in phones.chunks(IMPORT_CHUNK).enumerate() {
        let mut csv = String::with_capacity(chunk.len() * 40);
        csv.push_str("phone,name\n");
        for (i, p) in chunk.iter().enumerate() {
            csv.push_str(&format!("{p},平安志愿者 {}\n", c * IMPORT_CHUNK + i + 1));
        }
        let answer: ImportJson = api
            .json(
                "POST /users/import",
                api.post("/users/import")
                    .bearer_auth(&admin.token)
                    .header("content-type", "text/csv")
                    .body(csv),
            )
            .await?;
        anyhow::ensure!(
            answer.refused.is_empty() && answer.reissued == 0,
            "the import refused {} rows and re-issued {} (phones of an earlier drill with the same tag {tag:03}? run it again): {:?}",
            answer.refused.len(),
            answer.reissued,
            answer.refused.first()
        );
        imported += answer.imported;
        for c in answer.codes {
            codes.insert(c.phone, c.code);
        }
    }
    anyhow::ensure!(
        imported == a.envoys,
        "imported {imported} of {} envoys",
        a.envoys
    );
    phase(&format!("{imported} envoys imported (POST /users/import)"));

    // the tasks
    let speed = a.speed;
    let patrol_minutes = published_patrol_minutes(speed);
    let window =
        chrono::Duration::minutes((district::SIM_WINDOW_MINUTES / i64::from(speed)).max(10));
    let published_at = Utc::now();
    let mut tasks = Vec::with_capacity(district::TASKS);
    for (i, (title, place, area)) in district::patrol_landmarks().into_iter().enumerate() {
        let body = json!({
            "title": title,
            "place": place,
            "description": "国庆假期人流高峰：注意走失儿童、可疑人员、乱停放共享单车和环境卫生。National Day crowds: watch for lost children, suspicious persons, badly parked bikes and litter.",
            "area": area,
            "starts_at": published_at - chrono::Duration::minutes(1),
            "ends_at": published_at + window,
            "patrol_minutes": patrol_minutes,
            "team_min": 3,
            "team_max": 5,
            "max_teams": district::max_teams(i),
            "reward_points": 10 + 5 * (i % 3) as i64,
            "reward_fund_cents": 500 + 250 * (i % 4) as i64,
        });
        let t: TaskJson = api
            .json(
                "POST /tasks",
                api.post("/tasks").bearer_auth(&commander.token).json(&body),
            )
            .await?;
        anyhow::ensure!(
            t.patrol_minutes == patrol_minutes,
            "task published with {} patrol minutes",
            t.patrol_minutes
        );
        tasks.push(TaskInfo {
            id: t.id,
            area: Area::from_geojson(&area)?,
            ends_at: t.ends_at,
            patrol_minutes: t.patrol_minutes,
            reward_points: t.reward_points,
            reward_fund_cents: t.reward_fund_cents,
        });
    }
    if let Some((s, t, d)) =
        district::spots_clear_of(&tasks.iter().map(|t| t.area.clone()).collect::<Vec<_>>())
    {
        anyhow::bail!("crowd spot {s} is {d:.0} m from task {t}'s area");
    }
    phase(&format!(
        "{} tasks published (POST /tasks): patrol {patrol_minutes} min, window {} min",
        tasks.len(),
        window.num_minutes()
    ));

    // the envoys the drill uses sign up with their codes
    let accounts = activate_all(&api, &phones[..used], &codes).await?;
    phase(&format!(
        "{} envoys activated (POST /auth/activate): {} team members, crowd {}",
        accounts.len(),
        district::PARTICIPANTS,
        a.crowd
    ));

    let mut holiday = Holiday::new(a, api.clone(), accounts, tasks, commander, staff, &mut rng)?;
    holiday.run(&mut rng, t0).await?;
    let to = from_millis(to_millis(Utc::now()) + 1);
    phase("the holiday is over: reading GET /stats");

    let expected = holiday.expected(&categories, registered_before + imported)?;
    figures::check(&api, &admin.token, from, to, &expected).await
}

/// The `patrol_minutes` published at `speed`: the holiday's hour / speed, at least 1.
fn published_patrol_minutes(speed: u32) -> u32 {
    (district::SIM_PATROL_MINUTES as f64 / f64::from(speed))
        .round()
        .max(1.0) as u32
}

/// Envoy `i`'s phone: `19`, the run's tag, six digits.
fn envoy_phone(tag: u16, i: usize) -> String {
    format!("19{tag:03}{i:06}")
}

async fn login(api: &Api, phone: &str, password: &str) -> anyhow::Result<Account> {
    let s: SessionJson = api
        .json(
            "POST /auth/login",
            api.post("/auth/login")
                .json(&json!({ "phone": phone, "password": password })),
        )
        .await?;
    Ok(Account {
        id: s.user.id,
        token: s.token,
    })
}

/// Makes an account with `POST /users` (admin) and signs it in.
async fn make_account(
    api: &Api,
    admin: &Account,
    tag: u16,
    n: usize,
    name: &str,
    role: &str,
    department: Option<&str>,
) -> anyhow::Result<Account> {
    let phone = format!("18{tag:03}{n:06}");
    let _: Value = api
        .json(
            "POST /users",
            api.post("/users").bearer_auth(&admin.token).json(&json!({
                "phone": phone, "name": name, "role": role,
                "department": department, "password": PASSWORD,
            })),
        )
        .await?;
    login(api, &phone, PASSWORD).await
}

/// Activates `phones` with their codes, a few at a time (each is an argon2 hash on the server).
async fn activate_all(
    api: &Arc<Api>,
    phones: &[String],
    codes: &HashMap<String, String>,
) -> anyhow::Result<Vec<Account>> {
    let gate = Arc::new(Semaphore::new(ACTIVATE_CONCURRENCY));
    let mut jobs = tokio::task::JoinSet::new();
    for (i, phone) in phones.iter().enumerate() {
        let e164 = format!("+86{phone}");
        let code = codes
            .get(&e164)
            .ok_or_else(|| anyhow::anyhow!("the import gave no code for {e164}"))?
            .clone();
        let (api, gate) = (api.clone(), gate.clone());
        jobs.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let s: SessionJson = api
                .json(
                    "POST /auth/activate",
                    api.post("/auth/activate")
                        .json(&json!({ "phone": e164, "code": code, "password": PASSWORD })),
                )
                .await?;
            Ok::<_, anyhow::Error>((
                i,
                Account {
                    id: s.user.id,
                    token: s.token,
                },
            ))
        });
    }
    let mut out: Vec<Option<Account>> = vec![None; phones.len()];
    while let Some(r) = jobs.join_next().await {
        let (i, acc) = r??;
        out[i] = Some(acc);
    }
    out.into_iter()
        .map(|a| a.ok_or_else(|| anyhow::anyhow!("an activation is missing")))
        .collect()
}

/// The holiday itself: one loop owns every phone, team, report and dispatch and spawns the
/// requests that are due; their answers come back as [`Ev`]s.
struct Holiday {
    api: Arc<Api>,
    speed: f64,
    interval: Duration,
    required_ms: i64,
    phones: Vec<Phone>,
    tasks: Vec<TaskInfo>,
    teams: Vec<TeamRun>,
    reports: Vec<Report>,
    dispatches: Vec<DispatchRun>,
    dispatch_index: HashMap<DispatchId, usize>,
    commander: Account,
    staff: HashMap<String, Vec<Account>>,
    photo: Arc<Vec<u8>>,
    tx: mpsc::UnboundedSender<Ev>,
    rx: mpsc::UnboundedReceiver<Ev>,
    posts_in_flight: usize,
    failure: Option<String>,
    crowd_first: usize,
}

impl Holiday {
    fn new(
        a: &NationalDayArgs,
        api: Arc<Api>,
        accounts: Vec<Account>,
        tasks: Vec<TaskInfo>,
        commander: Account,
        staff: HashMap<String, Vec<Account>>,
        rng: &mut StdRng,
    ) -> anyhow::Result<Holiday> {
        let speed = f64::from(a.speed);
        let interval = Duration::from_secs_f64(district::SIM_POINT_EVERY_SECS / speed);
        let required_ms = i64::from(published_patrol_minutes(a.speed)) * 60_000;
        let mut phones = Vec::with_capacity(accounts.len());
        let mut teams = Vec::with_capacity(district::TEAMS);
        let mut accounts = accounts.into_iter();
        for (t, size) in district::team_sizes().into_iter().enumerate() {
            let task = district::team_task(t);
            let area = &tasks[task].area;
            let mut members = Vec::with_capacity(size);
            for m in 0..size {
                let account = accounts
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("too few envoys for the teams"))?;
                let patrol = district::patrol_of(t, m);
                let center = area.center();
                let (at, anchor) = match patrol {
                    Patrol::Outside => {
                        let at = district::outside_of(area, 120.0);
                        (at, Anchor::Around { at, spread_m: 10.0 })
                    }
                    Patrol::Full | Patrol::StopsEarly => (
                        crowd::near(rng, center, 40.0),
                        Anchor::Inside {
                            area: area.clone(),
                            at: center,
                            spread_m: 60.0,
                        },
                    ),
                };
                members.push(phones.len());
                phones.push(Phone::new(
                    account,
                    Duty::Member { t, m, patrol },
                    at,
                    anchor,
                    rng,
                ));
            }
            teams.push(TeamRun {
                task,
                phones: members,
                id: None,
                started_at: None,
                started: None,
                members_at_start: Vec::new(),
                finishing: false,
                finish: None,
            });
        }
        let crowd_first = phones.len();
        for (i, account) in accounts.enumerate() {
            let (at, anchor) = if i % 5 == 4 {
                (
                    crowd::district_point(rng),
                    Anchor::Wander {
                        target: crowd::district_point(rng),
                    },
                )
            } else {
                let s = district::spot(i);
                (
                    crowd::near(rng, s, 250.0),
                    Anchor::Around {
                        at: s,
                        spread_m: 250.0,
                    },
                )
            };
            phones.push(Phone::new(account, Duty::Crowd, at, anchor, rng));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Holiday {
            api,
            speed,
            interval,
            required_ms,
            phones,
            tasks,
            teams,
            reports: Vec::new(),
            dispatches: Vec::new(),
            dispatch_index: HashMap::new(),
            commander,
            staff,
            photo: Arc::new(crowd::team_photo()?),
            tx,
            rx,
            posts_in_flight: 0,
            failure: None,
            crowd_first,
        })
    }

    /// Real time for `minutes` of the holiday's clock.
    fn sim_minutes(&self, minutes: f64) -> Duration {
        Duration::from_secs_f64(minutes * 60.0 / self.speed)
    }

    /// Plans the reports and dispatches, starts the crowd and the teams, and runs until every
    /// team has finished, every report has reached its outcome and every dispatch is closed.
    async fn run(&mut self, rng: &mut StdRng, t0: Instant) -> anyhow::Result<()> {
        let start = Instant::now();
        let stop = CancellationToken::new();
        let _stop_guard = stop.clone().drop_guard();
        // the reports and dispatches come while the teams patrol
        let span = Duration::from_millis(u64::try_from(self.required_ms).unwrap_or(60_000))
            .mul_f64(0.8)
            .max(Duration::from_secs(20));
        let lead_in = Duration::from_secs(8);
        let total: usize = district::INCIDENTS.iter().map(|c| c.1).sum();
        let mut plan: Vec<(&'static str, &'static str)> = district::INCIDENTS
            .iter()
            .flat_map(|&(c, n, d)| std::iter::repeat_n((c, d), n))
            .collect();
        // interleave the categories over the holiday
        for i in (1..plan.len()).rev() {
            plan.swap(i, rng.gen_range(0..=i));
        }
        let crowd = self.phones.len() - self.crowd_first;
        for (i, (category, description)) in plan.into_iter().enumerate() {
            let reporter = if i % 3 == 0 {
                self.crowd_first + (i / 3) % crowd
            } else {
                let t = (i * 7) % district::TEAMS;
                self.teams[t].phones[i % self.teams[t].phones.len()]
            };
            self.reports.push(Report {
                category,
                description,
                reporter,
                due: start + lead_in + span.mul_f64(i as f64 / total as f64),
                outcome: district::outcome(rng),
                filed: None,
                sending: false,
                steps_done: 0,
                next_step: None,
            });
        }
        for (k, &(message, needed)) in district::DISPATCHES.iter().enumerate() {
            self.dispatches.push(DispatchRun {
                message,
                needed,
                at: district::spot(k),
                due: start + lead_in + span.mul_f64(k as f64 / district::DISPATCHES.len() as f64),
                sending: false,
                id: None,
                opened: None,
                next_check: None,
                checking: false,
                closing: false,
                closed: None,
                accepted_by: Vec::new(),
                arrived_by: Vec::new(),
            });
        }

        // the crowd walks and listens for alerts
        let streams = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        let (heard_tx, mut heard_rx) = mpsc::channel(1024);
        for i in self.crowd_first..self.phones.len() {
            let p = &mut self.phones[i];
            p.posting = true;
            p.next_point = start + self.interval.mul_f64(rng.gen_range(0.0..1.0));
            tokio::spawn(responders::listen(
                streams.clone(),
                self.api.base().to_owned(),
                p.account.token.clone(),
                i,
                heard_tx.clone(),
                stop.child_token(),
            ));
        }
        drop(heard_tx);

        // the teams form
        let gate = Arc::new(Semaphore::new(FORM_CONCURRENCY));
        for t in 0..self.teams.len() {
            let team = &self.teams[t];
            let task = &self.tasks[team.task];
            let tokens: Vec<String> = team
                .phones
                .iter()
                .map(|&p| self.phones[p].account.token.clone())
                .collect();
            let (api, tx, gate, photo) = (
                self.api.clone(),
                self.tx.clone(),
                gate.clone(),
                self.photo.clone(),
            );
            let (task_id, at) = (task.id, task.area.center());
            tokio::spawn(async move {
                let ev = match gate.acquire_owned().await {
                    Ok(_permit) => match form_team(&api, task_id, at, &tokens, &photo).await {
                        Ok(team) => Ev::TeamStarted { t, team },
                        Err(e) => Ev::Failed(format!("team {t}: {e:#}")),
                    },
                    Err(e) => Ev::Failed(e.to_string()),
                };
                let _ = tx.send(ev);
            });
        }

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_progress = Instant::now();
        loop {
            tokio::select! {
                ev = self.rx.recv() => if let Some(ev) = ev { self.handle(ev, rng) },
                h = heard_rx.recv() => if let Some(h) = h { self.hear(h, rng) },
                _ = tick.tick() => {}
            }
            while let Ok(ev) = self.rx.try_recv() {
                self.handle(ev, rng);
            }
            while let Ok(h) = heard_rx.try_recv() {
                self.hear(h, rng);
            }
            if let Some(f) = self.failure.take() {
                anyhow::bail!(f);
            }
            let now = Instant::now();
            self.take_points(now, rng);
            self.finish_teams(now);
            self.file_reports(now);
            self.work_reports(now);
            self.dispatch(now);
            self.answer(now);
            if now.duration_since(last_progress) >= Duration::from_secs(10) {
                last_progress = now;
                println!(
                    "[{:>6.1} s] {}",
                    t0.elapsed().as_secs_f64(),
                    self.progress()
                );
            }
            if self.over() {
                break;
            }
            anyhow::ensure!(
                start.elapsed() < HOLIDAY_LIMIT,
                "the holiday did not end within {} minutes: {}",
                HOLIDAY_LIMIT.as_secs() / 60,
                self.progress()
            );
        }
        // the crowd goes home: no new points; the batches on their way are answered
        for p in &mut self.phones {
            p.posting = false;
        }
        while self.posts_in_flight > 0 {
            match self.rx.recv().await {
                Some(ev) => self.handle(ev, rng),
                None => break,
            }
            if let Some(f) = self.failure.take() {
                anyhow::bail!(f);
            }
        }
        stop.cancel();
        println!(
            "[{:>6.1} s] {}",
            t0.elapsed().as_secs_f64(),
            self.progress()
        );
        Ok(())
    }

    fn progress(&self) -> String {
        let started = self.teams.iter().filter(|t| t.started_at.is_some()).count();
        let finished = self.teams.iter().filter(|t| t.finish.is_some()).count();
        let filed = self.reports.iter().filter(|r| r.filed.is_some()).count();
        let worked = self.reports.iter().filter(|r| r.worked()).count();
        let closed = self
            .dispatches
            .iter()
            .filter(|d| d.closed.is_some())
            .count();
        format!(
            "teams started {started}/{} finished {finished}; reports filed {filed}/{} worked {worked}; dispatches closed {closed}/{}; {} requests",
            self.teams.len(),
            self.reports.len(),
            self.dispatches.len(),
            self.api.requests()
        )
    }

    fn over(&self) -> bool {
        self.teams.iter().all(|t| t.finish.is_some())
            && self.reports.iter().all(Report::worked)
            && self.dispatches.iter().all(|d| d.closed.is_some())
    }

    fn fail(&mut self, what: String) {
        if self.failure.is_none() {
            self.failure = Some(what);
        }
    }

    /// Spawns a request whose answer comes back as an event.
    fn spawn<F>(&self, job: F)
    where
        F: std::future::Future<Output = Ev> + Send + 'static,
    {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(job.await);
        });
    }

    /// Each posting phone takes a point when its interval is up, and sends what it holds
    /// unless a batch is on its way.
    fn take_points(&mut self, now: Instant, rng: &mut StdRng) {
        let interval = self.interval;
        for i in 0..self.phones.len() {
            let p = &mut self.phones[i];
            if !p.posting || now < p.next_point {
                continue;
            }
            // walk the time that really passed, so a late tick never makes a jump
            let secs = p
                .last_point
                .map_or(interval, |t| now.duration_since(t))
                .as_secs_f64();
            p.walk.step(rng, secs);
            p.last_point = Some(now);
            p.next_point = now + interval;
            let mut ts = from_millis(to_millis(Utc::now()));
            if let Some(last) = p.last_ts {
                if ts <= last {
                    ts = last + chrono::Duration::milliseconds(1);
                }
            }
            p.last_ts = Some(ts);
            p.queue.push(PointOut {
                ts,
                lat: p.walk.at.lat,
                lng: p.walk.at.lng,
                accuracy_m: f64::from(rng.gen_range(30_u16..150)) / 10.0,
            });
            if !p.in_flight {
                self.send_points(i);
            }
        }
    }

    fn send_points(&mut self, i: usize) {
        let p = &mut self.phones[i];
        if p.queue.is_empty() {
            return;
        }
        let points = std::mem::take(&mut p.queue);
        p.in_flight = true;
        self.posts_in_flight += 1;
        let (api, token) = (self.api.clone(), p.account.token.clone());
        self.spawn(async move {
            let answer = api
                .json(
                    "POST /positions",
                    api.post("/positions")
                        .bearer_auth(token)
                        .json(&json!({ "points": points })),
                )
                .await;
            Ev::Posted {
                phone: i,
                points,
                answer,
            }
        });
    }

    fn handle(&mut self, ev: Ev, rng: &mut StdRng) {
        match ev {
            Ev::Posted {
                phone,
                points,
                answer,
            } => self.posted(phone, points, answer),
            Ev::TeamStarted { t, team } => self.team_started(t, team),
            Ev::Finished { t, body } => self.team_finished(t, body),
            Ev::Reported { i, body } => {
                let r = &mut self.reports[i];
                r.sending = false;
                r.filed = Some(body);
                let wait = self.sim_minutes(rng.gen_range(2.0..10.0));
                self.reports[i].next_step = Some(Instant::now() + wait);
            }
            Ev::Stepped { i, body } => {
                let wait = match self.reports[i].steps_done {
                    0 => self.sim_minutes(rng.gen_range(3.0..10.0)),
                    _ => self.sim_minutes(rng.gen_range(5.0..30.0)),
                };
                let r = &mut self.reports[i];
                r.sending = false;
                r.steps_done += 1;
                let expected = r.outcome.steps()[r.steps_done - 1];
                if body.status != expected {
                    let msg = format!(
                        "report {}: status {} after the step to {expected}",
                        body.id, body.status
                    );
                    self.fail(msg);
                    return;
                }
                let r = &mut self.reports[i];
                r.filed = Some(body);
                r.next_step =
                    (r.steps_done < r.outcome.steps().len()).then(|| Instant::now() + wait);
            }
            Ev::Dispatched { k, body } => {
                let d = &mut self.dispatches[k];
                d.sending = false;
                d.id = Some(body.id);
                d.opened = Some(Instant::now());
                d.next_check = Some(Instant::now() + DISPATCH_CHECK);
                self.dispatch_index.insert(body.id, k);
            }
            Ev::DispatchView { k, body } => self.dispatch_view(k, body),
            Ev::Closed { k, body } => {
                let d = &mut self.dispatches[k];
                d.closing = false;
                d.closed = Some(body);
                // its responders go back to their walk (their streams tell them too)
                for p in &mut self.phones {
                    if p.answering.as_ref().is_some_and(|a| a.k == k) {
                        p.go_home();
                    }
                }
            }
            Ev::Responded {
                phone,
                k,
                accept,
                ok,
            } => {
                let p = &mut self.phones[phone];
                if !ok || !accept {
                    p.go_home();
                    return;
                }
                let user = p.account.id;
                if let Some(a) = &mut p.answering {
                    a.phase = Phase::Going;
                    let anchor = std::mem::replace(
                        &mut p.walk.anchor,
                        Anchor::Around {
                            at: a.scene,
                            spread_m: 10.0,
                        },
                    );
                    p.home = Some((anchor, p.walk.speed_mps));
                    p.walk.speed_mps = HURRY_MPS;
                }
                self.dispatches[k].accepted_by.push(user);
            }
            Ev::Arrived { phone, k, ok } => {
                let p = &mut self.phones[phone];
                if ok {
                    if let Some(a) = &mut p.answering {
                        a.phase = Phase::OnScene;
                    }
                    let user = p.account.id;
                    self.dispatches[k].arrived_by.push(user);
                } else {
                    p.go_home();
                }
            }
            Ev::Failed(e) => self.fail(e),
        }
    }

    fn posted(&mut self, i: usize, points: Vec<PointOut>, answer: anyhow::Result<PostJson>) {
        self.posts_in_flight -= 1;
        let p = &mut self.phones[i];
        p.in_flight = false;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return self.fail(format!("positions: {e:#}")),
        };
        if answer.accepted != points.len()
            || answer.flagged > 0
            || answer.duplicates > 0
            || !answer.rejected.is_empty()
        {
            let msg = format!(
                "positions of envoy {}: {} sent, accepted {}, flagged {}, duplicates {}, rejected {:?}",
                p.account.id,
                points.len(),
                answer.accepted,
                answer.flagged,
                answer.duplicates,
                answer.rejected.first()
            );
            return self.fail(msg);
        }
        p.seen = true;
        if let Some(last) = points.last() {
            p.last_acked = Some(LatLng {
                lat: last.lat,
                lng: last.lng,
            });
        }
        if let Duty::Member { t, patrol, .. } = p.duty {
            p.acked.extend(points.iter().map(|x| Position {
                ts: x.ts,
                at: LatLng {
                    lat: x.lat,
                    lng: x.lng,
                },
                accuracy_m: x.accuracy_m,
                flagged: false,
            }));
            let team = &self.teams[t];
            if let Some(started_at) = team.started_at {
                let area = &self.tasks[team.task].area;
                let far = started_at + chrono::Duration::days(1);
                let inside_ms =
                    (seconds_inside(&p.acked, area, started_at, far) * 1000.0).round() as i64;
                let patrolled_ms = (Utc::now() - started_at).num_milliseconds();
                let enough = match patrol {
                    Patrol::Full => {
                        inside_ms as f64
                            >= self.required_ms as f64 * FULL_SHARE + FULL_EXTRA_MS as f64
                    }
                    Patrol::StopsEarly => inside_ms as f64 >= self.required_ms as f64 * EARLY_SHARE,
                    Patrol::Outside => {
                        patrolled_ms as f64
                            >= self.required_ms as f64 * FULL_SHARE + FULL_EXTRA_MS as f64
                    }
                };
                if enough {
                    p.posting = false;
                    p.done = true;
                    p.queue.clear();
                }
            }
        }
        if p.posting && !p.queue.is_empty() {
            self.send_points(i);
        }
    }

    fn team_started(&mut self, t: usize, team: TeamJson) {
        let Some(started_at) = team.started_at else {
            return self.fail(format!("team {} started without started_at", team.id));
        };
        let planned: Vec<UserId> = self.teams[t]
            .phones
            .iter()
            .map(|&p| self.phones[p].account.id)
            .collect();
        let members: Vec<UserId> = team.members.iter().map(|m| m.user_id).collect();
        if members.len() != planned.len() || !planned.iter().all(|u| members.contains(u)) {
            return self.fail(format!(
                "team {} started with {} members, not the {} planned",
                team.id,
                members.len(),
                planned.len()
            ));
        }
        let run = &mut self.teams[t];
        run.id = Some(team.id);
        run.started_at = Some(started_at);
        run.started = Some(Instant::now());
        run.members_at_start = members;
        // the members start posting a moment after the start, so every point counts
        let first = Instant::now() + Duration::from_millis(100);
        for &p in &run.phones {
            let phone = &mut self.phones[p];
            phone.posting = true;
            phone.next_point = first;
        }
    }

    /// A team whose members are all done is finished by its leader.
    fn finish_teams(&mut self, _now: Instant) {
        for t in 0..self.teams.len() {
            let team = &self.teams[t];
            if team.finishing || team.finish.is_some() || team.started_at.is_none() {
                continue;
            }
            let all_done = team.phones.iter().all(|&p| {
                let p = &self.phones[p];
                p.done && !p.in_flight
            });
            if !all_done {
                continue;
            }
            let Some(id) = team.id else { continue };
            let leader = self.phones[team.phones[0]].account.token.clone();
            self.teams[t].finishing = true;
            let api = self.api.clone();
            self.spawn(async move {
                match api
                    .json::<FinishJson>(
                        "POST /teams/{id}/finish",
                        api.post(&format!("/teams/{id}/finish")).bearer_auth(leader),
                    )
                    .await
                {
                    Ok(body) => Ev::Finished { t, body },
                    Err(e) => Ev::Failed(format!("finish team {id}: {e:#}")),
                }
            });
        }
    }

    fn team_finished(&mut self, t: usize, body: FinishJson) {
        let team = &mut self.teams[t];
        team.finishing = false;
        if body.already_finished {
            return self.fail(format!(
                "team {t} was finished before its leader finished it (its task's window ended?)"
            ));
        }
        team.finish = Some(body);
    }

    /// Reports whose time has come are filed by their envoy (a team member names the team).
    fn file_reports(&mut self, now: Instant) {
        for i in 0..self.reports.len() {
            let r = &self.reports[i];
            if r.sending || r.filed.is_some() || now < r.due {
                continue;
            }
            let p = &self.phones[r.reporter];
            let team = match p.duty {
                Duty::Member { t, .. } => match self.teams[t].id {
                    Some(id) if self.teams[t].started_at.is_some() => Some(id),
                    // not patrolling yet: reports once it is
                    _ => continue,
                },
                Duty::Crowd => None,
            };
            let (api, token, photo) = (
                self.api.clone(),
                p.account.token.clone(),
                (i % 4 == 0).then(|| self.photo.clone()),
            );
            let (category, description, at) = (r.category, r.description, p.walk.at);
            self.reports[i].sending = true;
            self.spawn(async move {
                let form = match crowd::report_form(
                    category,
                    description,
                    at,
                    team,
                    photo.map(|p| p.to_vec()),
                ) {
                    Ok(form) => form,
                    Err(e) => return Ev::Failed(e.to_string()),
                };
                match api
                    .json::<IncidentJson>(
                        "POST /incidents",
                        api.post("/incidents").bearer_auth(token).multipart(form),
                    )
                    .await
                {
                    Ok(body) => Ev::Reported { i, body },
                    Err(e) => Ev::Failed(format!("report {category}: {e:#}")),
                }
            });
        }
    }

    /// The routed department's staff move each report one step when its time has come.
    fn work_reports(&mut self, now: Instant) {
        for i in 0..self.reports.len() {
            let r = &self.reports[i];
            let Some(filed) = &r.filed else { continue };
            if r.sending || r.next_step.is_none_or(|at| now < at) {
                continue;
            }
            let Some(&status) = r.outcome.steps().get(r.steps_done) else {
                continue;
            };
            let token = self
                .staff
                .get(&filed.department)
                .and_then(|s| s.get(i % s.len().max(1)))
                .unwrap_or(&self.commander)
                .token
                .clone();
            let (api, id) = (self.api.clone(), filed.id.clone());
            let note = match status {
                "acknowledged" => "已收到，正在派人 On our way",
                "in_progress" => "现场处理中 Being handled on site",
                "resolved" => "已处理完毕 Done",
                _ => "不属实或重复上报 Nothing found / a duplicate",
            };
            self.reports[i].sending = true;
            self.spawn(async move {
                match api
                    .json::<IncidentJson>(
                        "PATCH /incidents/{id}",
                        api.patch(&format!("/incidents/{id}"))
                            .bearer_auth(token)
                            .json(&json!({ "status": status, "note": note })),
                    )
                    .await
                {
                    Ok(body) => Ev::Stepped { i, body },
                    Err(e) => Ev::Failed(format!("report {id} to {status}: {e:#}")),
                }
            });
        }
    }

    /// The commander opens the dispatches that are due, looks at the open ones, and closes
    /// each once the envoys it needs are on the scene (or it waited long enough).
    fn dispatch(&mut self, now: Instant) {
        for k in 0..self.dispatches.len() {
            let d = &self.dispatches[k];
            if d.closed.is_some() || d.sending || d.checking || d.closing {
                continue;
            }
            let api = self.api.clone();
            let token = self.commander.token.clone();
            match d.id {
                None if now >= d.due => {
                    let body = json!({
                        "lat": d.at.lat, "lng": d.at.lng, "radius_m": 500,
                        "needed": d.needed, "message": d.message,
                    });
                    self.dispatches[k].sending = true;
                    self.spawn(async move {
                        match api
                            .json::<DispatchJson>(
                                "POST /dispatches",
                                api.post("/dispatches").bearer_auth(token).json(&body),
                            )
                            .await
                        {
                            Ok(body) => Ev::Dispatched { k, body },
                            Err(e) => Ev::Failed(format!("dispatch {k}: {e:#}")),
                        }
                    });
                }
                Some(id) if d.next_check.is_some_and(|at| now >= at) => {
                    self.dispatches[k].checking = true;
                    self.spawn(async move {
                        match api
                            .json::<DispatchJson>(
                                "GET /dispatches/{id}",
                                api.get(&format!("/dispatches/{id}")).bearer_auth(token),
                            )
                            .await
                        {
                            Ok(body) => Ev::DispatchView { k, body },
                            Err(e) => Ev::Failed(format!("dispatch {id}: {e:#}")),
                        }
                    });
                }
                _ => {}
            }
        }
    }

    fn dispatch_view(&mut self, k: usize, body: DispatchJson) {
        let d = &mut self.dispatches[k];
        d.checking = false;
        d.next_check = Some(Instant::now() + DISPATCH_CHECK);
        let arrived = body
            .recipients
            .iter()
            .filter(|r| r.state == "arrived")
            .count();
        let age = d.opened.map_or(Duration::ZERO, |o| o.elapsed());
        // the emergency is handled once its envoys are there; alerts still open then are
        // withdrawn by the close, as a commander would
        let close = arrived >= body.needed || age >= DISPATCH_GIVE_UP;
        if !close || body.state != "open" {
            return;
        }
        d.closing = true;
        let (api, token, id) = (self.api.clone(), self.commander.token.clone(), body.id);
        self.spawn(async move {
            match api
                .json::<DispatchJson>(
                    "POST /dispatches/{id}/close",
                    api.post(&format!("/dispatches/{id}/close"))
                        .bearer_auth(token),
                )
                .await
            {
                Ok(body) => Ev::Closed { k, body },
                Err(e) => Ev::Failed(format!("close dispatch {id}: {e:#}")),
            }
        });
    }

    /// What a crowd phone heard on its event stream.
    fn hear(&mut self, h: Heard, rng: &mut StdRng) {
        match h {
            Heard::Alert {
                walker,
                dispatch,
                at,
            } => {
                let Some(&k) = self.dispatch_index.get(&dispatch) else {
                    // an alert heard before the commander's answer came back: this phone
                    // lets it pass (it expires and goes to the next envoy, as an unanswered
                    // alert does)
                    return;
                };
                let Some(p) = self.phones.get_mut(walker) else {
                    return;
                };
                if p.answering.is_some() || !p.posting {
                    return;
                }
                let (choice, wait) = responders::choose(rng);
                let accept = match choice {
                    Choice::Accept => true,
                    Choice::Decline => false,
                    Choice::Ignore => return,
                };
                p.answering = Some(Answering {
                    k,
                    scene: at,
                    phase: Phase::Deciding {
                        accept,
                        at: Instant::now() + wait,
                    },
                });
            }
            Heard::Closed { walker, dispatch } => {
                if let Some(&k) = self.dispatch_index.get(&dispatch) {
                    if let Some(p) = self.phones.get_mut(walker) {
                        if p.answering.as_ref().is_some_and(|a| {
                            a.k == k && !matches!(a.phase, Phase::Sending | Phase::Marking)
                        }) {
                            p.go_home();
                        }
                    }
                }
            }
        }
    }

    /// Phones answer when they have made up their minds, and mark arrival once the server
    /// has their position at the scene.
    fn answer(&mut self, now: Instant) {
        for i in self.crowd_first..self.phones.len() {
            let p = &self.phones[i];
            let Some(a) = &p.answering else { continue };
            let Some(id) = self.dispatches[a.k].id else {
                continue;
            };
            let (k, scene) = (a.k, a.scene);
            let (api, token) = (self.api.clone(), p.account.token.clone());
            let allowed: &'static [&'static str] = &["dispatch_closed", "alert_expired"];
            match a.phase {
                Phase::Deciding { accept, at } if now >= at => {
                    if let Some(a) = &mut self.phones[i].answering {
                        a.phase = Phase::Sending;
                    }
                    self.spawn(async move {
                        match api
                            .json_or_refused::<Value>(
                                "POST /dispatches/{id}/respond",
                                api.post(&format!("/dispatches/{id}/respond"))
                                    .bearer_auth(token)
                                    .json(&json!({ "accept": accept })),
                                allowed,
                            )
                            .await
                        {
                            Ok(v) => Ev::Responded {
                                phone: i,
                                k,
                                accept,
                                ok: v.is_some(),
                            },
                            Err(e) => Ev::Failed(format!("respond to {id}: {e:#}")),
                        }
                    });
                }
                Phase::Going
                    if p.last_acked.is_some_and(|at| {
                        district::metres(at, scene) <= responders::ARRIVE_WITHIN_M
                    }) && !p.in_flight =>
                {
                    if let Some(a) = &mut self.phones[i].answering {
                        a.phase = Phase::Marking;
                    }
                    self.spawn(async move {
                        match api
                            .json_or_refused::<Value>(
                                "POST /dispatches/{id}/arrived",
                                api.post(&format!("/dispatches/{id}/arrived"))
                                    .bearer_auth(token),
                                &["dispatch_closed"],
                            )
                            .await
                        {
                            Ok(v) => Ev::Arrived {
                                phone: i,
                                k,
                                ok: v.is_some(),
                            },
                            Err(e) => Ev::Failed(format!("arrive at {id}: {e:#}")),
                        }
                    });
                }
                _ => {}
            }
        }
    }

    /// The figures the server's statistics must show for what this holiday did.
    fn expected(
        &self,
        categories: &[String],
        envoys_registered: usize,
    ) -> anyhow::Result<figures::Expected> {
        let mut e = figures::Expected {
            tasks_published: self.tasks.len(),
            envoys_registered,
            ..figures::Expected::default()
        };
        for team in &self.teams {
            let (Some(started_at), Some(finish)) = (team.started_at, &team.finish) else {
                anyhow::bail!("a team did not start or finish");
            };
            let task = &self.tasks[team.task];
            let finished_at = finish
                .finished_at
                .ok_or_else(|| anyhow::anyhow!("a finish without finished_at"))?;
            let until = finished_at.min(task.ends_at);
            e.teams_formed += 1;
            *e.teams_by_size
                .entry(team.members_at_start.len().to_string())
                .or_default() += 1;
            e.participants.extend(team.members_at_start.iter().copied());
            for &pi in &team.phones {
                let p = &self.phones[pi];
                let Duty::Member { patrol, .. } = p.duty else {
                    continue;
                };
                let ms = (seconds_inside(&p.acked, &task.area, started_at, until) * 1000.0).round()
                    as i64;
                let qualified = ms >= i64::from(task.patrol_minutes) * 60_000;
                let Some(got) = finish.members.iter().find(|m| m.user_id == p.account.id) else {
                    anyhow::bail!("member {} missing from a finish", p.account.id);
                };
                let minutes = ms as f64 / 60_000.0;
                anyhow::ensure!(
                    (got.minutes_inside - minutes).abs() <= 0.006 && got.qualified == qualified,
                    "member {}: the finish says {} min, qualified {}; their points say {minutes:.3} min, qualified {qualified}",
                    p.account.id,
                    got.minutes_inside,
                    got.qualified
                );
                anyhow::ensure!(
                    qualified == patrol.qualifies(),
                    "member {} patrolled as {patrol:?} but qualified = {qualified}",
                    p.account.id
                );
                e.patrol_ms += ms;
                if qualified {
                    e.qualified.insert(p.account.id);
                    anyhow::ensure!(
                        got.points == task.reward_points
                            && got.fund_cents == task.reward_fund_cents,
                        "member {} was credited {} points and {} cents",
                        p.account.id,
                        got.points,
                        got.fund_cents
                    );
                    e.points += task.reward_points;
                    e.fund_cents += task.reward_fund_cents;
                }
            }
        }
        for c in categories {
            e.incidents_by_category.insert(c.clone(), 0);
        }
        for o in Outcome::ALL {
            e.incidents_by_outcome.insert(o.as_str().to_owned(), 0);
        }
        for r in &self.reports {
            let Some(f) = &r.filed else {
                anyhow::bail!("a report was not filed");
            };
            anyhow::ensure!(
                f.status == r.outcome.as_str(),
                "report {} is {}, not {}",
                f.id,
                f.status,
                r.outcome.as_str()
            );
            e.incidents_reported += 1;
            *e.incidents_by_category
                .entry(r.category.to_owned())
                .or_default() += 1;
            *e.incidents_by_outcome.entry(f.status.clone()).or_default() += 1;
            if r.outcome == Outcome::Resolved {
                let closed = f
                    .closed_at
                    .ok_or_else(|| anyhow::anyhow!("resolved report {} has no closed_at", f.id))?;
                e.resolve_ms.push(ms_between(f.created_at, closed));
            }
        }
        for d in &self.dispatches {
            let Some(v) = &d.closed else {
                anyhow::bail!("a dispatch was not closed");
            };
            e.dispatches += 1;
            let took: Vec<&RecipientJson> = v
                .recipients
                .iter()
                .filter(|r| r.state == "accepted" || r.state == "arrived")
                .collect();
            let mut accepted: Vec<UserId> = took.iter().map(|r| r.user_id).collect();
            let mut by: Vec<UserId> = d.accepted_by.clone();
            accepted.sort_unstable();
            by.sort_unstable();
            anyhow::ensure!(
                accepted == by,
                "dispatch {}: the server lists {} who took it, the envoys' answers say {}",
                v.id,
                accepted.len(),
                by.len()
            );
            let arrived = v.recipients.iter().filter(|r| r.state == "arrived").count();
            anyhow::ensure!(
                arrived == d.arrived_by.len(),
                "dispatch {}: the server lists {arrived} arrived, the envoys marked {}",
                v.id,
                d.arrived_by.len()
            );
            if let Some(first) = took.iter().filter_map(|r| r.answered_at).min() {
                e.first_accept_ms.push(ms_between(v.created_at, first));
            }
            if let Some(first) = v.recipients.iter().filter_map(|r| r.arrived_at).min() {
                e.arrival_ms.push(ms_between(v.created_at, first));
            }
        }
        e.envoys_active = self.phones.iter().filter(|p| p.seen).count();
        Ok(e)
    }
}

/// Seconds from `a` to `b`.
fn ms_between(a: Timestamp, b: Timestamp) -> i64 {
    (b - a).num_milliseconds()
}

impl Phone {
    fn new(account: Account, duty: Duty, at: LatLng, anchor: Anchor, rng: &mut StdRng) -> Phone {
        let walk = Walker::new(
            account.token.clone(),
            at,
            anchor,
            rng.gen_range(1.1..1.5),
            rng.gen_range(0.0..std::f64::consts::TAU),
        );
        Phone {
            account,
            duty,
            walk,
            posting: false,
            done: false,
            next_point: Instant::now(),
            last_point: None,
            last_ts: None,
            queue: Vec::new(),
            in_flight: false,
            acked: Vec::new(),
            last_acked: None,
            seen: false,
            answering: None,
            home: None,
        }
    }

    fn go_home(&mut self) {
        if let Some((anchor, speed)) = self.home.take() {
            self.walk.anchor = anchor;
            self.walk.speed_mps = speed;
        }
        self.answering = None;
    }
}

impl Report {
    /// Filed and moved to its outcome.
    fn worked(&self) -> bool {
        self.filed.is_some() && !self.sending && self.steps_done == self.outcome.steps().len()
    }
}

/// Claims a team of `task` as `tokens[0]`, has the others join by the leader's join token, and
/// starts it with a photo taken at `at`.
async fn form_team(
    api: &Api,
    task: TaskId,
    at: LatLng,
    tokens: &[String],
    photo: &[u8],
) -> anyhow::Result<TeamJson> {
    let leader = tokens
        .first()
        .ok_or_else(|| anyhow::anyhow!("a team without members"))?;
    let team: TeamJson = api
        .json(
            "POST /tasks/{id}/teams",
            api.post(&format!("/tasks/{task}/teams"))
                .bearer_auth(leader),
        )
        .await?;
    let id = team.id;
    let join_token = match team.join_token {
        Some(t) => t,
        None => api
            .json::<TeamJson>(
                "GET /teams/{id}",
                api.get(&format!("/teams/{id}")).bearer_auth(leader),
            )
            .await?
            .join_token
            .ok_or_else(|| anyhow::anyhow!("team {id}: the leader got no join token"))?,
    };
    for member in &tokens[1..] {
        let _: TeamJson = api
            .json(
                "POST /teams/join",
                api.post("/teams/join")
                    .bearer_auth(member)
                    .json(&json!({ "token": join_token, "team_id": id })),
            )
            .await?;
    }
    let form = crowd::start_form(photo.to_vec(), at)?;
    api.json(
        "POST /teams/{id}/start",
        api.post(&format!("/teams/{id}/start"))
            .bearer_auth(leader)
            .multipart(form),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requirement_is_an_hour_of_the_holiday_at_least_a_minute() {
        assert_eq!(published_patrol_minutes(1), 60);
        assert_eq!(published_patrol_minutes(30), 2);
        assert_eq!(published_patrol_minutes(60), 1);
        assert_eq!(published_patrol_minutes(600), 1);
    }

    #[test]
    fn envoy_phones_are_mainland_mobiles() {
        for (tag, i) in [(0, 0), (999, 999_999), (42, 110_000)] {
            let p = envoy_phone(tag, i);
            assert!(pp_domain::account::Phone::parse(&p).is_ok(), "{p}");
        }
    }
}
