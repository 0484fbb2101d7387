//! Tasks: validation, the nearby search, filters, detail, closing.

use chrono::Duration;
use e2e::{expect, expect_error, on_each_backend, str_of, TestApp, TOWER_LAT, TOWER_LNG};
use pp_geo::{Area, LatLng};
use serde_json::{json, Value};

fn circle(lng: f64, lat: f64, radius_m: f64) -> Value {
    json!({"type": "Circle", "center": [lng, lat], "radius_m": radius_m})
}

fn polygon(ring: &[[f64; 2]]) -> Value {
    json!({"type": "Polygon", "coordinates": [ring]})
}

async fn task_count(app: &TestApp, token: &str) -> usize {
    let list = expect(app.get("/tasks?status=open", token).await, 200);
    let open = list["tasks"].as_array().unwrap().len();
    let list = expect(app.get("/tasks?status=closed", token).await, 200);
    open + list["tasks"].as_array().unwrap().len()
}

#[tokio::test]
async fn invalid_tasks_are_refused_with_their_codes() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let now = app.now();
        let cases = [
            (json!({"area": polygon(&[[113.32, 23.10], [113.33, 23.10], [113.33, 23.11], [113.32, 23.11], [113.321, 23.10]])}), "ring_not_closed"),
            (json!({"area": polygon(&[[113.32, 23.10], [113.33, 23.11], [113.33, 23.10], [113.32, 23.11], [113.32, 23.10]])}), "self_intersecting"),
            (json!({"area": polygon(&[[113.2, 23.0], [113.4, 23.0], [113.4, 23.2], [113.2, 23.2], [113.2, 23.0]])}), "area_too_large"),
            (json!({"area": circle(TOWER_LNG, TOWER_LAT, 5.0)}), "radius_out_of_range"),
            (json!({"area": circle(TOWER_LNG, TOWER_LAT, 6000.0)}), "radius_out_of_range"),
            (json!({"area": circle(TOWER_LNG, 95.0, 300.0)}), "coordinate_out_of_range"),
            (json!({"area": {"type": "Point", "coordinates": [TOWER_LNG, TOWER_LAT]}}), "unsupported_geometry"),
            (json!({"team_min": 1}), "invalid_team_size"),
            (json!({"team_min": 4, "team_max": 3}), "invalid_team_size"),
            (json!({"team_max": 11}), "invalid_team_size"),
            (json!({"max_teams": 0}), "invalid_max_teams"),
            (json!({"patrol_minutes": 0}), "invalid_patrol_minutes"),
            (json!({"title": "  "}), "invalid_title"),
            (json!({"reward_points": -1}), "invalid_reward"),
            (json!({"starts_at": (now + Duration::hours(2)).to_rfc3339(), "ends_at": (now + Duration::hours(1)).to_rfc3339()}), "invalid_window"),
            (json!({"starts_at": (now - Duration::hours(5)).to_rfc3339(), "ends_at": (now - Duration::hours(1)).to_rfc3339()}), "invalid_window"),
        ];
        for (overrides, code) in cases {
            let res = app.post("/tasks", &commander, &app.task_body(&overrides)).await;
            assert_eq!(res.1["error"]["code"].as_str(), Some(code), "{overrides} → {res:?}");
            expect_error(&res, 400, code);
        }
        // wrong types and unknown fields are refused as bodies
        for overrides in [json!({"max_teams": "two"}), json!({"team_min": -3}), json!({"starts_at": "tomorrow"}), json!({"colour": "red"})] {
            let res = app.post("/tasks", &commander, &app.task_body(&overrides)).await;
            expect_error(&res, 400, "invalid_body");
        }
        assert_eq!(task_count(app, &commander).await, 0, "no refused task was saved");

        // a valid polygon is accepted and comes back as GeoJSON
        let ring = [[113.3230, 23.1050], [113.3260, 23.1050], [113.3260, 23.1080], [113.3230, 23.1080], [113.3230, 23.1050]];
        let task = app.create_task(&commander, &json!({"area": polygon(&ring)})).await;
        assert_eq!(task["area"]["type"], "Polygon");
        assert_eq!(task["area"]["coordinates"][0].as_array().map(Vec::len), Some(5), "{task}");
        let c = &task["center"];
        assert!((c["lat"].as_f64().unwrap() - 23.1065).abs() < 1e-4 && (c["lng"].as_f64().unwrap() - 113.3245).abs() < 1e-4, "{task}");
        assert_eq!(task_count(app, &commander).await, 1);

        // distances to a polygon: 0 inside, else to its edge
        let inside = expect(app.get("/tasks?near=23.1065,113.3245&radius_m=100", &commander).await, 200);
        assert_eq!(inside["tasks"][0]["distance_m"].as_f64(), Some(0.0), "{inside}");
        let (lat, lng) = (23.1065, 113.3360);
        let outside = expect(app.get(&format!("/tasks?near={lat},{lng}&radius_m=2000"), &commander).await, 200);
        let want = Area::from_geojson(&polygon(&ring)).unwrap().distance_m(LatLng::new(lat, lng).unwrap());
        let got = outside["tasks"][0]["distance_m"].as_f64().unwrap();
        assert!(want > 900.0 && (got - want).abs() < 1.0, "distance {got}, expected {want}");
        let far = expect(app.get(&format!("/tasks?near={lat},{lng}&radius_m=500"), &commander).await, 200);
        assert_eq!(far["tasks"], json!([]), "{far}");
    })
    .await;
}

