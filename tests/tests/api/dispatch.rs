//! Emergency dispatch over real HTTP and real event streams: the nearest available envoys are
//! alerted, their answers reach the command centre, a decline and an unanswered alert pass to
//! the next nearest, the search widens when too few accept, arrival counts only on the scene,
//! and a commander who reconnects gets what was missed.

use chrono::Duration;
use e2e::{expect, expect_error, north_of_tower, on_each_backend, point, Sse, Stream, TestApp};
use serde_json::{json, Value};

const TOWER: (f64, f64) = (23.1066, 113.3245);

fn recipients(v: &Value) -> Vec<(String, String)> {
    v["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The ids `GET /envoys/nearest` offers within 2 km of the tower, nearest first.
async fn offered(app: &TestApp, commander: &str) -> Vec<String> {
    let near = expect(
        app.get(
            &format!(
                "/envoys/nearest?lat={}&lng={}&k=10&radius_m=2000",
                TOWER.0, TOWER.1
            ),
            commander,
        )
        .await,
        200,
    );
    near["envoys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn pair(id: &str, state: &str) -> (String, String) {
    (id.to_owned(), state.to_owned())
}

/// Reads the command centre's stream until the `dispatch` event whose data satisfies `done`.
async fn command_sees(stream: &mut Stream, done: impl Fn(&Value) -> bool) -> Sse {
    loop {
        let e = stream.next().await;
        if e.event == "dispatch" && done(&e.data) {
            return e;
        }
    }
}

#[tokio::test]
async fn alerts_answers_pass_on_escalation_arrival_close_and_replay() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let now = app.now();
        // six envoys north of the tower: 150, 200, 300, 400, 600 and 1500 m
        let mut envoys = Vec::new();
        for (i, north) in [150.0, 200.0, 300.0, 400.0, 600.0, 1500.0]
            .into_iter()
            .enumerate()
        {
            let (token, id) = app.quick_envoy(i as u32 + 1).await;
            app.ingest(&token, &[point(now, north_of_tower(north))])
                .await;
            envoys.push((token, id));
        }
        let id = |i: usize| envoys[i].1.clone();
        let mut streams = Vec::new();
        for (token, _) in &envoys {
            streams.push(Stream::open(app, "", token, None).await);
        }
        let mut command = Stream::open(app, "", &commander, None).await;

        // needed 2 + overfill 1: the three nearest within 500 m
        let opened = expect(
            app.post(
                "/dispatches",
                &commander,
                &json!({"lat": TOWER.0, "lng": TOWER.1, "radius_m": 500, "needed": 2,
                        "message": "A child is lost at the east gate, red coat"}),
            )
            .await,
            201,
        );
        let dispatch_id = opened["id"].as_str().unwrap().to_owned();
        assert_eq!(
            recipients(&opened),
            [
                pair(&id(0), "notified"),
                pair(&id(1), "notified"),
                pair(&id(2), "notified")
            ]
        );
        assert_eq!(opened["state"], "open");
        assert_eq!(opened["radius_m"], 500.0);
        assert_eq!(opened["counts"]["notified"], 3);
        assert!((opened["recipients"][0]["distance_m"].as_f64().unwrap() - 150.0).abs() < 1.0);
        assert_eq!(
            e2e::time_of(&opened["next_escalation_at"]),
            now + Duration::seconds(60)
        );
        let first = command_sees(&mut command, |d| d["id"] == dispatch_id.as_str()).await;
        assert_eq!(first.data["counts"]["notified"], 3);

        // the alert reaches exactly the chosen envoys, each seeing only their own place
        for s in &mut streams[..3] {
            let alert = s.next().await;
            assert_eq!(alert.event, "dispatch_alert");
            assert_eq!(alert.data["id"], dispatch_id.as_str());
            assert_eq!(
                alert.data["message"],
                "A child is lost at the east gate, red coat"
            );
            assert_eq!(alert.data["recipients"].as_array().unwrap().len(), 1);
        }
        // taken envoys are not offered to another search
        assert_eq!(offered(app, &commander).await, [id(3), id(4), id(5)]);

        // envoy 0 accepts; envoy 1 declines, and the place passes to envoy 3 (400 m)
        let respond = |i: usize, accept: bool| {
            let token = envoys[i].0.clone();
            let path = format!("/dispatches/{dispatch_id}/respond");
            async move { app.post(&path, &token, &json!({"accept": accept})).await }
        };
        let mine = expect(respond(0, true).await, 200);
        assert_eq!(recipients(&mine), [pair(&id(0), "accepted")]);
        command_sees(&mut command, |d| d["counts"]["accepted"] == 1).await;
        expect(respond(0, true).await, 200); // a retry changes nothing
        expect(respond(1, false).await, 200);
        let passed = streams[3].next().await;
        assert_eq!(passed.event, "dispatch_alert");
        assert_eq!(passed.data["recipients"][0]["wave"], 0);
        let seen = command_sees(&mut command, |d| {
            d["counts"]["declined"] == 1 && d["counts"]["notified"] == 2
        })
        .await;
        assert_eq!(
            recipients(&seen.data),
            [
                pair(&id(0), "accepted"),
                pair(&id(1), "declined"),
                pair(&id(2), "notified"),
                pair(&id(3), "notified"),
            ]
        );
        expect_error(&respond(1, true).await, 409, "already_declined");

        // 45 s without an answer: envoys 2 and 3's alerts expire (nobody else is within 500 m)
        app.clock.advance(Duration::seconds(45));
        app.run_jobs().await;
        for s in [2, 3] {
            let update = streams[s].next().await;
            assert_eq!(update.event, "dispatch_update");
            assert_eq!(update.data["recipients"][0]["state"], "expired");
        }
        command_sees(&mut command, |d| d["counts"]["expired"] == 2).await;
        expect_error(&respond(2, true).await, 409, "alert_expired");

        // 60 s with one of two accepted: the radius doubles and envoy 4 (600 m) is alerted,
        // in the second wave; envoy 5 (1500 m) still is not
        app.clock.advance(Duration::seconds(15));
        app.run_jobs().await;
        let wider = streams[4].next().await;
        assert_eq!(wider.event, "dispatch_alert");
        assert_eq!(wider.data["recipients"][0]["wave"], 1);
        assert_eq!(wider.data["radius_m"], 1000.0);
        let seen = command_sees(&mut command, |d| {
            d["escalations"] == 1 && d["counts"]["notified"] == 1
        })
        .await;
        assert_eq!(seen.data["radius_m"], 1000.0);
        expect(respond(4, true).await, 200);
        let enough = command_sees(&mut command, |d| d["counts"]["accepted"] == 2).await;
        assert!(
            enough.data["next_escalation_at"].is_null(),
            "enough accepted: no more widening"
        );

        // the commander's connection drops; meanwhile envoy 0 arrives and the dispatch closes
        let last_id = enough.id;
        drop(command);

        // a second emergency nearby takes the nearest free envoys: 1 (who declined the first)
        // and 2 (whose alert expired)
        let second = expect(
            app.post(
                "/dispatches",
                &commander,
                &json!({"lat": TOWER.0, "lng": TOWER.1, "message": "a fight by the river"}),
            )
            .await,
            201,
        );
        assert_eq!(
            recipients(&second),
            [pair(&id(1), "notified"), pair(&id(2), "notified")]
        );

        // arrival counts only on the scene (within 100 m)
        let arrive = |i: usize| {
            let token = envoys[i].0.clone();
            let path = format!("/dispatches/{dispatch_id}/arrived");
            async move { app.post_empty(&path, &token).await }
        };
        expect_error(&arrive(0).await, 409, "not_at_scene");
        expect_error(&arrive(1).await, 409, "not_accepted");
        app.ingest(&envoys[0].0, &[point(app.now(), north_of_tower(20.0))])
            .await;
        let on_scene = expect(arrive(0).await, 200);
        assert_eq!(recipients(&on_scene), [pair(&id(0), "arrived")]);
        let closed = expect(
            app.post_empty(&format!("/dispatches/{dispatch_id}/close"), &commander)
                .await,
            200,
        );
        assert_eq!(closed["state"], "closed");
        assert_eq!(
            recipients(&closed),
            [
                pair(&id(0), "arrived"),
                pair(&id(1), "declined"),
                pair(&id(2), "expired"),
                pair(&id(3), "expired"),
                pair(&id(4), "accepted"),
            ]
        );
        // those it held hear of the close
        for s in [0, 4] {
            let mut update = streams[s].next().await;
            while update.data["state"] != "closed" {
                update = streams[s].next().await;
            }
            assert_eq!(update.event, "dispatch_update");
        }
        // envoy 5 was never alerted and heard nothing
        assert!(streams[5]
            .next_within(std::time::Duration::from_millis(300))
            .await
            .is_none());

        // reconnecting with the last id seen replays what was missed, in order
        let mut again = Stream::open(app, "", &commander, last_id).await;
        let arrived = command_sees(&mut again, |d| d["counts"]["arrived"] == 1).await;
        assert_eq!(arrived.data["state"], "open");
        let replayed_close = command_sees(&mut again, |d| d["state"] == "closed").await;
        assert!(replayed_close.data["closed_by"].is_string());
        assert!(last_id < arrived.id && arrived.id < replayed_close.id);

        // everyone the first dispatch held is available again; the second still holds its own
        assert_eq!(offered(app, &commander).await, [id(0), id(3), id(4), id(5)]);
        // and the dispatch reads back as closed, for the command centre and the envoys it alerted
        let read = expect(
            app.get(&format!("/dispatches/{dispatch_id}"), &commander)
                .await,
            200,
        );
        assert_eq!(read["recipients"].as_array().unwrap().len(), 5);
        let theirs = expect(
            app.get(&format!("/dispatches/{dispatch_id}"), &envoys[1].0)
                .await,
            200,
        );
        assert_eq!(recipients(&theirs), [pair(&id(1), "declined")]);
        expect_error(
            &app.get(&format!("/dispatches/{dispatch_id}"), &envoys[5].0)
                .await,
            404,
            "dispatch_not_found",
        );
        let listed = expect(app.get("/dispatches?state=closed", &envoys[4].0).await, 200);
        assert_eq!(listed["dispatches"].as_array().unwrap().len(), 1);
        let none = expect(app.get("/dispatches", &envoys[5].0).await, 200);
        assert!(none["dispatches"].as_array().unwrap().is_empty());
        expect_error(&respond(0, false).await, 409, "dispatch_closed");
        expect_error(
            &app.post_empty(&format!("/dispatches/{dispatch_id}/close"), &commander)
                .await,
            409,
            "dispatch_closed",
        );
    })
    .await;
}

