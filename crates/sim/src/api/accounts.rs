//! Calls about accounts and the server itself: `/healthz`, log in, activate, `GET /me`, an
//! admin's `POST /users` and `POST /users/import`, `GET /routing`.

use super::answers::{Imported, Me, NewAccount, Routing, Session};
use super::client::Api;
use super::error::ApiError;
use reqwest::Method;
use serde_json::{json, Value};

impl Api {
    /// `GET /healthz` (outside the API): `{"status","database"}`. Not in the log: a tool asks
    /// it before its work, which the log measures.
    pub async fn health(&self) -> Result<Value, ApiError> {
        let route = "GET /healthz";
        let answer = async {
            let resp = self.request_outside("/healthz").send().await?;
            let status = resp.status();
            Ok::<_, reqwest::Error>((status, resp.bytes().await?))
        }
        .await;
        let (status, body) = answer.map_err(|source| ApiError::NoAnswer { route, source })?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(ApiError::refused(route, status, &body))
        }
    }

    /// `POST /auth/login`.
    pub async fn login(&self, phone: &str, password: &str) -> Result<Session, ApiError> {
        self.json(
            "POST /auth/login",
            self.request(Method::POST, "/auth/login")
                .json(&json!({ "phone": phone, "password": password })),
        )
        .await
    }

    /// `POST /auth/activate`: an imported envoy signs up with its code.
    pub async fn activate(
        &self,
        phone: &str,
        code: &str,
        password: &str,
    ) -> Result<Session, ApiError> {
        self.json(
            "POST /auth/activate",
            self.request(Method::POST, "/auth/activate")
                .json(&json!({ "phone": phone, "code": code, "password": password })),
        )
        .await
    }

    /// `GET /me`.
    pub async fn me(&self, token: &str) -> Result<Me, ApiError> {
        self.json(
            "GET /me",
            self.request(Method::GET, "/me").bearer_auth(token),
        )
        .await
    }

    /// `POST /users`: an admin makes an account.
    pub async fn create_user(
        &self,
        admin: &str,
        account: &NewAccount<'_>,
    ) -> Result<Value, ApiError> {
        self.json(
            "POST /users",
            self.request(Method::POST, "/users")
                .bearer_auth(admin)
                .json(account),
        )
        .await
    }

    /// `POST /users/import`: an admin imports envoys from CSV (`phone,name` rows).
    pub async fn import_envoys(&self, admin: &str, csv: String) -> Result<Imported, ApiError> {
        self.json(
            "POST /users/import",
            self.request(Method::POST, "/users/import")
                .bearer_auth(admin)
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await
    }

    /// `GET /routing`.
    pub async fn routing(&self, token: &str) -> Result<Routing, ApiError> {
        self.json(
            "GET /routing",
            self.request(Method::GET, "/routing").bearer_auth(token),
        )
        .await
    }
}
