//! `POST /positions`: an envoy's batches of points as the ingest pipeline stores, repeats,
//! flags and refuses them; GCJ-02 input; what a flagged jump does to a patrol's progress; who
//! may post; and many copies of one batch arriving at once.

use chrono::Duration;
use e2e::{
    expect, expect_error, member_of, north_of_tower, on_each_backend, point, read, route_points,
    steady, time_of, track, Ingested, TestApp, TOWER_LAT, TOWER_LNG,
};
use pp_geo::{gcj02_to_wgs84, haversine_m, wgs84_to_gcj02, LatLng};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Barrier;

/// 100 m north of the tower: inside the default task's 300 m circle.
fn inside() -> (f64, f64) {
    north_of_tower(100.0)
}

/// Whether two coordinates are the same to 1e-9 degrees (0.1 mm): JSON carries a decimal,
/// and the server's JSON parser need not round its last binary digit the way ours does.
fn same(a: (f64, f64), b: (f64, f64)) -> bool {
    (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
}

/// A point with every field given by hand (to send values the helpers never make).
fn raw(ts: chrono::DateTime<chrono::Utc>, lat: f64, lng: f64, accuracy_m: f64) -> Value {
    json!({"ts": ts.to_rfc3339(), "lat": lat, "lng": lng, "accuracy_m": accuracy_m})
}

#[tokio::test]
async fn a_plain_batch_is_stored_as_sent() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let at = inside();
        let points = track(now - Duration::seconds(60), 3, 30, at);
        assert_eq!(app.ingest(&envoy, &points).await, Ingested::ok(3, 0, 0));

        let stored = app
            .stored_positions(&id, now - Duration::hours(1), now + Duration::hours(1))
            .await;
        let seen: Vec<_> = stored
            .iter()
            .map(|p| (p.ts, p.accuracy_m, p.flagged))
            .collect();
        let want: Vec<_> = [60, 30, 0]
            .into_iter()
            .map(|s| (now - Duration::seconds(s), 10.0, false))
            .collect();
        assert_eq!(seen, want);
        assert!(
            stored.iter().all(|p| same((p.at.lat, p.at.lng), at)),
            "{stored:?}"
        );

        // `wgs84` named explicitly is the default; a batch need not be in time order
        let later = [
            point(now + Duration::seconds(30), at),
            point(now + Duration::seconds(15), at),
        ];
        let res = expect(app.post_positions(&envoy, &later, Some("wgs84")).await, 200);
        assert_eq!(Ingested::of(&res), Ingested::ok(2, 0, 0));
        let stored = app
            .stored_positions(&id, now - Duration::hours(1), now + Duration::hours(1))
            .await;
        assert_eq!(stored.len(), 5);
        assert!(
            stored.windows(2).all(|w| w[0].ts < w[1].ts),
            "stored in time order"
        );

        // an unknown coordinate system refuses the whole batch
        let res = app.post_positions(&envoy, &later, Some("bd09")).await;
        expect_error(&res, 400, "invalid_body");
    })
    .await;
}

#[tokio::test]
async fn every_refused_point_is_named_by_its_index() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let (lat, lng) = inside();
        let s = Duration::seconds;
        let day = Duration::hours(24);
        let points = [
            raw(now - s(50), lat, lng, 10.0),      // 0 fine
            raw(now - s(49), 91.0, lng, 10.0),     // 1
            raw(now - s(48), lat, 180.5, 10.0),    // 2
            raw(now - s(47), lat, lng, 500.5),     // 3
            raw(now - s(46), lat, lng, -1.0),      // 4
            raw(now + s(61), lat, lng, 10.0),      // 5: 61 s ahead of the server
            raw(now - day - s(1), lat, lng, 10.0), // 6: a day and a second old
            raw(now + s(60), lat, lng, 10.0),      // 7 fine: exactly 60 s ahead
            raw(now - day, lat, lng, 10.0),        // 8 fine: exactly a day old
            raw(now - s(45), lat, lng, 500.0),     // 9 fine: the largest accuracy
            raw(now - s(44), lat, lng, 0.0),       // 10 fine: a perfect fix
            raw(now + s(3600), -90.5, lng, 900.0), // 11: the first reason is given
            raw(now - s(43), 90.0, 180.0, 10.0),   // 12 fine: the limits (a jump, so flagged)
        ];
        let res = expect(app.post_positions(&envoy, &points, None).await, 200);
        let got = Ingested::of(&res);
        let codes: Vec<(u64, &str)> = got.rejected.iter().map(|(i, c)| (*i, c.as_str())).collect();
        assert_eq!(
            codes,
            [
                (1, "coordinate_out_of_range"),
                (2, "coordinate_out_of_range"),
                (3, "invalid_accuracy"),
                (4, "invalid_accuracy"),
                (5, "timestamp_in_future"),
                (6, "timestamp_too_old"),
                (11, "coordinate_out_of_range"),
            ],
            "{res}"
        );
        assert_eq!(
            (got.accepted, got.duplicates, got.flagged),
            (6, 0, 1),
            "{res}"
        );
        assert_eq!(
            got.accepted + got.duplicates + u64::try_from(got.rejected.len()).unwrap(),
            u64::try_from(points.len()).unwrap()
        );
        let stored = app
            .stored_positions(&id, now - Duration::days(2), now + Duration::days(2))
            .await;
        assert_eq!(stored.len(), 6);
        let flagged: Vec<_> = stored.iter().filter(|p| p.flagged).collect();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0].at.lat, flagged[0].at.lng), (90.0, 180.0));
    })
    .await;
}

