//! Extractors whose failures are [`ApiError`]s: the signed-in user, and JSON / query / path
//! wrappers around axum's own, so malformed input gets the one error shape.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use pp_domain::account::session_token_hash;
use pp_domain::Role;
use pp_store::User;

/// The caller, from `Authorization: Bearer <token>` (or `?token=` on a GET): the token's SHA-256 names an unexpired
/// session in the store (looked up at most every [`crate::sessions::CACHE_TTL_SECS`] s per
/// token, see [`crate::sessions`]). Missing, malformed, unknown and expired tokens are all a
/// 401.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The account.
    pub user: User,
    /// The stored form of the session token (to end the session on logout).
    pub token_hash: Vec<u8>,
}

impl AuthUser {
    /// The caller's role must be one of `allowed` (403 `wrong_role` otherwise).
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        Ok(self.user.role.require(allowed)?)
    }
}

/// The bearer token of a request, if it has a well-formed one: the `Authorization` header, or
/// for a GET the `token` query parameter (map tile layers and `EventSource` cannot set
/// headers).
fn bearer(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        let token = token.trim();
        return (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .then(|| token.to_owned());
    }
    if parts.method != axum::http::Method::GET {
        return None;
    }
    form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(k, v)| k == "token" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("sign in first: send Authorization: Bearer <token>")
        })?;
        let token_hash = session_token_hash(&token);
        let now = state.clock.now();
        let user = match state.sessions.get(&token_hash, now) {
            Some(user) => user,
            None => {
                let user = state
                    .store
                    .session_user(&token_hash, now)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "this session is unknown or has expired: sign in again",
                        )
                    })?;
                state.sessions.put(&token_hash, user.clone(), now);
                user
            }
        };
        Ok(AuthUser { user, token_hash })
    }
}

/// `axum::Json` with [`ApiError`] rejections (`invalid_json`, `invalid_body`,
/// `unsupported_media_type`, `payload_too_large`). The body must be a JSON object: serde would
/// otherwise also read a struct from an array of its fields in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        // axum checks the content type, the size and the syntax (into a raw slice, building
        // nothing); the body is then read once, straight into `T`
        let axum::Json(raw) =
            axum::Json::<Box<serde_json::value::RawValue>>::from_request(req, state).await?;
        if !raw.get().starts_with('{') {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        serde_json::from_str(raw.get())
            .map(ApiJson)
            .map_err(|e| ApiError::bad_request("invalid_body", format!("invalid body: {e}")))
    }
}

/// `axum::extract::Query` with an [`ApiError`] rejection (`invalid_query`).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` with an [`ApiError`] rejection (`invalid_id`).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        parts_of("GET", "/", auth)
    }

    fn parts_of(method: &str, uri: &str, auth: Option<&str>) -> Parts {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_tokens() {
        let abc = Some("abc".to_owned());
        assert_eq!(bearer(&parts(Some("Bearer abc"))), abc);
        assert_eq!(bearer(&parts(Some("bearer  abc "))), abc);
        assert_eq!(bearer(&parts(Some("Basic abc"))), None);
        assert_eq!(bearer(&parts(Some("Bearer "))), None);
        assert_eq!(bearer(&parts(Some("abc"))), None);
        assert_eq!(bearer(&parts(None)), None);
        // ?token= on a GET only, and the header wins
        assert_eq!(bearer(&parts_of("GET", "/t?x=1&token=abc", None)), abc);
        assert_eq!(
            bearer(&parts_of("GET", "/t?token=a%2Fb", None)).as_deref(),
            Some("a/b")
        );
        assert_eq!(bearer(&parts_of("GET", "/t?token=", None)), None);
        assert_eq!(bearer(&parts_of("POST", "/t?token=abc", None)), None);
        assert_eq!(
            bearer(&parts_of("GET", "/t?token=zzz", Some("Bearer abc"))),
            abc
        );
    }

    async fn json(
        body: &'static str,
    ) -> Result<ApiJson<std::collections::BTreeMap<String, u32>>, ApiError> {
        let req = Request::builder()
            .uri("/")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        ApiJson::from_request(req, &()).await
    }

    async fn rejection(body: &'static str) -> String {
        format!("{:?}", json(body).await.map(|_| ()).unwrap_err())
    }

    #[tokio::test]
    async fn json_bodies_are_objects_read_once() {
        let ok = json(" \n {\"a\": 1} \n").await.unwrap();
        assert_eq!(ok.0.get("a"), Some(&1));
        assert!(json("{}").await.unwrap().0.is_empty());
        // not an object, bad syntax, a field of the wrong type
        assert!(rejection("[1]").await.contains("invalid_body"));
        assert!(rejection("\"{}\"").await.contains("invalid_body"));
        assert!(rejection("{\"a\"").await.contains("invalid_json"));
        assert!(rejection("{\"a\": \"x\"}").await.contains("invalid_body"));
    }
}
