//! The store's conformance suite: every test runs on SQLite and on PostgreSQL
//! (`PEACEPATROL_TEST_PG`, see `pp_store::testing`).
#![allow(clippy::unwrap_used, reason = "tests")]

use chrono::{Duration, TimeZone, Utc};
use pp_domain::account::{NewUser, Phone};
use pp_domain::task::{NewTask, Task, TaskStatus};
use pp_domain::team::{LeaveOutcome, MemberRole, TeamState};
use pp_domain::time::Timestamp;
use pp_domain::{Role, UserId};
use pp_geo::LatLng;
use pp_store::testing::{backends, TestDb};
use pp_store::{JoinOutcome, Store, StoreError, TaskFilter, User};
use std::sync::Arc;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap()
}

fn new_user(i: u32, role: Role) -> NewUser {
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

async fn user(store: &Arc<dyn Store>, i: u32, role: Role) -> User {
    store.create_user(&new_user(i, role), now()).await.unwrap()
}

async fn task(store: &Arc<dyn Store>, by: UserId, max_teams: u32, team_max: u32) -> Task {
    let t = Task::publish(
        NewTask {
            title: "Canton Tower patrol".into(),
            place: "Canton Tower".into(),
            description: "evening crowd".into(),
            area: serde_json::json!({"type": "Circle", "center": [113.3245, 23.1066], "radius_m": 300}),
            starts_at: now() - Duration::hours(1),
            ends_at: now() + Duration::hours(3),
            patrol_minutes: 30,
            team_min: 3,
            team_max,
            max_teams,
            reward_points: 10,
            reward_fund_cents: 500,
        },
        by,
        now(),
    )
    .unwrap();
    store.insert_task(&t).await.unwrap();
    t
}

fn code(e: StoreError) -> String {
    match e {
        StoreError::Domain(d) => d.code().to_owned(),
        StoreError::Conflict(c) => c.to_owned(),
        StoreError::NotFound(k) => format!("not_found:{k}"),
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn accounts_and_sessions() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let u = user(&store, 1, Role::Envoy).await;
        assert_eq!(u.phone.as_str(), "+8613900000001");
        assert_eq!(store.user(u.id).await.unwrap(), u);
        assert_eq!(
            code(
                store
                    .create_user(&new_user(1, Role::Admin), now())
                    .await
                    .unwrap_err()
            ),
            "phone_taken"
        );
        let (found, hash) = store.user_credentials(&u.phone).await.unwrap().unwrap();
        assert_eq!(found.id, u.id);
        assert!(pp_domain::account::verify_password("password1", &hash));
        assert!(store
            .user_credentials(&Phone::parse("13700000000").unwrap())
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            code(store.user(UserId::new()).await.unwrap_err()),
            "not_found:user"
        );

        let token = pp_domain::account::session_token_hash("tok");
        store
            .create_session(&token, u.id, now(), now() + Duration::days(30))
            .await
            .unwrap();
        assert_eq!(
            store.session_user(&token, now()).await.unwrap().unwrap().id,
            u.id
        );
        assert!(
            store
                .session_user(&token, now() + Duration::days(31))
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(store.session_user(b"other", now()).await.unwrap().is_none());
        store.delete_session(&token).await.unwrap();
        assert!(
            store.session_user(&token, now()).await.unwrap().is_none(),
            "revoked"
        );

        // staff belong to a known department, named by code or name
        let mut staff = new_user(2, Role::Staff);
        staff.department = Some("Sanitation".into());
        assert_eq!(
            store
                .create_user(&staff, now())
                .await
                .unwrap()
                .department
                .as_deref(),
            Some("sanitation")
        );
        let mut bad = new_user(3, Role::Staff);
        bad.department = Some("fire brigade".into());
        assert_eq!(
            code(store.create_user(&bad, now()).await.unwrap_err()),
            "unknown_department"
        );
        assert!(
            store.user_credentials(&bad.phone).await.unwrap().is_none(),
            "nothing written"
        );

        let codes: Vec<String> = store
            .departments()
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.code)
            .collect();
        assert_eq!(codes, ["public_security", "sanitation", "urban_management"]);
        let s1 = store.secret("k", b"first").await.unwrap();
        assert_eq!(s1, b"first");
        assert_eq!(
            store.secret("k", b"second").await.unwrap(),
            b"first",
            "a secret is kept once made"
        );
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn tasks_list_and_close() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t1 = task(&store, cmd.id, 3, 5).await;
        let t2 = task(&store, cmd.id, 3, 5).await;
        assert_eq!(store.task(t1.id).await.unwrap(), t1, "round trip");
        let all = store.tasks(&TaskFilter::default()).await.unwrap();
        assert_eq!(
            all.iter().map(|t| t.task.id).collect::<Vec<_>>(),
            [t2.id, t1.id],
            "newest first"
        );
        let closed = store.close_task(t1.id, now()).await.unwrap();
        assert_eq!(closed.status, TaskStatus::Closed);
        assert_eq!(
            code(store.close_task(t1.id, now()).await.unwrap_err()),
            "task_closed"
        );
        let open = store
            .tasks(&TaskFilter {
                status: Some(TaskStatus::Open),
                ..TaskFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].task.id, t2.id);
        assert_eq!(
            store
                .tasks(&TaskFilter {
                    status: Some(TaskStatus::Closed),
                    ..TaskFilter::default()
                })
                .await
                .unwrap()[0]
                .task
                .id,
            t1.id
        );
        assert_eq!(
            code(store.task(pp_domain::TaskId::new()).await.unwrap_err()),
            "not_found:task"
        );
        let envoy = user(&store, 2, Role::Envoy).await;
        assert_eq!(
            code(store.claim_team(t1.id, envoy.id, now()).await.unwrap_err()),
            "task_closed"
        );
    }
}

#[tokio::test]
async fn team_lifecycle() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 2, 4).await;
        let e: Vec<User> = futures_join(&store, 2..9).await;
        let team = store.claim_team(t.id, e[0].id, now()).await.unwrap();
        assert_eq!(team.state, TeamState::Forming);
        assert_eq!(
            code(store.claim_team(t.id, e[0].id, now()).await.unwrap_err()),
            "already_in_team"
        );
        assert_eq!(store.current_team(e[0].id).await.unwrap(), Some(team.id));

        assert_eq!(
            store.join_team(team.id, e[1].id, now()).await.unwrap(),
            JoinOutcome::Joined
        );
        assert_eq!(
            store.join_team(team.id, e[1].id, now()).await.unwrap(),
            JoinOutcome::AlreadyMember
        );
        // start refused with 2 of 3 members
        let inside = LatLng::new(23.1066, 113.3245).unwrap();
        let outside = LatLng::new(23.12, 113.3245).unwrap();
        assert_eq!(
            code(
                store
                    .start_team(team.id, e[0].id, inside, "abc", now())
                    .await
                    .unwrap_err()
            ),
            "team_too_small"
        );
        store
            .join_team(team.id, e[2].id, now() + Duration::seconds(1))
            .await
            .unwrap();
        store
            .join_team(team.id, e[3].id, now() + Duration::seconds(2))
            .await
            .unwrap();
        assert_eq!(
            code(store.join_team(team.id, e[4].id, now()).await.unwrap_err()),
            "team_full"
        );

        // a second team; its leader cannot join the first
        let team2 = store.claim_team(t.id, e[4].id, now()).await.unwrap();
        assert_eq!(
            code(store.join_team(team.id, e[4].id, now()).await.unwrap_err()),
            "already_in_team"
        );
        assert_eq!(
            code(store.claim_team(t.id, e[5].id, now()).await.unwrap_err()),
            "no_team_slots"
        );
        let summaries = store.teams_of_task(t.id).await.unwrap();
        assert_eq!(
            summaries
                .iter()
                .map(|s| (s.id, s.members))
                .collect::<Vec<_>>(),
            [(team.id, 4), (team2.id, 1)]
        );

        // the leader removes a member; a non-leader cannot
        assert_eq!(
            code(
                store
                    .remove_member(team.id, e[1].id, e[2].id, now())
                    .await
                    .unwrap_err()
            ),
            "not_leader"
        );
        store
            .remove_member(team.id, e[0].id, e[3].id, now())
            .await
            .unwrap();
        assert_eq!(
            code(
                store
                    .remove_member(team.id, e[0].id, e[3].id, now())
                    .await
                    .unwrap_err()
            ),
            "not_found:member"
        );
        assert_eq!(store.current_team(e[3].id).await.unwrap(), None);
        store
            .join_team(team.id, e[3].id, now() + Duration::seconds(3))
            .await
            .unwrap();

        assert_eq!(
            code(
                store
                    .start_team(team.id, e[1].id, inside, "abc", now())
                    .await
                    .unwrap_err()
            ),
            "not_leader"
        );
        assert_eq!(
            code(
                store
                    .start_team(team.id, e[0].id, outside, "abc", now())
                    .await
                    .unwrap_err()
            ),
            "outside_area"
        );
        let started = store
            .start_team(team.id, e[0].id, inside, "abc", now())
            .await
            .unwrap();
        assert_eq!(started.state, TeamState::Active);
        let view = store.team(team.id).await.unwrap();
        assert_eq!(view.team, started, "what start returns is what was stored");
        assert_eq!(view.members.len(), 4);
        assert_eq!(view.members[0].role, MemberRole::Leader);
        assert_eq!(view.members[0].user_id, e[0].id);
        assert_eq!(
            code(store.join_team(team.id, e[6].id, now()).await.unwrap_err()),
            "team_not_forming"
        );

        // the leader of an active team leaves: the earliest member leads
        assert_eq!(
            store.leave_team(team.id, e[0].id, now()).await.unwrap(),
            LeaveOutcome::NewLeader(e[1].id)
        );
        let view = store.team(team.id).await.unwrap();
        assert_eq!(view.team.leader_id, e[1].id);
        assert_eq!(view.members[0].user_id, e[1].id);
        assert_eq!(
            code(store.leave_team(team.id, e[0].id, now()).await.unwrap_err()),
            "not_member"
        );

        // a team of one disbands when its leader leaves, freeing the slot
        assert_eq!(
            store.leave_team(team2.id, e[4].id, now()).await.unwrap(),
            LeaveOutcome::Disbanded
        );
        assert_eq!(
            store.team(team2.id).await.unwrap().team.state,
            TeamState::Disbanded
        );
        assert!(store.claim_team(t.id, e[5].id, now()).await.is_ok());
        assert_eq!(
            code(store.team(pp_domain::TeamId::new()).await.unwrap_err()),
            "not_found:team"
        );
    }
}

