//! `GET /envoys/nearest`: the available envoys nearest an emergency, from the live index; and
//! `PUT /me/availability`, an envoy's opt-out.

use chrono::Duration;
use e2e::{expect, expect_error, north_of_tower, on_each_backend, point, TestApp};
use serde_json::{json, Value};

const NEAR: &str = "/envoys/nearest?lat=23.1066&lng=113.3245";

fn ids(v: &Value) -> Vec<&str> {
    v["envoys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_nearest_available_envoys_come_nearest_first() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let now = app.now();
        // envoys 100, 300, 1000 and 3000 m north of the tower; one 200 m away opts out; one
        // 50 m away was last seen 11 minutes ago
        let mut at = Vec::new();
        for (i, north) in [100.0, 300.0, 1000.0, 3000.0, 200.0, 50.0]
            .into_iter()
            .enumerate()
        {
            let (token, id) = app.quick_envoy(i as u32 + 1).await;
            let ts = if north == 50.0 {
                now - Duration::minutes(11)
            } else {
                now
            };
            app.ingest(&token, &[point(ts, north_of_tower(north))])
                .await;
            at.push((token, id));
        }
        let (opted_token, opted_id) = at[4].clone();
        let res = app
            .send(
                app.request(reqwest::Method::PUT, "/me/availability", &opted_token)
                    .json(&json!({"available": false})),
            )
            .await;
        assert_eq!(expect(res, 200), json!({"available": false}));
        assert_eq!(
            expect(app.get("/me", &opted_token).await, 200)["available"],
            false
        );
        assert_eq!(
            expect(app.get("/me", &at[0].0).await, 200)["available"],
            true
        );

        let found = expect(
            app.get(&format!("{NEAR}&k=10&radius_m=2000"), &commander)
                .await,
            200,
        );
        assert_eq!(
            ids(&found),
            [at[0].1.as_str(), at[1].1.as_str(), at[2].1.as_str()]
        );
        let first = &found["envoys"][0];
        assert!(
            (first["distance_m"].as_f64().unwrap() - 100.0).abs() < 1.0,
            "{first}"
        );
        assert_eq!(e2e::time_of(&first["seen_at"]), now);
        assert_eq!(
            ids(&expect(
                app.get(&format!("{NEAR}&k=2"), &commander).await,
                200
            )),
            [at[0].1.as_str(), at[1].1.as_str()]
        );
        assert_eq!(
            ids(&expect(
                app.get(&format!("{NEAR}&radius_m=150"), &commander).await,
                200
            )),
            [at[0].1.as_str()]
        );

        // back in: found again; the opt-out survives a restart
        let res = app
            .send(
                app.request(reqwest::Method::PUT, "/me/availability", &opted_token)
                    .json(&json!({"available": true})),
            )
            .await;
        expect(res, 200);
        let found = expect(app.get(&format!("{NEAR}&k=3"), &commander).await, 200);
        assert_eq!(
            ids(&found),
            [at[0].1.as_str(), opted_id.as_str(), at[1].1.as_str()]
        );
        app.send(
            app.request(reqwest::Method::PUT, "/me/availability", &opted_token)
                .json(&json!({"available": false})),
        )
        .await;
        let restarted = app.restarted_state().await;
        let live = &restarted.live;
        assert!(!live.is_available(opted_id.parse().unwrap()));
        let near = live.nearest(
            pp_geo::LatLng::new(23.1066, 113.3245).unwrap(),
            10,
            2000.0,
            now - Duration::minutes(10),
            |_| false,
        );
        assert_eq!(near.len(), 3);

        // ten minutes on, nobody has been seen lately
        app.clock.advance(Duration::minutes(11));
        assert!(ids(&expect(app.get(NEAR, &commander).await, 200)).is_empty());
    })
    .await;
}

#[tokio::test]
async fn nearest_and_availability_check_their_input_and_roles() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let (envoy, _) = app.quick_envoy(1).await;
        for (query, code) in [
            ("lat=23.1&lng=113.3&k=0", "invalid_k"),
            ("lat=23.1&lng=113.3&k=101", "invalid_k"),
            ("lat=23.1&lng=113.3&radius_m=0", "invalid_radius"),
            ("lat=23.1&lng=113.3&radius_m=50001", "invalid_radius"),
            ("lat=91&lng=113.3", "coordinate_out_of_range"),
            ("lng=113.3", "invalid_query"),
            ("lat=x&lng=113.3", "invalid_query"),
        ] {
            expect_error(
                &app.get(&format!("/envoys/nearest?{query}"), &commander)
                    .await,
                400,
                code,
            );
        }
        expect_error(&app.get(NEAR, &envoy).await, 403, "wrong_role");
        let put = |token: &str, body: Value| {
            app.request(reqwest::Method::PUT, "/me/availability", token)
                .json(&body)
        };
        expect_error(
            &app.send(put(&commander, json!({"available": false}))).await,
            403,
            "wrong_role",
        );
        expect_error(
            &app.send(put(&envoy, json!({"available": "no"}))).await,
            400,
            "invalid_body",
        );
        expect_error(&app.send(put(&envoy, json!({}))).await, 400, "invalid_body");
    })
    .await;
}
