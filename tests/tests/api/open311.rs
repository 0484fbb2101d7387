//! Open311 GeoReport v2 conformance at `/open311/v2/`: every resource in JSON and in XML with
//! the specification's field names and types, its error format and statuses, and a round trip
//! (post a request, read it back by id, by filter and by token, follow it to `closed`).

use e2e::{expect, on_each_backend, TestApp};
use serde_json::{json, Value};

const TOWER: (f64, f64) = (23.1066, 113.3245);

/// Arguments of a form post.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// GETs `/open311/v2/{path}`: status, content type and body text.
async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/open311/v2/{path}")))
        .send()
        .await
        .unwrap();
    read(res).await
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = app
        .client
        .post(app.url(&format!("/open311/v2/{path}")))
        .form(form)
        .send()
        .await
        .unwrap();
    read(res).await
}

async fn read(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.text().await.unwrap())
}

fn json_of((status, ct, body): (u16, String, String), want: u16) -> Value {
    assert_eq!(status, want, "{body}");
    assert_eq!(ct, "application/json; charset=utf-8");
    serde_json::from_str(&body).unwrap()
}

/// The XML body as a JSON value the way the "Spark convention" maps it: the root's children
/// of one repeated name become an array, an element with children an object, a leaf its text
/// (an empty leaf `null`).
fn xml_of((status, ct, body): (u16, String, String), want: u16, root: &str) -> Value {
    assert_eq!(status, want, "{body}");
    assert_eq!(ct, "text/xml; charset=utf-8");
    assert!(body.starts_with(r#"<?xml version="1.0" encoding="utf-8"?>"#));
    let doc = roxmltree::Document::parse(&body).unwrap();
    let r = doc.root_element();
    assert_eq!(r.tag_name().name(), root);
    // lists at the root: services, service_requests, errors
    element(r, !["discovery", "service_definition"].contains(&root))
}

fn element(n: roxmltree::Node, list_root: bool) -> Value {
    let kids: Vec<_> = n.children().filter(|c| c.is_element()).collect();
    if kids.is_empty() {
        return n
            .text()
            .map_or(Value::Null, |t| Value::String(t.to_owned()));
    }
    let lists = ["endpoints", "formats", "attributes"];
    if list_root || lists.contains(&n.tag_name().name()) {
        return kids.iter().map(|k| element(*k, false)).collect();
    }
    kids.iter()
        .map(|k| (k.tag_name().name().to_owned(), element(*k, false)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

fn is_w3c_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[tokio::test]
async fn discovery_and_services_in_json_and_xml() {
    on_each_backend(async |app: &TestApp| {
        let d = json_of(get(app, "discovery.json").await, 200);
        let e = &d["endpoints"][0];
        assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
        assert_eq!(e["url"], format!("{}/open311/v2/", app.public_url()));
        assert_eq!(e["type"], "production");
        assert_eq!(e["formats"], json!(["text/xml", "application/json"]));
        assert!(
            is_w3c_time(&d["changeset"])
                && d["contact"].is_string()
                && d["key_service"].is_string()
        );
        let dx = xml_of(get(app, "discovery.xml").await, 200, "discovery");
        assert_eq!(
            dx["endpoints"][0]["formats"],
            json!(["text/xml", "application/json"])
        );
        assert_eq!(dx["endpoints"][0]["specification"], e["specification"]);

        let services = json_of(get(app, "services.json").await, 200);
        let services = services.as_array().unwrap();
        assert_eq!(services.len(), 8);
        for s in services {
            for f in [
                "service_code",
                "service_name",
                "description",
                "keywords",
                "group",
                "type",
            ] {
                assert!(s[f].is_string(), "{f} in {s}");
            }
            assert_eq!(s["metadata"], false);
            assert_eq!(s["type"], "realtime");
        }
        let bikes = services
            .iter()
            .find(|s| s["service_code"] == "bike_parking")
            .unwrap();
        assert_eq!(
            bikes["group"], "Urban Management",
            "the group is the department it goes to"
        );
        let xs = xml_of(get(app, "services.xml").await, 200, "services");
        assert_eq!(xs.as_array().unwrap().len(), 8);
        assert_eq!(xs[5]["service_code"], "bike_parking");
        assert_eq!(xs[5]["metadata"], "false");
        assert_eq!(xs[5]["service_name"], bikes["service_name"]);

        let def = json_of(get(app, "services/lost_child.json").await, 200);
        assert_eq!(def, json!({"service_code": "lost_child", "attributes": []}));
        let defx = xml_of(
            get(app, "services/lost_child.xml").await,
            200,
            "service_definition",
        );
        assert_eq!(defx["service_code"], "lost_child");
    })
    .await;
}

#[tokio::test]
async fn a_request_posted_is_read_back_by_id_filter_and_token_and_followed_to_closed() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (sweeper, _) = app.staff("sanitation").await;
        let (lat, lng) = (TOWER.0.to_string(), TOWER.1.to_string());
        let posted = json_of(
            post(
                app,
                "requests.json",
                &[
                    ("api_key", &envoy),
                    ("service_code", "sanitation"),
                    ("lat", &lat),
                    ("long", &lng),
                    ("description", "overflowing bins by the east gate"),
                    ("media_url", "https://example.org/bins.jpg"),
                    ("email", "ignored@example.org"),
                    ("jurisdiction_id", ""),
                ],
            )
            .await,
            200,
        );
        let id = posted[0]["service_request_id"].as_str().unwrap().to_owned();
        assert_eq!(posted[0]["service_notice"], "routed to Sanitation");
        assert!(
            posted[0].get("token").is_none(),
            "realtime: an id, not a token"
        );
        // XML post, with no description: the service's name stands in
        let px = xml_of(
            post(
                app,
                "requests.xml",
                &[
                    ("api_key", &envoy),
                    ("service_code", "bike_parking"),
                    ("lat", &lat),
                    ("long", &lng),
                ],
            )
            .await,
            200,
            "service_requests",
        );
        let bike_id = px[0]["service_request_id"].as_str().unwrap().to_owned();

        // the same report through the JSON API
        let same = expect(app.get(&format!("/incidents/{id}"), &envoy).await, 200);
        assert_eq!(
            (same["category"].as_str(), same["department"].as_str()),
            (Some("sanitation"), Some("sanitation"))
        );
        assert_eq!(same["media_url"], "https://example.org/bins.jpg");
        let bike = expect(app.get(&format!("/incidents/{bike_id}"), &envoy).await, 200);
        assert_eq!(bike["description"], "Randomly parked shared bikes");

        let one = json_of(get(app, &format!("requests/{id}.json")).await, 200);
        let r = &one[0];
        for f in REQUEST_FIELDS {
            assert!(r.get(f).is_some(), "{f} missing from {r}");
        }
        assert_eq!(r["service_request_id"], id.as_str());
        assert_eq!(r["status"], "open");
        assert_eq!(r["service_code"], "sanitation");
        assert_eq!(r["service_name"], "Sanitation");
        assert_eq!(r["description"], "overflowing bins by the east gate");
        assert_eq!(r["agency_responsible"], "Sanitation");
        assert_eq!(
            (r["lat"].as_f64(), r["long"].as_f64()),
            (Some(TOWER.0), Some(TOWER.1))
        );
        assert_eq!(r["media_url"], "https://example.org/bins.jpg");
        assert!(is_w3c_time(&r["requested_datetime"]) && is_w3c_time(&r["updated_datetime"]));
        assert!(
            r["status_notes"].is_null()
                && r["expected_datetime"].is_null()
                && r["address"].is_null()
        );
        assert_eq!(r["detailed_status"], "OPEN");
        let rx = xml_of(
            get(app, &format!("requests/{id}.xml")).await,
            200,
            "service_requests",
        );
        for f in REQUEST_FIELDS {
            assert!(rx[0].get(f).is_some(), "{f} missing from the XML {rx}");
        }
        assert_eq!(rx[0]["lat"], TOWER.0.to_string());
        assert_eq!(rx[0]["status"], "open");
        assert_eq!(rx[0]["address"], Value::Null);

        let tok = json_of(get(app, &format!("tokens/{id}.json")).await, 200);
        assert_eq!(tok, json!([{"service_request_id": id, "token": id}]));
        let tokx = xml_of(
            get(app, &format!("tokens/{id}.xml")).await,
            200,
            "service_requests",
        );
        assert_eq!(tokx[0]["token"], id.as_str());

        // filters
        let found = |q: String| async move {
            let list = json_of(get(app, &format!("requests.json{q}")).await, 200);
            let mut ids: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        };
        let mut both = vec![id.clone(), bike_id.clone()];
        both.sort();
        assert_eq!(found(String::new()).await, both);
        assert_eq!(
            found("?service_code=sanitation".into()).await,
            vec![id.clone()]
        );
        assert_eq!(
            found("?service_code=sanitation,bike_parking".into()).await,
            both
        );
        assert_eq!(
            found(format!("?service_request_id={bike_id}")).await,
            vec![bike_id.clone()]
        );
        // the ids override every other argument
        assert_eq!(
            found(format!(
                "?service_request_id={id},{bike_id}&service_code=lost_child"
            ))
            .await,
            both
        );
        assert_eq!(found("?status=closed".into()).await, Vec::<String>::new());
        let day = |d: i64| {
            (app.now() + chrono::Duration::days(d))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        assert_eq!(
            found(format!("?start_date={}&end_date={}", day(-1), day(1))).await,
            both
        );
        assert_eq!(
            found(format!("?start_date={}", day(1))).await,
            Vec::<String>::new()
        );
        assert_eq!(
            found(format!("?end_date={}", day(-1))).await,
            Vec::<String>::new()
        );
        let xl = xml_of(
            get(app, "requests.xml?status=open").await,
            200,
            "service_requests",
        );
        assert_eq!(xl.as_array().unwrap().len(), 2);

        // the department works it: closed, with the last note and the closing time
        for (status, note) in [
            ("acknowledged", ""),
            ("in_progress", ""),
            ("resolved", "bins emptied"),
        ] {
            expect(
                app.send(
                    app.request(
                        reqwest::Method::PATCH,
                        &format!("/incidents/{id}"),
                        &sweeper,
                    )
                    .json(&json!({"status": status, "note": note})),
                )
                .await,
                200,
            );
        }
        let closed = json_of(get(app, &format!("requests/{id}.json")).await, 200);
        assert_eq!(closed[0]["status"], "closed");
        assert_eq!(closed[0]["status_notes"], "bins emptied");
        assert_eq!(closed[0]["detailed_status"], "FIXED");
        assert!(is_w3c_time(&closed[0]["acknowledged_at"]));
        let shown = expect(app.get(&format!("/incidents/{id}"), &envoy).await, 200);
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(closed[0]["updated_datetime"].as_str().unwrap())
                .unwrap()
                .timestamp(),
            chrono::DateTime::parse_from_rfc3339(shown["closed_at"].as_str().unwrap())
                .unwrap()
                .timestamp()
        );
        assert_eq!(found("?status=closed".into()).await, vec![id.clone()]);
        assert_eq!(found("?status=open".into()).await, vec![bike_id.clone()]);
        assert_eq!(found("?status=open,closed".into()).await, both);
    })
    .await;
}

#[tokio::test]
async fn errors_in_the_specification_format() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (lat, lng) = (TOWER.0.to_string(), TOWER.1.to_string());
        let error = |r: (u16, String, String), status: u16| {
            let v = json_of(r, status);
            assert_eq!(v[0]["code"], status, "{v}");
            assert!(
                v[0]["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{v}"
            );
            v
        };
        // a valid request, and what each case takes out of it or changes
        let long = "x".repeat(2001);
        let cases: Vec<(&[&str], Form, u16)> = vec![
            (&["api_key"], vec![], 403),
            (&[], vec![("api_key", "nope")], 403),
            (&["service_code"], vec![], 400),
            (&[], vec![("service_code", "graffiti")], 404),
            (&["lat", "long"], vec![("address_string", "1 Main St")], 400),
            (&[], vec![("lat", "91")], 400),
            (&[], vec![("lat", "x")], 400),
            (&[], vec![("media_url", "javascript:alert(1)")], 400),
            (&[], vec![("description", &long)], 400),
        ];
        for (without, with, status) in cases {
            let mut form: Form = [
                ("api_key", envoy.as_str()),
                ("service_code", "sanitation"),
                ("lat", lat.as_str()),
                ("long", lng.as_str()),
            ]
            .into_iter()
            .filter(|(k, _)| !without.contains(k) && !with.iter().any(|(w, _)| w == k))
            .collect();
            form.extend(with.iter().copied());
            error(post(app, "requests.json", &form).await, status);
        }
        for (path, status) in [
            ("services/graffiti.json", 404),
            ("requests/019ad0c0-0000-7000-8000-000000000099.json", 404),
            ("requests/not-an-id.json", 404),
            ("tokens/not-a-token.json", 404),
            ("requests.json?status=pending", 400),
            ("requests.json?start_date=yesterday", 400),
            // more than 90 days, and backwards
            (
                "requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
                400,
            ),
            (
                "requests.json?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
                400,
            ),
            ("requests.json?service_code=graffiti", 404),
            ("widgets.json", 404),
            ("services.html", 404),
            ("nothing/here", 404),
        ] {
            error(get(app, path).await, status);
        }
        error(post(app, "services.json", &[]).await, 405);
        let x = xml_of(get(app, "services/graffiti.xml").await, 404, "errors");
        assert_eq!(x[0]["code"], "404");
        assert!(x[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("graffiti")));
        let x = xml_of(
            post(app, "requests.xml", &[("service_code", "sanitation")]).await,
            403,
            "errors",
        );
        assert_eq!(x[0]["code"], "403");
        // nothing was filed by any of these
        let all = json_of(get(app, "requests.json").await, 200);
        assert_eq!(all, json!([]));
    })
    .await;
}