#[tokio::test]
async fn a_batch_holds_1_to_1000_points() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let empty = app.post_positions(&envoy, &[], None).await;
        expect_error(&empty, 400, "invalid_batch_size");
        let too_many = track(now - Duration::seconds(1000), 1001, 1, inside());
        let res = app.post_positions(&envoy, &too_many, None).await;
        expect_error(&res, 400, "invalid_batch_size");
        let window = (now - Duration::hours(1), now + Duration::hours(1));
        assert!(
            app.stored_positions(&id, window.0, window.1)
                .await
                .is_empty(),
            "a refused batch stores nothing"
        );

        let full = track(now - Duration::seconds(999), 1000, 1, inside());
        assert_eq!(app.ingest(&envoy, &full).await, Ingested::ok(1000, 0, 0));
        assert_eq!(
            app.stored_positions(&id, window.0, window.1).await.len(),
            1000
        );
    })
    .await;
}

#[tokio::test]
async fn a_batch_of_refused_points_only_is_422() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let (lat, lng) = inside();
        let points = [
            raw(now, 91.0, lng, 10.0),
            raw(now, lat, lng, 501.0),
            raw(now + Duration::minutes(5), lat, lng, 10.0),
        ];
        let res = app.post_positions(&envoy, &points, None).await;
        expect_error(&res, 422, "no_valid_points");
        let message = res.1["error"]["message"].as_str().unwrap();
        assert!(message.contains("point 0"), "names the first: {message}");
        let window = (now - Duration::hours(1), now + Duration::hours(1));
        assert!(app
            .stored_positions(&id, window.0, window.1)
            .await
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_retried_batch_is_all_duplicates_and_changes_nothing() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let window = (now - Duration::hours(1), now + Duration::hours(1));
        let batch = track(now - Duration::seconds(190), 20, 10, inside());
        assert_eq!(app.ingest(&envoy, &batch).await, Ingested::ok(20, 0, 0));
        let before = app.stored_positions(&id, window.0, window.1).await;
        assert_eq!(before.len(), 20);

        // the phone did not get the answer and sends the batch again
        assert_eq!(app.ingest(&envoy, &batch).await, Ingested::ok(0, 20, 0));
        // the same instants with other coordinates are still duplicates: the first stays
        let moved = track(now - Duration::seconds(190), 20, 10, north_of_tower(150.0));
        assert_eq!(app.ingest(&envoy, &moved).await, Ingested::ok(0, 20, 0));
        assert_eq!(app.stored_positions(&id, window.0, window.1).await, before);

        // newer points first, then the old batch once more; then the old batch plus one new
        app.clock.advance(Duration::seconds(30));
        let newer = [point(app.now(), inside())];
        assert_eq!(app.ingest(&envoy, &newer).await, Ingested::ok(1, 0, 0));
        assert_eq!(app.ingest(&envoy, &batch).await, Ingested::ok(0, 20, 0));
        let mut plus_one = batch.clone();
        plus_one.push(point(app.now() + Duration::seconds(10), inside()));
        assert_eq!(app.ingest(&envoy, &plus_one).await, Ingested::ok(1, 20, 0));
        let after = app.stored_positions(&id, window.0, window.1).await;
        assert_eq!(after.len(), 22);
        assert_eq!(after[..20], before[..], "the old points are untouched");
    })
    .await;
}

