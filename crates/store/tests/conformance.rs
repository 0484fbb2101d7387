//! The store's conformance suite: every test runs on SQLite and on PostgreSQL
//! (`PEACEPATROL_TEST_PG`, see `pp_store::testing`).
#![allow(clippy::unwrap_used, reason = "tests")]

use chrono::{Duration, TimeZone, Utc};
use pp_domain::account::{NewUser, Phone};
use pp_domain::dispatch::{Dispatch, DispatchPolicy, DispatchState, RecipientState};
use pp_domain::incident::{Actor, Category, IncidentStatus, NewIncident, TimelineKind};
use pp_domain::ledger::{self, LedgerKind, LedgerSource};
use pp_domain::position::Position;
use pp_domain::task::{NewTask, Task, TaskStatus};
use pp_domain::team::{LeaveOutcome, MemberRole, TeamState};
use pp_domain::time::Timestamp;
use pp_domain::{IncidentId, Role, TeamId, UserId};
use pp_geo::LatLng;
use pp_store::testing::{backends, Backend, TestDb};
use pp_store::{
    DispatchFilter, DispatchView, IncidentChange, IncidentFilter, JoinOutcome, LatestPosition,
    LeaderRow, MemberOutcome, PositionBatch, PurgeStep, Store, StoreError, TaskFilter, User,
};
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
    task_at(store, by, max_teams, team_max, now()).await
}

/// [`task`], published at `at` with its window around `at`.
async fn task_at(
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

/// The ids of envoys made as [`futures_join`] makes them.
async fn envoy_ids(store: &Arc<dyn Store>, range: std::ops::Range<u32>) -> Vec<UserId> {
    futures_join(store, range)
        .await
        .into_iter()
        .map(|u| u.id)
        .collect()
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

/// A point `north_m` metres north of Canton Tower, `secs` after [`now`].
fn pos(secs: i64, north_m: f64, flagged: bool) -> Position {
    Position {
        ts: now() + Duration::seconds(secs),
        at: LatLng::new(23.1066 + north_m / 111_195.08, 113.3245).unwrap(),
        accuracy_m: 8.5,
        flagged,
    }
}

fn batch(user: UserId, points: &[Position]) -> PositionBatch {
    PositionBatch::new(user, points.to_vec())
}

fn latest_of(latest: &[LatestPosition], user: UserId) -> Option<Position> {
    latest.iter().find(|l| l.user == user).map(|l| l.position)
}

#[tokio::test]
async fn positions_append_latest_and_purge() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let (a, c) = (
            user(&store, 1, Role::Envoy).await.id,
            user(&store, 2, Role::Envoy).await.id,
        );
        assert!(store.append_positions(&[]).await.unwrap().is_empty());
        assert_eq!(
            store.append_positions(&[batch(a, &[])]).await.unwrap(),
            [Vec::<bool>::new()]
        );

        // two envoys in one call
        let fresh = store
            .append_positions(&[
                batch(
                    a,
                    &[
                        pos(0, 0.0, false),
                        pos(10, 50.0, false),
                        pos(20, 100.0, false),
                    ],
                ),
                batch(c, &[pos(0, 0.0, false), pos(10, 20.0, false)]),
            ])
            .await
            .unwrap();
        assert_eq!(fresh, [vec![true; 3], vec![true; 2]], "{b:?}");
        // a retry overlapping what is stored: only the extra point is new, and the stored
        // point is kept as it was
        let fresh = store
            .append_positions(&[batch(
                a,
                &[
                    pos(10, 999.0, false),
                    pos(20, 100.0, false),
                    pos(30, 150.0, false),
                ],
            )])
            .await
            .unwrap();
        assert_eq!(fresh, [vec![false, false, true]], "{b:?}");
        // one point twice in one call: new the first time only
        let fresh = store
            .append_positions(&[
                batch(c, &[pos(40, 40.0, false)]),
                batch(c, &[pos(40, 40.0, false), pos(50, 60.0, false)]),
            ])
            .await
            .unwrap();
        assert_eq!(fresh, [vec![true], vec![false, true]], "{b:?}");
        // a later flagged point and a late older one do not move the latest point
        let fresh = store
            .append_positions(&[batch(a, &[pos(5, 25.0, false), pos(40, 9000.0, true)])])
            .await
            .unwrap();
        assert_eq!(fresh, [vec![true, true]], "{b:?}");

        let track = store
            .positions(a, now(), now() + Duration::seconds(40))
            .await
            .unwrap();
        assert_eq!(
            track,
            [
                pos(0, 0.0, false),
                pos(5, 25.0, false),
                pos(10, 50.0, false),
                pos(20, 100.0, false),
                pos(30, 150.0, false),
                pos(40, 9000.0, true),
            ],
            "ascending, flagged kept, {b:?}"
        );
        let window = store
            .positions(
                a,
                now() + Duration::seconds(10),
                now() + Duration::seconds(20),
            )
            .await
            .unwrap();
        assert_eq!(window, [pos(10, 50.0, false), pos(20, 100.0, false)]);
        assert!(store
            .positions(UserId::new(), now(), now() + Duration::hours(1))
            .await
            .unwrap()
            .is_empty());

        let latest = store.latest_positions(now()).await.unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest_of(&latest, a), Some(pos(30, 150.0, false)), "{b:?}");
        assert_eq!(latest_of(&latest, c), Some(pos(50, 60.0, false)), "{b:?}");
        let recent = store
            .latest_positions(now() + Duration::seconds(50))
            .await
            .unwrap();
        assert_eq!(recent.len(), 1, "since filters, {b:?}");
        assert_eq!(recent[0].user, c);
        assert!(store
            .latest_positions(now() + Duration::seconds(51))
            .await
            .unwrap()
            .is_empty());

        // purge: a sweep envoy by envoy (by id), `users` per step; the latest points stay
        // stored: a 0 5 10 20 30 40, c 0 10 40 50
        let before = now() + Duration::seconds(35);
        let all = |u| store.positions(u, now(), now() + Duration::hours(1));
        let ts = |t: Vec<Position>| {
            t.iter()
                .map(|p| (p.ts - now()).num_seconds())
                .collect::<Vec<_>>()
        };
        let (first, second) = if a.0 < c.0 { (a, c) } else { (c, a) };
        let step = store.purge_positions(before, None, 1).await.unwrap();
        assert_eq!(
            step.next,
            Some(first),
            "one envoy per step, in id order, {b:?}"
        );
        assert_eq!(step.deleted, if first == a { 5 } else { 2 }, "{b:?}");
        let step = store.purge_positions(before, step.next, 1).await.unwrap();
        assert_eq!(step.next, Some(second), "{b:?}");
        assert_eq!(step.deleted, if second == a { 5 } else { 2 }, "{b:?}");
        let step = store.purge_positions(before, step.next, 1).await.unwrap();
        assert_eq!(
            step,
            PurgeStep {
                deleted: 0,
                next: None
            },
            "the sweep ends, {b:?}"
        );
        assert_eq!(ts(all(a).await.unwrap()), [40]);
        assert_eq!(ts(all(c).await.unwrap()), [40, 50]);
        // a second sweep, all envoys in one step, finds nothing left
        let step = store.purge_positions(before, None, 10).await.unwrap();
        assert_eq!(
            step,
            PurgeStep {
                deleted: 0,
                next: None
            },
            "{b:?}"
        );
        // a later cut-off purges the newer points too
        let step = store
            .purge_positions(before + Duration::seconds(10), None, 2)
            .await
            .unwrap();
        assert_eq!(step.deleted, 2, "{b:?}");
        assert_eq!(
            step.next,
            Some(second),
            "a full step may have more after it, {b:?}"
        );
        assert!(all(a).await.unwrap().is_empty());
        assert_eq!(ts(all(c).await.unwrap()), [50]);
        assert_eq!(
            store.latest_positions(now()).await.unwrap(),
            latest,
            "latest points are not purged, {b:?}"
        );
    }
}

