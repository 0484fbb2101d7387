//! What the tests of several capabilities build on: users, tasks, teams, points, dispatches,
//! reports and pending envoys, at a fixed `now`.

use chrono::{Duration, TimeZone, Utc};
use pp_domain::account::{NewUser, Phone};
use pp_domain::dispatch::{Dispatch, DispatchPolicy};
use pp_domain::incident::{Actor, Category, NewIncident};
use pp_domain::position::Position;
use pp_domain::task::{NewTask, Task};
use pp_domain::time::Timestamp;
use pp_domain::{Role, TeamId, UserId};
use pp_geo::LatLng;
use pp_store::{MemberOutcome, PositionBatch, Store, StoreError, User};
use std::sync::Arc;

pub(crate) fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap()
}

pub(crate) fn new_user(i: u32, role: Role) -> NewUser {
    // argon2 is slow on purpose; tests reuse one hash
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NewUser {
        phone: Phone::parse(&format!("139{i:08}")).unwrap(),
        name: format!("user {i}"),
        role,
        password_hash: HASH
            .get_or_init(|| pp_domain::account::hash_password("password1"))
            .clone(),
        department: None,
    }
}

pub(crate) async fn user(store: &Arc<dyn Store>, i: u32, role: Role) -> User {
    store.create_user(&new_user(i, role), now()).await.unwrap()
}

pub(crate) async fn staff(store: &Arc<dyn Store>, i: u32, department: &str) -> User {
    let mut u = new_user(i, Role::Staff);
    u.department = Some(department.to_owned());
    store.create_user(&u, now()).await.unwrap()
}

pub(crate) async fn futures_join(store: &Arc<dyn Store>, range: std::ops::Range<u32>) -> Vec<User> {
    let mut out = Vec::new();
    for i in range {
        out.push(user(store, i, Role::Envoy).await);
    }
    out
}

/// The ids of envoys made as [`futures_join`] makes them.
pub(crate) async fn envoy_ids(store: &Arc<dyn Store>, range: std::ops::Range<u32>) -> Vec<UserId> {
    futures_join(store, range)
        .await
        .into_iter()
        .map(|u| u.id)
        .collect()
}

pub(crate) async fn task(
    store: &Arc<dyn Store>,
    by: UserId,
    max_teams: u32,
    team_max: u32,
) -> Task {
    task_at(store, by, max_teams, team_max, now()).await
}

/// [`task`], published at `at` with its window around `at`.
pub(crate) async fn task_at(
    store: &Arc<dyn Store>,
    by: UserId,
    max_teams: u32,
    team_max: u32,
    at: Timestamp,
) -> Task {
    let t = Task::publish(
        NewTask {
            title: "Canton Tower patrol".into(),
            place: "Canton Tower".into(),
            description: "evening crowd".into(),
            area: serde_json::json!({"type": "Circle", "center": [113.3245, 23.1066], "radius_m": 300}),
            starts_at: at - Duration::hours(1),
            ends_at: at + Duration::hours(3),
            patrol_minutes: 30,
            team_min: 3,
            team_max,
            max_teams,
            reward_points: 10,
            reward_fund_cents: 500,
        },
        by,
        at,
    )
    .unwrap();
    store.insert_task(&t).await.unwrap();
    t
}

/// Claims a team of `task` for `members[0]`, joins the others and starts it at the tower.
pub(crate) async fn started_team(
    store: &Arc<dyn Store>,
    task: &Task,
    members: &[UserId],
) -> TeamId {
    started_team_at(store, task, members, now()).await
}

/// [`started_team`], claimed and started at `at` (joins a second apart before it).
pub(crate) async fn started_team_at(
    store: &Arc<dyn Store>,
    task: &Task,
    members: &[UserId],
    at: Timestamp,
) -> TeamId {
    let claimed = at - Duration::minutes(5);
    let team = store
        .claim_team(task.id, members[0], claimed)
        .await
        .unwrap();
    for (i, &m) in members[1..].iter().enumerate() {
        store
            .join_team(team.id, m, claimed + Duration::seconds(i as i64 + 1))
            .await
            .unwrap();
    }
    store
        .start_team(team.id, members[0], tower(), "abc", at)
        .await
        .unwrap();
    team.id
}

pub(crate) fn outcome(user_id: UserId, minutes: i64, qualified: bool) -> MemberOutcome {
    MemberOutcome {
        user_id,
        patrol_ms: minutes * 60_000,
        qualified,
    }
}

pub(crate) fn tower() -> LatLng {
    LatLng::new(23.1066, 113.3245).unwrap()
}

/// `m` metres north of the tower.
pub(crate) fn north(m: f64) -> Option<LatLng> {
    Some(LatLng::new(23.1066 + m / 111_195.08, 113.3245).unwrap())
}

/// A point `north_m` metres north of Canton Tower, `secs` after [`now`].
pub(crate) fn pos(secs: i64, north_m: f64, flagged: bool) -> Position {
    Position {
        ts: now() + Duration::seconds(secs),
        at: LatLng::new(23.1066 + north_m / 111_195.08, 113.3245).unwrap(),
        accuracy_m: 8.5,
        flagged,
    }
}

pub(crate) fn batch(user: UserId, points: &[Position]) -> PositionBatch {
    PositionBatch::new(user, points.to_vec())
}

pub(crate) async fn open_dispatch(
    store: &Arc<dyn Store>,
    by: UserId,
    needed: u32,
    at: Timestamp,
) -> Dispatch {
    let d = Dispatch::open(
        by,
        tower(),
        500.0,
        needed,
        "a child is lost at the east gate",
        DispatchPolicy::default(),
        at,
    )
    .unwrap();
    store.create_dispatch(&d).await.unwrap();
    d
}

pub(crate) fn actor(u: &User) -> Actor<'_> {
    Actor {
        id: u.id,
        role: u.role,
        department: u.department.as_deref(),
    }
}

pub(crate) fn report(category: Category, description: &str) -> NewIncident<'_> {
    NewIncident {
        category,
        description,
        at: tower(),
        team_id: None,
        photos: vec![format!("{}.jpg", "ab".repeat(32))],
        media_url: None,
    }
}

pub(crate) fn pending(i: u32, code: &str) -> pp_store::PendingEnvoy {
    pp_store::PendingEnvoy {
        phone: Phone::parse(&format!("135{i:08}")).unwrap(),
        name: format!("imported {i}"),
        code_hash: code.as_bytes().to_vec(),
    }
}

pub(crate) fn code(e: StoreError) -> String {
    match e {
        StoreError::Domain(d) => d.code().to_owned(),
        StoreError::Conflict(c) => c.to_owned(),
        StoreError::NotFound(k) => format!("not_found:{k}"),
        other => panic!("unexpected error {other:?}"),
    }
}
