//! Incident reports over real HTTP: filed with photos and routed by category, seen by whom the
//! rules allow, worked along the status machine by the routed department (or a commander),
//! re-routed by a commander, each change an event on the reporter's and the command centre's
//! streams; the routing rules and departments that admins keep.

use e2e::{expect, expect_error, jpeg_photo, on_each_backend, png_photo, Photo, Stream, TestApp};
use serde_json::{json, Value};

const TOWER: (f64, f64) = (23.1066, 113.3245);

/// The text fields of a report form.
type Form = Vec<(&'static str, String)>;

fn fields(category: &str, description: &str) -> Form {
    vec![
        ("category", category.to_owned()),
        ("description", description.to_owned()),
        ("lat", TOWER.0.to_string()),
        ("lng", TOWER.1.to_string()),
    ]
}

async fn file(app: &TestApp, token: &str, category: &str, description: &str) -> Value {
    expect(
        app.report(token, &fields(category, description), &[]).await,
        201,
    )
}

async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> (u16, Value) {
    app.send(
        app.request(reqwest::Method::PATCH, &format!("/incidents/{id}"), token)
            .json(body),
    )
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The next `incident` event on `stream` (other kinds skipped).
async fn incident_event(stream: &mut Stream) -> Value {
    loop {
        let e = stream.next().await;
        if e.event == "incident" {
            return e.data;
        }
    }
}

async fn photo_bytes(app: &TestApp, url: &str, token: &str) -> (u16, Vec<u8>, String) {
    let res = app
        .client
        .get(format!("{url}?token={token}"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, res.bytes().await.unwrap().to_vec(), ct)
}

#[tokio::test]
async fn a_report_with_photos_is_routed_and_its_photos_served_to_those_who_may_see_it() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, envoy_id) = app.quick_envoy(1).await;
        let (stranger, _) = app.quick_envoy(2).await;
        let (sweeper, _) = app.staff("sanitation").await;
        let (warden, _) = app.staff("urban_management").await;
        let commander = app.commander().await;
        let (png, jpeg) = (png_photo(), jpeg_photo());
        let v = expect(
            app.report(
                &envoy,
                &fields("sanitation", "  bins overflowing by the east gate "),
                &[png.clone(), jpeg.clone()],
            )
            .await,
            201,
        );
        assert_eq!(v["category"], "sanitation");
        assert_eq!(v["category_name_zh"], "环境卫生");
        assert_eq!(v["department"], "sanitation");
        assert_eq!(v["status"], "open");
        assert_eq!(v["description"], "bins overflowing by the east gate");
        assert_eq!(v["reporter_id"], envoy_id.as_str());
        assert_eq!(
            (v["lat"].as_f64(), v["lng"].as_f64()),
            (Some(TOWER.0), Some(TOWER.1))
        );
        assert_eq!(v["timeline"][0]["kind"], "reported");
        let id = v["id"].as_str().unwrap();
        let photos: Vec<&str> = v["photos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(photos.len(), 2);
        assert_eq!(
            photos[0],
            format!("{}/api/v1/incidents/{id}/photos/1", app.public_url())
        );

        let (s, bytes, ct) = photo_bytes(app, photos[0], &envoy).await;
        assert_eq!((s, ct.as_str()), (200, "image/png"));
        assert_eq!(bytes, png.bytes, "the photo comes back as sent");
        let (s, bytes, ct) = photo_bytes(app, photos[1], &sweeper).await;
        assert_eq!(
            (s, ct.as_str(), bytes == jpeg.bytes),
            (200, "image/jpeg", true)
        );
        assert_eq!(photo_bytes(app, photos[0], &commander).await.0, 200);
        // those who may not see the report get a 404, as for one that does not exist
        expect_error(
            &app.get(&format!("/incidents/{id}/photos/1"), &stranger)
                .await,
            404,
            "incident_not_found",
        );
        expect_error(
            &app.get(&format!("/incidents/{id}/photos/1"), &warden).await,
            404,
            "incident_not_found",
        );
        expect_error(
            &app.get(&format!("/incidents/{id}/photos/3"), &envoy).await,
            404,
            "photo_not_found",
        );
        expect_error(
            &app.get(&format!("/incidents/{id}/photos/0"), &envoy).await,
            404,
            "photo_not_found",
        );
        expect_error(
            &app.get(&format!("/incidents/{id}/photos/1"), "").await,
            401,
            "unauthorized",
        );
        expect_error(
            &app.get(&format!("/incidents/{id}"), &stranger).await,
            404,
            "incident_not_found",
        );
        expect_error(&app.get("/incidents/nope", &envoy).await, 400, "invalid_id");

        // a photo larger than the API's usual 1 MB body limit is fine in a report
        let mut seed = 7u32;
        let noise = image::RgbImage::from_fn(900, 600, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let [a, b, c, _] = seed.to_le_bytes();
            image::Rgb([a, b, c])
        });
        let mut big = std::io::Cursor::new(Vec::new());
        noise.write_to(&mut big, image::ImageFormat::Png).unwrap();
        let big = Photo {
            bytes: big.into_inner(),
            file_name: "big.png",
            mime: "image/png",
        };
        assert!(big.bytes.len() > 1_200_000, "{}", big.bytes.len());
        let v = expect(
            app.report(&envoy, &fields("other", "a big photo"), &[big])
                .await,
            201,
        );
        assert_eq!(v["photos"].as_array().unwrap().len(), 1);

        let shown = expect(app.get(&format!("/incidents/{id}"), &sweeper).await, 200);
        assert_eq!(shown["id"], id);
        assert_eq!(shown["timeline"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn bad_reports_are_refused_and_change_nothing() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let commander = app.commander().await;
        let without = |name: &str| -> Form {
            fields("sanitation", "litter")
                .into_iter()
                .filter(|(k, _)| *k != name)
                .collect()
        };
        let with = |name: &'static str, value: &str| -> Form {
            let mut f = without(name);
            f.push((name, value.to_owned()));
            f
        };
        let cases: Vec<(Form, Vec<Photo>, u16, &str)> = vec![
            (without("category"), vec![], 400, "invalid_body"),
            (
                with("category", "graffiti"),
                vec![],
                400,
                "invalid_category",
            ),
            (without("description"), vec![], 400, "invalid_body"),
            (
                with("description", "   "),
                vec![],
                400,
                "invalid_description",
            ),
            (
                with("description", &"x".repeat(2001)),
                vec![],
                400,
                "invalid_description",
            ),
            (without("lat"), vec![], 400, "invalid_body"),
            (with("lat", "north"), vec![], 400, "invalid_body"),
            (with("lat", "91"), vec![], 400, "coordinate_out_of_range"),
            (with("team_id", "not-a-team"), vec![], 400, "invalid_body"),
            (
                with("team_id", "019ad0c0-0000-7000-8000-000000000099"),
                vec![],
                404,
                "team_not_found",
            ),
            (
                fields("sanitation", "litter"),
                vec![png_photo(); 4],
                400,
                "too_many_photos",
            ),
            (
                fields("sanitation", "litter"),
                vec![Photo {
                    bytes: b"not an image at all".to_vec(),
                    file_name: "a.png",
                    mime: "image/png",
                }],
                422,
                "invalid_photo",
            ),
        ];
        for (form, photos, status, code) in cases {
            expect_error(&app.report(&envoy, &form, &photos).await, status, code);
        }
        // a team is named only by those who patrol in it
        let task = app.create_task(&commander, &json!({})).await;
        let (leader, _) = app.quick_envoy(2).await;
        let team = expect(app.claim(&leader, task["id"].as_str().unwrap()).await, 201);
        let team_id = team["id"].as_str().unwrap();
        expect_error(
            &app.report(&envoy, &with("team_id", team_id), &[]).await,
            403,
            "not_member",
        );
        let mine = expect(
            app.report(&leader, &with("team_id", team_id), &[]).await,
            201,
        );
        assert_eq!(mine["team_id"], team_id);
        // not multipart at all
        expect_error(
            &app.post("/incidents", &envoy, &json!({"category": "sanitation"}))
                .await,
            400,
            "invalid_multipart",
        );
        expect_error(
            &app.report("", &fields("sanitation", "x"), &[]).await,
            401,
            "unauthorized",
        );
        let all = expect(app.get("/incidents", &commander).await, 200);
        assert_eq!(
            ids(&all),
            vec![mine["id"].as_str().unwrap().to_owned()],
            "nothing else was filed"
        );
    })
    .await;
}