#[tokio::test]
async fn positions_of_many_envoys_in_one_call() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        // 12 batches of 500: more points than one statement carries
        let users: Vec<UserId> = (0..12).map(|_| UserId::new()).collect();
        let track = |from: i64| -> Vec<Position> {
            (from..from + 500)
                .map(|i| pos(i, i as f64, i % 100 == 49))
                .collect()
        };
        let batches: Vec<PositionBatch> = users.iter().map(|&u| batch(u, &track(0))).collect();
        let fresh = store.append_positions(&batches).await.unwrap();
        assert!(fresh.iter().all(|f| f.len() == 500 && f.iter().all(|&n| n)));
        // the same again, half of it overlapping
        let batches: Vec<PositionBatch> = users.iter().map(|&u| batch(u, &track(250))).collect();
        let fresh = store.append_positions(&batches).await.unwrap();
        for f in &fresh {
            assert_eq!(f.iter().filter(|&&n| n).count(), 250, "{b:?}");
            assert!(f[..250].iter().all(|&n| !n) && f[250..].iter().all(|&n| n));
        }
        let latest = store.latest_positions(now()).await.unwrap();
        assert_eq!(latest.len(), 12);
        // 749 is flagged (749 % 100 == 49): 748 is the latest unflagged point
        for l in &latest {
            assert_eq!(l.position, pos(748, 748.0, false), "{b:?}");
        }
        assert_eq!(
            store
                .positions(users[3], now(), now() + Duration::hours(1))
                .await
                .unwrap()
                .len(),
            750
        );
        // several envoys' tracks in one call: per envoy, ascending, within the bounds; an
        // envoy without points is absent
        let stranger = UserId::new();
        let mut asked = users[..3].to_vec();
        asked.push(stranger);
        let tracks = store
            .tracks(
                &asked,
                now() + Duration::seconds(10),
                now() + Duration::seconds(19),
            )
            .await
            .unwrap();
        assert_eq!(tracks.len(), 3, "{b:?}");
        assert!(!tracks.contains_key(&stranger), "{b:?}");
        for u in &users[..3] {
            let ts: Vec<i64> = tracks[u]
                .iter()
                .map(|p| (p.ts - now()).num_seconds())
                .collect();
            assert_eq!(ts, (10..20).collect::<Vec<_>>(), "{b:?}");
        }
    }
}

/// Position appends and other writes at once (on SQLite two write connections, each waiting
/// for the other's write lock): every one commits, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_beside_claims_and_joins_all_commit() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 3, 5).await;
        let envoys = envoy_ids(&store, 10..30).await;
        let appends: Vec<_> = envoys
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move {
                    for k in 0..10 {
                        let points: Vec<Position> =
                            (0..5).map(|j| pos(k * 5 + j, j as f64, false)).collect();
                        let new = store.append_positions(&[batch(id, &points)]).await?;
                        assert_eq!(new, vec![vec![true; 5]]);
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        let claims: Vec<_> = envoys
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move { store.claim_team(t.id, id, now()).await })
            })
            .collect();
        for h in appends {
            h.await.unwrap().unwrap();
        }
        let mut teams = 0;
        for h in claims {
            match h.await.unwrap() {
                Ok(_) => teams += 1,
                Err(e) => assert_eq!(code(e), "no_team_slots", "{b:?}"),
            }
        }
        assert_eq!(teams, 3, "{b:?}");
        let tracks = store
            .tracks(&envoys, now(), now() + Duration::seconds(60))
            .await
            .unwrap();
        for id in &envoys {
            assert_eq!(tracks[id].len(), 50, "{b:?}");
        }
        let latest = store.latest_positions(now()).await.unwrap();
        for &id in &envoys {
            assert_eq!(
                latest_of(&latest, id).unwrap().ts,
                now() + Duration::seconds(49)
            );
        }
    }
}

/// Holds the write lock another way than the store does (`lock`, on `other`), starts an append,
/// checks that it waits, lets go, and checks that it commits.
async fn append_behind<C>(mut other: C, lock: &[&str], store: &Arc<dyn Store>, envoy: UserId)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    use sqlx::Executor;
    for sql in lock {
        (&mut other).execute(*sql).await.unwrap();
    }
    let append = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append_positions(&[batch(envoy, &[pos(1, 0.0, false)])])
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!append.is_finished(), "the append waits for the lock");
    (&mut other).execute("COMMIT").await.unwrap();
    assert_eq!(append.await.unwrap().unwrap(), vec![vec![true]]);
}

/// A position append waits for another writer's transaction, then commits. The runtime has one
/// thread: on SQLite the appender waits in async pauses, leaving it to the other writer.
#[tokio::test]
async fn an_append_waits_for_another_writers_transaction() {
    for b in backends() {
        let (db, store) = TestDb::store(b).await;
        let envoy = user(&store, 1, Role::Envoy).await.id;
        match b {
            Backend::Sqlite => {
                let other = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                    .await
                    .unwrap();
                append_behind(other, &["BEGIN IMMEDIATE"], &store, envoy).await;
            }
            Backend::Postgres => {
                let other = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                    .await
                    .unwrap();
                let lock = ["BEGIN", "LOCK TABLE positions IN EXCLUSIVE MODE"];
                append_behind(other, &lock, &store, envoy).await;
            }
        }
        let tracks = store
            .tracks(&[envoy], now(), now() + Duration::seconds(5))
            .await
            .unwrap();
        assert_eq!(tracks[&envoy].len(), 1, "{b:?}");
    }
}

/// Claims a team of `task` for `members[0]`, joins the others and starts it at the tower.
async fn started_team(store: &Arc<dyn Store>, task: &Task, members: &[UserId]) -> TeamId {
    started_team_at(store, task, members, now()).await
}

/// [`started_team`], claimed and started at `at` (joins a second apart before it).
async fn started_team_at(
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

fn outcome(user_id: UserId, minutes: i64, qualified: bool) -> MemberOutcome {
    MemberOutcome {
        user_id,
        patrol_ms: minutes * 60_000,
        qualified,
    }
}

#[tokio::test]
async fn finishing_a_patrol_credits_the_qualified_once() {
    for b in backends() {
        let (db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 2, 5).await;
        let e = envoy_ids(&store, 2..7).await;
        let team = started_team(&store, &t, &e[..3]).await;
        let forming = store.claim_team(t.id, e[3], now()).await.unwrap().id;
        let outcomes = [
            outcome(e[0], 35, true),
            outcome(e[1], 31, true),
            outcome(e[2], 12, false),
            outcome(e[4], 40, true), // not a member: ignored
        ];
        let later = now() + Duration::minutes(40);

        assert_eq!(
            code(
                store
                    .finish_team(team, Some(e[1]), &outcomes, later)
                    .await
                    .unwrap_err()
            ),
            "not_leader"
        );
        assert_eq!(
            code(
                store
                    .finish_team(team, None, &outcomes, later)
                    .await
                    .unwrap_err()
            ),
            "window_open"
        );
        assert_eq!(
            code(
                store
                    .finish_team(forming, Some(e[3]), &[], later)
                    .await
                    .unwrap_err()
            ),
            "team_not_active"
        );
        assert_eq!(
            code(
                store
                    .finish_team(TeamId::new(), None, &[], later)
                    .await
                    .unwrap_err()
            ),
            "not_found:team"
        );
        assert!(store.overdue_teams(later).await.unwrap().is_empty());
        assert_eq!(store.overdue_teams(t.ends_at).await.unwrap(), [team]);
        assert!(store.team_outcomes(team).await.unwrap().is_empty());

        let done = store
            .finish_team(team, Some(e[0]), &outcomes, later)
            .await
            .unwrap();
        assert!(!done.already_finished);
        assert_eq!(done.team.state, TeamState::Finished);
        assert_eq!(done.team.finished_at, Some(later));
        assert_eq!(store.team(team).await.unwrap().team, done.team);
        assert_eq!(done.members, outcomes[..3]);
        let credited: Vec<(UserId, LedgerKind, i64)> = done
            .credited
            .iter()
            .map(|c| (c.user_id, c.kind, c.amount))
            .collect();
        assert_eq!(
            credited,
            [
                (e[0], LedgerKind::Points, 10),
                (e[0], LedgerKind::Fund, 500),
                (e[1], LedgerKind::Points, 10),
                (e[1], LedgerKind::Fund, 500),
            ],
            "{b:?}"
        );
        assert!(done.credited.iter().all(|c| c.team_id == Some(team)
            && c.source == LedgerSource::Award
            && c.created_by.is_none()
            && c.created_at == later
            && c.reason.contains("Canton Tower patrol")));

        let w = store.wallet(e[0], 10).await.unwrap();
        assert_eq!((w.points, w.fund_cents), (10, 500));
        assert_eq!(w.entries.len(), 2);
        let w2 = store.wallet(e[2], 10).await.unwrap();
        assert_eq!((w2.points, w2.fund_cents, w2.entries.len()), (0, 0, 0));
        assert_eq!(store.team_outcomes(team).await.unwrap(), outcomes[..3]);
        // the members are free for another patrol
        assert_eq!(store.current_team(e[0]).await.unwrap(), None);
        assert!(store.overdue_teams(t.ends_at).await.unwrap().is_empty());

        // finishing again changes nothing
        for by in [Some(e[0]), None] {
            let again = store
                .finish_team(team, by, &outcomes, t.ends_at)
                .await
                .unwrap();
            assert!(again.already_finished);
            assert!(again.credited.is_empty());
            assert_eq!(again.team, done.team);
            assert_eq!(again.members, done.members);
        }
        assert_eq!(store.wallet(e[0], 10).await.unwrap(), w, "{b:?}");
        assert!(store.team_outcomes(forming).await.unwrap().is_empty());

        // past the store, the ledger itself refuses a second award of a kind for one patrol
        let fresh_id = match b {
            Backend::Sqlite => "randomblob(16)",
            Backend::Postgres => "md5(random()::text)::uuid",
        };
        let copy = |source: &str| {
            format!(
                "INSERT INTO ledger (id, user_id, kind, amount, reason, team_id, source, created_by, created_at)
                 SELECT {fresh_id}, user_id, kind, amount, reason, team_id, '{source}', created_by, created_at
                 FROM ledger WHERE source = 'award' LIMIT 1"
            )
        };
        let e = raw_execute(&db, &copy("award")).await.unwrap_err();
        assert!(
            matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()),
            "{b:?}: {e}"
        );
        assert_eq!(raw_execute(&db, &copy("correction")).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_finishes_credit_once() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 1, 5).await;
        let e = envoy_ids(&store, 2..6).await;
        let team = started_team(&store, &t, &e).await;
        // e[3] has no outcome: none is stored for them but zero, and they do not qualify
        let outcomes = vec![
            outcome(e[0], 30, true),
            outcome(e[1], 45, true),
            outcome(e[2], 29, false),
        ];
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (store, outcomes) = (store.clone(), outcomes.clone());
                let by = if i % 2 == 0 { Some(e[0]) } else { None };
                tokio::spawn(async move { store.finish_team(team, by, &outcomes, t.ends_at).await })
            })
            .collect();
        let mut first = 0;
        let mut credited = 0;
        for h in handles {
            let done = h.await.unwrap().unwrap();
            if !done.already_finished {
                first += 1;
            }
            credited += done.credited.len();
            assert_eq!(done.members.len(), 4);
            assert_eq!(done.members[3], outcome(e[3], 0, false));
        }
        assert_eq!((first, credited), (1, 4), "{b:?}");
        for (m, expect) in [
            (e[0], (10, 500)),
            (e[1], (10, 500)),
            (e[2], (0, 0)),
            (e[3], (0, 0)),
        ] {
            let w = store.wallet(m, 10).await.unwrap();
            assert_eq!((w.points, w.fund_cents), expect, "{b:?}");
        }
        assert_eq!(store.wallet(e[0], 10).await.unwrap().entries.len(), 2);
    }
}

