//! Concurrency over HTTP: a full team never overflows and a task never gets more teams than
//! it asked for, however many requests arrive at once.

use super::members;
use e2e::{expect, on_each_backend, read, str_of, Resp, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Barrier;

/// One POST: (path under `/api/v1`, bearer token, JSON body if any).
type Post = (String, String, Option<Value>);

/// Sends the POSTs at the same moment (every task waits on one barrier first) and returns the
/// responses in the same order.
async fn all_at_once(app: &TestApp, posts: Vec<Post>) -> Vec<Resp> {
    let barrier = Arc::new(Barrier::new(posts.len()));
    let handles: Vec<_> = posts
        .into_iter()
        .map(|(path, token, body)| {
            let (client, barrier) = (app.client.clone(), barrier.clone());
            let mut req = client.post(app.api(&path)).bearer_auth(token);
            if let Some(body) = body {
                req = req.json(&body);
            }
            tokio::spawn(async move {
                barrier.wait().await;
                read(req.send().await.unwrap()).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The same POST by each token.
fn same_post(
    path: &str,
    tokens: impl IntoIterator<Item = String>,
    body: Option<&Value>,
) -> Vec<Post> {
    tokens
        .into_iter()
        .map(|t| (path.to_owned(), t, body.cloned()))
        .collect()
}

/// How many responses have each (status, code).
fn tally(responses: &[Resp]) -> std::collections::BTreeMap<(u16, String), usize> {
    let mut t = std::collections::BTreeMap::new();
    for (status, body) in responses {
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        *t.entry((*status, code)).or_insert(0) += 1;
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_envoys_join_a_team_of_five() {
    on_each_backend(async |app: &TestApp| {
        let (_, _, leader, _, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = str_of(&team, "id");
        let token = app.join_token(&leader, team_id).await;
        let envoys = app.quick_envoys(100, 40).await;
        let ids: Vec<String> = envoys.iter().map(|(_, id)| id.clone()).collect();
        let posts = same_post(
            "/teams/join",
            envoys.into_iter().map(|(t, _)| t),
            Some(&json!({"token": token})),
        );
        let responses = all_at_once(app, posts).await;
        let t = tally(&responses);
        let expected = [
            ((200, String::new()), 4),
            ((409, "team_full".to_owned()), 36),
        ]
        .into();
        assert_eq!(t, expected, "{responses:?}");

        let view = expect(app.team(&leader, team_id).await, 200);
        let m = members(&view);
        assert_eq!(m.len(), 5, "{view}");
        let winners: Vec<&String> = responses
            .iter()
            .zip(&ids)
            .filter(|((s, _), _)| *s == 200)
            .map(|(_, id)| id)
            .collect();
        for w in winners {
            assert!(
                m.iter().any(|(id, _)| id == w),
                "winner {w} is a member: {view}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_envoys_claim_three_slots() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let task = app.create_task(&commander, &json!({"max_teams": 3})).await;
        let task_id = str_of(&task, "id");
        let envoys = app.quick_envoys(200, 20).await;
        let posts = same_post(
            &format!("/tasks/{task_id}/teams"),
            envoys.into_iter().map(|(t, _)| t),
            None,
        );
        let responses = all_at_once(app, posts).await;
        let t = tally(&responses);
        let expected = [
            ((201, String::new()), 3),
            ((409, "no_team_slots".to_owned()), 17),
        ]
        .into();
        assert_eq!(t, expected, "{responses:?}");

        let task = expect(app.get(&format!("/tasks/{task_id}"), &commander).await, 200);
        assert_eq!(
            (task["teams"].as_i64(), task["free_slots"].as_i64()),
            (Some(3), Some(0)),
            "{task}"
        );
        assert_eq!(
            task["teams_list"].as_array().map(Vec::len),
            Some(3),
            "{task}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_envoy_is_in_one_team_however_fast_they_tap() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let mut tasks = Vec::new();
        let mut tokens = Vec::new();
        for i in 0..5 {
            let task = app
                .create_task(&commander, &json!({"title": format!("Task {i}")}))
                .await;
            let (leader, _) = app.quick_envoy(i).await;
            let team = expect(app.claim(&leader, str_of(&task, "id")).await, 201);
            tokens.push(app.join_token(&leader, str_of(&team, "id")).await);
            tasks.push(str_of(&task, "id").to_owned());
        }
        // one envoy joins five teams at once: one join wins
        let (joiner, joiner_id) = app.quick_envoy(10).await;
        let posts = tokens
            .iter()
            .map(|t| {
                (
                    "/teams/join".to_owned(),
                    joiner.clone(),
                    Some(json!({"token": t})),
                )
            })
            .collect();
        let responses = all_at_once(app, posts).await;
        let expected = [
            ((200, String::new()), 1),
            ((409, "already_in_team".to_owned()), 4),
        ]
        .into();
        assert_eq!(tally(&responses), expected, "{responses:?}");
        let me = expect(app.get("/me", &joiner).await, 200);
        let won = responses.iter().position(|(s, _)| *s == 200).unwrap();
        assert_eq!(me["current_team_id"], responses[won].1["id"], "{me}");
        let mut memberships = 0;
        for task in &tasks {
            let detail = expect(app.get(&format!("/tasks/{task}"), &commander).await, 200);
            for t in detail["teams_list"].as_array().unwrap() {
                let team = expect(app.team(&commander, str_of(t, "id")).await, 200);
                memberships += members(&team)
                    .iter()
                    .filter(|(id, _)| *id == joiner_id)
                    .count();
            }
        }
        assert_eq!(memberships, 1);

        // one envoy claims five tasks at once: one claim wins
        let (claimer, _) = app.quick_envoy(11).await;
        let posts = tasks
            .iter()
            .map(|t| (format!("/tasks/{t}/teams"), claimer.clone(), None))
            .collect();
        let responses = all_at_once(app, posts).await;
        let expected = [
            ((201, String::new()), 1),
            ((409, "already_in_team".to_owned()), 4),
        ]
        .into();
        assert_eq!(tally(&responses), expected, "{responses:?}");
        let mut teams = 0;
        for task in &tasks {
            let detail = expect(app.get(&format!("/tasks/{task}"), &commander).await, 200);
            teams += detail["teams"].as_i64().unwrap();
        }
        assert_eq!(teams, 6, "five leaders and the one claim that won");
    })
    .await;
}
