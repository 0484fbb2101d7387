//! A report as clients see it: the API's answers and the `incident` events carry the same
//! [`IncidentBody`], so it is the incident service's to make.

use super::photo_url;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use pp_domain::incident::{Category, IncidentStatus, TimelineKind};
use pp_domain::{IncidentId, TeamId, UserId};
use pp_store::IncidentView;
use serde::Serialize;
use utoipa::ToSchema;

/// One step of a report's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineBody {
    /// when
    pub at: DateTime<Utc>,
    /// who
    pub actor_id: UserId,
    /// their name
    pub actor_name: String,
    /// `reported`, `status` or `rerouted`
    pub kind: TimelineKind,
    /// the status after it
    pub status: IncidentStatus,
    /// the department after it
    pub department: String,
    /// what they wrote
    pub note: String,
}

/// A report.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentBody {
    /// id (Open311's `service_request_id`)
    pub id: IncidentId,
    /// what it is about
    pub category: Category,
    /// the category's name in Chinese
    pub category_name_zh: String,
    /// the category's name in English
    pub category_name_en: String,
    /// what the reporter saw
    pub description: String,
    /// where (WGS-84)
    pub lat: f64,
    /// where (WGS-84)
    pub lng: f64,
    /// the reporter's team, when reported on patrol
    pub team_id: Option<TeamId>,
    /// the department (code) it is routed to
    pub department: String,
    /// `open`, `acknowledged`, `in_progress`, `resolved` or `rejected`
    pub status: IncidentStatus,
    /// who reported it
    pub reporter_id: UserId,
    /// their name
    pub reporter_name: String,
    /// links to its photos (signed-in GETs: send the token as a header or `?token=`)
    pub photos: Vec<String>,
    /// a link to a photo kept elsewhere (sent by an Open311 client)
    pub media_url: Option<String>,
    /// when reported
    pub created_at: DateTime<Utc>,
    /// when it last changed
    pub updated_at: DateTime<Utc>,
    /// when its department acknowledged it
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// when it was resolved or rejected
    pub closed_at: Option<DateTime<Utc>>,
    /// its history, oldest first (only on `GET /incidents/{id}`, `PATCH` and events)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineBody>>,
}

impl IncidentBody {
    /// The body of `view`; with its timeline when `timeline` is set.
    pub fn of(state: &AppState, view: &IncidentView, timeline: bool) -> IncidentBody {
        let i = &view.incident;
        let (zh, en) = i.category.names();
        IncidentBody {
            id: i.id,
            category: i.category,
            category_name_zh: zh.to_owned(),
            category_name_en: en.to_owned(),
            description: i.description.clone(),
            lat: i.at.lat,
            lng: i.at.lng,
            team_id: i.team_id,
            department: i.department.clone(),
            status: i.status,
            reporter_id: i.reporter,
            reporter_name: view.reporter_name.clone(),
            photos: (1..=i.photos.len())
                .map(|n| photo_url(state, i.id, n))
                .collect(),
            media_url: i.media_url.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            acknowledged_at: i.acknowledged_at,
            closed_at: i.closed_at,
            timeline: timeline.then(|| {
                view.timeline
                    .iter()
                    .map(|t| TimelineBody {
                        at: t.entry.at,
                        actor_id: t.entry.actor,
                        actor_name: t.actor_name.clone(),
                        kind: t.entry.kind,
                        status: t.entry.status,
                        department: t.entry.department.clone(),
                        note: t.entry.note.clone(),
                    })
                    .collect()
            }),
        }
    }
}