/// Runs one statement on the test database through a connection of its own, past the store.
async fn raw_execute(db: &TestDb, sql: &str) -> Result<u64, sqlx::Error> {
    match db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await?;
            let done = sqlx::query(sql).execute(&pool).await;
            pool.close().await;
            done.map(|d| d.rows_affected())
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await?;
            let done = sqlx::query(sql).execute(&pool).await;
            pool.close().await;
            done.map(|d| d.rows_affected())
        }
    }
}

#[tokio::test]
async fn the_ledger_is_append_only() {
    for b in backends() {
        let (db, store) = TestDb::store(b).await;
        let admin = user(&store, 1, Role::Admin).await.id;
        let u = user(&store, 2, Role::Envoy).await.id;
        let fix = ledger::correction(u, LedgerKind::Points, 7, "welcome", admin).unwrap();
        store.add_correction(&fix, now()).await.unwrap();
        for sql in ["UPDATE ledger SET amount = 0", "DELETE FROM ledger"] {
            let e = raw_execute(&db, sql).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{b:?} {sql}: {e}");
        }
        if b == Backend::Postgres {
            // PostgreSQL's trigger is statement-level: it refuses even a write that matches no
            // row, and TRUNCATE (SQLite's triggers are per row and it has no TRUNCATE)
            for sql in [
                "UPDATE ledger SET amount = 0 WHERE amount = 12345",
                "TRUNCATE ledger",
            ] {
                let e = raw_execute(&db, sql).await.unwrap_err();
                assert!(e.to_string().contains("append-only"), "{sql}: {e}");
            }
        }
        // other tables still take updates through a raw connection
        assert_eq!(
            raw_execute(&db, "UPDATE users SET name = 'x' WHERE name = 'nobody'")
                .await
                .unwrap(),
            0
        );
        let w = store.wallet(u, 10).await.unwrap();
        assert_eq!((w.points, w.entries.len()), (7, 1), "{b:?}");
    }
}

#[tokio::test]
async fn corrections_and_the_leaderboard() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let admin = user(&store, 1, Role::Admin).await.id;
        let cmd = user(&store, 2, Role::Commander).await.id;
        let u: Vec<User> = futures_join(&store, 10..14).await;
        let id = |i: usize| u[i].id;
        let fix = |i: usize, kind, amount, reason: &str| {
            ledger::correction(id(i), kind, amount, reason, admin).unwrap()
        };

        // corrections, negative too, change the wallet
        let first = store
            .add_correction(&fix(3, LedgerKind::Points, 50, "bonus"), now())
            .await
            .unwrap();
        assert_eq!(first.source, LedgerSource::Correction);
        assert_eq!(first.created_by, Some(admin));
        assert_eq!(first.created_at, now());
        store
            .add_correction(
                &fix(3, LedgerKind::Points, -20, "over-credited"),
                now() + Duration::minutes(30),
            )
            .await
            .unwrap();
        let last = store
            .add_correction(
                &fix(3, LedgerKind::Fund, 300, "fund"),
                now() + Duration::minutes(31),
            )
            .await
            .unwrap();
        let w = store.wallet(id(3), 10).await.unwrap();
        assert_eq!((w.points, w.fund_cents), (30, 300), "{b:?}");
        assert_eq!(w.entries.len(), 3);
        assert_eq!(w.entries[0], last, "newest first");
        assert_eq!(w.entries[2], first);
        let w2 = store.wallet(id(3), 2).await.unwrap();
        assert_eq!(
            (w2.points, w2.entries.len()),
            (30, 2),
            "sums cover every entry"
        );
        assert_eq!(
            code(
                store
                    .add_correction(
                        &ledger::correction(UserId::new(), LedgerKind::Points, 1, "x", admin)
                            .unwrap(),
                        now()
                    )
                    .await
                    .unwrap_err()
            ),
            "not_found:user"
        );
        let mut award = fix(3, LedgerKind::Points, 1, "x");
        award.source = LedgerSource::Award;
        assert_eq!(
            code(store.add_correction(&award, now()).await.unwrap_err()),
            "invalid_source"
        );
        // a negative total is not on the board
        store
            .add_correction(
                &fix(2, LedgerKind::Points, -5, "penalty"),
                now() + Duration::minutes(30),
            )
            .await
            .unwrap();

        // u0 and u1 tie on points; u1 patrolled longer
        let t = task(&store, cmd, 1, 5).await;
        let team = started_team(&store, &t, &[id(0), id(1), id(2)]).await;
        let finished_at = now() + Duration::hours(1);
        store
            .finish_team(
                team,
                Some(id(0)),
                &[
                    outcome(id(0), 32, true),
                    outcome(id(1), 42, true),
                    outcome(id(2), 10, false),
                ],
                finished_at,
            )
            .await
            .unwrap();
        store
            .add_correction(
                &fix(0, LedgerKind::Points, 1, "late bonus"),
                now() + Duration::hours(5),
            )
            .await
            .unwrap();

        let board = |from, to, limit| store.leaderboard(from, to, limit);
        let rows = |r: Vec<LeaderRow>| {
            r.into_iter()
                .map(|r| (r.user_id, r.points, r.patrol_ms / 60_000))
                .collect::<Vec<_>>()
        };
        let day = board(now(), now() + Duration::days(1), 10).await.unwrap();
        assert_eq!(day[0].name, u[3].name);
        assert_eq!(
            rows(day),
            [(id(3), 30, 0), (id(0), 11, 32), (id(1), 10, 42)],
            "{b:?}"
        );
        // ties: points, then patrol time
        assert_eq!(
            rows(
                board(finished_at, now() + Duration::hours(2), 10)
                    .await
                    .unwrap()
            ),
            [(id(1), 10, 42), (id(0), 10, 32)],
            "{b:?}"
        );
        assert_eq!(
            rows(board(now(), now() + Duration::days(1), 2).await.unwrap()),
            [(id(3), 30, 0), (id(0), 11, 32)],
            "limit"
        );
        // `to` is exclusive: the finish at `finished_at` is outside [now, finished_at)
        assert_eq!(
            rows(board(now(), finished_at, 10).await.unwrap()),
            [(id(3), 30, 0)]
        );
        // points in the period, patrol outside it
        assert_eq!(
            rows(
                board(now() + Duration::hours(2), now() + Duration::days(1), 10)
                    .await
                    .unwrap()
            ),
            [(id(0), 1, 0)]
        );
        assert!(
            board(now() + Duration::days(1), now() + Duration::days(2), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn bulk_accounts_and_session_purge() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let hash = new_user(0, Role::Envoy).password_hash;
        let envoy = |i: u32| NewUser {
            phone: Phone::parse(&format!("137{i:08}")).unwrap(),
            name: format!("envoy {i}"),
            role: Role::Envoy,
            password_hash: hash.clone(),
            department: None,
        };
        let all: Vec<NewUser> = (0..6000).map(envoy).collect();
        assert_eq!(store.create_users_bulk(&[], now()).await.unwrap(), 0);
        assert_eq!(
            store.create_users_bulk(&all[..2500], now()).await.unwrap(),
            2500
        );
        // overlapping phones are skipped; 5,000 rows take more than one statement
        assert_eq!(
            store.create_users_bulk(&all[1000..], now()).await.unwrap(),
            3500,
            "{b:?}"
        );
        let mut staff = envoy(9999);
        staff.role = Role::Staff;
        staff.department = Some("sanitation".into());
        assert_eq!(
            code(
                store
                    .create_users_bulk(&[envoy(7000), staff], now())
                    .await
                    .unwrap_err()
            ),
            "department_not_allowed"
        );
        assert!(store
            .user_credentials(&envoy(7000).phone)
            .await
            .unwrap()
            .is_none());

        let mut phones: Vec<Phone> = all.iter().map(|u| u.phone.clone()).collect();
        phones.push(Phone::parse("13600000000").unwrap());
        phones.swap(0, 5999);
        let found = store.user_ids_by_phone(&phones).await.unwrap();
        assert_eq!(found.len(), 6000, "{b:?}");
        assert_eq!(found[0].0, all[5999].phone, "in the order asked");
        let (u, hash_back) = store
            .user_credentials(&all[4321].phone)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.name, "envoy 4321");
        assert_eq!(u.role, Role::Envoy);
        assert_eq!(u.created_at, now());
        assert_eq!(hash_back, hash);
        assert!(found.contains(&(all[4321].phone.clone(), u.id)));
        assert!(store.user_ids_by_phone(&[]).await.unwrap().is_empty());

        // sessions: only the expired go
        let token = pp_domain::account::session_token_hash;
        let day = Duration::days(1);
        store
            .create_session(&token("live"), u.id, now() - day, now() + day)
            .await
            .unwrap();
        store
            .create_session(&token("edge"), u.id, now() - day, now())
            .await
            .unwrap();
        store
            .create_session(&token("old"), u.id, now() - day * 2, now() - day)
            .await
            .unwrap();
        assert_eq!(store.purge_sessions(now()).await.unwrap(), 1, "{b:?}");
        assert_eq!(store.purge_sessions(now()).await.unwrap(), 0);
        assert!(store
            .session_user(&token("live"), now())
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            store
                .purge_sessions(now() + Duration::milliseconds(1))
                .await
                .unwrap(),
            1,
            "the session expiring at `now` goes once `now` is past"
        );
    }
}

