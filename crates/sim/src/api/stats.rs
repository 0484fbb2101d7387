//! Calls of the statistics: `GET /stats` (`query` is its query string, from `?`) and its CSV
//! and JSON exports.

use super::client::{Api, Reply};
use super::error::ApiError;
use reqwest::Method;
use serde_json::Value;

impl Api {
    /// `GET /stats`, its refusal left to the caller (a server without statistics answers 404).
    pub async fn stats_reply(&self, token: &str, query: &str) -> Result<Reply, ApiError> {
        self.send(
            "GET /stats",
            self.request(Method::GET, &format!("/stats{query}"))
                .bearer_auth(token),
        )
        .await
    }

    /// `GET /stats`.
    pub async fn stats(&self, token: &str, query: &str) -> Result<Value, ApiError> {
        self.json(
            "GET /stats",
            self.request(Method::GET, &format!("/stats{query}"))
                .bearer_auth(token),
        )
        .await
    }

    /// `GET /stats/export.csv`: the CSV text.
    pub async fn stats_csv(&self, token: &str, query: &str) -> Result<String, ApiError> {
        let csv: Value = self
            .json(
                "GET /stats/export.csv",
                self.request(Method::GET, &format!("/stats/export.csv{query}"))
                    .bearer_auth(token),
            )
            .await?;
        Ok(csv.as_str().unwrap_or_default().to_owned())
    }

    /// `GET /stats/export.json`.
    pub async fn stats_json(&self, token: &str, query: &str) -> Result<Value, ApiError> {
        self.json(
            "GET /stats/export.json",
            self.request(Method::GET, &format!("/stats/export.json{query}"))
                .bearer_auth(token),
        )
        .await
    }
}
