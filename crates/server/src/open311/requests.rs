//! Service requests: listing and searching them, filing one (as the user whose session token
//! is the `api_key`, through the incident service like `POST /api/v1/incidents`), and reading
//! one by id or token.

use super::format::{Format, Open311Error, O311, V};
use super::{args, department_name, departments, parse_code, reader, signed_in};
use super::{MAX_REQUESTS, MAX_SPAN_DAYS};
use crate::incident;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use pp_domain::incident::{IncidentStatus, NewIncident};
use pp_domain::IncidentId;
use pp_geo::LatLng;
use pp_store::{Department, IncidentFilter, IncidentView};
use std::collections::HashMap;

/// The request's fields, as `GET requests` and `GET requests/{id}` give them.
fn request_record(state: &AppState, view: &IncidentView, departments: &[Department]) -> V {
    let i = &view.incident;
    let media_url = if i.photos.is_empty() {
        i.media_url.clone()
    } else {
        Some(incident::photo_url(state, i.id, 1))
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

pub(super) async fn list_requests(
    state: &AppState,
    f: Format,
    a: &HashMap<String, String>,
) -> O311<Response> {
    let mut filter = IncidentFilter {
        limit: MAX_REQUESTS,
        ..IncidentFilter::default()
    };
    if let Some(reader) = reader(state, f, a).await? {
        incident::scope(&mut filter, &incident::actor(&reader.user))
            .map_err(|e| Open311Error::from_api(f, e.into()))?;
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
pub(super) async fn root_post(
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
    let view = incident::file(&state, user.user.id, &new)
        .await
        .map_err(|e| Open311Error::from_api(f, e.into()))?;
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
        Some(r) if !view.incident.may_see(&incident::actor(&r.user)) => Err(not_found()),
        _ => Ok(view),
    }
}

/// `GET requests/{id}`.
pub(super) async fn request(
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
pub(super) async fn token(
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