#[tokio::test]
async fn heat_rows_count_each_new_unflagged_point_once() {
    use pp_geo::cells::Cells;
    use pp_store::HeatRow;
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let (a, c) = (
            user(&store, 1, Role::Envoy).await.id,
            user(&store, 2, Role::Envoy).await.id,
        );
        assert_eq!(store.heat_hours().await.unwrap(), None, "{b:?}");
        let hour = now().timestamp() / 3600;
        // a: two points at the tower, a flagged jump, one an hour later; c: one point 1 km north
        let a_points = [
            pos(0, 0.0, false),
            pos(10, 1.0, false),
            pos(20, 5000.0, true),
            pos(3600, 0.0, false),
        ];
        store
            .append_positions(&[batch(a, &a_points), batch(c, &[pos(0, 1000.0, false)])])
            .await
            .unwrap();
        // a retry changes nothing, a new point of the same hour and place adds a visit
        store
            .append_positions(&[batch(a, &[pos(0, 0.0, false), pos(30, 0.0, false)])])
            .await
            .unwrap();
        let tower = Cells::of(pos(0, 0.0, false).at);
        let north = Cells::of(pos(0, 1000.0, false).at);
        assert_ne!(tower, north);
        assert_eq!(
            store.heat_hours().await.unwrap(),
            Some((hour, hour + 1)),
            "{b:?}"
        );
        let mut rows = store.heat_rows(hour, hour + 1).await.unwrap();
        rows.sort_by_key(|r| (r.hour, r.cells, r.user));
        let mut want = vec![
            HeatRow {
                hour,
                cells: tower,
                user: a,
                visits: 3,
            },
            HeatRow {
                hour,
                cells: north,
                user: c,
                visits: 1,
            },
            HeatRow {
                hour: hour + 1,
                cells: tower,
                user: a,
                visits: 1,
            },
        ];
        want.sort_by_key(|r| (r.hour, r.cells, r.user));
        assert_eq!(rows, want, "{b:?}");
        assert_eq!(store.heat_rows(hour + 1, hour + 5).await.unwrap().len(), 1);
        assert!(store
            .heat_rows(hour - 5, hour - 1)
            .await
            .unwrap()
            .is_empty());
        // the aggregates outlive the raw points
        let step = store
            .purge_positions(now() + Duration::days(1), None, 100)
            .await
            .unwrap();
        assert_eq!(step.deleted, 6, "{b:?}");
        assert_eq!(store.heat_rows(hour, hour + 1).await.unwrap().len(), 3);
    }
}

#[tokio::test]
async fn envoy_cards_name_the_current_team() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let cmd = user(&store, 1, Role::Commander).await;
        let t = task(&store, cmd.id, 2, 4).await;
        let (leader, loner) = (
            user(&store, 2, Role::Envoy).await,
            user(&store, 3, Role::Envoy).await,
        );
        let team = store.claim_team(t.id, leader.id, now()).await.unwrap();
        let mut cards = store
            .envoy_cards(&[leader.id, loner.id, UserId::new()])
            .await
            .unwrap();
        cards.sort_by_key(|c| c.name.clone());
        assert_eq!(cards.len(), 2, "{b:?}: an unknown id is left out");
        assert_eq!(cards[0].name, leader.name);
        assert_eq!(
            cards[0].team,
            Some((team.id, t.id, TeamState::Forming)),
            "{b:?}"
        );
        assert_eq!((cards[1].user, cards[1].team), (loner.id, None));
        assert!(store.envoy_cards(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn envoys_opt_out_of_dispatch_and_back_in() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let (a, c) = (
            user(&store, 1, Role::Envoy).await.id,
            user(&store, 2, Role::Envoy).await.id,
        );
        assert!(store.unavailable_users().await.unwrap().is_empty(), "{b:?}");
        store.set_available(a, false).await.unwrap();
        store.set_available(c, true).await.unwrap();
        assert_eq!(store.unavailable_users().await.unwrap(), [a], "{b:?}");
        store.set_available(a, true).await.unwrap();
        assert!(store.unavailable_users().await.unwrap().is_empty());
        assert!(matches!(
            store.set_available(UserId::new(), false).await,
            Err(StoreError::NotFound("user"))
        ));
    }
}

fn tower() -> LatLng {
    LatLng::new(23.1066, 113.3245).unwrap()
}

/// `m` metres north of the tower.
fn north(m: f64) -> Option<LatLng> {
    Some(LatLng::new(23.1066 + m / 111_195.08, 113.3245).unwrap())
}

