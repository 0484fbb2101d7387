//! Smoke tests of the built `peacepatrol` binary: `user add`, `migrate`, `serve` and `demo`
//! start, answer over HTTP with the embedded assets, and stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pp_domain::time::{Clock as _, SystemClock};
use pp_store::testing::{backends, TestDb};

mod common;
use common::{cmd, events, start, stop, succeeded, wait_for_event};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_with_embedded_assets_on_both_databases() {
    for b in backends() {
        let db = TestDb::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        let user_add = |phone: &str, role: &str, password: Option<&str>| {
            let mut c = cmd(dir.path(), &db.url);
            c.args([
                "user",
                "add",
                "--phone",
                phone,
                "--name",
                "指挥员",
                "--role",
                role,
            ]);
            if let Some(p) = password {
                c.args(["--password", p]);
            }
            c.output().unwrap()
        };
        let stdout = succeeded(user_add("13800138000", "commander", None));
        let password = stdout
            .lines()
            .find_map(|l| l.strip_prefix("password: "))
            .expect("generated password printed");
        let again = user_add("13800138000", "admin", Some("password1"));
        assert!(!again.status.success(), "a taken phone is refused");
        let bad = user_add("123", "envoy", Some("password1"));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("not a phone number"));
        assert!(cmd(dir.path(), &db.url)
            .arg("migrate")
            .status()
            .unwrap()
            .success());

        let (child, base) = start({
            let mut c = cmd(dir.path(), &db.url);
            c.arg("serve");
            c
        });
        let client = reqwest::Client::new();
        let health: serde_json::Value = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let index = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(index.status(), 200);
        assert!(index.text().await.unwrap().contains("<html"));
        let docs = client
            .get(format!("{base}/api/docs"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(docs.contains("openapi.json"));
        let body = login(&client, &base, "13800138000", password).await;
        assert_eq!(body["user"]["role"], "commander", "{body}");
        stop(child);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_seeds_a_district_and_can_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut demo_team: Option<String> = None;
    for _ in 0..2 {
        // positions are stamped by this machine's clock too; a second of slack for rounding
        let started = SystemClock.now() - chrono::Duration::seconds(1);
        let (child, base) = start({
            let mut c = cmd(dir.path(), &db);
            c.arg("demo");
            c
        });
        let client = reqwest::Client::new();
        let commander = login(&client, &base, "13800000001", "peace-demo-2026").await;
        let token = commander["token"].as_str().expect("demo commander logs in");
        let tasks = json_of(
            client
                .get(format!(
                    "{base}/api/v1/tasks?near=23.1066,113.3245&radius_m=10000"
                ))
                .bearer_auth(token),
        )
        .await;
        let tasks = tasks["tasks"].as_array().unwrap();
        assert_eq!(
            tasks.len(),
            3,
            "three landmark tasks, not duplicated on restart: {tasks:?}"
        );
        assert_eq!(tasks[0]["distance_m"], 0.0, "Canton Tower's own task first");

        // The simulated crowd: the demo team patrols at Canton Tower, every member posting
        // positions, seen by its leader through the API; a restart keeps the same team walking.
        // The test waits on the server's events: the team's start (to its leader), and each
        // member's positions (to the command centre).
        let leader = login(&client, &base, "13900000001", "peace-demo-2026").await;
        let leader = leader["token"].as_str().expect("demo leader logs in");
        let mut team_events = events(&client, &base, leader, "").await;
        let mut positions = events(&client, &base, token, "?positions=1").await;
        let mut members = std::collections::HashSet::new();
        for phone in ["13900000001", "13900000002", "13900000003"] {
            let envoy = login(&client, &base, phone, "peace-demo-2026").await;
            members.insert(envoy["user"]["id"].as_str().expect("an id").to_owned());
        }
        let me = json_of(client.get(format!("{base}/api/v1/me")).bearer_auth(leader)).await;
        let active = match me["current_team_id"].as_str() {
            Some(team) => {
                let t = json_of(
                    client
                        .get(format!("{base}/api/v1/teams/{team}"))
                        .bearer_auth(leader),
                )
                .await;
                (t["state"] == "active").then(|| team.to_owned())
            }
            None => None,
        };
        let team = match active {
            Some(team) => team,
            None => wait_for_event(
                &mut team_events,
                Duration::from_secs(30),
                "the demo team to start",
                |event, d| event == "team" && d["state"] == "active",
            )
            .await["team_id"]
                .as_str()
                .expect("the team's id")
                .to_owned(),
        };
        wait_for_event(
            &mut positions,
            Duration::from_secs(30),
            "each member of the demo team to post a position",
            |event, d| {
                if event == "positions" {
                    for p in d["points"].as_array().into_iter().flatten() {
                        let fresh = serde_json::from_value::<chrono::DateTime<chrono::Utc>>(
                            p["ts"].clone(),
                        )
                        .is_ok_and(|ts| ts >= started);
                        if fresh {
                            members.remove(p["user_id"].as_str().unwrap_or_default());
                        }
                    }
                }
                members.is_empty()
            },
        )
        .await;
        let progress = json_of(
            client
                .get(format!("{base}/api/v1/teams/{team}/progress"))
                .bearer_auth(leader),
        )
        .await;
        assert_eq!(progress["state"], "active", "{progress}");
        let walking = progress["members"].as_array().cloned().unwrap_or_default();
        assert_eq!(walking.len(), 3, "{progress}");
        assert!(
            walking.iter().all(|m| {
                serde_json::from_value::<chrono::DateTime<chrono::Utc>>(m["last_seen"].clone())
                    .is_ok_and(|seen| seen >= started)
            }),
            "every member posting: {progress}"
        );
        // the crowd filed its reports through the API once (a restart files none again)
        let reports = json_of(
            client
                .get(format!("{base}/api/v1/incidents"))
                .bearer_auth(token),
        )
        .await;
        let reports = reports["incidents"].as_array().expect("the incident list");
        assert_eq!(reports.len(), 4, "the demo's reports: {reports:?}");
        assert!(reports.iter().any(|r| r["category"] == "bike_parking"
            && r["department"] == "urban_management"
            && r["photos"].as_array().is_some_and(|p| p.len() == 1)));
        if let Some(previous) = &demo_team {
            assert_eq!(&team, previous, "a restart keeps the same team patrolling");
        } else {
            // the crowd's phones answer a dispatch: within 90 s some accept, as the command
            // centre hears
            let mut command = events(&client, &base, token, "").await;
            let opened = json_of(
                client
                    .post(format!("{base}/api/v1/dispatches"))
                    .bearer_auth(token)
                    .json(
                        &serde_json::json!({"lat": 23.1066, "lng": 113.3245, "radius_m": 800,
                    "needed": 5, "message": "smoke test: lost child"}),
                    ),
            )
            .await;
            let id = opened["id"]
                .as_str()
                .expect("the dispatch opens")
                .to_owned();
            assert!(
                !opened["recipients"].as_array().unwrap().is_empty(),
                "crowd envoys near Canton Tower are alerted: {opened}"
            );
            wait_for_event(
                &mut command,
                Duration::from_secs(90),
                "a simulated envoy to accept",
                |event, d| {
                    event == "dispatch"
                        && d["id"] == id.as_str()
                        && d["counts"]["accepted"].as_u64().unwrap_or(0) >= 1
                },
            )
            .await;
            let closed = client
                .post(format!("{base}/api/v1/dispatches/{id}/close"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(closed.status(), 200);
        }
        demo_team = Some(team);
        stop(child);
    }
}

/// Registers (when `register`) and logs in envoy `phone` over HTTP; returns the token.
async fn envoy_token(client: &reqwest::Client, base: &str, phone: &str, register: bool) -> String {
    let account = serde_json::json!({"phone": phone, "name": "巡逻员", "password": "password1"});
    if register {
        let res = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&account)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    login(client, base, phone, "password1").await["token"]
        .as_str()
        .expect("the envoy logs in")
        .to_owned()
}

/// Sends a request and reads its JSON answer.
async fn json_of(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// `POST /auth/login`; returns the answer's body (with `token` when it worked).
async fn login(
    client: &reqwest::Client,
    base: &str,
    phone: &str,
    password: &str,
) -> serde_json::Value {
    json_of(
        client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"phone": phone, "password": password})),
    )
    .await
}

/// `POST /positions`, expecting 200; returns `(accepted, duplicates)`.
async fn post_batch(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    points: &serde_json::Value,
) -> (u64, u64) {
    let res = client
        .post(format!("{base}/api/v1/positions"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "points": points }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["rejected"], serde_json::json!([]), "{body}");
    (
        body["accepted"].as_u64().unwrap(),
        body["duplicates"].as_u64().unwrap(),
    )
}

/// An acknowledged batch is in the database: after `kill -9` right after the answer, the
/// restarted server holds every point, so the same batch is all duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_positions_survive_kill_9_on_both_databases() {
    use std::os::unix::process::ExitStatusExt as _;
    for b in backends() {
        let db = TestDb::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        let serve = || {
            let mut c = cmd(dir.path(), &db.url);
            c.arg("serve");
            c
        };
        let client = reqwest::Client::new();
        // 200 points, one a second, up to a second ago (the server's clock is the real one)
        let now = SystemClock.now();
        let points: serde_json::Value = (0..200)
            .map(|i| {
                serde_json::json!({
                    "ts": (now - chrono::Duration::seconds(200 - i)).to_rfc3339(),
                    "lat": 23.1066,
                    "lng": 113.3245,
                    "accuracy_m": 5.0,
                })
            })
            .collect();

        let (mut child, base) = start(serve());
        let token = envoy_token(&client, &base, "13900000001", true).await;
        assert_eq!(
            post_batch(&client, &base, &token, &points).await,
            (200, 0),
            "on {b:?}"
        );
        child.kill().unwrap(); // SIGKILL: no shutdown, no flush, no checkpoint
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "killed, not exited: {status}");

        let (child, base) = start(serve());
        let token = envoy_token(&client, &base, "13900000001", false).await;
        assert_eq!(
            post_batch(&client, &base, &token, &points).await,
            (0, 200),
            "every acknowledged point survived on {b:?}"
        );
        stop(child);
    }
}
