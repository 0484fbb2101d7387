//! The demo's simulated crowd: [`CROWD`] envoys walking around the Haizhu landmarks and one
//! team of named demo envoys mid-patrol at Canton Tower, every one posting its positions every
//! [`POST_EVERY`] through the real HTTP API, as their phones would.
//!
//! The crowd's accounts are made straight in the store (one shared password hash, a session
//! each), since 300 argon2 hashes and logins would hold the demo up for seconds; the team is
//! formed entirely over HTTP (log in, claim, join by token, start with a photo). One task
//! drives every walker: a tick every half second posts the batches that are due, at most
//! [`CONCURRENCY`] at a time. The walk is seeded, so the crowd is the same on every run (until
//! a dispatch sends some of it hurrying to a scene: every crowd phone listens on its event
//! stream and answers alerts, see [`crate::responders`]).

use crate::responders::{self, Choice, Heard};
use crate::seed::{landmarks, publish_landmark, seed, CANTON_TOWER, DEMO_PASSWORD};
use chrono::Duration;
use pp_domain::account::{
    generate_session_token, hash_password, session_token_hash, NewUser, Phone,
};
use pp_domain::task::{Task, TaskStatus};
use pp_domain::time::{from_millis, to_millis, Timestamp};
use pp_domain::{DispatchId, Role, TaskId, TeamId, UserId};
use pp_geo::{haversine_m, Area, LatLng};
use pp_server::AppState;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::f64::consts::{PI, TAU};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Envoys in the simulated crowd.
pub const CROWD: usize = 300;
/// The crowd's phones are `FIRST_PHONE`, `FIRST_PHONE + 1`, …
const FIRST_PHONE: u64 = 13_700_000_001;
/// The named demo envoys that form the patrolling team, leader first.
pub const TEAM_PHONES: [&str; 3] = ["13900000001", "13900000002", "13900000003"];
/// Demo envoys that join instead when one of the team's is busy in another team.
const SPARE_PHONES: [&str; 3] = ["13900000004", "13900000005", "13900000006"];
/// Seed of the walk.
const SEED: u64 = 20_261_001;
/// How often each walker posts.
const POST_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Seconds of walking between two points (so each batch carries about two).
const STEP_SECS: i64 = 5;
/// Longest gap a walker makes up with points after a stall; beyond it, it stood still.
const MAX_CATCH_UP_SECS: i64 = 120;
/// Batches in flight at once.
const CONCURRENCY: usize = 16;
/// How often the driver checks the team still patrols (and forms a new one if not).
const TEAM_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often the driver logs what the crowd posted.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How far a landmark walker strays from its landmark before it is pulled back, metres.
const LANDMARK_SPREAD_M: f64 = 500.0;
/// How far a team walker strays from the centre of the patrol area, metres.
const TEAM_SPREAD_M: f64 = 150.0;
/// Share of the crowd that wanders the whole district instead of staying at a landmark.
const WANDERER_SHARE: f64 = 0.2;
/// The district the wanderers roam: latitudes and longitudes.
pub(crate) const DISTRICT_LAT: (f64, f64) = (23.045, 23.125);
const DISTRICT_LNG: (f64, f64) = (113.235, 113.420);
/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// Where a walker heads.
pub(crate) enum Anchor {
    /// Strolls within about `spread_m` of a landmark.
    Around { at: LatLng, spread_m: f64 },
    /// Heads for a random point of the district, then for another.
    Wander { target: LatLng },
    /// Patrols inside `area`, within about `spread_m` of `at`.
    Inside {
        area: Area,
        at: LatLng,
        spread_m: f64,
    },
}

/// One simulated envoy.
pub(crate) struct Walker {
    /// bearer token of the envoy's session
    pub(crate) token: String,
    pub(crate) at: LatLng,
    /// radians clockwise from north
    pub(crate) heading: f64,
    pub(crate) speed_mps: f64,
    pub(crate) anchor: Anchor,
    /// time of the latest point made
    pub(crate) last_ts: Timestamp,
    /// when it posts next
    pub(crate) next_post: Instant,
    /// its part in an emergency dispatch, if alerted
    answering: Option<Answering>,
    /// the walk it left to hurry to a scene, and its pace then
    home: Option<(Anchor, f64)>,
}

/// A walker's part in an emergency dispatch ([`crate::responders`]).
struct Answering {
    dispatch: DispatchId,
    /// the scene
    at: LatLng,
    phase: Phase,
}

enum Phase {
    /// Answers (or not) at this moment.
    Deciding { choice: Choice, at: Instant },
    /// Accepted; hurrying to the scene.
    Going,
    /// Marked arrival at this moment; waits there for the dispatch to close.
    OnScene { since: Instant },
}