/// Landmarks around Canton Tower: (title, lng, lat).
const PLACES: [(&str, f64, f64); 4] = [
    ("Canton Tower", TOWER_LNG, TOWER_LAT),
    ("Huacheng Square", 113.3268, 23.1197),
    ("Tianhe Sports Center", 113.3245, 23.1400),
    ("Baiyun Mountain", 113.2980, 23.1850),
];

fn titles(list: &Value) -> Vec<String> {
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| str_of(t, "title").to_owned())
        .collect()
}

#[tokio::test]
async fn nearby_search_sorts_by_distance_and_filters() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let (envoy, _) = app.quick_envoy(1).await;
        let mut ids = Vec::new();
        for (title, lng, lat) in PLACES {
            app.clock.advance(Duration::seconds(1));
            let t = app
                .create_task(
                    &commander,
                    &json!({"title": title, "place": title, "area": circle(lng, lat, 300.0)}),
                )
                .await;
            ids.push(str_of(&t, "id").to_owned());
        }

        // without `near`: newest first, and no distance
        let all = expect(app.get("/tasks", &envoy).await, 200);
        assert_eq!(
            titles(&all),
            [
                "Baiyun Mountain",
                "Tianhe Sports Center",
                "Huacheng Square",
                "Canton Tower"
            ]
        );
        assert!(
            all["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["distance_m"].is_null()),
            "{all}"
        );

        let near = |lat: f64, lng: f64, extra: &'static str| {
            let path = format!("/tasks?near={lat},{lng}{extra}");
            let envoy = envoy.clone();
            async move { expect(app.get(&path, &envoy).await, 200) }
        };
        let expected_distance = |i: usize, lat: f64, lng: f64| {
            let (_, plng, plat) = PLACES[i];
            Area::from_geojson(&circle(plng, plat, 300.0))
                .unwrap()
                .distance_m(LatLng::new(lat, lng).unwrap())
        };

        // from the tower: inside its area (0 m), then by distance, within the radius
        let list = near(TOWER_LAT, TOWER_LNG, "&radius_m=5000").await;
        assert_eq!(
            titles(&list),
            ["Canton Tower", "Huacheng Square", "Tianhe Sports Center"]
        );
        let tasks = list["tasks"].as_array().unwrap();
        assert_eq!(tasks[0]["distance_m"].as_f64(), Some(0.0), "{list}");
        for (n, t) in tasks.iter().enumerate().skip(1) {
            let got = t["distance_m"].as_f64().unwrap();
            let want = expected_distance(n, TOWER_LAT, TOWER_LNG);
            assert!(
                (got - want).abs() < 1.0,
                "{}: distance {got}, expected {want}",
                t["title"]
            );
        }
        assert_eq!(
            titles(&near(TOWER_LAT, TOWER_LNG, "").await),
            titles(&list),
            "the default radius is 5000 m"
        );
        assert_eq!(
            titles(&near(TOWER_LAT, TOWER_LNG, "&radius_m=2000").await),
            ["Canton Tower", "Huacheng Square"]
        );
        assert_eq!(
            titles(&near(TOWER_LAT, TOWER_LNG, "&radius_m=20000").await).len(),
            4
        );
        assert_eq!(
            titles(&near(TOWER_LAT, TOWER_LNG, "&radius_m=20000&limit=2").await),
            ["Canton Tower", "Huacheng Square"]
        );

        // from just outside the tower's circle: the distance is to its edge
        let (lat, lng) = (TOWER_LAT + 0.004, TOWER_LNG);
        let list = near(lat, lng, "&radius_m=1000").await;
        assert_eq!(titles(&list)[0], "Canton Tower", "{list}");
        let d = list["tasks"][0]["distance_m"].as_f64().unwrap();
        assert!(
            d > 100.0 && (d - expected_distance(0, lat, lng)).abs() < 1.0,
            "{d}"
        );

        // status filter
        expect(
            app.post_empty(&format!("/tasks/{}/close", ids[1]), &commander)
                .await,
            200,
        );
        let closed = expect(app.get("/tasks?status=closed", &envoy).await, 200);
        assert_eq!(titles(&closed), ["Huacheng Square"]);
        assert_eq!(closed["tasks"][0]["status"], "closed");
        let open = expect(app.get("/tasks?status=open", &envoy).await, 200);
        assert_eq!(
            titles(&open),
            ["Baiyun Mountain", "Tianhe Sports Center", "Canton Tower"]
        );
        let open_near = near(TOWER_LAT, TOWER_LNG, "&status=open").await;
        assert_eq!(titles(&open_near), ["Canton Tower", "Tianhe Sports Center"]);

        // bad queries
        for q in [
            "status=done",
            "near=abc",
            "near=23.1",
            "near=95,113",
            "near=23.1,113.3&radius_m=-5",
            "near=23.1,113.3&radius_m=lots",
            "limit=abc",
        ] {
            let res = app.get(&format!("/tasks?{q}"), &envoy).await;
            assert_eq!(res.0, 400, "{q} → {res:?}");
            expect_error(&res, 400, res.1["error"]["code"].as_str().unwrap_or("?"));
        }
    })
    .await;
}