#[tokio::test]
async fn dispatches_check_their_input_and_roles() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let (envoy, _) = app.quick_envoy(1).await;
        let body = |over: Value| {
            let mut b = json!({"lat": TOWER.0, "lng": TOWER.1, "message": "fight at the gate"});
            for (k, v) in over.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        for (over, code) in [
            (json!({"needed": 0}), "invalid_needed"),
            (json!({"needed": 21}), "invalid_needed"),
            (json!({"radius_m": 0}), "invalid_radius"),
            (json!({"radius_m": 5001}), "invalid_radius"),
            (json!({"message": "  "}), "invalid_message"),
            (json!({"lat": 91}), "coordinate_out_of_range"),
            (json!({"needed": "two"}), "invalid_body"),
        ] {
            expect_error(
                &app.post("/dispatches", &commander, &body(over)).await,
                400,
                code,
            );
        }
        expect_error(
            &app.post("/dispatches", &envoy, &body(json!({}))).await,
            403,
            "wrong_role",
        );
        expect_error(
            &app.post("/dispatches", "nope", &body(json!({}))).await,
            401,
            "unauthorized",
        );
        // nobody near: the dispatch opens and waits (and widens) for envoys to come in range
        let empty = expect(
            app.post("/dispatches", &commander, &body(json!({}))).await,
            201,
        );
        assert!(empty["recipients"].as_array().unwrap().is_empty());
        assert_eq!(empty["needed"], 1);
        assert_eq!(empty["radius_m"], 500.0);
        let id = empty["id"].as_str().unwrap();
        let respond = format!("/dispatches/{id}/respond");
        for (token, answer, status, code) in [
            (&envoy, json!({"accept": true}), 404, "alert_not_found"),
            (&commander, json!({"accept": true}), 403, "wrong_role"),
            (&envoy, json!({"accept": "yes"}), 400, "invalid_body"),
        ] {
            expect_error(&app.post(&respond, token, &answer).await, status, code);
        }
        expect_error(
            &app.post_empty(&format!("/dispatches/{id}/close"), &envoy)
                .await,
            403,
            "wrong_role",
        );
        expect_error(
            &app.get(&format!("/dispatches/{id}"), &envoy).await,
            404,
            "dispatch_not_found",
        );
        let unknown = uuid::Uuid::now_v7();
        expect_error(
            &app.get(&format!("/dispatches/{unknown}"), &commander).await,
            404,
            "dispatch_not_found",
        );
        expect_error(
            &app.post_empty(&format!("/dispatches/{unknown}/arrived"), &envoy)
                .await,
            404,
            "dispatch_not_found",
        );
        expect_error(
            &app.get("/dispatches/not-an-id", &commander).await,
            400,
            "invalid_id",
        );
        expect_error(
            &app.get("/dispatches?state=maybe", &commander).await,
            400,
            "invalid_dispatch_state",
        );
        let listed = expect(app.get("/dispatches?state=open", &commander).await, 200);
        assert_eq!(listed["dispatches"].as_array().unwrap().len(), 1);

        // an envoy who comes into range later is alerted by the next round
        let mut s = Stream::open(app, "", &envoy, None).await;
        app.ingest(&envoy, &[point(app.now(), north_of_tower(100.0))])
            .await;
        app.run_jobs().await;
        let alert = s.next().await;
        assert_eq!(
            (alert.event.as_str(), alert.data["id"].as_str()),
            ("dispatch_alert", Some(id))
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_answers_and_dispatches_settle_in_the_store() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let now = app.now();
        let envoys = app.quick_envoys(1, 8).await;
        for (i, (token, _)) in envoys.iter().enumerate() {
            app.ingest(token, &[point(now, north_of_tower(50.0 + 10.0 * i as f64))])
                .await;
        }
        // three dispatches opened at once at the same place, needing 2 each (quota 3): the
        // eight envoys are shared out, nobody is held by two
        let body =
            json!({"lat": TOWER.0, "lng": TOWER.1, "needed": 2, "message": "crowd crush risk"});
        let opened =
            futures::future::join_all((0..3).map(|_| app.post("/dispatches", &commander, &body)))
                .await;
        for r in opened {
            expect(r, 201);
        }
        // (a dispatch whose candidates another took at the same moment fills at the next round)
        app.run_jobs().await;
        let list = expect(app.get("/dispatches", &commander).await, 200);
        let mut held: Vec<String> = list["dispatches"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| recipients(d).into_iter().map(|(u, _)| u))
            .collect();
        let n = held.len();
        held.sort();
        held.dedup();
        assert_eq!(
            (n, held.len()),
            (8, 8),
            "each envoy on one dispatch at most"
        );

        // every alerted envoy answers at once, twice over (a phone retrying): all settle once
        let mut answers = Vec::new();
        for d in list["dispatches"].as_array().unwrap() {
            let did = d["id"].as_str().unwrap().to_owned();
            for (u, _) in recipients(d) {
                let token = envoys.iter().find(|(_, id)| *id == u).unwrap().0.clone();
                for _ in 0..2 {
                    let path = format!("/dispatches/{did}/respond");
                    let token = token.clone();
                    answers.push(
                        async move { app.post(&path, &token, &json!({"accept": true})).await },
                    );
                }
            }
        }
        for r in futures::future::join_all(answers).await {
            expect(r, 200);
        }
        let list = expect(app.get("/dispatches", &commander).await, 200);
        let accepted: u64 = list["dispatches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["counts"]["accepted"].as_u64().unwrap())
            .sum();
        assert_eq!(accepted, 8);
    })
    .await;
}
