//! [`TestApp`]: the real server on `127.0.0.1:0`, a fresh database, a temporary data directory
//! and a clock the test sets, plus typed helpers for the requests the tests make.
//!
//! Request helpers take a path under `/api/v1` and a bearer token (`""` sends none), and
//! return `(status, body)`: the body parsed as JSON, `Null` when empty, or the text as a JSON
//! string when it is not JSON (so a failed assertion shows what came back).
//!
//! The server's background jobs (finishing patrols whose window has ended, the retention purge)
//! run every [`JOB_INTERVAL`] against the test clock; a test that moves the clock past a limit
//! waits for their effect with [`TestApp::wait_for`]. Positions are built relative to a time of
//! the test clock ([`point`], [`track`], or a [`Route`] of offsets from a patrol's start).

use chrono::Duration;
use pp_domain::account::{NewUser, Phone};
use pp_domain::time::{from_millis, to_millis, Clock, Timestamp};
use pp_domain::Role;
use pp_server::{AppState, ServerConfig};
use pp_store::testing::{Backend, TestDb};
use pp_store::Store;
use reqwest::Method;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Status code and body of a response.
pub type Resp = (u16, Value);

/// The password of every account the helpers make.
pub const PASSWORD: &str = "password1";
/// Canton Tower, the centre of the default task's area.
pub const TOWER_LAT: f64 = 23.1066;
/// Canton Tower, the centre of the default task's area.
pub const TOWER_LNG: f64 = 113.3245;

/// How often the background jobs run in tests.
pub const JOB_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// How long [`TestApp::wait_for`] waits for a background job before failing the test.
pub const JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Metres in a degree of latitude (on the sphere of `pp_geo::EARTH_RADIUS_M`).
pub const M_PER_DEG_LAT: f64 = 111_195.08;

/// `(lat, lng)` `north_m` metres north of Canton Tower (south when negative). The default
/// task's area is a 300 m circle around the tower: 100 m is well inside, 1000 m well outside.
pub fn north_of_tower(north_m: f64) -> (f64, f64) {
    (TOWER_LAT + north_m / M_PER_DEG_LAT, TOWER_LNG)
}

/// One point of a position batch as a phone sends it: `{ts, lat, lng, accuracy_m: 10}`.
pub fn point(ts: Timestamp, (lat, lng): (f64, f64)) -> Value {
    json!({"ts": ts.to_rfc3339(), "lat": lat, "lng": lng, "accuracy_m": 10.0})
}

/// `n` points `step_secs` apart from `from` on, all at `at`: a phone reporting while its
/// envoy stands still.
pub fn track(from: Timestamp, n: usize, step_secs: i64, at: (f64, f64)) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let i = i64::try_from(i).unwrap();
            point(from + Duration::seconds(i * step_secs), at)
        })
        .collect()
}

/// Where an envoy's phone reports from: `(offset, (lat, lng))`, the offset in seconds after
/// some start (usually a patrol's `started_at`).
pub type Route = Vec<(i64, (f64, f64))>;

/// Reports every `step` seconds from offset `from` to offset `to` (both inclusive) at `at`.
pub fn steady(from: i64, to: i64, step: i64, at: (f64, f64)) -> Route {
    (0..)
        .map(|i| from + i * step)
        .take_while(|&s| s <= to)
        .map(|s| (s, at))
        .collect()
}

/// The points of `route` taken after `start`, as a phone sends them.
pub fn route_points(start: Timestamp, route: &[(i64, (f64, f64))]) -> Vec<Value> {
    route
        .iter()
        .map(|&(s, at)| point(start + Duration::seconds(s), at))
        .collect()
}

/// Each member's `(minutes_inside, qualified)` by user id, from a progress or finish answer.
#[track_caller]
pub fn outcomes(v: &Value) -> std::collections::BTreeMap<String, (f64, bool)> {
    v["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {v}"))
        .iter()
        .map(|m| {
            let minutes = m["minutes_inside"]
                .as_f64()
                .unwrap_or_else(|| panic!("no minutes_inside in {m}"));
            let qualified = m["qualified"]
                .as_bool()
                .unwrap_or_else(|| panic!("no qualified in {m}"));
            (str_of(m, "user_id").to_owned(), (minutes, qualified))
        })
        .collect()
}

