//! The rewards ledger over HTTP: admins' corrections (checked, and appended, never edited),
//! wallets, the leaderboard's period, and retention: raw positions go after `retention_days`,
//! while the ledger and the patrols' recorded outcomes stay.

use chrono::{Duration, SecondsFormat};
use e2e::{
    expect, expect_error, north_of_tower, on_each_backend, outcomes, point, route_points, steady,
    str_of, time_of, Ingested, TestApp, PASSWORD,
};
use pp_domain::time::Timestamp;
use serde_json::{json, Value};

/// A time as a query parameter (`Z`, so no `+` needs escaping).
fn q(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `POST /ledger/corrections`.
async fn correct(
    app: &TestApp,
    token: &str,
    user_id: &str,
    kind: &str,
    amount: i64,
    reason: &str,
) -> e2e::Resp {
    let body = json!({"user_id": user_id, "kind": kind, "amount": amount, "reason": reason});
    app.post("/ledger/corrections", token, &body).await
}

/// `(points, fund_cents)` of a wallet.
fn balances(wallet: &Value) -> (i64, i64) {
    (
        wallet["points"].as_i64().unwrap(),
        wallet["fund_cents"].as_i64().unwrap(),
    )
}

/// `(rank, user_id, points, patrol_minutes)` of each leaderboard row.
fn rows(board: &Value) -> Vec<(i64, String, i64, f64)> {
    board["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {board}"))
        .iter()
        .map(|r| {
            (
                r["rank"].as_i64().unwrap(),
                str_of(r, "user_id").to_owned(),
                r["points"].as_i64().unwrap(),
                r["patrol_minutes"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn admins_correct_balances_by_appending_entries() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let admin_id = str_of(&expect(app.get("/me", &admin).await, 200), "id").to_owned();
        let (envoy, envoy_id) = app.quick_envoy(1).await;
        let empty = app.wallet(&envoy).await;
        assert_eq!(empty, json!({"points": 0, "fund_cents": 0, "entries": []}));

        let corrections = [
            ("points", 50, "welcome bonus"),
            ("points", -20, "  counted twice  "),
            ("fund", 1000, "fund top-up"),
            ("fund", -300, "paid out twice"),
        ];
        let mut made = Vec::new();
        let mut wallets = Vec::new();
        for (kind, amount, reason) in corrections {
            app.clock.advance(Duration::seconds(1));
            let e = expect(
                correct(app, &admin, &envoy_id, kind, amount, reason).await,
                201,
            );
            assert_eq!(e["user_id"], envoy_id.as_str());
            assert_eq!(e["kind"], kind);
            assert_eq!(e["amount"].as_i64(), Some(amount));
            assert_eq!(e["reason"], reason.trim());
            assert!(e["team_id"].is_null(), "{e}");
            assert_eq!(e["source"], "correction");
            assert_eq!(e["created_by"], admin_id.as_str());
            assert_eq!(time_of(&e["created_at"]), app.now());
            assert!(e["id"].as_str().is_some_and(|id| id.len() == 36), "{e}");
            made.push(e);
            wallets.push(app.wallet(&envoy).await);
        }

        let wallet = app.wallet(&envoy).await;
        assert_eq!(balances(&wallet), (30, 700));
        let newest_first: Vec<Value> = made.iter().rev().cloned().collect();
        assert_eq!(
            wallet["entries"],
            json!(newest_first),
            "newest first, as appended"
        );
        // append-only: each earlier wallet's entries are, unchanged, the oldest of the later one
        let all = wallet["entries"].as_array().unwrap();
        for (n, earlier) in (1..).zip(&wallets) {
            let earlier = earlier["entries"].as_array().unwrap();
            assert_eq!(earlier[..], all[all.len() - n..]);
        }
        // the admin sees the same wallet; `limit` shows fewer entries, the same balances
        let theirs = expect(
            app.get(&format!("/users/{envoy_id}/wallet"), &admin).await,
            200,
        );
        assert_eq!(theirs, wallet);
        let two = expect(app.get("/me/wallet?limit=2", &envoy).await, 200);
        assert_eq!(balances(&two), (30, 700));
        assert_eq!(two["entries"], json!(newest_first[..2]));
        // the admin's own wallet is untouched
        assert_eq!(balances(&app.wallet(&admin).await), (0, 0));
    })
    .await;
}

#[tokio::test]
async fn corrections_and_wallets_are_checked() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let commander = app.commander().await;
        let (envoy, id) = app.quick_envoy(1).await;
        let id = id.as_str();
        for amount in [0, 100_000_001, -100_000_001] {
            let res = correct(app, &admin, id, "points", amount, "x").await;
            expect_error(&res, 400, "invalid_amount");
        }
        let too_long = "长".repeat(501);
        for reason in ["", "   ", too_long.as_str()] {
            let res = correct(app, &admin, id, "fund", 5, reason).await;
            expect_error(&res, 400, "invalid_reason");
        }
        let res = correct(app, &admin, id, "gold", 5, "x").await;
        expect_error(&res, 400, "invalid_body");
        for body in [
            json!({"user_id": id, "kind": "points", "reason": "no amount"}),
            json!({"user_id": id, "kind": "points", "amount": 1.5, "reason": "x"}),
            json!({"user_id": "nobody", "kind": "points", "amount": 1, "reason": "x"}),
        ] {
            let res = app.post("/ledger/corrections", &admin, &body).await;
            expect_error(&res, 400, "invalid_body");
        }
        let unknown = uuid::Uuid::now_v7().to_string();
        let res = correct(app, &admin, &unknown, "points", 5, "x").await;
        expect_error(&res, 404, "user_not_found");
        for token in [&envoy, &commander] {
            let res = correct(app, token, id, "points", 5, "x").await;
            expect_error(&res, 403, "wrong_role");
        }
        expect_error(
            &correct(app, "", id, "points", 5, "x").await,
            401,
            "unauthorized",
        );
        assert_eq!(
            app.wallet(&envoy).await,
            json!({"points": 0, "fund_cents": 0, "entries": []}),
            "nothing refused was written"
        );

        // the limits themselves are fine
        let longest = "长".repeat(500);
        expect(
            correct(app, &admin, id, "points", 100_000_000, &longest).await,
            201,
        );
        expect(
            correct(app, &admin, id, "points", -100_000_000, "undo").await,
            201,
        );
        let wallet = app.wallet(&envoy).await;
        assert_eq!(balances(&wallet), (0, 0));
        assert_eq!(wallet["entries"].as_array().map(Vec::len), Some(2));

        // wallets of others: admins only, and only of real users
        let path = format!("/users/{unknown}/wallet");
        expect_error(&app.get(&path, &admin).await, 404, "user_not_found");
        let path = format!("/users/{id}/wallet");
        expect_error(&app.get(&path, &envoy).await, 403, "wrong_role");
        expect_error(&app.get(&path, &commander).await, 403, "wrong_role");
        let res = app.get("/users/not-a-user/wallet", &admin).await;
        expect_error(&res, 400, "invalid_id");
        let res = app.get("/me/wallet?limit=many", &envoy).await;
        expect_error(&res, 400, "invalid_query");
        expect_error(&app.get("/me/wallet", "").await, 401, "unauthorized");
    })
    .await;
}

