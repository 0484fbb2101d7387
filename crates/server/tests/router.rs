//! The whole router in-process (`tower::ServiceExt::oneshot`) on a fresh SQLite database:
//! the wiring of every route, extractor, error path and layer. The HTTP-level suites over
//! both backends live in the `e2e` crate; this one is the server crate's own smoke test.
//!
//! `cargo test -p pp-server --test router`
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, Method, Request};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use pp_domain::account::NewUser;
use pp_domain::time::Clock;
use pp_domain::Role;
use pp_server::{router, AppState, ServerConfig};
use pp_store::testing::{Backend, TestDb};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt as _;

const PUBLIC_URL: &str = "http://pp.test";

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.json()))
            .to_owned()
    }
    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
    #[track_caller]
    fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

struct App {
    router: Router,
    state: AppState,
    data_dir: PathBuf,
    now: DateTime<Utc>,
    _db: TestDb,
}

impl App {
    async fn new() -> App {
        let (db, store) = TestDb::store(Backend::Sqlite).await;
        let data_dir =
            std::env::temp_dir().join(format!("pp-server-test-{}", uuid::Uuid::now_v7()));
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap();
        let state = AppState::new(
            store,
            ServerConfig::new(PUBLIC_URL, &data_dir),
            Arc::new(FixedClock(now)),
        )
        .await
        .unwrap();
        App {
            router: router(state.clone()),
            state,
            data_dir,
            now,
            _db: db,
        }
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), 64 << 20).await.unwrap().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn register_and_login(&self, phone: &str, name: &str) -> String {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"phone": phone, "name": name, "password": "password123"}),
        )
        .await
        .expect(201);
        self.login(phone).await
    }

    async fn login(&self, phone: &str) -> String {
        let r = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"phone": phone, "password": "password123"}),
            )
            .await
            .expect(200);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    async fn start(
        &self,
        team: &str,
        token: &str,
        photo: Option<&[u8]>,
        lat: &str,
        lng: &str,
    ) -> Reply {
        let boundary = "pp-test-boundary";
        let mut body = Vec::new();
        for (name, value) in [("lat", lat), ("lng", lng)] {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes());
        }
        if let Some(photo) = photo {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"team.png\"\r\nContent-Type: image/png\r\n\r\n")
                    .bytes(),
            );
            body.extend_from_slice(photo);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").bytes());
        let req = Request::post(format!("/api/v1/teams/{team}/start"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([x as u8, y as u8, 99])
    }));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn system_routes_and_error_shapes() {
    let app = App::new().await;
    let r = app.get("/healthz", None).await.expect(200);
    assert_eq!(r.json(), json!({"status": "ok", "database": "sqlite"}));

    app.get("/no/such/route", None)
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/nope", None)
        .await
        .expect_error(404, "not_found");
    let r = app
        .call(Method::DELETE, "/healthz", None, None)
        .await
        .expect_error(405, "method_not_allowed");
    assert!(r.headers.contains_key(header::ALLOW));
    app.get("/api/v1/me", None)
        .await
        .expect_error(401, "unauthorized");
    app.get("/api/v1/me", Some("not-a-session"))
        .await
        .expect_error(401, "unauthorized");
    app.get("/api/v1/tasks/not-a-uuid", Some("x"))
        .await
        .expect_error(401, "unauthorized");

    // bodies: malformed, wrong shape, wrong type, too large
    let req = Request::post("/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{nope"))
        .unwrap();
    app.send(req).await.expect_error(400, "invalid_json");
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"phone": "13800138000"}),
    )
    .await
    .expect_error(400, "invalid_body");
    let req = Request::post("/api/v1/auth/register")
        .body(Body::from("{}"))
        .unwrap();
    app.send(req)
        .await
        .expect_error(415, "unsupported_media_type");
    let big =
        json!({"phone": "13800138000", "name": "x".repeat(2 << 20), "password": "password123"});
    app.post("/api/v1/auth/register", None, big)
        .await
        .expect_error(413, "payload_too_large");

    let r = app.get("/api/openapi.json", None).await.expect(200);
    assert!(r.json()["paths"]["/api/v1/teams/{id}/start"]["post"].is_object());
    let r = app.get("/api/docs", None).await.expect(200);
    let html = String::from_utf8(r.body).unwrap();
    assert!(
        html.contains("/vendor/swagger-ui/swagger-ui-bundle.js")
            && html.contains("/api/openapi.json")
    );
    // the envoy app at / and /join, the dashboard at /command, each with its module
    for (page, module) in [
        ("/", "/app/main.js"),
        ("/join?token=abc", "/app/main.js"),
        ("/command", "/command/main.js"),
    ] {
        let r = app.get(page, None).await.expect(200);
        let html = String::from_utf8(r.body).unwrap();
        assert!(html.contains(module), "{page}: {html}");
        let r = app.get(module, None).await.expect(200);
        assert!(r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
    }
    for file in ["/manifest.webmanifest", "/sw.js", "/lib/api.js"] {
        app.get(file, None).await.expect(200);
    }
    let r = app
        .get("/vendor/swagger-ui/swagger-ui-bundle.js", None)
        .await
        .expect(200);
    assert!(r.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = r.headers[header::ETAG].clone();
    let req = Request::get("/vendor/swagger-ui/swagger-ui-bundle.js")
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .unwrap();
    app.send(req).await.expect(304);

    let r = app.get("/metrics", None).await.expect(200);
    let text = String::from_utf8(r.body).unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/auth/register",status="413"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test]
async fn accounts() {
    let app = App::new().await;
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"phone": "138-0013-8000", "name": " 张三 ", "password": "password123"}),
        )
        .await
        .expect(201);
    let user = r.json();
    assert_eq!(
        (
            user["phone"].as_str(),
            user["name"].as_str(),
            user["role"].as_str()
        ),
        (Some("+8613800138000"), Some("张三"), Some("envoy"))
    );
    assert!(user["department"].is_null() && user["created_at"].as_str().unwrap().ends_with('Z'));
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"phone": "+8613800138000", "name": "B", "password": "password123"}),
    )
    .await
    .expect_error(409, "phone_taken");
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"phone": "123", "name": "B", "password": "password123"}),
    )
    .await
    .expect_error(400, "invalid_phone");
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"phone": "13900139000", "name": "B", "password": "short"}),
    )
    .await
    .expect_error(400, "password_too_short");

    for (phone, password) in [
        ("13800138000", "wrong password"),
        ("13900139000", "password123"),
        ("garbage", "password123"),
    ] {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"phone": phone, "password": password}),
        )
        .await
        .expect_error(401, "invalid_credentials");
    }
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"phone": "13800138000", "password": "password123"}),
        )
        .await
        .expect(200);
    let session = r.json();
    let token = session["token"].as_str().unwrap();
    assert_eq!(session["user"]["id"], user["id"]);
    assert_eq!(session["expires_at"], json!("2026-10-31T10:00:00Z"));
    let me = app.get("/api/v1/me", Some(token)).await.expect(200).json();
    assert_eq!(me["id"], user["id"]);
    assert!(me["current_team_id"].is_null());
    app.call(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await
        .expect(204);
    app.get("/api/v1/me", Some(token))
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn tasks_and_a_team_from_claim_to_start() {
    let app = App::new().await;
    let commander = NewUser::new(
        "13700137000",
        "指挥员",
        "password123",
        Role::Commander,
        None,
    )
    .unwrap();
    app.state
        .store
        .create_user(&commander, app.now)
        .await
        .unwrap();
    let boss = app.login("13700137000").await;
    let envoys = [
        app.register_and_login("13800138001", "A").await,
        app.register_and_login("13800138002", "B").await,
        app.register_and_login("13800138003", "C").await,
        app.register_and_login("13800138004", "D").await,
    ];
    let [leader, b, c, d] = &envoys;

    let new_task = json!({
        "title": "Canton Tower evening patrol",
        "place": "Canton Tower",
        "area": {"type": "Circle", "center": [113.3245, 23.1066], "radius_m": 300},
        "starts_at": app.now - Duration::hours(1),
        "ends_at": app.now + Duration::hours(3),
        "patrol_minutes": 60,
        "max_teams": 2,
        "reward_points": 10,
    });
    app.post("/api/v1/tasks", Some(leader), new_task.clone())
        .await
        .expect_error(403, "wrong_role");
    let mut bad = new_task.clone();
    bad["team_min"] = json!(1);
    app.post("/api/v1/tasks", Some(&boss), bad)
        .await
        .expect_error(400, "invalid_team_size");
    let task = app
        .post("/api/v1/tasks", Some(&boss), new_task)
        .await
        .expect(201)
        .json();
    let task_id = task["id"].as_str().unwrap();
    assert_eq!(
        (
            task["teams"].as_u64(),
            task["free_slots"].as_u64(),
            task["status"].as_str()
        ),
        (Some(0), Some(2), Some("open"))
    );
    assert!(task.get("distance_m").is_none());
    assert!((task["center"]["lat"].as_f64().unwrap() - 23.1066).abs() < 1e-6);

    let near = app
        .get("/api/v1/tasks?near=23.1066,113.3245", Some(leader))
        .await
        .expect(200)
        .json();
    assert_eq!(near["tasks"][0]["distance_m"], json!(0.0));
    let far = app
        .get(
            "/api/v1/tasks?near=23.2,113.3245&radius_m=1000",
            Some(leader),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(far["tasks"], json!([]));
    app.get("/api/v1/tasks?near=north", Some(leader))
        .await
        .expect_error(400, "invalid_near");
    app.get("/api/v1/tasks?radius_m=99999999", Some(leader))
        .await
        .expect_error(400, "invalid_radius");
    app.get("/api/v1/tasks?status=maybe", Some(leader))
        .await
        .expect_error(400, "invalid_status");
    app.get("/api/v1/tasks?limit=-1", Some(leader))
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/tasks/not-a-uuid", Some(leader))
        .await
        .expect_error(400, "invalid_id");
    app.get(
        &format!("/api/v1/tasks/{}", uuid::Uuid::now_v7()),
        Some(leader),
    )
    .await
    .expect_error(404, "task_not_found");

    // claim: the leader gets a join token
    app.post(
        &format!("/api/v1/tasks/{task_id}/teams"),
        Some(&boss),
        json!({}),
    )
    .await
    .expect_error(403, "wrong_role");
    let team = app
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/teams"),
            Some(leader),
            None,
        )
        .await
        .expect(201)
        .json();
    let team_id = team["id"].as_str().unwrap().to_owned();
    let token = team["join_token"].as_str().unwrap().to_owned();
    assert_eq!(
        team["join_url"],
        json!(format!("{PUBLIC_URL}/join?token={token}"))
    );
    assert_eq!(team["join_expires_at"], json!("2026-10-01T10:15:00Z"));
    assert_eq!(
        (team["team_min"].as_u64(), team["team_max"].as_u64()),
        (Some(3), Some(5))
    );
    app.call(
        Method::POST,
        &format!("/api/v1/tasks/{task_id}/teams"),
        Some(leader),
        None,
    )
    .await
    .expect_error(409, "already_in_team");

    // the QR code carries a fresh join URL
    let r = app
        .get(&format!("/api/v1/teams/{team_id}/qr.png"), Some(leader))
        .await
        .expect(200);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let img = image::load_from_memory(&r.body).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        img.width() as usize,
        img.height() as usize,
        |x, y| img.get_pixel(x as u32, y as u32).0[0],
    );
    let url = prepared.detect_grids()[0].decode().unwrap().1;
    assert!(
        url.starts_with(&format!("{PUBLIC_URL}/join?token=")),
        "{url}"
    );
    let r = app
        .get(&format!("/api/v1/teams/{team_id}/qr.svg"), Some(leader))
        .await
        .expect(200);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/svg+xml");
    app.get(&format!("/api/v1/teams/{team_id}/qr.svg"), Some(b))
        .await
        .expect_error(403, "not_leader");

    // join
    app.post("/api/v1/teams/join", Some(b), json!({"token": "garbage"}))
        .await
        .expect_error(400, "invalid_join_token");
    app.post(
        "/api/v1/teams/join",
        Some(b),
        json!({"token": token, "team_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect_error(400, "token_team_mismatch");
    let joined = app
        .post(
            "/api/v1/teams/join",
            Some(b),
            json!({"token": token, "team_id": team_id}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(joined["members"].as_array().unwrap().len(), 2);
    assert!(
        joined.get("join_token").is_none(),
        "only the leader sees the token"
    );
    app.post("/api/v1/teams/join", Some(b), json!({"token": token}))
        .await
        .expect(200);
    app.get(&format!("/api/v1/teams/{team_id}"), Some(d))
        .await
        .expect_error(403, "not_member");
    app.get(&format!("/api/v1/teams/{team_id}"), Some(&boss))
        .await
        .expect(200);
    let me = app.get("/api/v1/me", Some(b)).await.expect(200).json();
    assert_eq!(me["current_team_id"].as_str(), Some(team_id.as_str()));

    // start: the rule, then the photo
    let photo = png(64, 48);
    app.start(&team_id, leader, Some(&photo), "23.1066", "113.3245")
        .await
        .expect_error(409, "team_too_small");
    app.post("/api/v1/teams/join", Some(c), json!({"token": token}))
        .await
        .expect(200);
    app.start(&team_id, leader, None, "23.1066", "113.3245")
        .await
        .expect_error(400, "photo_required");
    app.start(&team_id, leader, Some(&photo), "923.1", "113.3245")
        .await
        .expect_error(400, "coordinate_out_of_range");
    app.start(&team_id, leader, Some(&photo), "north", "113.3245")
        .await
        .expect_error(400, "invalid_body");
    app.start(&team_id, b, Some(&photo), "23.1066", "113.3245")
        .await
        .expect_error(403, "not_leader");
    app.start(&team_id, leader, Some(&photo), "23.2", "113.3245")
        .await
        .expect_error(409, "outside_area");
    app.start(&team_id, leader, Some(b"just text"), "23.1066", "113.3245")
        .await
        .expect_error(422, "invalid_photo");
    app.start(
        &team_id,
        leader,
        Some(&vec![7u8; 10 * 1024 * 1024 + 1]),
        "23.1066",
        "113.3245",
    )
    .await
    .expect_error(422, "invalid_photo");
    app.start(
        &team_id,
        leader,
        Some(&vec![7u8; 12 * 1024 * 1024]),
        "23.1066",
        "113.3245",
    )
    .await
    .expect_error(413, "payload_too_large");
    let started = app
        .start(&team_id, leader, Some(&photo), "23.1066", "113.3245")
        .await
        .expect(200)
        .json();
    assert_eq!(started["state"], "active");
    assert!(started.get("join_token").is_none());
    let sha = started["photo_sha256"].as_str().unwrap();
    assert!(app
        .data_dir
        .join("photos")
        .join(&sha[..2])
        .join(format!("{sha}.png"))
        .is_file());
    app.post("/api/v1/teams/join", Some(d), json!({"token": token}))
        .await
        .expect_error(409, "team_not_forming");

    let detail = app
        .get(&format!("/api/v1/tasks/{task_id}"), Some(d))
        .await
        .expect(200)
        .json();
    assert_eq!(detail["teams"], 1);
    assert_eq!(detail["teams_list"][0]["state"], "active");
    assert_eq!(detail["teams_list"][0]["members"], 3);

    // leaving and removing
    let left = app
        .call(
            Method::POST,
            &format!("/api/v1/teams/{team_id}/leave"),
            Some(c),
            None,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(left["outcome"], "left");
    let team2 = app
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/teams"),
            Some(d),
            None,
        )
        .await
        .expect(201)
        .json();
    let team2_id = team2["id"].as_str().unwrap();
    app.post(
        "/api/v1/teams/join",
        Some(c),
        json!({"token": team2["join_token"]}),
    )
    .await
    .expect(200);
    let c_id = app.get("/api/v1/me", Some(c)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        Method::DELETE,
        &format!("/api/v1/teams/{team2_id}/members/{c_id}"),
        Some(c),
        None,
    )
    .await
    .expect_error(403, "not_leader");
    app.call(
        Method::DELETE,
        &format!("/api/v1/teams/{team2_id}/members/{c_id}"),
        Some(d),
        None,
    )
    .await
    .expect(204);
    let gone = app
        .call(
            Method::POST,
            &format!("/api/v1/teams/{team2_id}/leave"),
            Some(d),
            None,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(gone, json!({"outcome": "disbanded", "leader_id": null}));

    // closing
    app.call(
        Method::POST,
        &format!("/api/v1/tasks/{task_id}/close"),
        Some(leader),
        None,
    )
    .await
    .expect_error(403, "wrong_role");
    let closed = app
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/close"),
            Some(&boss),
            None,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(closed["status"], "closed");
    app.call(
        Method::POST,
        &format!("/api/v1/tasks/{task_id}/close"),
        Some(&boss),
        None,
    )
    .await
    .expect_error(409, "task_closed");

    let text = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    assert!(
        text.contains(r#"route="/api/v1/teams/{id}/start",status="422""#),
        "{text}"
    );
}

#[tokio::test]
async fn serve_answers_on_its_listener_and_stops_when_cancelled() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = App::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(pp_server::serve(
        listener,
        app.state.clone(),
        shutdown.clone(),
    ));

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(r#"{"status":"ok","database":"sqlite"}"#),
        "{answer}"
    );

    // a photo over 10 MB (but under the route's limit) is read to its end and refused with a
    // 422 the client receives, not a reset connection
    let token = app.register_and_login("13800138009", "Z").await;
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"big.jpg\"\r\n\r\n"
    )
    .into_bytes();
    body.extend(vec![b'x'; 10 * 1024 * 1024 + 512 * 1024]);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let head = format!(
        "POST /api/v1/teams/{}/start HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        uuid::Uuid::now_v7(),
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    assert!(answer.contains(r#""code":"invalid_photo""#), "{answer}");

    shutdown.cancel();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}
