//! The maps: `GET /heatmap` (H3 hexagons with visits and distinct envoys over a window, sparse
//! cells hidden from all but the command centre), its raster tiles, and `GET /live`.

use chrono::Duration;
use e2e::{
    expect, expect_error, on_each_backend, point, str_of, time_of, track, Ingested, TestApp,
    TOWER_LAT, TOWER_LNG,
};
use pp_domain::heat::{HeatWindow, DEFAULT_RES};
use pp_geo::tile::Tile;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Canton Tower's H3 cell at res 9 (the H3 reference library's `latLngToCell`).
const TOWER_R9: &str = "89411d4d243ffff";
/// Haizhu passenger station's, at res 9.
const STATION_R9: &str = "89411d4de23ffff";
const STATION: (f64, f64) = (23.0960, 113.2630);
const TOWER: (f64, f64) = (TOWER_LAT, TOWER_LNG);

/// `cell → (visits, envoys)` of a heat map answer, after checking its GeoJSON shape.
#[track_caller]
fn cells(map: &Value) -> BTreeMap<String, (u64, u64)> {
    assert_eq!(map["type"], "FeatureCollection", "{map}");
    map["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "Feature");
            assert_eq!(f["geometry"]["type"], "Polygon");
            let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
            assert_eq!(ring.len(), 7, "a closed hexagon: {f}");
            assert_eq!(ring[0], ring[6]);
            let p = &f["properties"];
            assert_eq!(f["id"], p["cell"]);
            (
                str_of(p, "cell").to_owned(),
                (p["visits"].as_u64().unwrap(), p["envoys"].as_u64().unwrap()),
            )
        })
        .collect()
}

async fn heatmap(app: &TestApp, token: &str, query: &str) -> BTreeMap<String, (u64, u64)> {
    cells(&expect(
        app.get(&format!("/heatmap?{query}"), token).await,
        200,
    ))
}