async fn open_dispatch(store: &Arc<dyn Store>, by: UserId, needed: u32, at: Timestamp) -> Dispatch {
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

fn states(v: &DispatchView) -> Vec<(UserId, RecipientState)> {
    v.recipients
        .iter()
        .map(|r| (r.recipient.user, r.recipient.state))
        .collect()
}

#[tokio::test]
async fn dispatch_alerts_answers_expiry_escalation_and_close() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let commander = user(&store, 100, Role::Commander).await.id;
        let mut envoys = Vec::new();
        for i in 1..=8 {
            envoys.push(user(&store, i, Role::Envoy).await.id);
        }
        let candidates: Vec<(UserId, f64)> = envoys
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, 100.0 * (i as f64 + 1.0)))
            .collect();
        let d = open_dispatch(&store, commander, 2, now()).await;
        let stored = store.dispatch(d.id).await.unwrap();
        assert_eq!(stored.dispatch, d, "{b:?}");
        assert!(stored.recipients.is_empty());

        // needed 2 + overfill 1: the three nearest
        let alerted = store
            .alert_recipients(d.id, &candidates, now())
            .await
            .unwrap();
        assert_eq!(
            alerted.new.iter().map(|r| r.user).collect::<Vec<_>>(),
            envoys[..3],
            "{b:?}"
        );
        assert_eq!(alerted.view.recipients[0].name, "user 1");
        assert_eq!(alerted.view.recipients[1].recipient.distance_m, 200.0);
        assert_eq!(
            alerted.view.recipients[0].recipient.expires_at,
            now() + Duration::seconds(45)
        );
        // the quota is full: nobody more, and the same envoys are never alerted twice
        let again = store
            .alert_recipients(d.id, &candidates, now())
            .await
            .unwrap();
        assert!(again.new.is_empty());
        assert_eq!(again.view.recipients.len(), 3);

        // a decline frees a place for the next nearest not alerted yet
        let t1 = now() + Duration::seconds(5);
        let (v, changed) = store
            .respond_dispatch(d.id, envoys[1], false, t1)
            .await
            .unwrap();
        assert!(changed);
        assert_eq!(
            v.recipient(envoys[1]).unwrap().state,
            RecipientState::Declined
        );
        assert_eq!(v.recipient(envoys[1]).unwrap().answered_at, Some(t1));
        let (_, changed) = store
            .respond_dispatch(d.id, envoys[1], false, t1)
            .await
            .unwrap();
        assert!(!changed, "a retried answer changes nothing");
        let next = store.alert_recipients(d.id, &candidates, t1).await.unwrap();
        assert_eq!(
            next.new.iter().map(|r| r.user).collect::<Vec<_>>(),
            [envoys[3]]
        );
        assert_eq!(next.new[0].notified_at, t1);

        // accept, then arrive: only within 100 m, only once accepted
        store
            .respond_dispatch(d.id, envoys[0], true, t1)
            .await
            .unwrap();
        assert_eq!(
            code(
                store
                    .arrive_dispatch(d.id, envoys[0], north(150.0), t1)
                    .await
                    .unwrap_err()
            ),
            "not_at_scene"
        );
        assert_eq!(
            code(
                store
                    .arrive_dispatch(d.id, envoys[2], north(10.0), t1)
                    .await
                    .unwrap_err()
            ),
            "not_accepted"
        );
        let (v, changed) = store
            .arrive_dispatch(d.id, envoys[0], north(40.0), t1)
            .await
            .unwrap();
        assert!(changed);
        assert_eq!(v.recipient(envoys[0]).unwrap().arrived_at, Some(t1));
        assert_eq!(
            code(
                store
                    .respond_dispatch(d.id, envoys[7], true, t1)
                    .await
                    .unwrap_err()
            ),
            "not_found:alert"
        );
        assert_eq!(
            code(
                store
                    .respond_dispatch(pp_domain::DispatchId::new(), envoys[0], true, t1)
                    .await
                    .unwrap_err()
            ),
            "not_found:dispatch"
        );

        // unanswered alerts expire after 45 s: envoys 2 (alerted at 0) now, 3 (at 5 s) later
        assert!(store
            .expire_alerts(now() + Duration::seconds(44))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .expire_alerts(now() + Duration::seconds(45))
                .await
                .unwrap(),
            [(d.id, envoys[2])],
            "{b:?}"
        );
        assert_eq!(
            code(
                store
                    .respond_dispatch(d.id, envoys[2], true, t1)
                    .await
                    .unwrap_err()
            ),
            "alert_expired"
        );
        let mut engaged = store.engaged_envoys().await.unwrap();
        engaged.sort();
        let mut want = vec![envoys[0], envoys[3]];
        want.sort();
        assert_eq!(engaged, want, "{b:?}");

        // one accepted of two needed: after 60 s the search widens, once per 60 s
        assert_eq!(
            store
                .escalate_dispatch(d.id, now() + Duration::seconds(59))
                .await
                .unwrap(),
            None
        );
        let wide = store
            .escalate_dispatch(d.id, now() + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((wide.radius_m, wide.escalations), (1000.0, 1));
        assert_eq!(
            store
                .escalate_dispatch(d.id, now() + Duration::seconds(61))
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.dispatch(d.id).await.unwrap().dispatch, wide);

        // another dispatch cannot take an envoy this one holds
        let other = open_dispatch(&store, commander, 1, now()).await;
        let taken = store
            .alert_recipients(
                other.id,
                &[(envoys[0], 5.0), (envoys[3], 6.0), (envoys[6], 7.0)],
                t1,
            )
            .await
            .unwrap();
        assert_eq!(
            taken.new.iter().map(|r| r.user).collect::<Vec<_>>(),
            [envoys[6]]
        );

        // listing, newest first, by state and by recipient
        let all = store
            .dispatches(&DispatchFilter {
                limit: 10,
                ..DispatchFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|v| v.dispatch.id).collect::<Vec<_>>(),
            [other.id, d.id]
        );
        let mine = store
            .dispatches(&DispatchFilter {
                recipient: Some(envoys[6]),
                limit: 10,
                ..DispatchFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].dispatch.id, other.id);

        // closing: unanswered alerts expire, everyone is free again, nothing more happens
        let t2 = now() + Duration::seconds(70);
        let closed = store.close_dispatch(d.id, commander, t2).await.unwrap();
        assert_eq!(closed.dispatch.state, DispatchState::Closed);
        assert_eq!(
            (closed.dispatch.closed_at, closed.dispatch.closed_by),
            (Some(t2), Some(commander))
        );
        assert_eq!(closed, store.dispatch(d.id).await.unwrap(), "{b:?}");
        assert_eq!(
            states(&closed),
            [
                (envoys[0], RecipientState::Arrived),
                (envoys[1], RecipientState::Declined),
                (envoys[2], RecipientState::Expired),
                (envoys[3], RecipientState::Expired),
            ]
        );
        assert_eq!(store.engaged_envoys().await.unwrap(), [envoys[6]]);
        assert_eq!(
            code(store.close_dispatch(d.id, commander, t2).await.unwrap_err()),
            "dispatch_closed"
        );
        assert_eq!(
            code(
                store
                    .respond_dispatch(d.id, envoys[0], false, t2)
                    .await
                    .unwrap_err()
            ),
            "dispatch_closed"
        );
        assert!(store
            .alert_recipients(d.id, &candidates, t2)
            .await
            .unwrap()
            .new
            .is_empty());
        assert_eq!(
            store
                .escalate_dispatch(d.id, t2 + Duration::hours(1))
                .await
                .unwrap(),
            None
        );
        let open_only = store
            .dispatches(&DispatchFilter {
                state: Some(DispatchState::Open),
                limit: 10,
                ..DispatchFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(open_only.len(), 1);
        // the freed envoys may be alerted by the other dispatch now
        let freed = store
            .alert_recipients(other.id, &[(envoys[0], 5.0)], t2)
            .await
            .unwrap();
        assert_eq!(freed.new.len(), 1, "{b:?}");
    }
}

#[tokio::test]
async fn concurrent_alerting_never_overfills_nor_engages_an_envoy_twice() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let commander = user(&store, 100, Role::Commander).await.id;
        let mut envoys = Vec::new();
        for i in 1..=12 {
            envoys.push(user(&store, i, Role::Envoy).await.id);
        }
        // two dispatches (quota 3 and 4) alerting from the same crowd, 10 rounds each at once
        let a = open_dispatch(&store, commander, 2, now()).await;
        let c = open_dispatch(&store, commander, 3, now()).await;
        let mut calls = Vec::new();
        for i in 0..20 {
            let store = Arc::clone(&store);
            let id = if i % 2 == 0 { a.id } else { c.id };
            let mut cands: Vec<(UserId, f64)> = envoys.iter().map(|u| (*u, 10.0)).collect();
            cands.rotate_left(i % envoys.len());
            calls.push(tokio::spawn(async move {
                store
                    .alert_recipients(id, &cands, now())
                    .await
                    .unwrap()
                    .new
                    .len()
            }));
        }
        let mut total = 0;
        for c in calls {
            total += c.await.unwrap();
        }
        let (va, vc) = (
            store.dispatch(a.id).await.unwrap(),
            store.dispatch(c.id).await.unwrap(),
        );
        assert_eq!((va.recipients.len(), vc.recipients.len()), (3, 4), "{b:?}");
        assert_eq!(total, 7);
        let mut all: Vec<UserId> = va
            .recipients
            .iter()
            .chain(&vc.recipients)
            .map(|r| r.recipient.user)
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 7, "no envoy is held by both");
    }
}

async fn staff(store: &Arc<dyn Store>, i: u32, department: &str) -> User {
    let mut u = new_user(i, Role::Staff);
    u.department = Some(department.to_owned());
    store.create_user(&u, now()).await.unwrap()
}

fn actor(u: &User) -> Actor<'_> {
    Actor {
        id: u.id,
        role: u.role,
        department: u.department.as_deref(),
    }
}

fn report(category: Category, description: &str) -> NewIncident<'_> {
    NewIncident {
        category,
        description,
        at: tower(),
        team_id: None,
        photos: vec![format!("{}.jpg", "ab".repeat(32))],
        media_url: None,
    }
}