/// A point as the API takes it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PointOut {
    pub(crate) ts: Timestamp,
    pub(crate) lat: f64,
    pub(crate) lng: f64,
    pub(crate) accuracy_m: f64,
}

impl Walker {
    /// A walker at `at` heading for `anchor` at `speed_mps`, not posting yet.
    pub(crate) fn new(
        token: String,
        at: LatLng,
        anchor: Anchor,
        speed_mps: f64,
        heading: f64,
    ) -> Walker {
        let now = chrono::Utc::now();
        Walker {
            token,
            at,
            heading,
            speed_mps,
            anchor,
            last_ts: now,
            next_post: Instant::now(),
            answering: None,
            home: None,
        }
    }

    /// Back to the walk it left for a dispatch.
    fn go_home(&mut self) {
        if let Some((anchor, speed)) = self.home.take() {
            self.anchor = anchor;
            self.speed_mps = speed;
        }
        self.answering = None;
    }

    /// Walks `secs` seconds: a little turn each step, pulled back toward the anchor the further
    /// it strays.
    pub(crate) fn step(&mut self, rng: &mut StdRng, secs: f64) {
        let (goal, spread_m) = match &mut self.anchor {
            Anchor::Around { at, spread_m } | Anchor::Inside { at, spread_m, .. } => {
                (*at, *spread_m)
            }
            Anchor::Wander { target } => {
                if haversine_m(self.at, *target) < 100.0 {
                    *target = district_point(rng);
                }
                (*target, 0.0)
            }
        };
        let to_goal = bearing(self.at, goal);
        let pull = if spread_m > 0.0 {
            ((haversine_m(self.at, goal) / spread_m).powi(2) * 0.15).min(0.8)
        } else {
            0.35
        };
        self.heading = (self.heading
            + angle_between(self.heading, to_goal) * pull
            + rng.gen_range(-0.35..0.35))
        .rem_euclid(TAU);
        let distance = self.speed_mps * secs;
        let mut next = move_by(self.at, self.heading, distance);
        if let Anchor::Inside { area, .. } = &self.anchor {
            if !area.contains(next) {
                self.heading = to_goal;
                next = move_by(self.at, to_goal, distance);
            }
        }
        self.at = next;
    }

    /// The points walked since the last post, one per [`STEP_SECS`], up to `now`.
    fn advance(&mut self, rng: &mut StdRng, now: Timestamp) -> Vec<PointOut> {
        let step = Duration::seconds(STEP_SECS);
        if now - self.last_ts > Duration::seconds(MAX_CATCH_UP_SECS) {
            self.last_ts = now - step;
        }
        let mut points = Vec::new();
        while self.last_ts + step <= now {
            self.last_ts += step;
            self.step(rng, STEP_SECS as f64);
            points.push(PointOut {
                ts: self.last_ts,
                lat: self.at.lat,
                lng: self.at.lng,
                accuracy_m: f64::from(rng.gen_range(30_u8..150)) / 10.0,
            });
        }
        points
    }
}

/// Bearing from `a` to `b`, radians clockwise from north (flat earth: fine within a district).
fn bearing(a: LatLng, b: LatLng) -> f64 {
    let north = b.lat - a.lat;
    let east = (b.lng - a.lng) * a.lat.to_radians().cos();
    east.atan2(north).rem_euclid(TAU)
}

/// The signed turn, -π..π, from heading `from` to heading `to`.
fn angle_between(from: f64, to: f64) -> f64 {
    (to - from + PI).rem_euclid(TAU) - PI
}

/// The point `metres` from `p` along `heading`.
pub(crate) fn move_by(p: LatLng, heading: f64, metres: f64) -> LatLng {
    let lat = p.lat + metres * heading.cos() / M_PER_DEG;
    let lng = p.lng + metres * heading.sin() / (M_PER_DEG * p.lat.to_radians().cos());
    LatLng { lat, lng }
}

/// A random point of the district.
pub(crate) fn district_point(rng: &mut StdRng) -> LatLng {
    LatLng {
        lat: rng.gen_range(DISTRICT_LAT.0..DISTRICT_LAT.1),
        lng: rng.gen_range(DISTRICT_LNG.0..DISTRICT_LNG.1),
    }
}

/// A random point within `radius_m` of `c`.
pub(crate) fn near(rng: &mut StdRng, c: LatLng, radius_m: f64) -> LatLng {
    let heading = rng.gen_range(0.0..TAU);
    let r = radius_m * rng.gen_range(0.0_f64..1.0).sqrt();
    move_by(c, heading, r)
}

fn in_district(p: LatLng) -> bool {
    (DISTRICT_LAT.0..=DISTRICT_LAT.1).contains(&p.lat)
        && (DISTRICT_LNG.0..=DISTRICT_LNG.1).contains(&p.lng)
}