#[tokio::test]
async fn who_sees_which_reports_and_the_filters() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (other, _) = app.quick_envoy(2).await;
        let (sweeper, _) = app.staff("sanitation").await;
        let commander = app.commander().await;
        let dirt = file(app, &envoy, "sanitation", "litter").await;
        let bikes = file(app, &other, "bike_parking", "bikes on the crossing").await;
        let child = file(app, &envoy, "lost_child", "a crying boy, about five").await;
        let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
        let list = |token: &str, q: &str| {
            let (token, q) = (token.to_owned(), q.to_owned());
            async move {
                ids(&expect(
                    app.get(&format!("/incidents{q}"), &token).await,
                    200,
                ))
            }
        };
        assert_eq!(
            list(&commander, "").await,
            vec![id(&child), id(&bikes), id(&dirt)]
        );
        assert_eq!(
            list(&envoy, "").await,
            vec![id(&child), id(&dirt)],
            "an envoy sees their own"
        );
        assert_eq!(
            list(&sweeper, "").await,
            vec![id(&dirt)],
            "staff see their department's"
        );
        assert_eq!(
            list(&sweeper, "?department=sanitation").await,
            vec![id(&dirt)]
        );
        expect_error(
            &app.get("/incidents?department=public_security", &sweeper)
                .await,
            403,
            "not_your_department",
        );
        assert_eq!(
            list(&commander, "?department=public_security").await,
            vec![id(&child)]
        );
        assert_eq!(
            list(&commander, "?category=bike_parking").await,
            vec![id(&bikes)]
        );
        assert_eq!(
            list(&commander, "?status=open&limit=2").await,
            vec![id(&child), id(&bikes)]
        );
        assert_eq!(
            list(&commander, "?status=resolved").await,
            Vec::<String>::new()
        );
        let around = format!(
            "?bbox={},{},{},{}",
            TOWER.1 - 0.01,
            TOWER.0 - 0.01,
            TOWER.1 + 0.01,
            TOWER.0 + 0.01
        );
        assert_eq!(list(&commander, &around).await.len(), 3);
        assert_eq!(
            list(&commander, "?bbox=113.0,22.0,113.1,22.1").await.len(),
            0
        );
        let later = (app.now() + chrono::Duration::minutes(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(list(&commander, &format!("?from={later}")).await.len(), 0);
        assert_eq!(list(&commander, &format!("?to={later}")).await.len(), 3);
        expect_error(
            &app.get("/incidents?status=done", &commander).await,
            400,
            "invalid_status",
        );
        expect_error(
            &app.get("/incidents?category=graffiti", &commander).await,
            400,
            "invalid_category",
        );
        expect_error(
            &app.get("/incidents?bbox=1,2,3", &commander).await,
            400,
            "invalid_bbox",
        );
        expect_error(
            &app.get("/incidents?limit=many", &commander).await,
            400,
            "invalid_query",
        );
    })
    .await;
}