async fn futures_join(store: &Arc<dyn Store>, range: std::ops::Range<u32>) -> Vec<User> {
    let mut out = Vec::new();
    for i in range {
        out.push(user(store, i, Role::Envoy).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_joins_fill_a_team_of_five_exactly() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 1, 5).await;
        let envoys = futures_join(&store, 10..51).await;
        let team = store.claim_team(t.id, envoys[0].id, now()).await.unwrap();
        let handles: Vec<_> = envoys[1..]
            .iter()
            .map(|e| {
                let (store, id) = (store.clone(), e.id);
                tokio::spawn(async move { store.join_team(team.id, id, now()).await })
            })
            .collect();
        let mut joined = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(JoinOutcome::Joined) => joined += 1,
                Ok(JoinOutcome::AlreadyMember) => panic!("nobody joined twice"),
                Err(e) => assert_eq!(code(e), "team_full"),
            }
        }
        assert_eq!(joined, 4, "{b:?}");
        assert_eq!(store.team(team.id).await.unwrap().members.len(), 5, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_claims_make_exactly_max_teams() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 3, 5).await;
        let envoys = futures_join(&store, 10..30).await;
        let handles: Vec<_> = envoys
            .iter()
            .map(|e| {
                let (store, id) = (store.clone(), e.id);
                tokio::spawn(async move { store.claim_team(t.id, id, now()).await })
            })
            .collect();
        let mut teams = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => teams += 1,
                Err(e) => assert_eq!(code(e), "no_team_slots"),
            }
        }
        assert_eq!(teams, 3, "{b:?}");
        assert_eq!(store.teams_of_task(t.id).await.unwrap().len(), 3, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_envoy_racing_into_two_teams_ends_in_one() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 10, 5).await;
        let envoys = futures_join(&store, 10..20).await;
        let mut teams = Vec::new();
        for e in &envoys[..9] {
            teams.push(store.claim_team(t.id, e.id, now()).await.unwrap().id);
        }
        let racer = envoys[9].id;
        let handles: Vec<_> = teams
            .iter()
            .map(|&team| {
                let store = store.clone();
                tokio::spawn(async move { store.join_team(team, racer, now()).await })
            })
            .collect();
        let mut ok = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(code(e), "already_in_team"),
            }
        }
        assert_eq!(ok, 1, "{b:?}");
        assert!(store.current_team(racer).await.unwrap().is_some());
    }
}