/// The base URL to reach a server bound to `addr` from this process (an unspecified address
/// is reached on loopback), `https://` when it serves `tls`.
pub fn local_base(mut addr: SocketAddr, tls: bool) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

/// A client of the server at `base`. Over HTTPS it takes the server's certificate as it is:
/// the crowd talks to its own process on this machine, by an address that a configured
/// certificate (made for the district's domain) need not name.
fn client_of(base: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder().danger_accept_invalid_certs(base.starts_with("https://"))
}

/// Runs the crowd against the server at `base` (this process's, serving `state`) until `stop`.
/// Never fails: what goes wrong is logged, and the demo server serves on regardless.
pub async fn run(state: AppState, base: String, stop: CancellationToken) {
    tokio::select! {
        r = drive(&state, &base, &stop) => {
            if let Err(e) = r {
                tracing::warn!(error = format!("{e:#}"), "the simulated crowd stopped");
                println!("simulated crowd: stopped ({e:#})");
            }
        }
        () = stop.cancelled() => {}
    }
}

/// What the crowd posted since the last report.
#[derive(Default)]
struct Stats {
    batches: u64,
    accepted: u64,
    failed: u64,
    last_error: Option<String>,
}

impl Stats {
    fn record(&mut self, r: Result<Result<u64, String>, tokio::task::JoinError>) {
        self.batches += 1;
        match r {
            Ok(Ok(accepted)) => self.accepted += accepted,
            Ok(Err(e)) => {
                self.failed += 1;
                self.last_error = Some(e);
            }
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }

    fn report(&mut self) {
        let s = std::mem::take(self);
        if s.failed > 0 {
            tracing::warn!(
                batches = s.batches,
                accepted = s.accepted,
                failed = s.failed,
                last_error = s.last_error.unwrap_or_default(),
                "simulated crowd: some position batches failed"
            );
        } else {
            tracing::debug!(
                batches = s.batches,
                accepted = s.accepted,
                "simulated crowd posted"
            );
        }
    }
}

async fn drive(state: &AppState, base: &str, stop: &CancellationToken) -> anyhow::Result<()> {
    let client = client_of(base)
        .timeout(std::time::Duration::from_secs(10))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut crowd = crowd_walkers(state, &mut rng).await?;
    // every walker's phone listens for dispatch alerts on its own event stream (no overall
    // timeout: a stream stays open)
    let streams = client_of(base)
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()?;
    let (heard_tx, mut heard_rx) = mpsc::channel(1024);
    for (i, w) in crowd.iter().enumerate() {
        tokio::spawn(responders::listen(
            streams.clone(),
            base.to_owned(),
            w.token.clone(),
            i,
            heard_tx.clone(),
            stop.child_token(),
        ));
    }
    drop(heard_tx);
    let mut answer_rng = StdRng::seed_from_u64(SEED + 1);
    let mut team = match form_team(state, &client, base, &mut rng).await {
        Ok(t) => {
            println!(
                "simulated crowd: {CROWD} envoys walking; team {} patrolling at Canton Tower (leader {})",
                t.id, TEAM_PHONES[0]
            );
            Some(t)
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "the demo team could not start its patrol; trying again in a minute"
            );
            println!("simulated crowd: {CROWD} envoys walking; no team patrolling yet ({e:#})");
            None
        }
    };