#[tokio::test]
async fn repeated_instants_in_one_batch_keep_the_first() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, id) = app.quick_envoy(1).await;
        let now = app.now();
        let t1 = now - Duration::seconds(20);
        let t2 = now - Duration::seconds(10);
        let points = [
            point(t1, inside()),
            point(t2, inside()),
            point(t1, north_of_tower(120.0)),
            point(t1, north_of_tower(140.0)),
        ];
        assert_eq!(app.ingest(&envoy, &points).await, Ingested::ok(2, 2, 0));
        let stored = app
            .stored_positions(&id, now - Duration::hours(1), now)
            .await;
        let seen: Vec<_> = stored.iter().map(|p| p.ts).collect();
        assert_eq!(seen, [t1, t2]);
        assert!(
            stored.iter().all(|p| same((p.at.lat, p.at.lng), inside())),
            "the first of each instant is kept: {stored:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn gcj02_points_are_converted_to_wgs84() {
    on_each_backend(async |app: &TestApp| {
        // a 50 m circle at the tower, so a few hundred metres of GCJ-02 offset is outside it
        let area = json!({"type": "Circle", "center": [TOWER_LNG, TOWER_LAT], "radius_m": 50});
        let patrol = app
            .active_team(&json!({"area": area, "team_min": 2}), 1, 1)
            .await;
        let (leader, leader_id) = &patrol.leader;
        let (member, member_id) = &patrol.members[0];
        let tower = LatLng::new(TOWER_LAT, TOWER_LNG).unwrap();
        // what a phone's map SDK reports standing at the tower
        let mars = wgs84_to_gcj02(tower);
        assert!(
            haversine_m(tower, mars) > 100.0,
            "the raw GCJ-02 value lies outside the circle"
        );
        let back = gcj02_to_wgs84(mars);
        assert!(
            haversine_m(tower, back) < 5.0,
            "converted back to the tower"
        );

        let start = patrol.started_at;
        let route = steady(0, 30, 30, (mars.lat, mars.lng));
        let points = route_points(start, &route);
        // the leader says GCJ-02; the member sends the same numbers as WGS-84
        let res = expect(
            app.post_positions(leader, &points, Some("gcj02")).await,
            200,
        );
        assert_eq!(Ingested::of(&res), Ingested::ok(2, 0, 0));
        assert_eq!(app.ingest(member, &points).await, Ingested::ok(2, 0, 0));

        let window = (start, start + Duration::minutes(1));
        let stored = app.stored_positions(leader_id, window.0, window.1).await;
        assert_eq!(stored.len(), 2);
        assert!(
            stored
                .iter()
                .all(|p| same((p.at.lat, p.at.lng), (back.lat, back.lng))),
            "stored where gcj02_to_wgs84 puts it: {stored:?}"
        );
        let stored = app.stored_positions(member_id, window.0, window.1).await;
        assert!(
            stored
                .iter()
                .all(|p| same((p.at.lat, p.at.lng), (mars.lat, mars.lng))),
            "{stored:?}"
        );

        app.clock.advance(Duration::seconds(30));
        let progress = expect(app.progress(leader, &patrol.team_id).await, 200);
        let l = member_of(&progress, leader_id);
        assert_eq!(
            (l["minutes_inside"].as_f64(), &l["inside_now"]),
            (Some(0.5), &json!(true)),
            "{progress}"
        );
        let m = member_of(&progress, member_id);
        assert_eq!(
            (m["minutes_inside"].as_f64(), &m["inside_now"]),
            (Some(0.0), &json!(false)),
            "{progress}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_jump_is_flagged_kept_and_never_counted() {
    on_each_backend(async |app: &TestApp| {
        let patrol = app.active_team(&json!({}), 1, 2).await;
        let (envoy, id) = &patrol.members[0];
        let start = patrol.started_at;
        let far = north_of_tower(5000.0);
        // inside at 0 and 30 s, 5 km away 10 s later (500 m/s), inside again at 60 and 90 s
        let route = vec![
            (0, inside()),
            (30, inside()),
            (40, far),
            (60, inside()),
            (90, inside()),
        ];
        let points = route_points(start, &route);
        app.clock.set(start + Duration::seconds(90));
        assert_eq!(app.ingest(envoy, &points).await, Ingested::ok(5, 0, 1));
        let stored = app
            .stored_positions(id, start, start + Duration::minutes(5))
            .await;
        let flags: Vec<bool> = stored.iter().map(|p| p.flagged).collect();
        assert_eq!(flags, [false, false, true, false, false]);
        // a retry repeats the flagged point too, and flags nothing new
        assert_eq!(app.ingest(envoy, &points).await, Ingested::ok(0, 5, 0));

        let progress = expect(app.progress(envoy, &patrol.team_id).await, 200);
        let me = member_of(&progress, id);
        // 0→30 and 30→60→90 with the jump left out; counted, it would cut 30 s off
        assert_eq!(me["minutes_inside"].as_f64(), Some(1.5), "{progress}");
        assert_eq!(time_of(&me["last_seen"]), start + Duration::seconds(90));

        // a jump alone: flagged against the latest honest point, and it moves nobody
        let jump = route_points(start, &[(100, far)]);
        assert_eq!(app.ingest(envoy, &jump).await, Ingested::ok(1, 0, 1));
        // the next honest point is compared with the honest one before the jump
        let back = route_points(start, &[(120, inside())]);
        assert_eq!(app.ingest(envoy, &back).await, Ingested::ok(1, 0, 0));
        app.clock.set(start + Duration::seconds(120));
        let progress = expect(app.progress(envoy, &patrol.team_id).await, 200);
        let me = member_of(&progress, id);
        assert_eq!(me["minutes_inside"].as_f64(), Some(2.0), "{progress}");
        assert_eq!(time_of(&me["last_seen"]), start + Duration::seconds(120));
        assert_eq!(me["inside_now"], true);
    })
    .await;
}

#[tokio::test]
async fn only_envoys_post_positions() {
    on_each_backend(async |app: &TestApp| {
        let points = [point(app.now(), inside())];
        let commander = app.commander().await;
        let admin = app.admin().await;
        for token in [&commander, &admin] {
            let res = app.post_positions(token, &points, None).await;
            expect_error(&res, 403, "wrong_role");
        }
        expect_error(
            &app.post_positions("", &points, None).await,
            401,
            "unauthorized",
        );
        expect_error(
            &app.post_positions("not-a-session", &points, None).await,
            401,
            "unauthorized",
        );
        let (envoy, _) = app.quick_envoy(1).await;
        let req = app
            .request(reqwest::Method::POST, "/positions", &envoy)
            .header("content-type", "application/json")
            .body("{\"points\": [");
        expect_error(&app.send(req).await, 400, "invalid_json");
        let res = app
            .post("/positions", &envoy, &json!({"crs": "wgs84"}))
            .await;
        expect_error(&res, 400, "invalid_body");
        let res = app
            .post(
                "/positions",
                &envoy,
                &json!({"points": [{"ts": "yesterday", "lat": 1, "lng": 2, "accuracy_m": 3}]}),
            )
            .await;
        expect_error(&res, 400, "invalid_body");
    })
    .await;
}

/// Sends the same POST with each (token, body) at one moment; returns the answers in order.
async fn post_all_at_once(app: &TestApp, posts: Vec<(String, Value)>) -> Vec<Value> {
    let barrier = Arc::new(Barrier::new(posts.len()));
    let handles: Vec<_> = posts
        .into_iter()
        .map(|(token, body)| {
            let req = app
                .client
                .post(app.api("/positions"))
                .bearer_auth(token)
                .json(&body);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                read(req.send().await.unwrap()).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(expect(h.await.unwrap(), 200));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_copies_of_a_batch_are_stored_once() {
    on_each_backend(async |app: &TestApp| {
        let now = app.now();
        let window = (now - Duration::hours(1), now + Duration::hours(1));

        // one phone sends the same batch eight times at once
        let (envoy, id) = app.quick_envoy(1).await;
        let batch = track(now - Duration::seconds(99), 100, 1, inside());
        let posts = vec![(envoy.clone(), json!({ "points": batch })); 8];
        let answers = post_all_at_once(app, posts).await;
        let mut accepted = 0;
        for a in &answers {
            let got = Ingested::of(a);
            assert_eq!(
                (
                    got.accepted + got.duplicates,
                    got.flagged,
                    got.rejected.len()
                ),
                (100, 0, 0),
                "{a}"
            );
            accepted += got.accepted;
        }
        assert_eq!(
            accepted, 100,
            "each point accepted exactly once: {answers:?}"
        );
        assert_eq!(
            app.stored_positions(&id, window.0, window.1).await.len(),
            100
        );

        // eight envoys at once, each at its own place: one group commit keeps them apart
        let envoys = app.quick_envoys(10, 8).await;
        let posts = envoys
            .iter()
            .zip(1i32..)
            .map(|((token, _), k)| {
                let at = north_of_tower(f64::from(10 * k));
                (
                    token.clone(),
                    json!({"points": track(now - Duration::seconds(49), 50, 1, at)}),
                )
            })
            .collect();
        for a in post_all_at_once(app, posts).await {
            assert_eq!(Ingested::of(&a), Ingested::ok(50, 0, 0));
        }
        for ((_, id), k) in envoys.iter().zip(1i32..) {
            let stored = app.stored_positions(id, window.0, window.1).await;
            assert_eq!(stored.len(), 50);
            let at = north_of_tower(f64::from(10 * k));
            assert!(
                stored.iter().all(|p| same((p.at.lat, p.at.lng), at)),
                "envoy {k}'s own points, at {at:?}: {stored:?}"
            );
        }
    })
    .await;
}
