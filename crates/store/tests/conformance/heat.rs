//! The heat map's hourly aggregates, written with each append (`PositionStore::heat_rows`).

use crate::fixtures::{batch, now, pos, user};
use chrono::Duration;
use pp_domain::Role;
use pp_geo::cells::Cells;
use pp_store::testing::{Backend, TestDb};
use pp_store::HeatRow;

async fn heat_rows_count_each_new_unflagged_point_once(b: Backend) {
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
on_each_backend!(heat_rows_count_each_new_unflagged_point_once);