    match file_reports(state, &client, base, &crowd).await {
        Ok(0) => {}
        Ok(n) => println!("simulated crowd: {n} incident reports filed (GET /api/v1/incidents)"),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "the demo reports could not be filed"
        ),
    }

    let url = format!("{base}/api/v1/positions");
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut posts: JoinSet<Result<u64, String>> = JoinSet::new();
    let mut stats = Stats::default();
    let mut next_report = Instant::now() + REPORT_EVERY;
    let mut next_team_check = Instant::now() + TEAM_CHECK_EVERY;
    loop {
        tick.tick().await;
        while let Some(r) = posts.try_join_next() {
            stats.record(r);
        }
        let (now, clock) = (Instant::now(), state.clock.now());
        // dispatches first, so that an arrival is marked from a position posted a tick ago
        while let Ok(h) = heard_rx.try_recv() {
            hear(&mut crowd, h, &mut answer_rng, now);
        }
        for w in &mut crowd {
            answer(w, &client, base, now, &mut answer_rng);
        }
        let team_walkers = team.iter_mut().flat_map(|t| t.walkers.iter_mut());
        for w in team_walkers.chain(crowd.iter_mut()) {
            if w.next_post > now {
                continue;
            }
            w.next_post += POST_EVERY;
            if w.next_post < now {
                // fell behind (a slow server): post again a period from now
                w.next_post = now + POST_EVERY;
            }
            let points = w.advance(&mut rng, clock);
            if points.is_empty() {
                continue;
            }
            while posts.len() >= CONCURRENCY {
                if let Some(r) = posts.join_next().await {
                    stats.record(r);
                }
            }
            posts.spawn(post(client.clone(), url.clone(), w.token.clone(), points));
        }
        let now = Instant::now();
        if now >= next_report {
            next_report = now + REPORT_EVERY;
            stats.report();
        }
        if now >= next_team_check {
            next_team_check = now + TEAM_CHECK_EVERY;
            let patrolling = match &team {
                Some(t) => match state.store.team(t.id).await {
                    Ok(v) => v.team.state == pp_domain::team::TeamState::Active,
                    Err(e) => {
                        tracing::debug!(error = %e, "could not look at the demo team");
                        true
                    }
                },
                None => false,
            };
            if !patrolling {
                match form_team(state, &client, base, &mut rng).await {
                    Ok(t) => {
                        tracing::info!(team = %t.id, "the demo team patrols again at Canton Tower");
                        team = Some(t);
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "the demo team could not start its patrol; trying again in a minute"
                        );
                        team = None;
                    }
                }
            }
        }
    }
}

/// What a walker's phone heard: an alert makes it decide (the walker busy with another
/// dispatch ignores it); a close sends it back to its walk.
fn hear(crowd: &mut [Walker], h: Heard, rng: &mut StdRng, now: Instant) {
    match h {
        Heard::Alert {
            walker,
            dispatch,
            at,
        } => {
            if let Some(w) = crowd.get_mut(walker).filter(|w| w.answering.is_none()) {
                let (choice, wait) = responders::choose(rng);
                w.answering = Some(Answering {
                    dispatch,
                    at,
                    phase: Phase::Deciding {
                        choice,
                        at: now + wait,
                    },
                });
            }
        }
        Heard::Closed { walker, dispatch } => {
            if let Some(w) = crowd.get_mut(walker) {
                if w.answering.as_ref().is_some_and(|a| a.dispatch == dispatch) {
                    w.go_home();
                }
            }
        }
    }
}

/// Moves a walker's part in a dispatch on: answers when it has made up its mind, hurries to
/// the scene once it accepted, marks arrival there, and goes home after a long wait.
fn answer(w: &mut Walker, client: &reqwest::Client, base: &str, now: Instant, rng: &mut StdRng) {
    let Some(a) = &mut w.answering else { return };
    let (dispatch, scene) = (a.dispatch, a.at);
    let call = |accept: Option<bool>| {
        let (client, base, token) = (client.clone(), base.to_owned(), w.token.clone());
        tokio::spawn(async move {
            match accept {
                Some(accept) => responders::respond(client, base, token, dispatch, accept).await,
                None => responders::arrived(client, base, token, dispatch).await,
            }
        });
    };
    match a.phase {
        Phase::Deciding { choice, at } if now >= at => match choice {
            Choice::Accept => {
                call(Some(true));
                a.phase = Phase::Going;
                let hurry = rng.gen_range(responders::HURRY_MPS);
                let anchor = std::mem::replace(
                    &mut w.anchor,
                    Anchor::Around {
                        at: scene,
                        spread_m: 15.0,
                    },
                );
                w.home = Some((anchor, w.speed_mps));
                w.speed_mps = hurry;
            }
            Choice::Decline => {
                call(Some(false));
                w.answering = None;
            }
            Choice::Ignore => w.answering = None,
        },
        Phase::Going if haversine_m(w.at, scene) <= responders::ARRIVE_WITHIN_M => {
            call(None);
            a.phase = Phase::OnScene { since: now };
        }
        Phase::OnScene { since } if now.duration_since(since) > responders::ON_SCENE_MAX => {
            w.go_home();
        }
        _ => {}
    }
}

/// Posts one batch; returns how many points were accepted.
async fn post(
    client: reqwest::Client,
    url: String,
    token: String,
    points: Vec<PointOut>,
) -> Result<u64, String> {
    let outcome = async {
        let resp = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "points": points }))
            .send()
            .await
            .map_err(|e| format!("POST /api/v1/positions: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body["accepted"].as_u64().unwrap_or(0))
        } else {
            Err(format!("POST /api/v1/positions: {status} {body}"))
        }
    }
    .await;
    if let Err(e) = &outcome {
        tracing::debug!(error = %e, "a simulated position batch failed");
    }
    outcome
}

