//! Calls about tasks and teams: publish a task, claim a team, look at it, join it by its
//! token, start it with a photo, finish it.

use super::answers::{Finish, Task, Team};
use super::client::Api;
use super::error::ApiError;
use super::forms::start_form;
use pp_domain::{TaskId, TeamId};
use pp_geo::LatLng;
use reqwest::Method;
use serde_json::{json, Value};

impl Api {
    /// `POST /tasks`: a commander publishes a task (`body` as the API takes it).
    pub async fn publish_task(&self, token: &str, body: &Value) -> Result<Task, ApiError> {
        self.json(
            "POST /tasks",
            self.request(Method::POST, "/tasks")
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `POST /tasks/{id}/teams`: claims a team slot; the caller leads it.
    pub async fn claim(&self, token: &str, task: TaskId) -> Result<Team, ApiError> {
        self.json(
            "POST /tasks/{id}/teams",
            self.request(Method::POST, &format!("/tasks/{task}/teams"))
                .bearer_auth(token),
        )
        .await
    }

    /// `GET /teams/{id}`.
    pub async fn team(&self, token: &str, id: TeamId) -> Result<Team, ApiError> {
        self.json(
            "GET /teams/{id}",
            self.request(Method::GET, &format!("/teams/{id}"))
                .bearer_auth(token),
        )
        .await
    }

    /// `POST /teams/join` with the leader's join token.
    pub async fn join(
        &self,
        token: &str,
        join_token: &str,
        team: TeamId,
    ) -> Result<Team, ApiError> {
        self.json(
            "POST /teams/join",
            self.request(Method::POST, "/teams/join")
                .bearer_auth(token)
                .json(&json!({ "token": join_token, "team_id": team })),
        )
        .await
    }

    /// `POST /teams/{id}/start`: the leader starts the patrol with a team photo (PNG) taken at
    /// `at`.
    pub async fn start(
        &self,
        token: &str,
        id: TeamId,
        photo: &[u8],
        at: LatLng,
    ) -> Result<Team, ApiError> {
        let route = "POST /teams/{id}/start";
        let form = start_form(photo, at).map_err(|source| ApiError::NoAnswer { route, source })?;
        self.json(
            route,
            self.request(Method::POST, &format!("/teams/{id}/start"))
                .bearer_auth(token)
                .multipart(form),
        )
        .await
    }

    /// `POST /teams/{id}/finish`.
    pub async fn finish(&self, token: &str, id: TeamId) -> Result<Finish, ApiError> {
        self.json(
            "POST /teams/{id}/finish",
            self.request(Method::POST, &format!("/teams/{id}/finish"))
                .bearer_auth(token),
        )
        .await
    }
}