/// The member `user_id` of a progress, finish or team answer.
#[track_caller]
pub fn member_of<'a>(v: &'a Value, user_id: &str) -> &'a Value {
    v["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["user_id"] == user_id))
        .unwrap_or_else(|| panic!("no member {user_id} in {v}"))
}

/// An RFC 3339 time of an answer.
#[track_caller]
pub fn time_of(v: &Value) -> Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not RFC 3339: {v} ({e})"))
}

/// The counts of a `POST /positions` answer, to compare in one assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// points stored now
    pub accepted: u64,
    /// points known already
    pub duplicates: u64,
    /// of the accepted, those flagged for an implausible speed
    pub flagged: u64,
    /// (index, code) of each refused point, in the order answered
    pub rejected: Vec<(u64, String)>,
}

impl Ingested {
    /// Reads an answer; panics unless it has exactly the documented fields and every refused
    /// point has a message.
    #[track_caller]
    pub fn of(report: &Value) -> Ingested {
        let mut keys: Vec<&String> = report
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            ["accepted", "duplicates", "flagged", "rejected"],
            "{report}"
        );
        let n = |k: &str| {
            report[k]
                .as_u64()
                .unwrap_or_else(|| panic!("no count {k:?} in {report}"))
        };
        let rejected = report["rejected"]
            .as_array()
            .unwrap_or_else(|| panic!("no rejected list in {report}"))
            .iter()
            .map(|r| {
                assert!(
                    !str_of(r, "message").is_empty(),
                    "a refused point without a message: {r}"
                );
                (r["index"].as_u64().unwrap(), str_of(r, "code").to_owned())
            })
            .collect();
        Ingested {
            accepted: n("accepted"),
            duplicates: n("duplicates"),
            flagged: n("flagged"),
            rejected,
        }
    }

    /// Counts with nothing refused.
    pub fn ok(accepted: u64, duplicates: u64, flagged: u64) -> Ingested {
        Ingested {
            accepted,
            duplicates,
            flagged,
            rejected: Vec::new(),
        }
    }
}

/// An active patrol made by [`TestApp::active_team`].
#[derive(Debug, Clone)]
pub struct Patrol {
    /// the commander who published the task
    pub commander: String,
    /// the task
    pub task: Value,
    /// the team's id
    pub team_id: String,
    /// (token, user id) of the leader
    pub leader: (String, String),
    /// (token, user id) of the other members, in joining order
    pub members: Vec<(String, String)>,
    /// when the patrol started (the app clock at the start)
    pub started_at: Timestamp,
}

impl Patrol {
    /// (token, user id) of everyone: the leader first, then the members.
    pub fn everyone(&self) -> Vec<(String, String)> {
        std::iter::once(self.leader.clone())
            .chain(self.members.iter().cloned())
            .collect()
    }
}

/// A clock that stands still until the test moves it. It starts at the real now (to the
/// millisecond, as the store keeps instants), so that responses compare equal to it.
#[derive(Debug)]
pub struct TestClock(Mutex<Timestamp>);

impl TestClock {
    /// A clock standing at `t`.
    pub fn new(t: Timestamp) -> TestClock {
        TestClock(Mutex::new(t))
    }
    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A file to upload as the start photo.
#[derive(Debug, Clone)]
pub struct Photo {
    /// content
    pub bytes: Vec<u8>,
    /// file name sent in the multipart part
    pub file_name: &'static str,
    /// content type sent in the multipart part
    pub mime: &'static str,
}

fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(64, 48, |x, y| {
        #[expect(clippy::cast_possible_truncation, reason = "x, y < 256")]
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    })
}

/// A real 64×48 PNG picture.
pub fn png_photo() -> Photo {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture()
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    Photo {
        bytes: bytes.into_inner(),
        file_name: "team.png",
        mime: "image/png",
    }
}

/// A real 64×48 JPEG picture.
pub fn jpeg_photo() -> Photo {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture()
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    Photo {
        bytes: bytes.into_inner(),
        file_name: "team.jpg",
        mime: "image/jpeg",
    }
}