/// The crowd's accounts (made if missing), a fresh session each, and their walkers: each
/// resumes from its latest known point, so a restart makes no jump.
async fn crowd_walkers(state: &AppState, rng: &mut StdRng) -> anyhow::Result<Vec<Walker>> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let phones = (0..CROWD as u64)
        .map(|i| Phone::parse(&(FIRST_PHONE + i).to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids = store.user_ids_by_phone(&phones).await?;
    if ids.len() < CROWD {
        // one argon2 hash for all: hashing each would take seconds
        let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD)).await?;
        let users: Vec<NewUser> = phones
            .iter()
            .enumerate()
            .map(|(i, phone)| NewUser {
                phone: phone.clone(),
                name: format!("巡逻志愿者 {:03}", i + 1),
                role: Role::Envoy,
                password_hash: hash.clone(),
                department: None,
            })
            .collect();
        store.create_users_bulk(&users, now).await?;
        ids = store.user_ids_by_phone(&phones).await?;
    }
    let centers = landmarks()
        .into_iter()
        .map(|(_, _, area, _)| Area::from_geojson(&area).map(|a| a.center()))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let mut walkers = Vec::with_capacity(ids.len());
    for (_, id) in ids {
        let token = generate_session_token();
        store
            .create_session(
                &session_token_hash(&token),
                id,
                now,
                now + state.config.session_ttl,
            )
            .await?;
        // every random draw is made whether or not the walker resumes, so the crowd is the
        // same on every run
        let anchor = if rng.gen_bool(WANDERER_SHARE) {
            Anchor::Wander {
                target: district_point(rng),
            }
        } else {
            Anchor::Around {
                at: centers[rng.gen_range(0..centers.len())],
                spread_m: LANDMARK_SPREAD_M,
            }
        };
        let fresh = match &anchor {
            Anchor::Around { at, spread_m } | Anchor::Inside { at, spread_m, .. } => {
                near(rng, *at, *spread_m)
            }
            Anchor::Wander { .. } => district_point(rng),
        };
        walkers.push(walker(state, rng, id, token, anchor, fresh, start, now));
    }
    Ok(walkers)
}

/// A walker starting where `id` was last seen (if in the district) or else at `fresh`, first
/// posting at a random moment of the next [`POST_EVERY`].
#[allow(
    clippy::too_many_arguments,
    reason = "a constructor of one private struct"
)]
fn walker(
    state: &AppState,
    rng: &mut StdRng,
    id: UserId,
    token: String,
    anchor: Anchor,
    fresh: LatLng,
    start: Instant,
    now: Timestamp,
) -> Walker {
    let heading = rng.gen_range(0.0..TAU);
    let speed_mps = rng.gen_range(1.1..1.5);
    let offset_ms = rng.gen_range(0..u64::try_from(POST_EVERY.as_millis()).unwrap_or(10_000));
    let resume = state
        .ingest
        .live()
        .latest(id)
        .map(|p| p.at)
        .filter(|p| match &anchor {
            Anchor::Inside { area, .. } => area.contains(*p),
            _ => in_district(*p),
        });
    let first_post = now + Duration::milliseconds(i64::try_from(offset_ms).unwrap_or(0));
    Walker {
        token,
        at: resume.unwrap_or(fresh),
        heading,
        speed_mps,
        anchor,
        // the first batch carries the points of the period before it; whole milliseconds,
        // as the store keeps them
        last_ts: from_millis(to_millis(
            first_post - Duration::from_std(POST_EVERY).unwrap_or_default(),
        )),
        next_post: start + std::time::Duration::from_millis(offset_ms),
        answering: None,
        home: None,
    }
}

/// The patrolling team and its walkers.
struct PatrolTeam {
    id: TeamId,
    walkers: Vec<Walker>,
}

/// A demo envoy signed in over HTTP.
struct Account {
    id: UserId,
    token: String,
}

#[derive(Debug, Deserialize)]
struct MemberJson {
    user_id: UserId,
}

#[derive(Debug, Deserialize)]
struct TeamJson {
    id: TeamId,
    task_id: TaskId,
    state: pp_domain::team::TeamState,
    members: Vec<MemberJson>,
    team_min: usize,
    join_token: Option<String>,
}