#[tokio::test]
async fn the_department_works_a_report_to_the_end_and_the_reporter_follows_it_live() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (stranger, _) = app.quick_envoy(2).await;
        let (sweeper, sweeper_id) = app.staff("sanitation").await;
        let (warden, _) = app.staff("urban_management").await;
        let commander = app.commander().await;
        let mut reporter_stream = Stream::open(app, "", &envoy, None).await;
        let mut command_stream = Stream::open(app, "", &commander, None).await;
        let mut sweeper_stream = Stream::open(app, "", &sweeper, None).await;
        let mut warden_stream = Stream::open(app, "", &warden, None).await;

        let v = file(app, &envoy, "sanitation", "overflowing bins").await;
        let id = v["id"].as_str().unwrap().to_owned();
        for stream in [
            &mut reporter_stream,
            &mut command_stream,
            &mut sweeper_stream,
        ] {
            let e = incident_event(stream).await;
            assert_eq!(
                (e["change"].as_str(), e["incident"]["id"].as_str()),
                (Some("reported"), Some(id.as_str()))
            );
        }

        // refusals change nothing
        let unknown = "019ad0c0-0000-7000-8000-000000000099";
        let ack = json!({"status": "acknowledged"});
        let cases = [
            (&warden, id.as_str(), ack.clone(), 404, "incident_not_found"),
            (&stranger, &id, ack.clone(), 404, "incident_not_found"),
            (&envoy, &id, ack.clone(), 403, "wrong_role"),
            (&sweeper, unknown, ack.clone(), 404, "incident_not_found"),
            (
                &sweeper,
                &id,
                json!({"status": "resolved"}),
                409,
                "invalid_transition",
            ),
            (
                &sweeper,
                &id,
                json!({"status": "done"}),
                400,
                "invalid_body",
            ),
            (&sweeper, &id, json!({}), 400, "invalid_body"),
            (
                &sweeper,
                &id,
                json!({"status": "acknowledged", "extra": 1}),
                400,
                "invalid_body",
            ),
            (
                &commander,
                &id,
                json!({"status": "acknowledged", "department": "sanitation"}),
                400,
                "invalid_body",
            ),
            (
                &sweeper,
                &id,
                json!({"status": "acknowledged", "note": "x".repeat(1001)}),
                400,
                "invalid_note",
            ),
            // a status change is a small JSON body: the report form's larger limit is not its
            (
                &sweeper,
                &id,
                json!({"status": "acknowledged", "note": "x".repeat(1_100_000)}),
                413,
                "payload_too_large",
            ),
        ];
        for (token, incident, body, status, code) in cases {
            expect_error(&patch(app, token, incident, &body).await, status, code);
        }
        assert_eq!(
            expect(app.get(&format!("/incidents/{id}"), &envoy).await, 200)["timeline"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        for (status, note) in [
            ("acknowledged", "on our list"),
            ("in_progress", ""),
            ("resolved", "swept at 10:40"),
        ] {
            let after = expect(
                patch(app, &sweeper, &id, &json!({"status": status, "note": note})).await,
                200,
            );
            assert_eq!(after["status"], status);
            for stream in [
                &mut reporter_stream,
                &mut command_stream,
                &mut sweeper_stream,
            ] {
                let e = incident_event(stream).await;
                assert_eq!(e["change"], "status");
                assert_eq!(e["incident"]["status"], status);
                let last = e["incident"]["timeline"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap()
                    .clone();
                assert_eq!(
                    (last["actor_id"].as_str(), last["note"].as_str()),
                    (Some(sweeper_id.as_str()), Some(note))
                );
            }
        }
        let done = expect(app.get(&format!("/incidents/{id}"), &envoy).await, 200);
        assert!(done["acknowledged_at"].is_string() && done["closed_at"].is_string());
        let kinds: Vec<(&str, &str)> = done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["kind"].as_str().unwrap(), t["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("reported", "open"),
                ("status", "acknowledged"),
                ("status", "in_progress"),
                ("status", "resolved")
            ]
        );
        expect_error(
            &patch(app, &sweeper, &id, &json!({"status": "rejected"})).await,
            409,
            "invalid_transition",
        );
        expect_error(
            &patch(
                app,
                &commander,
                &id,
                &json!({"department": "urban_management"}),
            )
            .await,
            409,
            "incident_closed",
        );
        // the other department heard nothing of it
        assert!(warden_stream
            .next_within(std::time::Duration::from_millis(300))
            .await
            .is_none_or(|e| e.event != "incident"));
    })
    .await;
}

