//! The HTTP API: one router per resource, assembled with its OpenAPI document.

pub mod auth;
pub mod departments;
pub mod dispatches;
pub mod envoys;
pub mod heat;
pub mod incidents;
pub mod ledger;
pub mod positions;
pub mod stats;
pub mod stream;
pub mod system;
pub mod tasks;
pub mod teams;
pub mod users;

use crate::error::{ErrorBody, ErrorDetail};
use crate::state::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use crate::API_PREFIX;

/// The document's frame: title, tags, shared schemas and the bearer scheme; the paths come
/// from the routers' registrations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Peace Patrol API",
        description = "平安巡逻 — the API of a district's safety volunteers: accounts, patrol tasks, teams formed by QR code, positions, patrol qualification and rewards, heat and live maps, emergency dispatch, incident reports, statistics.\n\nEvery 4xx/5xx answer has the body `{\"error\": {\"code\", \"message\"}}`; sign in with `POST /api/v1/auth/login` and send the token as `Authorization: Bearer <token>` (or, on a GET, as `?token=`, for map tile layers and EventSource).",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "tasks", description = "Patrol tasks published by the command centre"),
        (name = "teams", description = "Teams: claim, join by QR code, start, progress, finish"),
        (name = "positions", description = "Envoys' positions while patrolling"),
        (name = "rewards", description = "Wallet, leaderboard and the append-only rewards ledger"),
        (name = "maps", description = "Heat map (H3 hexagons, raster tiles) and the live map of envoys"),
        (name = "dispatch", description = "Emergencies: the nearest available envoys, dispatches that alert them, and the live event stream"),
        (name = "incidents", description = "Incident reports routed to departments, the routing rules and the departments (Open311 GeoReport v2 clients use /open311/v2/)"),
        (name = "stats", description = "What the district achieved in a period, beside the same period a year earlier, and its exports (CSV, JSON)"),
        (name = "system", description = "Health, metrics and the web apps' settings"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the token of POST /api/v1/auth/login"))
                    .build(),
            ),
        );
    }
}

/// Every documented route: the JSON API under [`API_PREFIX`], plus health and metrics.
pub fn api_router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(tasks::router())
        .merge(teams::router())
        .merge(positions::router())
        .merge(ledger::router())
        .merge(heat::router())
        .merge(envoys::router())
        .merge(dispatches::router())
        .merge(incidents::router())
        .merge(departments::router())
        .merge(users::router())
        .merge(stats::router())
        .merge(system::config_router())
        .merge(stream::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_PREFIX, v1)
        .merge(system::router())
}

#[cfg(test)]
mod tests {
    /// `(METHOD, path)` of every endpoint docs/api.md names, as served.
    fn documented_endpoints() -> Vec<(String, String)> {
        let doc = include_str!("../../../../docs/api.md");
        let mut out = Vec::new();
        for quoted in doc.split('`').skip(1).step_by(2) {
            let Some((method, rest)) = quoted.split_once(' ') else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method)
                || !rest.starts_with('/')
            {
                continue;
            }
            let path = rest.split([' ', '?']).next().unwrap_or_default();
            let served = if path.starts_with("/api/") || path == "/healthz" || path == "/metrics" {
                path.to_owned()
            } else {
                format!("{}{path}", super::API_PREFIX)
            };
            out.push((method.to_lowercase(), served));
        }
        out
    }

    #[test]
    fn openapi_lists_every_endpoint_of_the_api_doc() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let endpoints = documented_endpoints();
        assert!(endpoints.len() >= 18, "{endpoints:?}");
        for (method, path) in endpoints {
            // the document and its viewer are served beside the document, not in it
            if path == "/api/openapi.json" || path == "/api/docs" {
                continue;
            }
            assert!(
                doc["paths"][&path][&method].is_object(),
                "{method} {path} is missing from the OpenAPI document"
            );
        }
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }

    #[test]
    fn every_operation_documents_its_errors_and_api_routes_need_a_token() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let public = [
                    "/api/v1/auth/register",
                    "/api/v1/auth/login",
                    "/api/v1/auth/activate",
                    "/api/v1/config",
                    "/healthz",
                    "/metrics",
                ]
                .contains(&path.as_str());
                if !public {
                    assert!(
                        op["security"][0]["bearer"].is_array(),
                        "{method} {path} has no bearer security"
                    );
                    assert!(
                        responses.contains_key("401"),
                        "{method} {path} does not document 401"
                    );
                }
                // neither can fail
                if path != "/metrics" && path != "/api/v1/config" {
                    assert!(
                        responses
                            .keys()
                            .any(|s| s.starts_with('4') || s.starts_with('5')),
                        "{method} {path}"
                    );
                }
            }
        }
    }
}