/// Sends a request; the status and the JSON body (null when there is none).
async fn call(req: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
    let resp = req.send().await?;
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// The error code of an error body.
fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The body of a successful answer, decoded; any other answer is an error naming `what`.
fn expect<T: serde::de::DeserializeOwned>(
    what: &str,
    (status, body): (StatusCode, Value),
) -> anyhow::Result<T> {
    anyhow::ensure!(status.is_success(), "{what}: {status} {body}");
    serde_json::from_value(body).map_err(|e| anyhow::anyhow!("{what}: unexpected answer: {e}"))
}

async fn login(client: &reqwest::Client, base: &str, phone: &str) -> anyhow::Result<Account> {
    let body: Value = expect(
        &format!("log in as {phone}"),
        call(
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({ "phone": phone, "password": DEMO_PASSWORD })),
        )
        .await?,
    )?;
    let id = serde_json::from_value(body["user"]["id"].clone())?;
    let token = body["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("log in as {phone}: no token"))?
        .to_owned();
    Ok(Account { id, token })
}

/// The team `who` is in (forming or active), by `GET /me`.
async fn current_team(
    client: &reqwest::Client,
    base: &str,
    who: &Account,
) -> anyhow::Result<Option<TeamId>> {
    let me: Value = expect(
        "GET /me",
        call(
            client
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(&who.token),
        )
        .await?,
    )?;
    Ok(serde_json::from_value(me["current_team_id"].clone())?)
}

async fn get_team(
    client: &reqwest::Client,
    base: &str,
    id: TeamId,
    who: &Account,
) -> anyhow::Result<TeamJson> {
    expect(
        "GET /teams/{id}",
        call(
            client
                .get(format!("{base}/api/v1/teams/{id}"))
                .bearer_auth(&who.token),
        )
        .await?,
    )
}

/// An open Canton Tower task in its window with a free team slot: publishes a fresh one
/// (through [`seed`]) when there is none or it ends within the hour, and another when the
/// open one is full (a long demo where the team finishes early again and again).
async fn canton_tower_task(state: &AppState) -> anyhow::Result<TaskId> {
    let store = state.store.as_ref();
    for attempt in 0..3 {
        let now = state.clock.now();
        let open = store
            .tasks(&pp_store::TaskFilter {
                status: Some(TaskStatus::Open),
                ..pp_store::TaskFilter::default()
            })
            .await?;
        let found = open
            .iter()
            .filter(|t| {
                t.task.place == CANTON_TOWER && t.task.in_window(now) && t.teams < t.task.max_teams
            })
            .max_by_key(|t| t.task.ends_at);
        if let Some(t) = found {
            return Ok(t.task.id);
        }
        match attempt {
            0 => seed(store, now).await?,
            1 => {
                publish_landmark(store, CANTON_TOWER, now).await?;
            }
            _ => {}
        }
    }
    anyhow::bail!("no open Canton Tower task has a free team slot")
}

/// What the crowd reports when the demo district has no reports yet: a category, words, and
/// where (latitude, longitude).
const REPORTS: [(&str, &str, (f64, f64)); 4] = [
    ("bike_parking", "海珠客运站东门外共享单车乱停放，堵住盲道 Shared bikes heaped across the tactile path by the station's east gate", (23.0962, 113.2656)),
    ("sanitation", "海珠湖北门垃圾桶已满，垃圾散落 Bins overflowing at the lake's north gate", (23.0884, 113.3384)),
    ("lost_child", "广州塔下一名约五岁男孩与家人走散，穿红色外套 A boy of about five, red coat, separated from his family under the tower", (23.1061, 113.3241)),
    ("elderly_assist", "一位老人在江边步道摔倒，需要帮助 An elderly man fell on the riverside path and needs help", (23.1098, 113.3262)),
];

/// Files a few reports through the API, as the crowd's phones would (the first with a
/// photo), so the incident queues have something in them; only into a district that has no
/// reports yet, so a restarted demo does not file them again. Returns how many it filed.
async fn file_reports(
    state: &AppState,
    client: &reqwest::Client,
    base: &str,
    crowd: &[Walker],
) -> anyhow::Result<usize> {
    let any = pp_store::IncidentFilter {
        limit: 1,
        ..pp_store::IncidentFilter::default()
    };
    if !state.store.incidents(&any).await?.is_empty() {
        return Ok(0);
    }
    for (i, ((category, description, (lat, lng)), w)) in REPORTS.iter().zip(crowd).enumerate() {
        let photo = if i == 0 { Some(team_photo()?) } else { None };
        let form = report_form(category, description, LatLng::new(*lat, *lng)?, None, photo)?;
        let _: Value = expect(
            &format!("report {category}"),
            call(
                client
                    .post(format!("{base}/api/v1/incidents"))
                    .bearer_auth(&w.token)
                    .multipart(form),
            )
            .await?,
        )?;
    }
    Ok(REPORTS.len().min(crowd.len()))
}

/// The form of `POST /teams/{id}/start`: the team photo (PNG) taken at `at`.
pub(crate) fn start_form(png: Vec<u8>, at: LatLng) -> anyhow::Result<reqwest::multipart::Form> {
    Ok(reqwest::multipart::Form::new()
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png)
                .file_name("team.png")
                .mime_str("image/png")?,
        )
        .text("lat", at.lat.to_string())
        .text("lng", at.lng.to_string()))
}

