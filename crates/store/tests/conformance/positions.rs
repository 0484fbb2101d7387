//! Positions: appends, the latest points, tracks and the retention sweep, and appends beside
//! other writers (`PositionStore`).

use crate::fixtures::{batch, code, envoy_ids, now, pos, task, user};
use chrono::Duration;
use pp_domain::position::Position;
use pp_domain::{Role, UserId};
use pp_store::testing::{Backend, TestDb};
use pp_store::{LatestPosition, PositionBatch, PurgeStep, Store, StoreError};
use std::sync::Arc;

fn latest_of(latest: &[LatestPosition], user: UserId) -> Option<Position> {
    latest.iter().find(|l| l.user == user).map(|l| l.position)
}

async fn positions_append_latest_and_purge(b: Backend) {
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
on_each_backend!(positions_append_latest_and_purge);

async fn positions_of_many_envoys_in_one_call(b: Backend) {
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
on_each_backend!(positions_of_many_envoys_in_one_call);

/// Position appends and other writes at once (on SQLite two write connections, each waiting
/// for the other's write lock): every one commits, none twice.
async fn appends_beside_claims_and_joins_all_commit(b: Backend) {
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
on_each_backend!(
    appends_beside_claims_and_joins_all_commit,
    flavor = "multi_thread",
    worker_threads = 4
);

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
    let mut append = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append_positions(&[batch(envoy, &[pos(1, 0.0, false)])])
                .await
        })
    };
    // The time is what this checks: that the append is still waiting 300 ms on, neither done
    // nor failed. No event says "still waiting" (on SQLite the appender retries in async pauses
    // that nothing outside sees), so the test waits that long, or less when the append ends
    // early, which fails it at once.
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut append).await;
    assert!(early.is_err(), "the append waits for the lock");
    (&mut other).execute("COMMIT").await.unwrap();
    assert_eq!(append.await.unwrap().unwrap(), vec![vec![true]]);
}

/// A position append waits for another writer's transaction, then commits. The runtime has one
/// thread: on SQLite the appender waits in async pauses, leaving it to the other writer.
async fn an_append_waits_for_another_writers_transaction(b: Backend) {
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
on_each_backend!(an_append_waits_for_another_writers_transaction);