#[tokio::test]
async fn the_heat_map_counts_visits_and_distinct_envoys_per_cell_and_window() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let envoys = app.quick_envoys(1, 4).await;
        let t0 = app.now();
        // three envoys at the tower: 3 + 2 + 1 points; a fourth at the station, 2 points
        for ((token, _), n) in envoys.iter().zip([3, 2, 1]) {
            let points = track(t0 - Duration::minutes(5), n, 30, TOWER);
            assert_eq!(
                app.ingest(token, &points).await,
                Ingested::ok(n as u64, 0, 0)
            );
        }
        let station = &envoys[3].0;
        let points = track(t0 - Duration::minutes(5), 2, 30, STATION);
        app.ingest(station, &points).await;
        // a retried batch and a flagged jump add nothing
        app.ingest(station, &points).await;
        let jump = [point(t0 - Duration::minutes(4), TOWER)];
        assert_eq!(app.ingest(station, &jump).await, Ingested::ok(1, 0, 1));

        let want = BTreeMap::from([
            (TOWER_R9.to_owned(), (6, 3)),
            (STATION_R9.to_owned(), (2, 1)),
        ]);
        for window in ["window=live", "window=5d", "", "window=30d"] {
            assert_eq!(heatmap(app, &commander, window).await, want, "{window}");
        }
        let map = expect(app.get("/heatmap?window=7d&res=9", &commander).await, 200);
        assert_eq!(
            (map["window"].as_str(), map["res"].as_u64()),
            (Some("7d"), Some(9))
        );
        assert_eq!(map["min_envoys"], 1);

        // anyone but the command centre: cells of fewer than 3 envoys are left out
        let (envoy, _) = &envoys[0];
        let seen = heatmap(app, envoy, "window=7d").await;
        assert_eq!(seen, BTreeMap::from([(TOWER_R9.to_owned(), (6, 3))]));
        let map = expect(app.get("/heatmap", envoy).await, 200);
        assert_eq!(map["min_envoys"], 3);

        // a box around the station holds only its cell; resolutions 7 and 10 bin the same points
        let station_box = "bbox=113.262,23.095,113.264,23.097";
        assert_eq!(
            heatmap(app, &commander, station_box).await,
            BTreeMap::from([(STATION_R9.to_owned(), (2, 1))])
        );
        let r7 = heatmap(app, &commander, "res=7").await;
        assert_eq!(r7.values().map(|c| c.0).sum::<u64>(), 8);
        let r10 = heatmap(app, &commander, "res=10").await;
        assert_eq!(r10.len(), 2);
        assert!(r10.contains_key("8a411d4d2417fff"), "{r10:?}");

        // six days later: live is empty, 5 days is empty, 7 days still holds everything
        app.clock.advance(Duration::days(6));
        let t1 = app.now();
        assert!(heatmap(app, &commander, "window=live").await.is_empty());
        assert!(heatmap(app, &commander, "window=5d").await.is_empty());
        assert_eq!(heatmap(app, &commander, "window=7d").await, want);
        // new points at the tower by one of the envoys: one more visit, the same 3 envoys
        let (token, _) = &envoys[1];
        app.ingest(token, &track(t1 - Duration::minutes(1), 1, 30, TOWER))
            .await;
        let seven = heatmap(app, &commander, "window=7d").await;
        assert_eq!(seven[TOWER_R9], (7, 3));
        assert_eq!(
            heatmap(app, &commander, "window=5d").await[TOWER_R9],
            (1, 1)
        );

        // a custom window counts whole hours: from the hour holding `from`
        let hour = |t: chrono::DateTime<chrono::Utc>| {
            t - Duration::milliseconds(t.timestamp_millis().rem_euclid(3_600_000))
        };
        let q = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
            format!(
                "from={}&to={}",
                urlencode(&from.to_rfc3339()),
                urlencode(&to.to_rfc3339())
            )
        };
        let first_hour = hour(t0 - Duration::minutes(5));
        let last_point = t0 - Duration::minutes(4);
        let exact = heatmap(app, &commander, &q(first_hour, last_point)).await;
        assert_eq!(exact, want);
        let map = expect(
            app.get(
                &format!("/heatmap?{}", q(first_hour, last_point)),
                &commander,
            )
            .await,
            200,
        );
        assert_eq!(time_of(&map["from"]), first_hour);
        // the hour after the points holds none of them; the hour before neither
        let after = hour(last_point) + Duration::hours(1);
        assert!(
            heatmap(app, &commander, &q(after, after + Duration::minutes(59)))
                .await
                .is_empty()
        );
        let before = first_hour - Duration::hours(1);
        assert!(
            heatmap(app, &commander, &q(before, before + Duration::minutes(59)))
                .await
                .is_empty()
        );

        // the aggregates are in the store: a restarted server has the same map
        let restarted = app.restarted_state().await;
        for window in [HeatWindow::Days(7), HeatWindow::Days(30)] {
            for res in 7..=10 {
                let span = window.span(app.now());
                assert_eq!(
                    restarted.heat.cells(span, res, None, 1),
                    app.state.heat.cells(span, res, None, 1),
                    "{window:?} res {res}"
                );
            }
        }
        // the live window is rebuilt from the recent points, after the start
        let heat = &restarted.heat;
        tokio::time::timeout(std::time::Duration::from_secs(20), heat.wait_live_ready())
            .await
            .expect("the live window is rebuilt within 20 s");
        let live = heat.cells(HeatWindow::Live.span(app.now()), DEFAULT_RES, None, 1);
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].visits, 1);
    })
    .await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn bad_heat_map_requests_are_refused_with_the_reason() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        for (query, code) in [
            ("window=6d", "invalid_window"),
            ("window=live&from=2026-01-01T00:00:00Z", "invalid_window"),
            ("to=2026-01-01T00:00:00Z", "invalid_window"),
            (
                "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
                "invalid_window",
            ),
            ("from=yesterday", "invalid_query"),
            ("res=11", "invalid_resolution"),
            ("res=6", "invalid_resolution"),
            ("res=nine", "invalid_query"),
            ("bbox=1,2,3", "invalid_bbox"),
            ("bbox=113.4,23.0,113.3,23.1", "invalid_bbox"),
        ] {
            let res = app.get(&format!("/heatmap?{query}"), &commander).await;
            expect_error(&res, 400, code);
        }
        expect_error(&app.get("/heatmap", "nope").await, 401, "unauthorized");
    })
    .await;
}

/// The z-14 tile holding Canton Tower, and the tower's pixel in it.
fn tower_tile() -> (Tile, (u32, u32)) {
    let tower = pp_geo::LatLng::new(TOWER_LAT, TOWER_LNG).unwrap();
    let tile = Tile::containing(tower, 14).unwrap();
    let (px, py) = tile.pixel(tower);
    (tile, (px as u32, py as u32))
}