#[tokio::test]
async fn routing_rules_and_departments() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let admin = user(&store, 1, Role::Admin).await;
        let rules = store.routing().await.unwrap();
        assert_eq!(
            rules.iter().map(|r| r.category).collect::<Vec<_>>(),
            Category::ALL.to_vec(),
            "{b:?}: one rule per category, in order"
        );
        for r in &rules {
            assert_eq!(r.department, r.category.default_department(), "{b:?}");
            assert_eq!(r.updated_by, None);
        }
        let parks = store
            .create_department("parks", "园林", "Parks", now())
            .await
            .unwrap();
        assert_eq!(parks.code, "parks");
        assert_eq!(
            code(
                store
                    .create_department("parks", "园林", "Parks", now())
                    .await
                    .unwrap_err()
            ),
            "department_exists"
        );
        assert_eq!(store.departments().await.unwrap().len(), 4);
        // all or nothing: one unknown department refuses the whole change
        let e = store
            .set_routing(
                &[
                    (Category::Other, "parks".into()),
                    (Category::Sanitation, "nowhere".into()),
                ],
                admin.id,
                now(),
            )
            .await
            .unwrap_err();
        assert_eq!(code(e), "unknown_department", "{b:?}");
        assert_eq!(
            store.routing().await.unwrap(),
            rules,
            "{b:?}: nothing changed"
        );
        let later = now() + Duration::minutes(5);
        let after = store
            .set_routing(&[(Category::Other, "parks".into())], admin.id, later)
            .await
            .unwrap();
        let other = after
            .iter()
            .find(|r| r.category == Category::Other)
            .unwrap();
        assert_eq!(
            (
                other.department.as_str(),
                other.updated_by,
                other.updated_at
            ),
            ("parks", Some(admin.id), later)
        );
        assert_eq!(after.len(), 8);
        // reports follow the rule in force when filed
        let envoy = user(&store, 2, Role::Envoy).await;
        let v = store
            .report_incident(envoy.id, &report(Category::Other, "a fallen branch"), later)
            .await
            .unwrap();
        assert_eq!(v.incident.department, "parks", "{b:?}");
    }
}

#[tokio::test]
async fn incidents_are_routed_worked_and_listed() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let envoy = user(&store, 1, Role::Envoy).await;
        let other_envoy = user(&store, 2, Role::Envoy).await;
        let commander = user(&store, 3, Role::Commander).await;
        let sweeper = staff(&store, 4, "sanitation").await;
        let warden = staff(&store, 5, "urban_management").await;
        let t0 = now();

        let dirt = store
            .report_incident(
                envoy.id,
                &report(Category::Sanitation, " bins overflowing "),
                t0,
            )
            .await
            .unwrap();
        let i = &dirt.incident;
        assert_eq!(
            (
                i.department.as_str(),
                i.status,
                i.description.as_str(),
                i.reporter
            ),
            (
                "sanitation",
                IncidentStatus::Open,
                "bins overflowing",
                envoy.id
            ),
            "{b:?}"
        );
        assert_eq!(i.photos.len(), 1);
        assert_eq!(dirt.reporter_name, "user 1");
        assert_eq!(dirt.timeline.len(), 1);
        assert_eq!(dirt.timeline[0].entry.kind, TimelineKind::Reported);
        assert_eq!(
            store.incident(i.id).await.unwrap(),
            dirt,
            "{b:?}: read back as filed"
        );
        let bikes = store
            .report_incident(
                other_envoy.id,
                &report(Category::BikeParking, "twenty bikes on the crossing"),
                t0 + Duration::minutes(1),
            )
            .await
            .unwrap();
        assert_eq!(bikes.incident.department, "urban_management");
        assert_eq!(
            code(
                store
                    .report_incident(
                        envoy.id,
                        &NewIncident {
                            team_id: Some(TeamId::new()),
                            ..report(Category::Other, "x")
                        },
                        t0
                    )
                    .await
                    .unwrap_err()
            ),
            "not_found:team"
        );

        // the wrong department cannot see it, so cannot move it
        let e = store
            .update_incident(
                i.id,
                &actor(&warden),
                &IncidentChange::Status(IncidentStatus::Acknowledged),
                "",
                t0,
            )
            .await
            .unwrap_err();
        assert_eq!(code(e), "not_found:incident", "{b:?}");
        // a skipped step is refused and changes nothing
        let e = store
            .update_incident(
                i.id,
                &actor(&sweeper),
                &IncidentChange::Status(IncidentStatus::Resolved),
                "",
                t0,
            )
            .await
            .unwrap_err();
        assert_eq!(code(e), "invalid_transition");
        let e = store
            .update_incident(
                i.id,
                &actor(&envoy),
                &IncidentChange::Status(IncidentStatus::Acknowledged),
                "",
                t0,
            )
            .await
            .unwrap_err();
        assert_eq!(
            code(e),
            "wrong_role",
            "{b:?}: the reporter sees it but does not work it"
        );
        assert_eq!(store.incident(i.id).await.unwrap(), dirt);

        let step = |to, minutes, note: &'static str| {
            let store = Arc::clone(&store);
            let who = sweeper.clone();
            async move {
                store
                    .update_incident(
                        i.id,
                        &actor(&who),
                        &IncidentChange::Status(to),
                        note,
                        t0 + Duration::minutes(minutes),
                    )
                    .await
                    .unwrap()
            }
        };
        let (v, e) = step(IncidentStatus::Acknowledged, 5, "seen").await;
        assert_eq!(v.incident.acknowledged_at, Some(t0 + Duration::minutes(5)));
        assert_eq!(e.unwrap().note, "seen");
        step(IncidentStatus::InProgress, 10, "").await;
        let (v, _) = step(IncidentStatus::Resolved, 30, "swept").await;
        assert_eq!(v.incident.status, IncidentStatus::Resolved);
        assert_eq!(v.incident.closed_at, Some(t0 + Duration::minutes(30)));
        assert_eq!(
            v.timeline
                .iter()
                .map(|t| (t.entry.kind, t.entry.status, t.actor_name.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (TimelineKind::Reported, IncidentStatus::Open, "user 1"),
                (TimelineKind::Status, IncidentStatus::Acknowledged, "user 4"),
                (TimelineKind::Status, IncidentStatus::InProgress, "user 4"),
                (TimelineKind::Status, IncidentStatus::Resolved, "user 4"),
            ],
            "{b:?}"
        );
        assert_eq!(store.incident(i.id).await.unwrap(), v, "{b:?}");

        // a commander re-routes the bikes to sanitation: open again there
        let (v, e) = store
            .update_incident(
                bikes.incident.id,
                &actor(&commander),
                &IncidentChange::Reroute("sanitation".into()),
                "they clear the square",
                t0 + Duration::minutes(40),
            )
            .await
            .unwrap();
        assert_eq!(e.unwrap().kind, TimelineKind::Rerouted);
        assert_eq!(
            (v.incident.department.as_str(), v.incident.status),
            ("sanitation", IncidentStatus::Open)
        );
        let e = store
            .update_incident(
                bikes.incident.id,
                &actor(&commander),
                &IncidentChange::Reroute("nowhere".into()),
                "",
                t0,
            )
            .await
            .unwrap_err();
        assert_eq!(code(e), "unknown_department", "{b:?}");
        let (_, none) = store
            .update_incident(
                bikes.incident.id,
                &actor(&commander),
                &IncidentChange::Reroute("sanitation".into()),
                "",
                t0,
            )
            .await
            .unwrap();
        assert!(none.is_none(), "re-routing to where it is changes nothing");
        assert_eq!(
            store
                .incident(bikes.incident.id)
                .await
                .unwrap()
                .timeline
                .len(),
            2
        );

        // listing filters
        let list = |f: IncidentFilter| {
            let store = Arc::clone(&store);
            async move {
                store
                    .incidents(&IncidentFilter {
                        limit: if f.limit == 0 { 100 } else { f.limit },
                        ..f
                    })
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|v| v.incident.id)
                    .collect::<Vec<_>>()
            }
        };
        let (a, c) = (dirt.incident.id, bikes.incident.id);
        assert_eq!(
            list(IncidentFilter::default()).await,
            vec![c, a],
            "{b:?}: newest first"
        );
        assert_eq!(
            list(IncidentFilter {
                department: Some("sanitation".into()),
                ..Default::default()
            })
            .await,
            vec![c, a]
        );
        assert_eq!(
            list(IncidentFilter {
                department: Some("urban_management".into()),
                ..Default::default()
            })
            .await,
            Vec::<IncidentId>::new()
        );
        assert_eq!(
            list(IncidentFilter {
                reporter: Some(envoy.id),
                ..Default::default()
            })
            .await,
            vec![a]
        );
        assert_eq!(
            list(IncidentFilter {
                statuses: vec![IncidentStatus::Open],
                ..Default::default()
            })
            .await,
            vec![c]
        );
        assert_eq!(
            list(IncidentFilter {
                statuses: vec![IncidentStatus::Resolved, IncidentStatus::Rejected],
                ..Default::default()
            })
            .await,
            vec![a]
        );
        assert_eq!(
            list(IncidentFilter {
                categories: vec![Category::BikeParking, Category::LostChild],
                ..Default::default()
            })
            .await,
            vec![c]
        );
        assert_eq!(
            list(IncidentFilter {
                ids: vec![a, IncidentId::new()],
                ..Default::default()
            })
            .await,
            vec![a]
        );
        assert_eq!(
            list(IncidentFilter {
                from: Some(t0 + Duration::seconds(30)),
                ..Default::default()
            })
            .await,
            vec![c]
        );
        assert_eq!(
            list(IncidentFilter {
                to: Some(t0 + Duration::seconds(30)),
                ..Default::default()
            })
            .await,
            vec![a]
        );
        let around = pp_geo::BBox::around(tower(), 100.0);
        assert_eq!(
            list(IncidentFilter {
                bbox: Some(around),
                ..Default::default()
            })
            .await,
            vec![c, a]
        );
        let away = pp_geo::BBox::around(LatLng::new(23.2, 113.4).unwrap(), 100.0);
        assert_eq!(
            list(IncidentFilter {
                bbox: Some(away),
                ..Default::default()
            })
            .await,
            Vec::<IncidentId>::new()
        );
        assert_eq!(
            list(IncidentFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .len(),
            1
        );
        assert!(list(IncidentFilter::default()).await.len() == 2);
        assert!(
            store
                .incidents(&IncidentFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()[0]
                .timeline
                .is_empty(),
            "lists carry no timelines"
        );
        assert_eq!(
            code(store.incident(IncidentId::new()).await.unwrap_err()),
            "not_found:incident"
        );
        // a team is named only by those who were in it
        let t = task(&store, commander.id, 2, 5).await;
        let team = store.claim_team(t.id, other_envoy.id, t0).await.unwrap();
        let with_team = NewIncident {
            team_id: Some(team.id),
            ..report(Category::Other, "seen on patrol")
        };
        assert_eq!(
            code(
                store
                    .report_incident(envoy.id, &with_team, t0)
                    .await
                    .unwrap_err()
            ),
            "not_member",
            "{b:?}"
        );
        let on_patrol = store
            .report_incident(other_envoy.id, &with_team, t0)
            .await
            .unwrap();
        assert_eq!(on_patrol.incident.team_id, Some(team.id));
    }
}

