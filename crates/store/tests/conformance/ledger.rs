//! Finishing patrols, the append-only rewards ledger, corrections and the leaderboard
//! (`LedgerStore`).

use crate::fixtures::{code, envoy_ids, futures_join, now, outcome, started_team, task, user};
use chrono::Duration;
use pp_domain::ledger::{self, LedgerKind, LedgerSource};
use pp_domain::team::TeamState;
use pp_domain::{Role, TeamId, UserId};
use pp_store::testing::{Backend, TestDb};
use pp_store::{LeaderRow, User};

async fn finishing_a_patrol_credits_the_qualified_once(b: Backend) {
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
on_each_backend!(finishing_a_patrol_credits_the_qualified_once);

async fn ten_concurrent_finishes_credit_once(b: Backend) {
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
on_each_backend!(
    ten_concurrent_finishes_credit_once,
    flavor = "multi_thread",
    worker_threads = 4
);

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

async fn the_ledger_is_append_only(b: Backend) {
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
on_each_backend!(the_ledger_is_append_only);

async fn corrections_and_the_leaderboard(b: Backend) {
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
                    &ledger::correction(UserId::new(), LedgerKind::Points, 1, "x", admin).unwrap(),
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
on_each_backend!(corrections_and_the_leaderboard);