async fn get_tile(
    app: &TestApp,
    path: &str,
    etag: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.api(path));
    if let Some(etag) = etag {
        req = req.header("If-None-Match", etag);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn heat_tiles_are_png_layers_with_etags() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let (envoy, _) = app.quick_envoy(1).await;
        let now = app.now();
        app.ingest(&envoy, &track(now - Duration::minutes(2), 4, 30, TOWER))
            .await;
        let (tile, (px, py)) = tower_tile();
        let path = format!(
            "/tiles/heat/7d/{}/{}/{}.png?token={commander}",
            tile.z, tile.x, tile.y
        );
        let (status, headers, body) = get_tile(app, &path, None).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "image/png");
        assert!(headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let img = image::load_from_memory(&body).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (256, 256));
        assert!(img.get_pixel(px, py)[3] > 100, "the tower's cell is drawn");
        let drawn = img.pixels().filter(|p| p[3] > 0).count();
        assert!(drawn > 100 && drawn < 256 * 256, "{drawn} pixels drawn");

        // the same tile again: 304 with its ETag
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let (status, headers, body) = get_tile(app, &path, Some(&etag)).await;
        assert_eq!((status, body.len()), (304, 0));
        assert_eq!(headers["etag"], etag.as_str());

        // the lone envoy's cell is hidden from envoys: a transparent tile
        let path = format!(
            "/tiles/heat/7d/{}/{}/{}.png?token={envoy}",
            tile.z, tile.x, tile.y
        );
        let (status, _, body) = get_tile(app, &path, None).await;
        assert_eq!(status, 200);
        let img = image::load_from_memory(&body).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (256, 256));
        assert!(img.pixels().all(|p| p[3] == 0));

        // a tile far away is empty; the bearer header works as well as ?token=
        let far = "/tiles/heat/live/14/0/0.png";
        let res = app
            .client
            .get(app.api(far))
            .bearer_auth(&commander)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let img = image::load_from_memory(&res.bytes().await.unwrap())
            .unwrap()
            .to_rgba8();
        assert!(img.pixels().all(|p| p[3] == 0));

        for (path, code) in [
            ("/tiles/heat/6d/14/0/0.png", "invalid_window"),
            ("/tiles/heat/7d/23/0/0.png", "invalid_tile"),
            ("/tiles/heat/7d/2/4/0.png", "invalid_tile"),
            ("/tiles/heat/7d/2/0/1", "invalid_tile"),
            ("/tiles/heat/7d/2/0/x.png", "invalid_tile"),
        ] {
            expect_error(&app.get(path, &commander).await, 400, code);
        }
        let res = get_tile(app, "/tiles/heat/7d/14/0/0.png", None).await;
        assert_eq!(res.0, 401);
    })
    .await;
}

#[tokio::test]
async fn the_live_map_lists_envoys_seen_in_the_last_ten_minutes_with_their_team() {
    on_each_backend(async |app: &TestApp| {
        let patrol = app.active_team(&json!({}), 1, 2).await;
        let now = app.now();
        for (token, _) in patrol.everyone() {
            app.ingest(&token, &[point(now, TOWER)]).await;
        }
        let (walker, walker_id) = app.quick_envoy(10).await;
        app.ingest(&walker, &[point(now - Duration::minutes(3), STATION)])
            .await;

        let live = expect(app.get("/live", &patrol.commander).await, 200);
        let envoys = live["envoys"].as_array().unwrap();
        assert_eq!(envoys.len(), 4, "{live}");
        // most recently seen first: the walker, seen 3 minutes ago, is last
        let last = &envoys[3];
        assert_eq!(last["id"], walker_id.as_str());
        assert_eq!(last["name"].as_str().map(str::is_empty), Some(false));
        assert_eq!(
            (last["lat"].as_f64(), last["lng"].as_f64()),
            (Some(STATION.0), Some(STATION.1))
        );
        assert!(last["team"].is_null());
        let leader = envoys
            .iter()
            .find(|e| e["id"] == patrol.leader.1.as_str())
            .unwrap();
        assert_eq!(leader["team"]["team_id"], patrol.team_id.as_str());
        assert_eq!(leader["team"]["task_id"], patrol.task["id"]);
        assert_eq!(leader["team"]["state"], "active");

        // a box around the station
        let boxed = expect(
            app.get(
                "/live?bbox=113.262,23.095,113.264,23.097",
                &patrol.commander,
            )
            .await,
            200,
        );
        assert_eq!(boxed["envoys"].as_array().unwrap().len(), 1);
        expect_error(
            &app.get("/live?bbox=oops", &patrol.commander).await,
            400,
            "invalid_bbox",
        );

        // eight minutes on, the walker (seen 11 minutes before) is gone
        app.clock.advance(Duration::minutes(8));
        let live = expect(app.get("/live", &patrol.commander).await, 200);
        assert_eq!(live["envoys"].as_array().unwrap().len(), 3);

        // only the command centre
        expect_error(&app.get("/live", &walker).await, 403, "wrong_role");
        let admin = app.admin().await;
        expect(app.get("/live", &admin).await, 200);
    })
    .await;
}