/// The form of `POST /incidents`: a report of `category` at `at`, naming the reporter's team
/// if given, with a photo (PNG) if given.
pub(crate) fn report_form(
    category: &str,
    description: &str,
    at: LatLng,
    team: Option<TeamId>,
    png: Option<Vec<u8>>,
) -> anyhow::Result<reqwest::multipart::Form> {
    let mut form = reqwest::multipart::Form::new()
        .text("category", category.to_owned())
        .text("description", description.to_owned())
        .text("lat", at.lat.to_string())
        .text("lng", at.lng.to_string());
    if let Some(team) = team {
        form = form.text("team_id", team.to_string());
    }
    if let Some(png) = png {
        form = form.part(
            "photo",
            reqwest::multipart::Part::bytes(png)
                .file_name("report.png")
                .mime_str("image/png")?,
        );
    }
    Ok(form)
}

/// A PNG team photo: a 64×48 gradient.
pub(crate) fn team_photo() -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            u8::try_from(x * 4).unwrap_or(u8::MAX),
            u8::try_from(y * 5).unwrap_or(u8::MAX),
            160,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// Gets the demo team patrolling at Canton Tower through the API, as its phones would: the
/// leader's current team if there is one (a restart), else a fresh claim; demo envoys join it
/// by the leader's token until it has enough members; the leader starts it with a photo taken
/// at the centre of the area. Returns the team with a walker for each member it can sign in.
async fn form_team(
    state: &AppState,
    client: &reqwest::Client,
    base: &str,
    rng: &mut StdRng,
) -> anyhow::Result<PatrolTeam> {
    let leader = login(client, base, TEAM_PHONES[0]).await?;
    let id = match current_team(client, base, &leader).await? {
        Some(id) => id,
        None => {
            let task = canton_tower_task(state).await?;
            let answer = call(
                client
                    .post(format!("{base}/api/v1/tasks/{task}/teams"))
                    .bearer_auth(&leader.token),
            )
            .await?;
            if answer.0 == StatusCode::CONFLICT && code(&answer.1) == "already_in_team" {
                current_team(client, base, &leader)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("claim: already in a team, but in none"))?
            } else {
                expect::<TeamJson>("claim a Canton Tower team", answer)?.id
            }
        }
    };
    let mut team = get_team(client, base, id, &leader).await?;
    let mut accounts = vec![leader];
    let mut phones = TEAM_PHONES[1..].iter().chain(&SPARE_PHONES);
    if team.state == pp_domain::team::TeamState::Forming {
        while team.members.len() < team.team_min {
            let Some(phone) = phones.next() else {
                anyhow::bail!(
                    "team {id} has {} members and no demo envoy is free to join",
                    team.members.len()
                );
            };
            let who = login(client, base, phone).await?;
            if !team.members.iter().any(|m| m.user_id == who.id) {
                let (status, body) = call(
                    client
                        .post(format!("{base}/api/v1/teams/join"))
                        .bearer_auth(&who.token)
                        .json(&json!({ "token": team.join_token, "team_id": id })),
                )
                .await?;
                if !status.is_success() {
                    // busy in another team, most likely: the next demo envoy joins instead
                    tracing::info!(phone, %status, code = code(&body), "a demo envoy could not join the demo team");
                }
            }
            accounts.push(who);
            team = get_team(client, base, id, &accounts[0]).await?;
        }
        let task = state.store.task(team.task_id).await?;
        let at = task.area.center();
        let form = start_form(team_photo()?, at)?;
        team = expect(
            "start the demo team",
            call(
                client
                    .post(format!("{base}/api/v1/teams/{id}/start"))
                    .bearer_auth(&accounts[0].token)
                    .multipart(form),
            )
            .await?,
        )?;
    }
    anyhow::ensure!(
        team.state == pp_domain::team::TeamState::Active,
        "team {id} is {:?}, not patrolling",
        team.state
    );
    // members this session has not signed in yet (a restart): the demo envoys among them
    for phone in phones {
        if team
            .members
            .iter()
            .all(|m| accounts.iter().any(|a| a.id == m.user_id))
        {
            break;
        }
        accounts.push(login(client, base, phone).await?);
    }
    let task: Task = state.store.task(team.task_id).await?;
    let center = task.area.center();
    let (start, now) = (Instant::now(), state.clock.now());
    let walkers = accounts
        .into_iter()
        .filter(|a| team.members.iter().any(|m| m.user_id == a.id))
        .map(|a| {
            let fresh = near(rng, center, TEAM_SPREAD_M * 0.5);
            let anchor = Anchor::Inside {
                area: task.area.clone(),
                at: center,
                spread_m: TEAM_SPREAD_M,
            };
            let mut w = walker(state, rng, a.id, a.token, anchor, fresh, start, now);
            // the team posts at once, its first point now
            w.next_post = start;
            w.last_ts = from_millis(to_millis(now)) - Duration::seconds(STEP_SECS);
            w
        })
        .collect();
    Ok(PatrolTeam {
        id: team.id,
        walkers,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn walker_with(anchor: Anchor, at: LatLng) -> Walker {
        Walker {
            token: String::new(),
            at,
            heading: 1.0,
            speed_mps: 1.3,
            anchor,
            last_ts: from_millis(1_790_000_000_000),
            next_post: Instant::now(),
            answering: None,
            home: None,
        }
    }

    /// Two hours of points from `w`: each checked by `ok`, and no step faster than a walk.
    fn walk(w: &mut Walker, ok: impl Fn(LatLng) -> bool) {
        let mut rng = StdRng::seed_from_u64(7);
        let mut prev = w.at;
        let mut now = w.last_ts;
        for _ in 0..720 {
            now += Duration::seconds(10);
            let points = w.advance(&mut rng, now);
            assert_eq!(points.len(), 2, "a point every {STEP_SECS} s");
            for p in points {
                let at = LatLng {
                    lat: p.lat,
                    lng: p.lng,
                };
                assert!(
                    haversine_m(prev, at) < 1.5 * STEP_SECS as f64,
                    "walking pace"
                );
                assert!(ok(at), "{at:?} strayed");
                prev = at;
            }
        }
    }

    #[test]
    fn the_team_stays_inside_its_area() {
        let (_, _, area, _) = landmarks()
            .into_iter()
            .find(|l| l.1 == CANTON_TOWER)
            .unwrap();
        let area = Area::from_geojson(&area).unwrap();
        let at = area.center();
        let mut w = walker_with(
            Anchor::Inside {
                area: area.clone(),
                at,
                spread_m: TEAM_SPREAD_M,
            },
            at,
        );
        walk(&mut w, |p| area.contains(p));
    }

    #[test]
    fn walkers_stay_near_their_landmark_or_in_the_district() {
        let at = LatLng {
            lat: 23.1066,
            lng: 113.3245,
        };
        let mut w = walker_with(
            Anchor::Around {
                at,
                spread_m: LANDMARK_SPREAD_M,
            },
            at,
        );
        walk(&mut w, |p| haversine_m(at, p) < 3.0 * LANDMARK_SPREAD_M);
        let mut rng = StdRng::seed_from_u64(1);
        let mut w = walker_with(
            Anchor::Wander {
                target: district_point(&mut rng),
            },
            at,
        );
        let margin = 0.01; // about a kilometre
        walk(&mut w, |p| {
            (DISTRICT_LAT.0 - margin..DISTRICT_LAT.1 + margin).contains(&p.lat)
                && (DISTRICT_LNG.0 - margin..DISTRICT_LNG.1 + margin).contains(&p.lng)
        });
    }

    #[test]
    fn a_stalled_walker_does_not_make_up_hours_of_points() {
        let at = LatLng {
            lat: 23.1066,
            lng: 113.3245,
        };
        let mut w = walker_with(
            Anchor::Around {
                at,
                spread_m: LANDMARK_SPREAD_M,
            },
            at,
        );
        let mut rng = StdRng::seed_from_u64(1);
        let now = w.last_ts + Duration::hours(3);
        let points = w.advance(&mut rng, now);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].ts, now);
    }

    #[test]
    fn turns_take_the_short_way() {
        assert!((angle_between(0.1, TAU - 0.1) + 0.2).abs() < 1e-9);
        assert!((angle_between(TAU - 0.1, 0.1) - 0.2).abs() < 1e-9);
        let a = LatLng {
            lat: 23.1,
            lng: 113.3,
        };
        let b = move_by(a, PI / 2.0, 1000.0);
        assert!((haversine_m(a, b) - 1000.0).abs() < 5.0);
        assert!((bearing(a, b) - PI / 2.0).abs() < 1e-3);
    }

    #[test]
    fn the_team_photo_is_a_png() {
        let png = team_photo().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }

    #[test]
    fn an_unspecified_address_is_reached_on_loopback() {
        assert_eq!(
            local_base("0.0.0.0:8080".parse().unwrap(), false),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            local_base("[::]:80".parse().unwrap(), false),
            "http://[::1]:80"
        );
        assert_eq!(
            local_base("192.168.1.2:8080".parse().unwrap(), false),
            "http://192.168.1.2:8080"
        );
        assert_eq!(
            local_base("0.0.0.0:8443".parse().unwrap(), true),
            "https://127.0.0.1:8443"
        );
    }
}