#[tokio::test]
async fn the_leaderboard_counts_the_points_of_its_period() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let envoys = app.quick_envoys(1, 4).await;
        let [e0, e1, e2, e3] = [0, 1, 2, 3].map(|i| envoys[i].1.as_str());
        let reader = envoys[0].0.as_str();

        // the default period: the 30 days up to now
        let board = expect(app.get("/leaderboard", reader).await, 200);
        assert_eq!(time_of(&board["to"]), app.now());
        assert_eq!(time_of(&board["from"]), app.now() - Duration::days(30));
        assert_eq!(board["rows"], json!([]));

        let t0 = app.now();
        expect(correct(app, &admin, e0, "points", 40, "a").await, 201);
        app.clock.advance(Duration::seconds(1));
        let t1 = app.now();
        expect(correct(app, &admin, e1, "points", 10, "b").await, 201);
        expect(correct(app, &admin, e2, "points", -5, "c").await, 201);
        expect(correct(app, &admin, e3, "fund", 999, "d").await, 201);
        app.clock.advance(Duration::seconds(1));
        let t2 = app.now();
        expect(correct(app, &admin, e1, "points", 35, "e").await, 201);
        // the period ends before `to`: what is written now shows from the next instant on
        let board = expect(app.get("/leaderboard", reader).await, 200);
        assert_eq!(
            rows(&board),
            [(1, e0.to_owned(), 40, 0.0), (2, e1.to_owned(), 10, 0.0)]
        );
        app.clock.advance(Duration::seconds(1));

        // only positive point totals, best first; fund entries do not count
        let board = expect(app.get("/leaderboard", reader).await, 200);
        let want = [(1, e1.to_owned(), 45, 0.0), (2, e0.to_owned(), 40, 0.0)];
        assert_eq!(rows(&board), want, "{board}");
        assert_eq!(board["rows"][0]["name"], "envoy 2");
        let board = expect(app.get("/leaderboard?limit=1", reader).await, 200);
        assert_eq!(rows(&board), want[..1]);
        // [from, to): `from` counts, `to` does not
        let path = format!("/leaderboard?from={}&to={}", q(t1), q(t2));
        let board = expect(app.get(&path, reader).await, 200);
        assert_eq!(rows(&board), [(1, e1.to_owned(), 10, 0.0)]);
        assert_eq!((time_of(&board["from"]), time_of(&board["to"])), (t1, t2));
        let path = format!("/leaderboard?from={}&to={}", q(t0), q(t1));
        let board = expect(app.get(&path, reader).await, 200);
        assert_eq!(rows(&board), [(1, e0.to_owned(), 40, 0.0)]);

        // an empty or backwards period is refused
        for (from, to) in [(t1, t1), (t2, t1)] {
            let path = format!("/leaderboard?from={}&to={}", q(from), q(to));
            expect_error(&app.get(&path, reader).await, 400, "invalid_period");
        }
        // `to` alone: the 30 days before it
        let path = format!("/leaderboard?to={}", q(t1));
        let board = expect(app.get(&path, reader).await, 200);
        assert_eq!(time_of(&board["from"]), t1 - Duration::days(30));
        assert_eq!(rows(&board), [(1, e0.to_owned(), 40, 0.0)]);
        let res = app.get("/leaderboard?from=last-week", reader).await;
        expect_error(&res, 400, "invalid_query");
        expect_error(&app.get("/leaderboard", "").await, 401, "unauthorized");

        // 31 days on, the default period holds nothing; the entries are still there
        app.clock.advance(Duration::days(31));
        let reader = app.admin().await; // the old sessions have expired
        let board = expect(app.get("/leaderboard", &reader).await, 200);
        assert_eq!(board["rows"], json!([]));
        let path = format!(
            "/leaderboard?from={}&to={}",
            q(t0),
            q(t0 + Duration::days(1))
        );
        let board = expect(app.get(&path, &reader).await, 200);
        assert_eq!(rows(&board), want);
    })
    .await;
}