#[tokio::test]
async fn concurrent_moves_of_one_report_take_one_step_each() {
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let envoy = user(&store, 1, Role::Envoy).await;
        let workers: Vec<User> = futures_staff(&store, 10).await;
        let v = store
            .report_incident(envoy.id, &report(Category::Sanitation, "litter"), now())
            .await
            .unwrap();
        let id = v.incident.id;
        // ten staff acknowledge at once: one moves it, nine are refused
        let tasks: Vec<_> = workers
            .iter()
            .map(|w| {
                let store = Arc::clone(&store);
                let w = w.clone();
                tokio::spawn(async move {
                    store
                        .update_incident(
                            id,
                            &actor(&w),
                            &IncidentChange::Status(IncidentStatus::Acknowledged),
                            "",
                            now(),
                        )
                        .await
                        .map(|_| ())
                        .map_err(code)
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(c) => assert_eq!(c, "invalid_transition", "{b:?}"),
            }
        }
        assert_eq!(ok, 1, "{b:?}");
        assert_eq!(store.incident(id).await.unwrap().timeline.len(), 2, "{b:?}");
    }
}

async fn futures_staff(store: &Arc<dyn Store>, n: u32) -> Vec<User> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(staff(store, 100 + i, "sanitation").await);
    }
    out
}

