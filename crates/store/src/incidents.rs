//! Incident reports and their timelines: the [`IncidentStore`] trait, what it hands back, and
//! the rows they are read from.

use crate::decode::corrupt;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::incident::{
    Actor, Category, Incident, IncidentStatus, NewIncident, TimelineEntry, TimelineKind,
};
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{IncidentId, TeamId, UserId};
use pp_geo::LatLng;
use uuid::Uuid;

/// Incident reports and their timelines.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Files a report by `reporter`, routed by the category's current rule, with its first
    /// timeline entry, in one transaction (`NotFound("team")` for an unknown `team_id`,
    /// `Domain(not_member)` for a team the reporter was never in).
    async fn report_incident(
        &self,
        reporter: UserId,
        new: &NewIncident<'_>,
        now: Timestamp,
    ) -> StoreResult<IncidentView>;
    /// A report with its timeline (`NotFound("incident")`).
    async fn incident(&self, id: IncidentId) -> StoreResult<IncidentView>;
    /// Reports as the filter says, newest first, without timelines.
    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<IncidentView>>;
    /// `actor` changes a report (`Incident::change_status` or `Incident::reroute`) over its
    /// locked row, appending the timeline entry. A report the actor may not see is
    /// `NotFound("incident")`; re-routing to an unknown department is
    /// `Domain(unknown_department)`. Returns the report after it and the new entry (`None`
    /// when nothing changed).
    async fn update_incident(
        &self,
        id: IncidentId,
        actor: &Actor<'_>,
        change: &IncidentChange,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<(IncidentView, Option<TimelineEntry>)>;
}

/// A report with its reporter's name and (when read alone) its timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentView {
    /// the report
    pub incident: pp_domain::incident::Incident,
    /// the reporter's display name
    pub reporter_name: String,
    /// its history, oldest first (empty in lists)
    pub timeline: Vec<TimelineView>,
}

/// A timeline entry with the actor's display name.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineView {
    /// the entry
    pub entry: pp_domain::incident::TimelineEntry,
    /// who acted, by name
    pub actor_name: String,
}

/// Which reports to list, newest first. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    /// only these reports
    pub ids: Vec<pp_domain::IncidentId>,
    /// only in one of these statuses
    pub statuses: Vec<pp_domain::incident::IncidentStatus>,
    /// only of one of these categories
    pub categories: Vec<pp_domain::incident::Category>,
    /// only routed to this department (code)
    pub department: Option<String>,
    /// only those this envoy reported
    pub reporter: Option<UserId>,
    /// only inside this box
    pub bbox: Option<pp_geo::BBox>,
    /// only reported at or after this
    pub from: Option<pp_domain::time::Timestamp>,
    /// only reported before this
    pub to: Option<pp_domain::time::Timestamp>,
    /// at most this many
    pub limit: u32,
}

/// What a change to a report does ([`crate::IncidentStore::update_incident`]).
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    /// move its status one step
    Status(pp_domain::incident::IncidentStatus),
    /// send it to another department (by code)
    Reroute(String),
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct IncidentRow {
    id: Uuid,
    reporter_id: Uuid,
    reporter_name: String,
    category: String,
    description: String,
    lat: f64,
    lng: f64,
    team_id: Option<Uuid>,
    department: String,
    status: String,
    photos: String,
    media_url: Option<String>,
    created_at: i64,
    updated_at: i64,
    acknowledged_at: Option<i64>,
    closed_at: Option<i64>,
}

impl TryFrom<IncidentRow> for IncidentView {
    type Error = StoreError;
    fn try_from(r: IncidentRow) -> StoreResult<Self> {
        Ok(IncidentView {
            incident: Incident {
                id: IncidentId(r.id),
                reporter: UserId(r.reporter_id),
                category: Category::parse(&r.category).map_err(|e| corrupt("category", e))?,
                description: r.description,
                at: LatLng::new(r.lat, r.lng).map_err(|e| corrupt("incident point", e))?,
                team_id: r.team_id.map(TeamId),
                department: r.department,
                status: IncidentStatus::parse(&r.status)
                    .map_err(|e| corrupt("incident status", e))?,
                photos: r.photos.split_whitespace().map(str::to_owned).collect(),
                media_url: r.media_url,
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
                acknowledged_at: r.acknowledged_at.map(from_millis),
                closed_at: r.closed_at.map(from_millis),
            },
            reporter_name: r.reporter_name,
            timeline: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TimelineRow {
    at: i64,
    actor_id: Uuid,
    actor_name: String,
    kind: String,
    status: String,
    department: String,
    note: String,
}

impl TryFrom<TimelineRow> for TimelineView {
    type Error = StoreError;
    fn try_from(r: TimelineRow) -> StoreResult<Self> {
        Ok(TimelineView {
            entry: TimelineEntry {
                at: from_millis(r.at),
                actor: UserId(r.actor_id),
                kind: TimelineKind::parse(&r.kind).map_err(|e| corrupt("timeline kind", e))?,
                status: IncidentStatus::parse(&r.status)
                    .map_err(|e| corrupt("timeline status", e))?,
                department: r.department,
                note: r.note,
            },
            actor_name: r.actor_name,
        })
    }
}