#[tokio::test]
async fn retention_purges_raw_positions_and_keeps_outcomes_and_ledger() {
    on_each_backend(async |app: &TestApp| {
        let patrol = app.active_team(&json!({"patrol_minutes": 10}), 1, 2).await;
        let start = patrol.started_at;
        let (leader, _) = &patrol.leader;
        let (a, a_id) = &patrol.members[0];
        let (b, b_id) = &patrol.members[1];
        let inside = north_of_tower(100.0);
        app.clock.set(start + Duration::seconds(600));
        let a_points = route_points(start, &steady(0, 600, 30, inside));
        let b_points = route_points(start, &steady(0, 300, 30, inside));
        assert_eq!(app.ingest(a, &a_points).await, Ingested::ok(21, 0, 0));
        assert_eq!(app.ingest(b, &b_points).await, Ingested::ok(11, 0, 0));
        let done = expect(app.finish(leader, &patrol.team_id).await, 200);
        assert_eq!(done["credited_entries"].as_i64(), Some(2), "{done}");
        let progress = expect(app.progress(leader, &patrol.team_id).await, 200);
        let wallet = app.wallet(a).await;
        assert_eq!(balances(&wallet), (10, 500));
        let patrol_window = (start - Duration::hours(1), start + Duration::hours(1));
        let stored = async |id: &str| {
            app.stored_positions(id, patrol_window.0, patrol_window.1)
                .await
                .len()
        };
        assert_eq!((stored(a_id).await, stored(b_id).await), (21, 11));

        // two days later A reports again: 29 days old when the patrol's points are 31
        app.clock.advance(Duration::days(2));
        let recent = app.now();
        assert_eq!(
            app.ingest(a, &[point(recent, inside)]).await,
            Ingested::ok(1, 0, 0)
        );
        app.clock.set(start + Duration::days(31));
        app.run_jobs().await;
        assert_eq!(
            (stored(a_id).await, stored(b_id).await),
            (0, 0),
            "the retention job purged the patrol's points"
        );
        let kept = app.stored_positions(a_id, recent, recent).await;
        assert_eq!(kept.len(), 1, "points younger than retention_days stay");

        // the outcome and the ledger stay (the sessions have expired: log in again)
        let leader = app.login(&TestApp::envoy_phone(1), PASSWORD).await;
        let a = app.login(&TestApp::envoy_phone(2), PASSWORD).await;
        let after = expect(app.progress(&leader, &patrol.team_id).await, 200);
        assert_eq!(outcomes(&after), outcomes(&progress));
        assert_eq!(outcomes(&after)[a_id.as_str()], (10.0, true), "{after}");
        for key in ["state", "started_at", "until", "patrol_minutes"] {
            assert_eq!(after[key], progress[key], "{key}");
        }
        assert_eq!(app.wallet(&a).await, wallet);
        let path = format!(
            "/leaderboard?from={}&to={}",
            q(patrol_window.0),
            q(patrol_window.1)
        );
        let board = expect(app.get(&path, &a).await, 200);
        assert_eq!(rows(&board), [(1, a_id.clone(), 10, 10.0)], "{board}");
    })
    .await;
}