fn pending(i: u32, code: &str) -> pp_store::PendingEnvoy {
    pp_store::PendingEnvoy {
        phone: Phone::parse(&format!("135{i:08}")).unwrap(),
        name: format!("imported {i}"),
        code_hash: code.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn import_pending_envoys_and_activate_once() {
    use pp_store::{Activation, ImportOutcome};
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let expires = now() + Duration::days(14);
        // an active account with an imported phone
        let mut active = new_user(0, Role::Envoy);
        active.phone = pending(3, "").phone;
        store.create_user(&active, now()).await.unwrap();
        // 9,000 rows: more than one transaction
        let rows: Vec<_> = (0..9000).map(|i| pending(i, "first")).collect();
        let out = store.import_envoys(&rows, expires, now()).await.unwrap();
        assert_eq!(out.len(), 9000);
        assert_eq!(out[3], ImportOutcome::Taken, "{b:?}");
        assert_eq!(
            out.iter().filter(|o| **o == ImportOutcome::Created).count(),
            8999,
            "{b:?}"
        );
        assert!(store
            .import_envoys(&[], expires, now())
            .await
            .unwrap()
            .is_empty());
        // pending: no password
        let (u, hash) = store
            .user_credentials(&rows[7].phone)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.role, Role::Envoy);
        assert_eq!(u.name, "imported 7");
        assert!(hash.is_empty());

        // a re-import re-issues pending codes and leaves active accounts alone
        let again = [pending(7, "second"), pending(3, "x"), pending(9000, "new")];
        assert_eq!(
            store.import_envoys(&again, expires, now()).await.unwrap(),
            [
                ImportOutcome::Reissued,
                ImportOutcome::Taken,
                ImportOutcome::Created
            ]
        );
        let act = |i: u32, code: &'static str, at: Timestamp| {
            let store = store.clone();
            async move {
                store
                    .activate(&pending(i, "").phone, code.as_bytes(), "HASH", 5, at)
                    .await
                    .unwrap()
            }
        };
        assert!(matches!(
            act(7, "first", now()).await,
            Activation::WrongCode
        ));
        assert!(matches!(
            act(3, "x", now()).await,
            Activation::AlreadyActive
        ));
        assert!(matches!(
            act(99_999, "x", now()).await,
            Activation::WrongCode
        ));
        assert!(matches!(
            act(8, "first", expires).await,
            Activation::Expired
        ));
        match act(7, "second", now()).await {
            Activation::Activated(u) => assert_eq!(u.name, "imported 7"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store
                .user_credentials(&rows[7].phone)
                .await
                .unwrap()
                .unwrap()
                .1,
            "HASH"
        );
        assert!(matches!(
            act(7, "second", now()).await,
            Activation::AlreadyActive
        ));
        // five wrong codes void the code
        for _ in 0..5 {
            assert!(matches!(
                act(10, "wrong", now()).await,
                Activation::WrongCode
            ));
        }
        assert!(matches!(act(10, "first", now()).await, Activation::Locked));
        // a re-import gives a fresh start
        store
            .import_envoys(&[pending(10, "third")], expires, now())
            .await
            .unwrap();
        assert!(matches!(
            act(10, "third", now()).await,
            Activation::Activated(_)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_succeed_once() {
    use pp_store::Activation;
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        store
            .import_envoys(&[pending(1, "right")], now() + Duration::days(1), now())
            .await
            .unwrap();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .activate(
                            &pending(1, "").phone,
                            b"right",
                            &format!("HASH{i}"),
                            5,
                            now(),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut activated = 0;
        for h in handles {
            match h.await.unwrap() {
                Activation::Activated(_) => activated += 1,
                Activation::AlreadyActive => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(activated, 1, "{b:?}");
    }
}

/// Moves a report along `open → acknowledged → in_progress → end`, the last step at `at`.
async fn work_through(
    store: &Arc<dyn Store>,
    id: IncidentId,
    by: &User,
    end: IncidentStatus,
    at: Timestamp,
) {
    for (status, when) in [
        (IncidentStatus::Acknowledged, at - Duration::seconds(2)),
        (IncidentStatus::InProgress, at - Duration::seconds(1)),
        (end, at),
    ] {
        store
            .update_incident(id, &actor(by), &IncidentChange::Status(status), "", when)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stats_count_the_stored_records_of_a_period() {
    use pp_domain::stats::{Compare, Period, Stats};
    for b in backends() {
        let (_db, store) = TestDb::store(b).await;
        let t0 = now();
        let year_ago = t0 - Duration::days(365);
        let admin = user(&store, 1, Role::Admin).await;
        let cmd = user(&store, 2, Role::Commander).await.id;
        let sweeper = staff(&store, 3, "sanitation").await;
        let warden = staff(&store, 4, "urban_management").await;
        let police = staff(&store, 5, "public_security").await;
        let e = envoy_ids(&store, 10..22).await;
        // an envoy registered two years ago, one pending (imported) since last year
        store
            .create_user(&new_user(30, Role::Envoy), t0 - Duration::days(730))
            .await
            .unwrap();
        store
            .import_envoys(&[pending(31, "12345678")], t0, year_ago - Duration::days(1))
            .await
            .unwrap();

        // this period: two tasks; team A (3) finishes, team B (4, one leaves on patrol) is
        // still out, team C never starts (one of its members left while it was forming)
        let t1 = task(&store, cmd, 3, 5).await;
        let t2 = task(&store, cmd, 3, 5).await;
        let a = started_team(&store, &t1, &e[0..3]).await;
        let team_b = store
            .claim_team(t2.id, e[3], t0 - Duration::minutes(9))
            .await
            .unwrap()
            .id;
        for (i, &m) in e[4..8].iter().enumerate() {
            store
                .join_team(
                    team_b,
                    m,
                    t0 - Duration::minutes(8) + Duration::seconds(i as i64),
                )
                .await
                .unwrap();
        }
        store
            .leave_team(team_b, e[7], t0 - Duration::minutes(6))
            .await
            .unwrap();
        store
            .start_team(team_b, e[3], tower(), "abc", t0)
            .await
            .unwrap();
        store
            .leave_team(team_b, e[6], t0 + Duration::minutes(10))
            .await
            .unwrap();
        let team_c = store.claim_team(t2.id, e[8], t0).await.unwrap().id;
        store.join_team(team_c, e[7], t0).await.unwrap();
        let done = t0 + Duration::minutes(40);
        store
            .finish_team(
                a,
                Some(e[0]),
                &[
                    outcome(e[0], 35, true),
                    outcome(e[1], 31, true),
                    outcome(e[2], 12, false),
                ],
                done,
            )
            .await
            .unwrap();
        // a correction is not an award
        store
            .add_correction(
                &ledger::correction(e[2], LedgerKind::Points, 7, "kind words", admin.id).unwrap(),
                done,
            )
            .await
            .unwrap();

        // incidents: resolved after 30 min and 10 min (median 20 min), one rejected, one open
        let reporter = e[9];
        let r = |c, at| {
            let store = store.clone();
            async move {
                store
                    .report_incident(reporter, &report(c, "seen"), at)
                    .await
                    .unwrap()
                    .incident
                    .id
            }
        };
        let dirt = r(Category::Sanitation, t0).await;
        work_through(
            &store,
            dirt,
            &sweeper,
            IncidentStatus::Resolved,
            t0 + Duration::minutes(30),
        )
        .await;
        let bikes = r(Category::BikeParking, t0 + Duration::minutes(1)).await;
        work_through(
            &store,
            bikes,
            &warden,
            IncidentStatus::Resolved,
            t0 + Duration::minutes(11),
        )
        .await;
        let prank = r(Category::BikeParking, t0 + Duration::minutes(2)).await;
        work_through(
            &store,
            prank,
            &warden,
            IncidentStatus::Rejected,
            t0 + Duration::minutes(3),
        )
        .await;
        r(Category::LostChild, t0 + Duration::minutes(3)).await;

        // dispatches: first acceptances after 20 s and 40 s (median 30 s), one arrival after
        // 90 s; the third is only declined
        let near = |users: &[UserId]| -> Vec<(UserId, f64)> {
            users
                .iter()
                .enumerate()
                .map(|(i, &u)| (u, 50.0 * (i as f64 + 1.0)))
                .collect()
        };
        let d1 = open_dispatch(&store, cmd, 2, t0).await.id;
        store
            .alert_recipients(d1, &near(&e[9..11]), t0)
            .await
            .unwrap();
        store
            .respond_dispatch(d1, e[10], true, t0 + Duration::seconds(25))
            .await
            .unwrap();
        store
            .respond_dispatch(d1, e[9], true, t0 + Duration::seconds(20))
            .await
            .unwrap();
        store
            .arrive_dispatch(d1, e[10], north(10.0), t0 + Duration::seconds(90))
            .await
            .unwrap();
        let d2 = open_dispatch(&store, cmd, 1, t0 + Duration::hours(1))
            .await
            .id;
        store
            .alert_recipients(d2, &near(&e[11..12]), t0 + Duration::hours(1))
            .await
            .unwrap();
        store
            .respond_dispatch(
                d2,
                e[11],
                true,
                t0 + Duration::hours(1) + Duration::seconds(40),
            )
            .await
            .unwrap();
        let d3 = open_dispatch(&store, cmd, 1, t0 + Duration::hours(2))
            .await
            .id;
        store
            .alert_recipients(d3, &near(&e[0..1]), t0 + Duration::hours(2))
            .await
            .unwrap();
        store
            .respond_dispatch(d3, e[0], false, t0 + Duration::hours(2))
            .await
            .unwrap();

        // positions: three envoys (one only flagged points, which do not count)
        store
            .append_positions(&[
                batch(e[0], &[pos(0, 0.0, false), pos(60, 10.0, false)]),
                batch(e[1], &[pos(30, 0.0, false)]),
                batch(e[4], &[pos(1800, 0.0, false)]),
                batch(e[5], &[pos(10, 0.0, true)]),
            ])
            .await
            .unwrap();

        // a year earlier: one task, one team of three who all qualified, one report
        let old = task_at(&store, cmd, 1, 5, year_ago).await;
        let old_team = started_team_at(&store, &old, &e[0..3], year_ago).await;
        store
            .finish_team(
                old_team,
                Some(e[0]),
                &[
                    outcome(e[0], 30, true),
                    outcome(e[1], 30, true),
                    outcome(e[2], 60, true),
                ],
                year_ago + Duration::minutes(61),
            )
            .await
            .unwrap();
        let lost = store
            .report_incident(e[9], &report(Category::LostChild, "a boy"), year_ago)
            .await
            .unwrap()
            .incident
            .id;
        work_through(
            &store,
            lost,
            &police,
            IncidentStatus::Resolved,
            year_ago + Duration::minutes(5),
        )
        .await;

        let period = Period::new(
            Some(t0 - Duration::hours(1)),
            Some(t0 + Duration::days(1)),
            t0,
        )
        .unwrap();
        let previous = period.previous_year();
        let now_tally = store.stats_tally(period.from, period.to).await.unwrap();
        let then_tally = store.stats_tally(previous.from, previous.to).await.unwrap();
        let s = Stats::new(
            period,
            &now_tally,
            Some((Compare::PreviousYear, previous, &then_tally)),
        );
        let v = |f: pp_domain::stats::Figure| (f.value, f.previous, f.change_pct);

        assert_eq!(
            v(s.tasks_published),
            (Some(2.0), Some(1.0), Some(100.0)),
            "{b:?}"
        );
        assert_eq!(v(s.teams_formed), (Some(2.0), Some(1.0), Some(100.0)));
        assert_eq!(
            now_tally.team_sizes,
            vec![3, 4],
            "{b:?}: B counted as it started"
        );
        assert_eq!(v(s.teams_by_size[&4]), (Some(1.0), Some(0.0), None));
        assert_eq!(v(s.participants), (Some(7.0), Some(3.0), Some(133.3)));
        assert_eq!(
            v(s.patrol_hours),
            (Some(1.3), Some(2.0), Some(-35.0)),
            "78 min now, 120 then"
        );
        assert_eq!(v(s.qualified_members), (Some(2.0), Some(3.0), Some(-33.3)));
        assert_eq!(
            v(s.points_awarded),
            (Some(20.0), Some(30.0), Some(-33.3)),
            "{b:?}"
        );
        assert_eq!(
            v(s.fund_awarded_cents),
            (Some(1000.0), Some(1500.0), Some(-33.3))
        );
        assert_eq!(v(s.incidents_reported), (Some(4.0), Some(1.0), Some(300.0)));
        assert_eq!(s.incidents_by_category["bike_parking"].value, Some(2.0));
        assert_eq!(
            v(s.incidents_by_category["lost_child"]),
            (Some(1.0), Some(1.0), Some(0.0))
        );
        assert_eq!(s.incidents_by_outcome["resolved"].value, Some(2.0));
        assert_eq!(s.incidents_by_outcome["rejected"].value, Some(1.0));
        assert_eq!(s.incidents_by_outcome["open"].value, Some(1.0));
        assert_eq!(s.incidents_by_outcome["in_progress"].value, Some(0.0));
        assert_eq!(
            v(s.incident_median_resolve_s),
            (Some(1200.0), Some(300.0), Some(300.0)),
            "{b:?}"
        );
        assert_eq!(v(s.dispatches), (Some(3.0), Some(0.0), None));
        assert_eq!(s.dispatch_median_first_accept_s.value, Some(30.0), "{b:?}");
        assert_eq!(s.dispatch_median_first_accept_s.previous, None);
        assert_eq!(s.dispatch_median_arrival_s.value, Some(90.0));
        assert_eq!(
            s.envoys_active.value,
            Some(3.0),
            "{b:?}: flagged points do not count"
        );
        assert_eq!(s.envoys_active.previous, Some(0.0));
        // twelve envoys made at t0 plus the two older ones; a year ago only those two
        assert_eq!(
            v(s.envoys_registered),
            (Some(14.0), Some(2.0), Some(600.0)),
            "{b:?}"
        );

        // `to` is exclusive, `from` inclusive; an empty period counts nothing
        let before = store
            .stats_tally(t0 - Duration::hours(1), t0)
            .await
            .unwrap();
        assert_eq!(before.tasks_published, 0);
        assert!(before.team_sizes.is_empty());
        let exact = store
            .stats_tally(t0, t0 + Duration::milliseconds(1))
            .await
            .unwrap();
        assert_eq!(exact.tasks_published, 2);
        assert_eq!(exact.team_sizes.len(), 2);
        let later = store
            .stats_tally(t0 + Duration::days(2), t0 + Duration::days(3))
            .await
            .unwrap();
        assert_eq!(
            later,
            pp_domain::stats::Tally {
                envoys_registered: 14,
                ..pp_domain::stats::Tally::default()
            },
            "{b:?}"
        );
    }
}