/// Asserts that a response is the error `status`/`code` in the shape
/// `{"error": {"code", "message"}}` with a non-empty message.
#[track_caller]
pub fn expect_error(resp: &Resp, status: u16, code: &str) {
    let (s, body) = resp;
    assert_eq!(
        (*s, body["error"]["code"].as_str()),
        (status, Some(code)),
        "expected {status} {code}, got {s} {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["error"],
        "extra top-level keys in an error body: {body}"
    );
}

/// Asserts a status and returns the body.
#[track_caller]
pub fn expect(resp: Resp, status: u16) -> Value {
    assert_eq!(
        resp.0, status,
        "expected {status}, got {} {}",
        resp.0, resp.1
    );
    resp.1
}

/// The argon2 hash of [`PASSWORD`], computed once: accounts made through the store reuse it.
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| pp_domain::account::hash_password(PASSWORD))
        .clone()
}

/// The string at `v[key]`, which must be there.
#[track_caller]
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
}

/// The real server, running on its own task until this is dropped.
#[derive(Debug)]
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// A client without proxies and with a 60 s timeout.
    pub client: reqwest::Client,
    /// The server's clock.
    pub clock: Arc<TestClock>,
    /// The server's store (for set-up and for checking what was written).
    pub store: Arc<dyn Store>,
    /// The server's state (its join secret signs tokens in tests).
    pub state: AppState,
    /// Which backend this run uses.
    pub backend: Backend,
    /// The server's data directory.
    pub data_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    next_account: AtomicU32,
    // dropped last: the database outlives the server task that uses it
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// Starts the server on a fresh, migrated database of `backend`.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with settings changed by `configure` (after the test defaults).
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestApp {
        let (db, store) = TestDb::store(backend).await;
        let data_dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock::new(from_millis(to_millis(chrono::Utc::now()))));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServerConfig::new(format!("http://{addr}"), data_dir.path());
        // the background jobs (finishing overdue patrols, retention) follow the test clock
        // within a fraction of a second; see [`TestApp::wait_for`]
        config.job_interval = JOB_INTERVAL;
        config.dispatch_interval = JOB_INTERVAL;
        configure(&mut config);
        let state = AppState::new(store.clone(), config, clock.clone())
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(pp_server::serve(listener, state.clone(), shutdown.clone()));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        TestApp {
            addr,
            client,
            clock,
            store,
            state,
            backend,
            data_dir,
            shutdown,
            server: Some(server),
            next_account: AtomicU32::new(0),
            _db: db,
        }
    }

    /// Stops the server and waits for `serve` to return; panics if it returned an error.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(std::time::Duration::from_secs(10), server)
                .await
                .expect("serve returns within 10 s of shutdown")
                .expect("the server task does not panic")
                .expect("serve returns Ok");
        }
    }

    /// A second server state on this app's database, data dir and clock: what a restart builds
    /// from the store (its live, heat and availability indexes), to compare with this one.
    pub async fn restarted_state(&self) -> AppState {
        AppState::new(
            self.store.clone(),
            ServerConfig::new(self.public_url(), self.data_dir.path()),
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    /// The server's public URL (`http://127.0.0.1:PORT`).
    pub fn public_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of a path from the root (`/healthz`, `/api/openapi.json`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL of a path under `/api/v1`.
    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    /// The server's clock, now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A request to a path under `/api/v1`, with the bearer token unless it is empty.
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.api(path));
        if token.is_empty() {
            req
        } else {
            req.bearer_auth(token)
        }
    }

    /// Sends a request and reads the response.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        read(req.send().await.unwrap()).await
    }

    /// GET a path under `/api/v1`.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path, token)).await
    }

    /// POST JSON to a path under `/api/v1`.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path, token).json(body))
            .await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::POST, path, token)).await
    }

    /// DELETE a path under `/api/v1`.
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    /// `POST /auth/register`, expecting 201; returns the user.
    pub async fn register(&self, phone: &str, name: &str, password: &str) -> Value {
        let body = json!({"phone": phone, "name": name, "password": password});
        expect(self.post("/auth/register", "", &body).await, 201)
    }

    /// `POST /auth/login`, expecting 200; returns the token.
    pub async fn login(&self, phone: &str, password: &str) -> String {
        let body = json!({"phone": phone, "password": password});
        let res = expect(self.post("/auth/login", "", &body).await, 200);
        str_of(&res, "token").to_owned()
    }

    /// The phone of numbered envoy `i` (national mainland form).
    pub fn envoy_phone(i: u32) -> String {
        format!("139{i:08}")
    }

    /// Registers and logs in numbered envoy `i` over HTTP; returns (token, user id).
    pub async fn envoy(&self, i: u32) -> (String, String) {
        let phone = Self::envoy_phone(i);
        let user = self.register(&phone, &format!("envoy {i}"), PASSWORD).await;
        let token = self.login(&phone, PASSWORD).await;
        (token, str_of(&user, "id").to_owned())
    }

    /// Makes numbered envoy `i` through the store (no argon2 hashing) and logs in over HTTP.
    pub async fn quick_envoy(&self, i: u32) -> (String, String) {
        let phone = Self::envoy_phone(i);
        self.account(&phone, &format!("envoy {i}"), Role::Envoy)
            .await
    }

    /// Numbered envoys `from..from+n`, made concurrently with [`TestApp::quick_envoy`].
    pub async fn quick_envoys(&self, from: u32, n: u32) -> Vec<(String, String)> {
        futures::future::join_all((from..from + n).map(|i| self.quick_envoy(i))).await
    }

    /// Makes an account of any role through the store and logs in; returns (token, user id).
    pub async fn account(&self, phone: &str, name: &str, role: Role) -> (String, String) {
        self.account_in(phone, name, role, None).await
    }

    /// [`TestApp::account`] in a department (staff).
    pub async fn account_in(
        &self,
        phone: &str,
        name: &str,
        role: Role,
        department: Option<&str>,
    ) -> (String, String) {
        let user = NewUser {
            phone: Phone::parse(phone).unwrap(),
            name: name.to_owned(),
            role,
            password_hash: password_hash(),
            department: department.map(str::to_owned),
        };
        let user = self.store.create_user(&user, self.now()).await.unwrap();
        let token = self.login(phone, PASSWORD).await;
        (token, user.id.to_string())
    }

    /// A fresh commander account, logged in; returns the token.
    pub async fn commander(&self) -> String {
        let n = self.next_account.fetch_add(1, Ordering::Relaxed);
        self.account(
            &format!("137{n:08}"),
            &format!("commander {n}"),
            Role::Commander,
        )
        .await
        .0
    }

    /// A fresh staff account of `department`, logged in; returns (token, user id).
    pub async fn staff(&self, department: &str) -> (String, String) {
        let n = self.next_account.fetch_add(1, Ordering::Relaxed);
        self.account_in(
            &format!("135{n:08}"),
            &format!("{department} staff {n}"),
            Role::Staff,
            Some(department),
        )
        .await
    }

    /// `POST /incidents` as multipart: `fields` as text parts, then each photo as a `photo`
    /// part.
    pub async fn report(&self, token: &str, fields: &[(&str, String)], photos: &[Photo]) -> Resp {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.clone());
        }
        for p in photos {
            let part = reqwest::multipart::Part::bytes(p.bytes.clone())
                .file_name(p.file_name)
                .mime_str(p.mime)
                .unwrap();
            form = form.part("photo", part);
        }
        let req = self
            .request(Method::POST, "/incidents", token)
            .multipart(form);
        self.send(req).await
    }

    /// A fresh admin account, logged in; returns the token.
    pub async fn admin(&self) -> String {
        let n = self.next_account.fetch_add(1, Ordering::Relaxed);
        self.account(&format!("136{n:08}"), &format!("admin {n}"), Role::Admin)
            .await
            .0
    }

    /// The default task (Canton Tower, a 300 m circle, from an hour ago for four hours,
    /// teams of 3..5, 2 teams) with `overrides` (an object) merged over it.
    pub fn task_body(&self, overrides: &Value) -> Value {
        let now = self.now();
        let mut body = json!({
            "title": "Canton Tower evening patrol",
            "place": "Canton Tower",
            "description": "National Day crowd at the tower",
            "area": {"type": "Circle", "center": [TOWER_LNG, TOWER_LAT], "radius_m": 300},
            "starts_at": (now - Duration::hours(1)).to_rfc3339(),
            "ends_at": (now + Duration::hours(3)).to_rfc3339(),
            "patrol_minutes": 60,
            "team_min": 3,
            "team_max": 5,
            "max_teams": 2,
            "reward_points": 10,
            "reward_fund_cents": 500
        });
        if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
            for (k, v) in o {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    }

    /// `POST /tasks` with [`TestApp::task_body`], expecting 201; returns the task.
    pub async fn create_task(&self, token: &str, overrides: &Value) -> Value {
        expect(
            self.post("/tasks", token, &self.task_body(overrides)).await,
            201,
        )
    }

    /// `POST /tasks/{id}/teams`.
    pub async fn claim(&self, token: &str, task_id: &str) -> Resp {
        self.post_empty(&format!("/tasks/{task_id}/teams"), token)
            .await
    }

    /// `GET /teams/{id}`.
    pub async fn team(&self, token: &str, team_id: &str) -> Resp {
        self.get(&format!("/teams/{team_id}"), token).await
    }

    /// The join token the leader sees in `GET /teams/{id}`.
    pub async fn join_token(&self, leader: &str, team_id: &str) -> String {
        let team = expect(self.team(leader, team_id).await, 200);
        str_of(&team, "join_token").to_owned()
    }

    /// `POST /teams/join {token, team_id?}`.
    pub async fn join(&self, token: &str, join_token: &str, team_id: Option<&str>) -> Resp {
        let mut body = json!({ "token": join_token });
        if let Some(t) = team_id {
            body["team_id"] = json!(t);
        }
        self.post("/teams/join", token, &body).await
    }

    /// `POST /teams/{id}/start` as multipart: `lat`, `lng` and, when given, the `photo` part.
    pub async fn start(
        &self,
        token: &str,
        team_id: &str,
        lat: f64,
        lng: f64,
        photo: Option<Photo>,
    ) -> Resp {
        let mut form = reqwest::multipart::Form::new()
            .text("lat", lat.to_string())
            .text("lng", lng.to_string());
        if let Some(p) = photo {
            let part = reqwest::multipart::Part::bytes(p.bytes)
                .file_name(p.file_name)
                .mime_str(p.mime)
                .unwrap();
            form = form.part("photo", part);
        }
        let req = self
            .request(Method::POST, &format!("/teams/{team_id}/start"), token)
            .multipart(form);
        self.send(req).await
    }

    /// `POST /positions {points, crs?}` (`crs` is left out when `None`).
    pub async fn post_positions(&self, token: &str, points: &[Value], crs: Option<&str>) -> Resp {
        let mut body = json!({ "points": points });
        if let Some(crs) = crs {
            body["crs"] = json!(crs);
        }
        self.post("/positions", token, &body).await
    }

    /// `POST /positions` expecting 200; returns the counts.
    pub async fn ingest(&self, token: &str, points: &[Value]) -> Ingested {
        Ingested::of(&expect(self.post_positions(token, points, None).await, 200))
    }

    /// Moves the clock from `start + first` to `start + last` seconds in steps of a minute
    /// (`first`, `first + 60`, … up to `last`); at each step every walker posts, in one batch,
    /// the points of its route with an offset in `(t - 60, t]`, the way a phone sends a batch a
    /// minute. Every point must be accepted: none repeated, flagged or refused. The clock never
    /// moves back. Returns how many points were posted.
    pub async fn patrol_live(
        &self,
        start: Timestamp,
        first: i64,
        last: i64,
        walkers: &[(&str, &Route)],
    ) -> u64 {
        let mut posted = 0;
        let mut t = first;
        while t <= last {
            let at = start + Duration::seconds(t);
            assert!(at >= self.now(), "the clock never moves back");
            self.clock.set(at);
            for &(token, route) in walkers {
                let due: Route = route
                    .iter()
                    .copied()
                    .filter(|&(s, _)| t - 60 < s && s <= t)
                    .collect();
                if due.is_empty() {
                    continue;
                }
                let n = u64::try_from(due.len()).unwrap();
                let got = self.ingest(token, &route_points(start, &due)).await;
                assert_eq!(got, Ingested::ok(n, 0, 0), "posting at +{t} s");
                posted += n;
            }
            t += 60;
        }
        posted
    }

    /// `GET /teams/{id}/progress`.
    pub async fn progress(&self, token: &str, team_id: &str) -> Resp {
        self.get(&format!("/teams/{team_id}/progress"), token).await
    }

    /// `POST /teams/{id}/finish`.
    pub async fn finish(&self, token: &str, team_id: &str) -> Resp {
        self.post_empty(&format!("/teams/{team_id}/finish"), token)
            .await
    }

    /// `GET /me/wallet?limit=500`, expecting 200.
    pub async fn wallet(&self, token: &str) -> Value {
        expect(self.get("/me/wallet?limit=500", token).await, 200)
    }

    /// One envoy's stored points between `from` and `until` (both inclusive), read from the
    /// store.
    pub async fn stored_positions(
        &self,
        user_id: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Vec<pp_domain::position::Position> {
        self.store
            .positions(user_id.parse().unwrap(), from, until)
            .await
            .unwrap()
    }

    /// An active patrol: a commander publishes the default task with `overrides`; envoy
    /// `first_no` claims a team and envoys `first_no + 1 ..= first_no + members` join it, one
    /// second apart; the leader starts it at the tower. The clock is not moved after the start.
    pub async fn active_team(&self, overrides: &Value, first_no: u32, members: u32) -> Patrol {
        let (commander, task, leader, leader_id, team) =
            self.task_with_team(overrides, first_no).await;
        let team_id = str_of(&team, "id").to_owned();
        let join_token = self.join_token(&leader, &team_id).await;
        let mut joined = Vec::new();
        for (tok, id) in self.quick_envoys(first_no + 1, members).await {
            self.clock.advance(Duration::seconds(1));
            expect(self.join(&tok, &join_token, None).await, 200);
            joined.push((tok, id));
        }
        self.clock.advance(Duration::seconds(1));
        let started = expect(
            self.start(&leader, &team_id, TOWER_LAT, TOWER_LNG, Some(png_photo()))
                .await,
            200,
        );
        assert_eq!(started["state"], "active", "{started}");
        Patrol {
            commander,
            task,
            team_id,
            leader: (leader, leader_id),
            members: joined,
            started_at: self.now(),
        }
    }

    /// Polls `check` every 50 ms until it returns `Some` (the background jobs run every
    /// [`JOB_INTERVAL`]); fails the test after [`JOB_TIMEOUT`], naming `what`.
    pub async fn wait_for<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + JOB_TIMEOUT;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {JOB_TIMEOUT:?} for {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until `GET /teams/{id}` (as `token`) shows `state`; returns the team.
    pub async fn wait_for_team_state(&self, token: &str, team_id: &str, state: &str) -> Value {
        self.wait_for(&format!("team {team_id} to be {state}"), async || {
            let team = expect(self.team(token, team_id).await, 200);
            (team["state"] == state).then_some(team)
        })
        .await
    }

    /// A commander, a default task with `overrides`, and envoy `leader_no` claiming a team:
    /// returns (commander token, task, leader token, leader id, team).
    pub async fn task_with_team(
        &self,
        overrides: &Value,
        leader_no: u32,
    ) -> (String, Value, String, String, Value) {
        let commander = self.commander().await;
        let task = self.create_task(&commander, overrides).await;
        let (leader, leader_id) = self.quick_envoy(leader_no).await;
        let team = expect(self.claim(&leader, str_of(&task, "id")).await, 201);
        (commander, task, leader, leader_id, team)
    }
}

/// Reads a response as `(status, body)`.
pub async fn read(res: reqwest::Response) -> Resp {
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

/// Runs `test` once on every backend (`pp_store::testing::backends()`), each time against a
/// fresh server and database, then stops the server and checks that `serve` returned cleanly.
pub async fn on_each_backend(test: impl AsyncFn(&TestApp)) {
    for backend in pp_store::testing::backends() {
        eprintln!("--- on {backend:?}");
        let app = TestApp::spawn(backend).await;
        test(&app).await;
        app.stop().await;
    }
}
