//! Calls of the field: positions, the nearest envoys, incident reports and their handling,
//! and dispatches (opened by a commander, answered by envoys' phones).

use super::answers::{Dispatch, Incident, Nearest, NewDispatch, PointOut, Posted};
use super::client::Api;
use super::error::ApiError;
use super::forms::{report_form, NewReport};
use pp_domain::DispatchId;
use reqwest::Method;
use serde_json::{json, Value};

/// Refusals a phone meets when it answers an alert: the dispatch closed, or the alert expired
/// and passed to another envoy.
const ANSWER_REFUSALS: &[&str] = &["dispatch_closed", "alert_expired"];
/// Refusals a phone meets when it marks arrival: the dispatch closed.
const ARRIVAL_REFUSALS: &[&str] = &["dispatch_closed"];

impl Api {
    /// `POST /positions`: a batch of points.
    pub async fn post_positions(
        &self,
        token: &str,
        points: &[PointOut],
    ) -> Result<Posted, ApiError> {
        self.json(
            "POST /positions",
            self.request(Method::POST, "/positions")
                .bearer_auth(token)
                .json(&json!({ "points": points })),
        )
        .await
    }

    /// `GET /envoys/nearest`: the `k` envoys nearest to a point within `radius_m`.
    pub async fn nearest(
        &self,
        token: &str,
        lat: f64,
        lng: f64,
        k: usize,
        radius_m: f64,
    ) -> Result<Nearest, ApiError> {
        let path = super::keep_alive::nearest_path(lat, lng, k, radius_m);
        self.json(
            "GET /envoys/nearest",
            self.request(Method::GET, &path).bearer_auth(token),
        )
        .await
    }

    /// `POST /incidents`: files a report (multipart, with its photo if any).
    pub async fn file_report(
        &self,
        token: &str,
        report: &NewReport<'_>,
    ) -> Result<Incident, ApiError> {
        let route = "POST /incidents";
        let form = report_form(report).map_err(|source| ApiError::NoAnswer { route, source })?;
        self.json(
            route,
            self.request(Method::POST, "/incidents")
                .bearer_auth(token)
                .multipart(form),
        )
        .await
    }

    /// `PATCH /incidents/{id}`: staff move a report to `status` with a note.
    pub async fn step_incident(
        &self,
        token: &str,
        id: &str,
        status: &str,
        note: &str,
    ) -> Result<Incident, ApiError> {
        self.json(
            "PATCH /incidents/{id}",
            self.request(Method::PATCH, &format!("/incidents/{id}"))
                .bearer_auth(token)
                .json(&json!({ "status": status, "note": note })),
        )
        .await
    }

    /// `POST /dispatches`: a commander asks for envoys at a scene.
    pub async fn open_dispatch(
        &self,
        token: &str,
        dispatch: &NewDispatch<'_>,
    ) -> Result<Dispatch, ApiError> {
        self.json(
            "POST /dispatches",
            self.request(Method::POST, "/dispatches")
                .bearer_auth(token)
                .json(dispatch),
        )
        .await
    }

    /// `GET /dispatches/{id}`.
    pub async fn dispatch(&self, token: &str, id: DispatchId) -> Result<Dispatch, ApiError> {
        self.json(
            "GET /dispatches/{id}",
            self.request(Method::GET, &format!("/dispatches/{id}"))
                .bearer_auth(token),
        )
        .await
    }

    /// `POST /dispatches/{id}/close`.
    pub async fn close_dispatch(&self, token: &str, id: DispatchId) -> Result<Dispatch, ApiError> {
        self.json(
            "POST /dispatches/{id}/close",
            self.request(Method::POST, &format!("/dispatches/{id}/close"))
                .bearer_auth(token),
        )
        .await
    }

    /// `POST /dispatches/{id}/respond`: an alerted envoy accepts or declines. `None` when the
    /// server refused as it may refuse a phone (the dispatch closed, the alert expired).
    pub async fn respond(
        &self,
        token: &str,
        id: DispatchId,
        accept: bool,
    ) -> Result<Option<Value>, ApiError> {
        self.json_or_refused(
            "POST /dispatches/{id}/respond",
            self.request(Method::POST, &format!("/dispatches/{id}/respond"))
                .bearer_auth(token)
                .json(&json!({ "accept": accept })),
            ANSWER_REFUSALS,
        )
        .await
    }

    /// `POST /dispatches/{id}/arrived` (the server accepts it within 100 m of the scene).
    /// `None` when the dispatch closed meanwhile.
    pub async fn arrived(&self, token: &str, id: DispatchId) -> Result<Option<Value>, ApiError> {
        self.json_or_refused(
            "POST /dispatches/{id}/arrived",
            self.request(Method::POST, &format!("/dispatches/{id}/arrived"))
                .bearer_auth(token),
            ARRIVAL_REFUSALS,
        )
        .await
    }
}
