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

use crate::error::Shaped;
use crate::extract::AuthUser;
use crate::routes::incidents;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use pp_domain::incident::{Category, IncidentStatus, NewIncident};
use pp_domain::IncidentId;
use pp_geo::LatLng;
use pp_store::{Department, IncidentFilter, IncidentView, RoutingRule};
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

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json` (the "Spark convention" mapping of the XML)
    Json,
    /// `.xml`
    Xml,
}

impl Format {
    /// Splits `name.json` / `name.xml`.
    fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file.rsplit_once('.')?;
        match ext {
            "json" => Some((stem, Format::Json)),
            "xml" => Some((stem, Format::Xml)),
            _ => None,
        }
    }

    fn of(file: &str) -> Result<(&str, Format), Open311Error> {
        Format::split(file).ok_or_else(|| {
            Open311Error::new(Format::Json, 404, "ask for a resource as .json or .xml")
        })
    }
}

/// A value of a response, kept in the specification's field order so both formats are made
/// from one description.
#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    /// elements of a list: in XML each is an element of the given name
    List(&'static str, Vec<V>),
    Rec(Vec<(&'static str, V)>),
}

impl V {
    fn str(s: impl Into<String>) -> V {
        V::Str(s.into())
    }

    fn opt(s: Option<impl Into<String>>) -> V {
        s.map_or(V::Null, V::str)
    }

    fn time(t: DateTime<Utc>) -> V {
        V::Str(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    fn json(&self) -> serde_json::Value {
        match self {
            V::Null => serde_json::Value::Null,
            V::Bool(b) => (*b).into(),
            V::Int(n) => (*n).into(),
            V::Num(n) => (*n).into(),
            V::Str(s) => s.as_str().into(),
            V::List(_, items) => items.iter().map(V::json).collect(),
            V::Rec(fields) => fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    fn xml(&self, name: &str, out: &mut String) {
        if let V::Null = self {
            out.push_str(&format!("<{name}/>"));
            return;
        }
        out.push_str(&format!("<{name}>"));
        match self {
            V::Null => {}
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(n) => out.push_str(&n.to_string()),
            V::Num(n) => out.push_str(&n.to_string()),
            V::Str(s) => out.push_str(&quick_xml::escape::escape(s.as_str())),
            V::List(item, items) => items.iter().for_each(|v| v.xml(item, out)),
            V::Rec(fields) => fields.iter().for_each(|(k, v)| v.xml(k, out)),
        }
        out.push_str(&format!("</{name}>"));
    }

    /// The response: JSON as it is; XML under `root`, a list's items named as it says.
    fn respond(&self, format: Format, root: &'static str, status: StatusCode) -> Response {
        let (content_type, body) = match format {
            Format::Json => ("application/json; charset=utf-8", self.json().to_string()),
            Format::Xml => {
                let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
                self.xml(root, &mut out);
                ("text/xml; charset=utf-8", out)
            }
        };
        let mut res = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        res.extensions_mut().insert(Shaped);
        res
    }
}

/// An error in the specification's format: `errors[]{code, description}`.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    status: u16,
    description: String,
}

impl Open311Error {
    fn new(format: Format, status: u16, description: impl Into<String>) -> Self {
        Open311Error {
            format,
            status,
            description: description.into(),
        }
    }

    fn from_api(format: Format, e: crate::error::ApiError) -> Self {
        let status = e.status().as_u16();
        if status >= 500 {
            tracing::error!(error = ?e, "open311 request failed");
        }
        Open311Error::new(format, status, e.client_message())
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = V::List(
            "error",
            vec![V::Rec(vec![
                ("code", V::Int(i64::from(self.status))),
                ("description", V::Str(self.description)),
            ])],
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        body.respond(self.format, "errors", status)
    }
}

type O311<T> = Result<T, Open311Error>;

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

/// The request's fields, as `GET requests` and `GET requests/{id}` give them.
fn request_record(state: &AppState, view: &IncidentView, departments: &[Department]) -> V {
    let i = &view.incident;
    let media_url = if i.photos.is_empty() {
        i.media_url.clone()
    } else {
        Some(incidents::photo_url(state, i.id, 1))
    };
    let status_notes = view
        .timeline
        .iter()
        .rev()
        .map(|t| t.entry.note.as_str())
        .find(|n| !n.is_empty());
    let closed = i.status.is_final();
    V::Rec(vec![
        ("service_request_id", V::str(i.id.to_string())),
        ("status", V::str(i.status.open311())),
        ("status_notes", V::opt(status_notes)),
        ("service_name", V::str(i.category.names().1)),
        ("service_code", V::str(i.category.code())),
        ("description", V::str(&i.description)),
        (
            "agency_responsible",
            V::str(department_name(departments, &i.department)),
        ),
        ("service_notice", V::Null),
        ("requested_datetime", V::time(i.created_at)),
        // the closing time once closed, as the specification asks
        (
            "updated_datetime",
            V::time(if closed {
                i.closed_at.unwrap_or(i.updated_at)
            } else {
                i.updated_at
            }),
        ),
        ("expected_datetime", V::Null),
        ("address", V::Null),
        ("address_id", V::Null),
        ("zipcode", V::Null),
        ("lat", V::Num(i.at.lat)),
        ("long", V::Num(i.at.lng)),
        ("media_url", V::opt(media_url)),
        // extensions: the finer status (FixMyStreet's vocabulary) and when it was acknowledged
        ("detailed_status", V::str(detailed_status(i.status))),
        (
            "acknowledged_at",
            i.acknowledged_at.map_or(V::Null, V::time),
        ),
    ])
}

/// FixMyStreet's extended status words for ours.
fn detailed_status(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "OPEN",
        IncidentStatus::Acknowledged => "INVESTIGATING",
        IncidentStatus::InProgress => "IN_PROGRESS",
        IncidentStatus::Resolved => "FIXED",
        IncidentStatus::Rejected => "NO_FURTHER_ACTION",
    }
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

fn parse_date(f: Format, name: &str, value: Option<&String>) -> O311<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                Open311Error::new(
                    f,
                    400,
                    format!("{name} must be a W3C date and time with a time zone, such as 2026-10-01T00:00:00Z; got {v:?}"),
                )
            })
        })
        .transpose()
}

async fn list_requests(state: &AppState, f: Format, a: &HashMap<String, String>) -> O311<Response> {
    let mut filter = IncidentFilter {
        limit: MAX_REQUESTS,
        ..IncidentFilter::default()
    };
    if let Some(reader) = reader(state, f, a).await? {
        incidents::scope(&mut filter, &incidents::actor(&reader))
            .map_err(|e| Open311Error::from_api(f, e))?;
    }
    if let Some(ids) = a.get("service_request_id") {
        // the ids override every other argument; an id that names nothing finds nothing
        filter.ids = ids
            .split(',')
            .filter_map(|s| s.trim().parse::<IncidentId>().ok())
            .collect();
        if filter.ids.is_empty() {
            return Ok(V::List("request", Vec::new()).respond(
                f,
                "service_requests",
                StatusCode::OK,
            ));
        }
    } else {
        if let Some(codes) = a.get("service_code") {
            for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                filter.categories.push(parse_code(f, code)?);
            }
        }
        if let Some(statuses) = a.get("status") {
            for s in statuses.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let these = IncidentStatus::of_open311(s)
                    .map_err(|e| Open311Error::from_api(f, e.into()))?;
                filter.statuses.extend(these);
            }
        }
        let start = parse_date(f, "start_date", a.get("start_date"))?;
        let end = parse_date(f, "end_date", a.get("end_date"))?;
        let span = Duration::days(MAX_SPAN_DAYS);
        let (from, to) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s + span),
            (None, Some(e)) => (e - span, e),
            (None, None) => {
                let until = state.clock.now() + Duration::seconds(1);
                (until - span, until)
            }
        };
        if from > to {
            return Err(Open311Error::new(f, 400, "start_date is after end_date"));
        }
        if to - from > span {
            return Err(Open311Error::new(
                f,
                400,
                format!("a search spans at most {MAX_SPAN_DAYS} days"),
            ));
        }
        filter.from = Some(from);
        filter.to = Some(to);
    }
    let found = state
        .store
        .incidents(&filter)
        .await
        .map_err(|e| Open311Error::from_api(f, e.into()))?;
    let departments = departments(state, f).await?;
    let list = found
        .iter()
        .map(|v| request_record(state, v, &departments))
        .collect();
    Ok(V::List("request", list).respond(f, "service_requests", StatusCode::OK))
}

/// `POST requests`: files a report as the user whose token is the `api_key`.
async fn root_post(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(q): RawQuery,
    body: String,
) -> O311<Response> {
    let (stem, f) = Format::of(&resource)?;
    if stem != "requests" {
        return Err(Open311Error::new(
            f,
            405,
            format!("{stem} is read-only: GET it"),
        ));
    }
    // the arguments come form-encoded in the body; those in the query string count too
    let mut a = args(q.as_deref());
    a.extend(args(Some(&body)));
    let key = a
        .get("api_key")
        .ok_or_else(|| Open311Error::new(f, 403, "an api_key is required to post a request"))?;
    let user = signed_in(&state, key).await.map_err(|_| {
        Open311Error::new(f, 403, "the api_key is not valid: sign in for a fresh one")
    })?;
    let code = a
        .get("service_code")
        .ok_or_else(|| Open311Error::new(f, 400, "service_code is required"))?;
    let category = parse_code(f, code)?;
    let number = |name: &str| -> O311<f64> {
        let v = a.get(name).ok_or_else(|| {
            Open311Error::new(
                f,
                400,
                "a location is required: lat and long (this endpoint does not look up addresses)",
            )
        })?;
        v.parse().map_err(|_| {
            Open311Error::new(
                f,
                400,
                format!("{name} must be a number in degrees, got {v:?}"),
            )
        })
    };
    let at = LatLng::new(number("lat")?, number("long")?)
        .map_err(|e| Open311Error::from_api(f, e.into()))?;
    // a client may send no description: the service's name stands in for it
    let description = a
        .get("description")
        .map_or(category.names().1, String::as_str);
    let new = NewIncident {
        category,
        description,
        at,
        team_id: None,
        photos: Vec::new(),
        media_url: a.get("media_url").map(String::as_str),
    };
    let view = incidents::file(&state, user.user.id, &new)
        .await
        .map_err(|e| Open311Error::from_api(f, e))?;
    let departments = departments(&state, f).await?;
    let notice = format!(
        "routed to {}",
        department_name(&departments, &view.incident.department)
    );
    let body = V::List(
        "request",
        vec![V::Rec(vec![
            ("service_request_id", V::str(view.incident.id.to_string())),
            ("service_notice", V::str(notice)),
            ("account_id", V::Null),
        ])],
    );
    Ok(body.respond(f, "service_requests", StatusCode::OK))
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

/// The request `id` as the reader may see it (404 for one they may not, as for none).
async fn find(state: &AppState, f: Format, id: &str, q: Option<&str>) -> O311<IncidentView> {
    let reader = reader(state, f, &args(q)).await?;
    let not_found = || Open311Error::new(f, 404, format!("no service request has the id {id:?}"));
    let id: IncidentId = id.parse().map_err(|_| not_found())?;
    let view = state.store.incident(id).await.map_err(|e| match e {
        pp_store::StoreError::NotFound(_) => not_found(),
        other => Open311Error::from_api(f, other.into()),
    })?;
    match reader {
        Some(r) if !view.incident.may_see(&incidents::actor(&r)) => Err(not_found()),
        _ => Ok(view),
    }
}

/// `GET requests/{id}`.
async fn request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> O311<Response> {
    let (id, f) = Format::of(&file)?;
    let view = find(&state, f, id, q.as_deref()).await?;
    let departments = departments(&state, f).await?;
    let body = V::List("request", vec![request_record(&state, &view, &departments)]);
    Ok(body.respond(f, "service_requests", StatusCode::OK))
}

/// `GET tokens/{token}`: requests are realtime, so a token is the request's id.
async fn token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> O311<Response> {
    let (token, f) = Format::of(&file)?;
    let view = find(&state, f, token, q.as_deref()).await?;
    let id = view.incident.id.to_string();
    let body = V::List(
        "request",
        vec![V::Rec(vec![
            ("service_request_id", V::str(id.clone())),
            ("token", V::str(id)),
        ])],
    );
    Ok(body.respond(f, "service_requests", StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_description_two_formats() {
        let v = V::List(
            "request",
            vec![V::Rec(vec![
                ("service_request_id", V::str("a<b&c")),
                ("lat", V::Num(23.5)),
                ("metadata", V::Bool(false)),
                ("address", V::Null),
            ])],
        );
        assert_eq!(
            v.json(),
            serde_json::json!([{"service_request_id": "a<b&c", "lat": 23.5, "metadata": false, "address": null}])
        );
        let mut xml = String::new();
        v.xml("service_requests", &mut xml);
        assert_eq!(
            xml,
            "<service_requests><request><service_request_id>a&lt;b&amp;c</service_request_id><lat>23.5</lat><metadata>false</metadata><address/></request></service_requests>"
        );
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(Format::split("services.html"), None);
        assert_eq!(Format::split("services"), None);
    }

    #[test]
    fn empty_arguments_count_as_absent() {
        let a = args(Some("service_code=&status=open&lat=+23.1+"));
        assert_eq!(a.get("service_code"), None);
        assert_eq!(a.get("status").map(String::as_str), Some("open"));
        assert_eq!(a.get("lat").map(String::as_str), Some("23.1"));
    }
}
