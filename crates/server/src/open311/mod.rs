//! Open311 GeoReport v2 at `/open311/v2/`, so that existing civic-reporting clients can list
//! the categories ("services"), file a report ("service request") and follow it.
//!
//! Every resource is served as `.json` and `.xml` with the field names and statuses the
//! specification gives (`open` / `closed`; the finer status as the extension field
//! `detailed_status`, with `acknowledged_at`), and errors in its format (`errors[]{code,
//! description}`: 400 for a missing or bad argument, 403 for a missing or unknown `api_key`,
//! 404 for an unknown service, request or token). A request is filed as the user whose session
//! token is the `api_key`, through the same path as `POST /api/v1/incidents`, so it is routed,
//! announced and followed alike. Reads need no key, as the specification says, unless the
//! district turns `open311_public_reads` off: then a read needs an `api_key` and shows what its
//! user may see in the API. Photos behind `media_url` are served only to those who may see
//! the report. Service requests are `realtime`: the id comes back at once, and a token is the
//! request's id.

mod format;
mod requests;

pub use format::{Format, Open311Error};

use crate::extract::AuthUser;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use format::{O311, V};
use pp_domain::incident::Category;
use pp_store::{Department, RoutingRule};
use requests::{list_requests, request, root_post, token};
use std::collections::HashMap;

/// Where the interface is served.
pub const PREFIX: &str = "/open311/v2";
/// The specification it implements.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// The longest span `GET requests` covers, and its default (the last 90 days).
const MAX_SPAN_DAYS: i64 = 90;
/// The most requests one `GET requests` returns.
const MAX_REQUESTS: u32 = 1_000;
/// When this interface last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-29T00:00:00Z";

/// The routes, with an Open311-shaped 404 for anything else under the prefix.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{resource}", get(root_get).post(root_post))
        .route("/services/{file}", get(service_definition))
        .route("/requests/{file}", get(request))
        .route("/tokens/{file}", get(token))
        .fallback(|| async { Open311Error::new(Format::Json, 404, "no such resource") })
}

/// The query or form arguments; an empty value counts as absent, as the specification says.
fn args(raw: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
        .collect()
}

/// The departments, to name the one a request is routed to.
async fn departments(state: &AppState, f: Format) -> O311<Vec<Department>> {
    state
        .store
        .departments()
        .await
        .map_err(|e| Open311Error::from_api(f, e.into()))
}

fn department_name(departments: &[Department], code: &str) -> String {
    departments
        .iter()
        .find(|d| d.code == code)
        .map_or_else(|| code.to_owned(), |d| d.name_en.clone())
}

fn service(c: Category, rules: &[RoutingRule], departments: &[Department]) -> V {
    let (zh, en) = c.names();
    let department = rules
        .iter()
        .find(|r| r.category == c)
        .map_or(c.default_department(), |r| r.department.as_str());
    V::Rec(vec![
        ("service_code", V::str(c.code())),
        ("service_name", V::str(en)),
        ("description", V::str(format!("{zh} — {en}"))),
        ("metadata", V::Bool(false)),
        ("type", V::str("realtime")),
        ("keywords", V::str(c.code().replace('_', ","))),
        ("group", V::str(department_name(departments, department))),
    ])
}

fn parse_code(f: Format, code: &str) -> O311<Category> {
    Category::parse(code)
        .map_err(|_| Open311Error::new(f, 404, format!("no service has the code {code:?}")))
}

/// `GET discovery`, `services` and `requests`.
async fn root_get(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(q): RawQuery,
) -> O311<Response> {
    let (stem, f) = Format::of(&resource)?;
    match stem {
        "discovery" => Ok(discovery(&state).respond(f, "discovery", StatusCode::OK)),
        "services" => {
            let rules = state
                .store
                .routing()
                .await
                .map_err(|e| Open311Error::from_api(f, e.into()))?;
            let departments = departments(&state, f).await?;
            let list = Category::ALL
                .iter()
                .map(|c| service(*c, &rules, &departments))
                .collect();
            Ok(V::List("service", list).respond(f, "services", StatusCode::OK))
        }
        "requests" => list_requests(&state, f, &args(q.as_deref())).await,
        _ => Err(Open311Error::new(f, 404, format!("no resource {stem:?}"))),
    }
}

fn discovery(state: &AppState) -> V {
    let url = format!("{}{PREFIX}/", state.config.public_url);
    V::Rec(vec![
        ("changeset", V::str(CHANGESET)),
        ("contact", V::str("the district's command centre")),
        (
            "key_service",
            V::str(format!(
                "{}/ (sign in; your session token is the api_key)",
                state.config.public_url
            )),
        ),
        (
            "endpoints",
            V::List(
                "endpoint",
                vec![V::Rec(vec![
                    ("specification", V::str(SPECIFICATION)),
                    ("url", V::str(url)),
                    ("changeset", V::str(CHANGESET)),
                    ("type", V::str("production")),
                    (
                        "formats",
                        V::List(
                            "format",
                            vec![V::str("text/xml"), V::str("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ])
}

/// Who reads: nobody in particular when reads are public (the specification's default), else
/// the user whose token is the `api_key` (403 without a valid one).
async fn reader(
    state: &AppState,
    f: Format,
    a: &HashMap<String, String>,
) -> O311<Option<AuthUser>> {
    if state.config.open311_public_reads {
        return Ok(None);
    }
    let key = a.get("api_key").ok_or_else(|| {
        Open311Error::new(
            f,
            403,
            "this district's service requests are read with an api_key",
        )
    })?;
    signed_in(state, key)
        .await
        .map(Some)
        .map_err(|_| Open311Error::new(f, 403, "the api_key is not valid: sign in for a fresh one"))
}

/// The user a session token names, through the same check as the API's bearer tokens.
async fn signed_in(state: &AppState, token: &str) -> Result<AuthUser, crate::error::ApiError> {
    let req = axum::http::Request::builder()
        .method(axum::http::Method::POST)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .map_err(crate::error::ApiError::internal)?;
    let (mut parts, ()): (Parts, ()) = req.into_parts();
    AuthUser::from_request_parts(&mut parts, state).await
}

/// `GET services/{code}`: our services carry no extra attributes.
async fn service_definition(Path(file): Path<String>) -> O311<Response> {
    let (code, f) = Format::of(&file)?;
    let c = parse_code(f, code)?;
    let body = V::Rec(vec![
        ("service_code", V::str(c.code())),
        ("attributes", V::List("attribute", Vec::new())),
    ]);
    Ok(body.respond(f, "service_definition", StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_arguments_count_as_absent() {
        let a = args(Some("service_code=&status=open&lat=+23.1+"));
        assert_eq!(a.get("service_code"), None);
        assert_eq!(a.get("status").map(String::as_str), Some("open"));
        assert_eq!(a.get("lat").map(String::as_str), Some("23.1"));
    }
}