#[tokio::test]
async fn a_commander_reroutes_a_report_to_another_department() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (sweeper, _) = app.staff("sanitation").await;
        let (warden, _) = app.staff("urban_management").await;
        let commander = app.commander().await;
        let v = file(
            app,
            &envoy,
            "bike_parking",
            "bikes heaped in the bin corner",
        )
        .await;
        let id = v["id"].as_str().unwrap().to_owned();
        assert_eq!(v["department"], "urban_management");
        expect(
            patch(app, &warden, &id, &json!({"status": "acknowledged"})).await,
            200,
        );
        let mut warden_stream = Stream::open(app, "", &warden, None).await;
        let mut sweeper_stream = Stream::open(app, "", &sweeper, None).await;
        expect_error(
            &patch(app, &warden, &id, &json!({"department": "sanitation"})).await,
            403,
            "wrong_role",
        );
        expect_error(
            &patch(app, &commander, &id, &json!({"department": "parks"})).await,
            400,
            "unknown_department",
        );
        let after = expect(
            patch(
                app,
                &commander,
                &id,
                &json!({"department": "sanitation", "note": "the bins are theirs"}),
            )
            .await,
            200,
        );
        assert_eq!(
            (after["department"].as_str(), after["status"].as_str()),
            (Some("sanitation"), Some("open"))
        );
        assert!(after["acknowledged_at"].is_null());
        // both departments hear of it: one to add it to its queue, one to drop it
        for stream in [&mut sweeper_stream, &mut warden_stream] {
            let e = incident_event(stream).await;
            assert_eq!(
                (e["change"].as_str(), e["incident"]["department"].as_str()),
                (Some("rerouted"), Some("sanitation"))
            );
        }
        expect_error(
            &app.get(&format!("/incidents/{id}"), &warden).await,
            404,
            "incident_not_found",
        );
        expect(
            patch(app, &sweeper, &id, &json!({"status": "acknowledged"})).await,
            200,
        );
        // sending it where it is changes nothing
        let same = expect(
            patch(app, &commander, &id, &json!({"department": "sanitation"})).await,
            200,
        );
        assert_eq!(same["timeline"].as_array().unwrap().len(), 4);
        assert_eq!(same["status"], "acknowledged");
    })
    .await;
}