#[tokio::test]
async fn a_district_may_keep_its_requests_to_those_who_may_see_them() {
    for backend in e2e::backends() {
        let app = TestApp::spawn_with(backend, |c| c.open311_public_reads = false).await;
        let (envoy, _) = app.quick_envoy(1).await;
        let (other, _) = app.quick_envoy(2).await;
        let (sweeper, _) = app.staff("sanitation").await;
        let (warden, _) = app.staff("urban_management").await;
        let (lat, lng) = (TOWER.0.to_string(), TOWER.1.to_string());
        let posted = json_of(
            post(
                &app,
                "requests.json",
                &[
                    ("api_key", &envoy),
                    ("service_code", "sanitation"),
                    ("lat", &lat),
                    ("long", &lng),
                ],
            )
            .await,
            200,
        );
        let id = posted[0]["service_request_id"].as_str().unwrap().to_owned();
        // services stay public; requests need a key
        assert_eq!(
            json_of(get(&app, "services.json").await, 200)
                .as_array()
                .unwrap()
                .len(),
            8
        );
        for path in [
            "requests.json".to_owned(),
            format!("requests/{id}.json"),
            format!("tokens/{id}.json"),
        ] {
            let e = json_of(get(&app, &path).await, 403);
            assert_eq!(e[0]["code"], 403, "{path}");
            json_of(get(&app, &format!("{path}?api_key=nope")).await, 403);
        }
        let ids = |v: Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            ids(json_of(
                get(&app, &format!("requests.json?api_key={envoy}")).await,
                200
            )),
            vec![id.clone()]
        );
        assert_eq!(
            ids(json_of(
                get(&app, &format!("requests.json?api_key={sweeper}")).await,
                200
            )),
            vec![id.clone()]
        );
        assert!(ids(json_of(
            get(&app, &format!("requests.json?api_key={other}")).await,
            200
        ))
        .is_empty());
        assert!(ids(json_of(
            get(&app, &format!("requests.json?api_key={warden}")).await,
            200
        ))
        .is_empty());
        json_of(
            get(&app, &format!("requests/{id}.json?api_key={sweeper}")).await,
            200,
        );
        json_of(
            get(&app, &format!("requests/{id}.json?api_key={other}")).await,
            404,
        );
        json_of(
            get(&app, &format!("tokens/{id}.json?api_key={envoy}")).await,
            200,
        );
        let x = xml_of(
            get(&app, &format!("requests/{id}.xml")).await,
            403,
            "errors",
        );
        assert_eq!(x[0]["code"], "403");
        app.stop().await;
    }
}