#[tokio::test]
async fn task_detail_lists_teams_and_free_slots() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let task = app.create_task(&commander, &json!({})).await;
        let id = str_of(&task, "id");
        let (envoy, envoy_id) = app.quick_envoy(1).await;
        let detail = expect(app.get(&format!("/tasks/{id}"), &envoy).await, 200);
        assert_eq!(detail["teams_list"], json!([]), "{detail}");
        assert_eq!(
            (detail["teams"].as_i64(), detail["free_slots"].as_i64()),
            (Some(0), Some(2))
        );
        for key in [
            "id",
            "title",
            "place",
            "description",
            "area",
            "center",
            "starts_at",
            "ends_at",
            "patrol_minutes",
            "team_min",
            "team_max",
            "max_teams",
            "reward_points",
            "reward_fund_cents",
            "status",
            "created_by",
            "created_at",
        ] {
            assert!(!detail[key].is_null(), "{key} missing in {detail}");
        }

        app.clock.advance(Duration::seconds(5));
        let team = expect(app.claim(&envoy, id).await, 201);
        let detail = expect(app.get(&format!("/tasks/{id}"), &commander).await, 200);
        assert_eq!(
            (detail["teams"].as_i64(), detail["free_slots"].as_i64()),
            (Some(1), Some(1))
        );
        let summary = &detail["teams_list"][0];
        assert_eq!(summary["id"], team["id"]);
        assert_eq!(summary["leader_id"].as_str(), Some(envoy_id.as_str()));
        assert_eq!(summary["leader_name"], "envoy 1");
        assert_eq!(summary["state"], "forming");
        assert_eq!(summary["members"].as_i64(), Some(1));
        assert_eq!(summary["created_at"], team["created_at"]);
        assert!(summary["started_at"].is_null());
        // the list shows the live count too
        let list = expect(app.get("/tasks", &envoy).await, 200);
        assert_eq!(
            (
                list["tasks"][0]["teams"].as_i64(),
                list["tasks"][0]["free_slots"].as_i64()
            ),
            (Some(1), Some(1))
        );

        // the leader is in a team now: no second claim, here or elsewhere
        expect_error(&app.claim(&envoy, id).await, 409, "already_in_team");
        let other = app
            .create_task(&commander, &json!({"title": "Second"}))
            .await;
        expect_error(
            &app.claim(&envoy, str_of(&other, "id")).await,
            409,
            "already_in_team",
        );
    })
    .await;
}

#[tokio::test]
async fn claims_respect_window_and_closing() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let (a, _) = app.quick_envoy(1).await;
        let (b, _) = app.quick_envoy(2).await;
        let now = app.now();
        let later = app
            .create_task(&commander, &json!({"starts_at": (now + Duration::hours(1)).to_rfc3339(), "ends_at": (now + Duration::hours(4)).to_rfc3339()}))
            .await;
        expect_error(&app.claim(&a, str_of(&later, "id")).await, 409, "outside_window");
        app.clock.advance(Duration::minutes(61));
        expect(app.claim(&a, str_of(&later, "id")).await, 201);

        let task = app.create_task(&commander, &json!({})).await;
        let id = str_of(&task, "id");
        let closed = expect(app.post_empty(&format!("/tasks/{id}/close"), &commander).await, 200);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["id"], task["id"]);
        expect_error(&app.claim(&b, id).await, 409, "task_closed");
        expect_error(&app.post_empty(&format!("/tasks/{id}/close"), &commander).await, 409, "task_closed");
        let detail = expect(app.get(&format!("/tasks/{id}"), &b).await, 200);
        assert_eq!((detail["status"].as_str(), detail["teams"].as_i64()), (Some("closed"), Some(0)));
    })
    .await;
}