#[tokio::test]
async fn admins_keep_the_routing_rules_and_the_departments() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let commander = app.commander().await;
        let (envoy, _) = app.quick_envoy(1).await;
        let rules = expect(app.get("/routing", &envoy).await, 200);
        let rules = rules["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 8);
        assert_eq!(rules[0]["category"], "suspicious_person");
        assert_eq!(rules[0]["department"], "public_security");
        assert_eq!(rules[5]["name_en"], "Randomly parked shared bikes");
        let depts = expect(app.get("/departments", &envoy).await, 200);
        let codes: Vec<&str> = depts["departments"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["public_security", "sanitation", "urban_management"]);

        let put = |token: &str, body: Value| {
            let token = token.to_owned();
            async move { app.send(app.request(reqwest::Method::PUT, "/routing", &token).json(&body)).await }
        };
        expect_error(&put(&commander, json!({"rules": [{"category": "bike_parking", "department": "sanitation"}]})).await, 403, "wrong_role");
        expect_error(&put(&admin, json!({"rules": [{"category": "bike_parking", "department": "parks"}]})).await, 400, "unknown_department");
        expect_error(&put(&admin, json!({"rules": [{"category": "graffiti", "department": "sanitation"}]})).await, 400, "invalid_body");
        expect_error(
            &put(&admin, json!({"rules": [{"category": "other", "department": "sanitation"}, {"category": "other", "department": "public_security"}]})).await,
            400,
            "duplicate_category",
        );
        expect_error(&app.post("/departments", &commander, &json!({"code": "parks", "name_zh": "园林", "name_en": "Parks"})).await, 403, "wrong_role");
        expect_error(&app.post("/departments", &admin, &json!({"code": "Parks!", "name_zh": "园林", "name_en": "Parks"})).await, 400, "invalid_department_code");
        expect_error(&app.post("/departments", &admin, &json!({"code": "parks", "name_zh": "", "name_en": "Parks"})).await, 400, "invalid_department_name");
        let parks = expect(app.post("/departments", &admin, &json!({"code": "parks", "name_zh": "园林", "name_en": "Parks"})).await, 201);
        assert_eq!(parks["code"], "parks");
        expect_error(&app.post("/departments", &admin, &json!({"code": "parks", "name_zh": "园林", "name_en": "Parks"})).await, 409, "department_exists");

        let after = expect(put(&admin, json!({"rules": [{"category": "bike_parking", "department": "parks"}]})).await, 200);
        let bike = after["rules"].as_array().unwrap().iter().find(|r| r["category"] == "bike_parking").unwrap().clone();
        assert_eq!(bike["department"], "parks");
        assert!(bike["updated_by"].is_string());
        // reports from now on follow the new rule
        let v = file(app, &envoy, "bike_parking", "bikes on the lawn").await;
        assert_eq!(v["department"], "parks");
        // and a staff account may now belong to the new department
        let (gardener, _) = app.staff("parks").await;
        expect(patch(app, &gardener, v["id"].as_str().unwrap(), &json!({"status": "acknowledged"})).await, 200);
    })
    .await;
}
