//! [`TestApp`]'s helpers for what the tests do over the API: accounts and sign-in, tasks,
//! teams, positions, patrols, wallets.

use chrono::Duration;
use pp_domain::account::{NewUser, Phone};
use pp_domain::time::Timestamp;
use pp_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::data::*;
use super::{Resp, TestApp};

impl TestApp {
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
