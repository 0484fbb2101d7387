//! A patrol from start to reward: progress while the members' phones report, qualification
//! (exactly `patrol_minutes` qualifies; gaps over 2 minutes do not count), finishing by the
//! leader (credited once, however often and however concurrently it is asked) and by the
//! server when the task's window ends, and the wallets and leaderboard that follow.

use chrono::Duration;
use e2e::{
    expect, expect_error, member_of, north_of_tower, on_each_backend, outcomes, route_points,
    steady, str_of, time_of, Ingested, Route, TestApp,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// 100 m north of the tower: inside the default task's 300 m circle.
fn inside() -> (f64, f64) {
    north_of_tower(100.0)
}

/// 1 km north of the tower: outside it.
fn outside() -> (f64, f64) {
    north_of_tower(1000.0)
}

/// `(minutes_inside, qualified)` by user id, as [`outcomes`] reads them.
fn expected(rows: &[(&str, f64, bool)]) -> BTreeMap<String, (f64, bool)> {
    rows.iter()
        .map(|&(id, minutes, qualified)| (id.to_owned(), (minutes, qualified)))
        .collect()
}

/// Each member's `(minutes_inside, qualified, points, fund_cents)` in a finish answer.
fn results(finish: &Value) -> BTreeMap<String, (f64, bool, i64, i64)> {
    finish["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {finish}"))
        .iter()
        .map(|m| {
            (
                str_of(m, "user_id").to_owned(),
                (
                    m["minutes_inside"].as_f64().unwrap(),
                    m["qualified"].as_bool().unwrap(),
                    m["points"].as_i64().unwrap(),
                    m["fund_cents"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// A wallet's entries as `(kind, amount, source, team_id)`, sorted (entries made in one
/// transaction share their `created_at`, so their listed order is not part of the contract).
fn entries(wallet: &Value) -> Vec<(String, i64, String, Value)> {
    let mut out: Vec<_> = wallet["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries in {wallet}"))
        .iter()
        .map(|e| {
            (
                str_of(e, "kind").to_owned(),
                e["amount"].as_i64().unwrap(),
                str_of(e, "source").to_owned(),
                e["team_id"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
    out
}

/// `(points, fund_cents)` of a wallet.
fn balances(wallet: &Value) -> (i64, i64) {
    (
        wallet["points"].as_i64().unwrap(),
        wallet["fund_cents"].as_i64().unwrap(),
    )
}

/// The award entries of one qualified member, as [`entries`] lists them.
fn awards(team_id: &str, points: i64, fund_cents: i64) -> Vec<(String, i64, String, Value)> {
    vec![
        (
            "fund".to_owned(),
            fund_cents,
            "award".to_owned(),
            json!(team_id),
        ),
        (
            "points".to_owned(),
            points,
            "award".to_owned(),
            json!(team_id),
        ),
    ]
}

#[tokio::test]
async fn a_patrol_from_start_to_reward() {
    on_each_backend(whole_patrol).await;
}

async fn whole_patrol(app: &TestApp) {
    let task = json!({"patrol_minutes": 10, "reward_points": 25, "reward_fund_cents": 800});
    let patrol = app.active_team(&task, 1, 2).await;
    let team_id = patrol.team_id.as_str();
    let start = patrol.started_at;
    let (leader, leader_id) = &patrol.leader;
    let (a, a_id) = &patrol.members[0];
    let (b, b_id) = &patrol.members[1];
    // the leader reports from inside for 12 minutes, A for 12.5 (A's id is the later one, so
    // only the minutes can put A first on the leaderboard), B from outside throughout
    let leader_route = steady(0, 720, 30, inside());
    let a_route = steady(0, 750, 30, inside());
    let b_route = steady(0, 750, 30, outside());
    let walkers: [(&str, &Route); 3] = [(leader, &leader_route), (a, &a_route), (b, &b_route)];

    // halfway: 5 minutes each inside, nobody qualified yet
    assert_eq!(app.patrol_live(start, 0, 300, &walkers).await, 3 * 11);
    let progress = expect(app.progress(leader, team_id).await, 200);
    assert_eq!(
        outcomes(&progress),
        expected(&[
            (leader_id, 5.0, false),
            (a_id, 5.0, false),
            (b_id, 0.0, false)
        ])
    );
    assert_eq!(progress["team_id"], team_id);
    assert_eq!(progress["state"], "active");
    assert_eq!(progress["patrol_minutes"].as_i64(), Some(10));
    assert_eq!(time_of(&progress["started_at"]), start);
    assert_eq!(time_of(&progress["until"]), app.now());
    let l = member_of(&progress, leader_id);
    assert_eq!(
        (&l["role"], &l["name"], l["remaining_minutes"].as_f64()),
        (&json!("leader"), &json!("envoy 1"), Some(5.0))
    );
    assert_eq!(l["inside_now"], true);
    let m = member_of(&progress, b_id);
    assert_eq!(
        (
            &m["role"],
            m["remaining_minutes"].as_f64(),
            &m["inside_now"]
        ),
        (&json!("member"), Some(10.0), &json!(false))
    );
    assert_eq!(time_of(&m["last_seen"]), start + Duration::seconds(300));

    // the rest of the patrol: A and the leader qualify, B does not
    assert_eq!(
        app.patrol_live(start, 360, 780, &walkers).await,
        25 + 26 + 26 - 33
    );
    let progress = expect(app.progress(a, team_id).await, 200);
    let at_the_end = expected(&[
        (leader_id, 12.0, true),
        (a_id, 12.5, true),
        (b_id, 0.0, false),
    ]);
    assert_eq!(outcomes(&progress), at_the_end);
    assert_eq!(
        member_of(&progress, a_id)["remaining_minutes"].as_f64(),
        Some(0.0)
    );
    assert_eq!(
        member_of(&progress, b_id)["remaining_minutes"].as_f64(),
        Some(10.0)
    );
    // commanders see it; envoys outside the team do not
    expect(app.progress(&patrol.commander, team_id).await, 200);
    let (stranger, _) = app.quick_envoy(50).await;
    expect_error(&app.progress(&stranger, team_id).await, 403, "not_member");

    // only the leader finishes
    expect_error(&app.finish(a, team_id).await, 403, "not_leader");
    expect_error(
        &app.finish(&patrol.commander, team_id).await,
        403,
        "not_leader",
    );
    let team = expect(app.team(leader, team_id).await, 200);
    assert_eq!(team["state"], "active");
    assert_eq!(balances(&app.wallet(a).await), (0, 0));

    app.clock.advance(Duration::minutes(1));
    let done = expect(app.finish(leader, team_id).await, 200);
    assert_eq!(done["team_id"], team_id);
    assert_eq!(done["state"], "finished");
    assert_eq!(done["already_finished"], false);
    assert_eq!(time_of(&done["finished_at"]), app.now());
    assert_eq!(done["credited_entries"].as_i64(), Some(4), "{done}");
    let want: BTreeMap<String, (f64, bool, i64, i64)> = [
        (leader_id.clone(), (12.0, true, 25, 800)),
        (a_id.clone(), (12.5, true, 25, 800)),
        (b_id.clone(), (0.0, false, 0, 0)),
    ]
    .into();
    assert_eq!(results(&done), want, "{done}");

    // the wallets: the two qualified members hold one award of each kind, B nothing
    for (token, id) in [&patrol.leader, &patrol.members[0]] {
        let wallet = app.wallet(token).await;
        assert_eq!(balances(&wallet), (25, 800), "{wallet}");
        assert_eq!(entries(&wallet), awards(team_id, 25, 800), "{wallet}");
        for e in wallet["entries"].as_array().unwrap() {
            assert_eq!(&e["user_id"], id);
            assert_eq!(e["reason"], "patrol: Canton Tower evening patrol");
            assert!(e["created_by"].is_null(), "{e}");
            assert_eq!(time_of(&e["created_at"]), app.now());
        }
    }
    let b_wallet = app.wallet(b).await;
    assert_eq!(balances(&b_wallet), (0, 0));
    assert_eq!(b_wallet["entries"], json!([]));
    let me = expect(app.get("/me", a).await, 200);
    assert!(
        me["current_team_id"].is_null(),
        "a finished team is nobody's current team: {me}"
    );

    // the progress is now the recorded outcome, up to the finish
    let finished_at = app.now();
    let check_recorded = async || {
        let progress = expect(app.progress(leader, team_id).await, 200);
        assert_eq!(progress["state"], "finished");
        assert_eq!(time_of(&progress["until"]), finished_at);
        assert_eq!(outcomes(&progress), at_the_end);
    };
    check_recorded().await;

    // finishing again changes nothing and answers the recorded result, to a member too
    let wallets_before = [app.wallet(leader).await, app.wallet(a).await];
    app.clock.advance(Duration::minutes(1));
    for token in [leader, a] {
        let again = expect(app.finish(token, team_id).await, 200);
        assert_eq!(again["already_finished"], true);
        assert_eq!(again["credited_entries"].as_i64(), Some(0));
        assert_eq!(time_of(&again["finished_at"]), finished_at);
        assert_eq!(results(&again), want, "{again}");
    }
    // a retried batch after the finish is all duplicates
    let all_of_a = route_points(start, &a_route);
    assert_eq!(app.ingest(a, &all_of_a).await, Ingested::ok(0, 26, 0));
    assert_eq!(
        [app.wallet(leader).await, app.wallet(a).await],
        wallets_before
    );
    check_recorded().await;

    // the leaderboard: A and the leader tie on points, A patrolled longer
    let board = expect(app.get("/leaderboard", b).await, 200);
    let rows: Vec<(i64, &str, i64, f64)> = board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rank"].as_i64().unwrap(),
                str_of(r, "user_id"),
                r["points"].as_i64().unwrap(),
                r["patrol_minutes"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, a_id.as_str(), 25, 12.5),
            (2, leader_id.as_str(), 25, 12.0)
        ],
        "{board}"
    );
    assert_eq!(board["rows"][0]["name"], "envoy 2");
}

#[tokio::test]
async fn qualifying_takes_the_full_minutes_without_long_gaps() {
    on_each_backend(async |app: &TestApp| {
        let patrol = app.active_team(&json!({"patrol_minutes": 10}), 1, 4).await;
        let start = patrol.started_at;
        let [(_, leader_id), (a, a_id), (b, b_id), (c, c_id), (d, d_id)] =
            <[(String, String); 5]>::try_from(patrol.everyone()).unwrap();
        // A: exactly 10 minutes (a point before the start does not count)
        let a_route = steady(-30, 600, 30, inside());
        // B: one 30 s step less
        let b_route = steady(0, 570, 30, inside());
        // C: 4 minutes, a gap of exactly 2 minutes (counted), 4 minutes
        let mut c_route = steady(0, 240, 30, inside());
        c_route.extend(steady(360, 600, 30, inside()));
        // D: 4.5 minutes, a gap of 2.5 minutes (not counted), 5 minutes: 12 minutes if it were
        let mut d_route = steady(0, 270, 30, inside());
        d_route.extend(steady(420, 720, 30, inside()));
        let walkers: [(&str, &Route); 4] = [
            (&a, &a_route),
            (&b, &b_route),
            (&c, &c_route),
            (&d, &d_route),
        ];
        app.patrol_live(start, 0, 720, &walkers).await;

        let want = expected(&[
            (&leader_id, 0.0, false),
            (&a_id, 10.0, true),
            (&b_id, 9.5, false),
            (&c_id, 10.0, true),
            (&d_id, 9.5, false),
        ]);
        let progress = expect(app.progress(&a, &patrol.team_id).await, 200);
        assert_eq!(outcomes(&progress), want, "{progress}");
        for (id, remaining) in [(&a_id, 0.0), (&b_id, 0.5), (&d_id, 0.5), (&leader_id, 10.0)] {
            let m = member_of(&progress, id);
            assert_eq!(m["remaining_minutes"].as_f64(), Some(remaining), "{m}");
        }
        // the leader never reported
        let l = member_of(&progress, &leader_id);
        assert!(l["last_seen"].is_null() && l["inside_now"].is_null(), "{l}");

        let done = expect(app.finish(&patrol.leader.0, &patrol.team_id).await, 200);
        assert_eq!(outcomes(&done), want, "{done}");
        assert_eq!(done["credited_entries"].as_i64(), Some(4), "{done}");
        for (token, paid) in [(&a, true), (&b, false), (&c, true), (&d, false)] {
            let wallet = app.wallet(token).await;
            let want = if paid { (10, 500) } else { (0, 0) };
            assert_eq!(balances(&wallet), want, "{wallet}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_finishes_credit_each_member_once() {
    on_each_backend(async |app: &TestApp| {
        for round in 0..3 {
            let patrol = app
                .active_team(&json!({"patrol_minutes": 10}), 10 * round + 1, 2)
                .await;
            let start = patrol.started_at;
            app.clock.set(start + Duration::seconds(600));
            let points = route_points(start, &steady(0, 600, 30, inside()));
            for (token, _) in patrol.everyone() {
                assert_eq!(app.ingest(&token, &points).await, Ingested::ok(21, 0, 0));
            }
            let leader = &patrol.leader.0;
            let (x, y) = tokio::join!(
                app.finish(leader, &patrol.team_id),
                app.finish(leader, &patrol.team_id)
            );
            let (x, y) = (expect(x, 200), expect(y, 200));
            let first = [&x, &y]
                .iter()
                .filter(|r| r["already_finished"] == false)
                .count();
            assert_eq!(first, 1, "exactly one finish: {x} {y}");
            let credited =
                x["credited_entries"].as_i64().unwrap() + y["credited_entries"].as_i64().unwrap();
            assert_eq!(credited, 6, "{x} {y}");
            assert_eq!(x["finished_at"], y["finished_at"]);
            assert_eq!(outcomes(&x), outcomes(&y));
            for (token, _) in patrol.everyone() {
                let wallet = app.wallet(&token).await;
                assert_eq!(balances(&wallet), (10, 500), "{wallet}");
                assert_eq!(entries(&wallet), awards(&patrol.team_id, 10, 500));
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_server_finishes_a_patrol_when_its_window_ends() {
    on_each_backend(async |app: &TestApp| {
        let ends_at = app.now() + Duration::minutes(15);
        let task = json!({"patrol_minutes": 10, "ends_at": ends_at.to_rfc3339()});
        let patrol = app.active_team(&task, 1, 2).await;
        let start = patrol.started_at;
        let window = (ends_at - start).num_seconds();
        assert!((840..900).contains(&window), "{window} s to patrol");
        let (leader, leader_id) = &patrol.leader;
        let (a, a_id) = &patrol.members[0];
        let (b, b_id) = &patrol.members[1];
        // the leader goes on reporting after the window: those points do not count
        let leader_route = steady(0, 900, 30, inside());
        let a_route = steady(0, 600, 30, inside());
        let b_route = steady(0, 300, 30, inside());
        let walkers: [(&str, &Route); 3] = [(leader, &leader_route), (a, &a_route), (b, &b_route)];
        app.patrol_live(start, 0, 840, &walkers).await;
        let late = route_points(start, &leader_route[29..]);
        assert_eq!(late.len(), 2);
        assert_eq!(app.ingest(leader, &late).await, Ingested::ok(2, 0, 0));
        app.run_jobs().await;
        let team = expect(app.team(leader, &patrol.team_id).await, 200);
        assert_eq!(
            team["state"], "active",
            "not finished before the window ends"
        );

        // the window ends; the background job finishes the team at its next round
        app.clock.set(ends_at + Duration::seconds(1));
        app.run_jobs().await;
        let team = expect(app.team(leader, &patrol.team_id).await, 200);
        assert_eq!(team["state"], "finished", "{team}");
        assert_eq!(
            time_of(&team["finished_at"]),
            ends_at + Duration::seconds(1)
        );
        let counted = (window / 30 * 30) as f64 / 60.0;
        let want = expected(&[
            (leader_id, counted, true),
            (a_id, 10.0, true),
            (b_id, 5.0, false),
        ]);
        let progress = expect(app.progress(leader, &patrol.team_id).await, 200);
        assert_eq!(progress["state"], "finished");
        assert_eq!(time_of(&progress["until"]), ends_at);
        assert_eq!(outcomes(&progress), want, "{progress}");
        for (token, want) in [(leader, (10, 500)), (a, (10, 500)), (b, (0, 0))] {
            assert_eq!(balances(&app.wallet(token).await), want);
        }
        assert_eq!(
            entries(&app.wallet(a).await),
            awards(&patrol.team_id, 10, 500)
        );
        // the leader's finish now only reads the result
        let again = expect(app.finish(leader, &patrol.team_id).await, 200);
        assert_eq!(
            (
                &again["already_finished"],
                again["credited_entries"].as_i64()
            ),
            (&json!(true), Some(0))
        );
        assert_eq!(outcomes(&again), want);
    })
    .await;
}

#[tokio::test]
async fn only_the_leader_of_an_active_team_finishes() {
    on_each_backend(async |app: &TestApp| {
        let (_, _, leader, leader_id, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = str_of(&team, "id");
        let join_token = app.join_token(&leader, team_id).await;
        let (member, member_id) = app.quick_envoy(2).await;
        expect(app.join(&member, &join_token, None).await, 200);

        // forming: the leader may not finish, a member is no leader
        expect_error(&app.finish(&leader, team_id).await, 409, "team_not_active");
        expect_error(&app.finish(&member, team_id).await, 403, "not_leader");
        expect_error(&app.finish("", team_id).await, 401, "unauthorized");
        let unknown = uuid::Uuid::now_v7().to_string();
        expect_error(&app.finish(&leader, &unknown).await, 404, "team_not_found");
        expect_error(&app.finish(&leader, "not-a-team").await, 400, "invalid_id");
        let team = expect(app.team(&leader, team_id).await, 200);
        assert_eq!(team["state"], "forming");

        // a forming team's progress: nothing counts before the start
        let progress = expect(app.progress(&member, team_id).await, 200);
        assert_eq!(progress["state"], "forming");
        assert!(progress["started_at"].is_null(), "{progress}");
        assert_eq!(
            outcomes(&progress),
            expected(&[(&leader_id, 0.0, false), (&member_id, 0.0, false)])
        );
        expect_error(
            &app.progress(&leader, &unknown).await,
            404,
            "team_not_found",
        );
        let (stranger, _) = app.quick_envoy(3).await;
        expect_error(&app.progress(&stranger, team_id).await, 403, "not_member");
        expect_error(&app.finish(&stranger, team_id).await, 403, "not_leader");
    })
    .await;
}
