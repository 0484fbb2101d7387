//! Emergency dispatches and the envoys they alert: the [`DispatchStore`] trait, what it hands
//! back, and the rows they are read from.

use crate::decode::{corrupt, count};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::dispatch::{Dispatch, DispatchPolicy, DispatchState, Recipient, RecipientState};
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{DispatchId, UserId};
use pp_geo::LatLng;
use uuid::Uuid;

/// Emergency dispatches and the envoys they alert. Each write runs the domain rule
/// (`pp_domain::dispatch`) inside one transaction over the locked dispatch row; a unique index
/// keeps an envoy engaged by at most one open dispatch, whatever the concurrency.
#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Saves a newly opened dispatch (nobody alerted yet).
    async fn create_dispatch(&self, dispatch: &Dispatch) -> StoreResult<()>;
    /// A dispatch with its recipients.
    async fn dispatch(&self, id: DispatchId) -> StoreResult<DispatchView>;
    /// Dispatches as the filter says, newest first.
    async fn dispatches(&self, filter: &DispatchFilter) -> StoreResult<Vec<DispatchView>>;
    /// Alerts the first of `candidates` (envoy and great-circle metres, nearest first) up to
    /// what the dispatch wants now (`Dispatch::wanted`), skipping envoys it alerted before and
    /// envoys engaged by another open dispatch.
    async fn alert_recipients(
        &self,
        id: DispatchId,
        candidates: &[(UserId, f64)],
        now: Timestamp,
    ) -> StoreResult<Alerted>;
    /// `user` answers their alert (`Recipient::respond`); `NotFound("alert")` when the dispatch
    /// did not alert them. Returns the dispatch after it and whether anything changed.
    async fn respond_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        accept: bool,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)>;
    /// `user` marks arrival from `at`, their latest known position (`None` when the server
    /// has none) (`Recipient::arrive`).
    async fn arrive_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        at: Option<LatLng>,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)>;
    /// Closes a dispatch (`Dispatch::close`): the alerts not answered expire and every
    /// recipient is free again. Returns the dispatch after it.
    async fn close_dispatch(
        &self,
        id: DispatchId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<DispatchView>;
    /// Expires the alerts of open dispatches left unanswered past their time; returns which.
    async fn expire_alerts(&self, now: Timestamp) -> StoreResult<Vec<(DispatchId, UserId)>>;
    /// Widens the dispatch when an escalation is due (`Dispatch::escalation_due`); returns it
    /// when it widened.
    async fn escalate_dispatch(
        &self,
        id: DispatchId,
        now: Timestamp,
    ) -> StoreResult<Option<Dispatch>>;
    /// The envoys engaged by open dispatches (to rebuild the live index's exclusions).
    async fn engaged_envoys(&self) -> StoreResult<Vec<UserId>>;
}

/// An envoy alerted by a dispatch, with their name (for the command centre).
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientView {
    /// the alert and where it stands
    pub recipient: pp_domain::dispatch::Recipient,
    /// the envoy's display name
    pub name: String,
}

/// A dispatch with its recipients, in the order they were alerted (nearest first within one
/// alerting).
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchView {
    /// the dispatch
    pub dispatch: pp_domain::dispatch::Dispatch,
    /// everyone it alerted
    pub recipients: Vec<RecipientView>,
}

impl DispatchView {
    /// How many recipients are in each state.
    pub fn tally(&self) -> pp_domain::dispatch::Tally {
        pp_domain::dispatch::Tally::of(self.recipients.iter().map(|r| &r.recipient))
    }

    /// The alert of `user`, if this dispatch alerted them.
    pub fn recipient(&self, user: UserId) -> Option<&pp_domain::dispatch::Recipient> {
        self.recipients
            .iter()
            .map(|r| &r.recipient)
            .find(|r| r.user == user)
    }
}

/// Which dispatches to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchFilter {
    /// only open or only closed ones
    pub state: Option<pp_domain::dispatch::DispatchState>,
    /// only those that alerted this envoy
    pub recipient: Option<UserId>,
    /// at most this many
    pub limit: u32,
}

/// What an alerting round did ([`crate::DispatchStore::alert_recipients`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Alerted {
    /// the dispatch after it
    pub view: DispatchView,
    /// the envoys alerted now (also in `view`)
    pub new: Vec<pp_domain::dispatch::Recipient>,
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct DispatchRow {
    id: Uuid,
    created_by: Uuid,
    created_at: i64,
    lat: f64,
    lng: f64,
    radius_m: f64,
    needed: i64,
    message: String,
    overfill: i64,
    alert_timeout_ms: i64,
    escalate_after_ms: i64,
    max_radius_m: f64,
    state: String,
    escalations: i64,
    escalated_at: i64,
    closed_at: Option<i64>,
    closed_by: Option<Uuid>,
}

impl TryFrom<DispatchRow> for Dispatch {
    type Error = StoreError;
    fn try_from(r: DispatchRow) -> StoreResult<Dispatch> {
        Ok(Dispatch {
            id: DispatchId(r.id),
            created_by: UserId(r.created_by),
            created_at: from_millis(r.created_at),
            at: LatLng::new(r.lat, r.lng).map_err(|e| corrupt("dispatch point", e))?,
            radius_m: r.radius_m,
            needed: count(r.needed),
            message: r.message,
            policy: DispatchPolicy {
                overfill: count(r.overfill),
                alert_timeout: chrono::Duration::milliseconds(r.alert_timeout_ms),
                escalate_after: chrono::Duration::milliseconds(r.escalate_after_ms),
                max_radius_m: r.max_radius_m,
            },
            state: DispatchState::parse(&r.state).map_err(|e| corrupt("dispatch state", e))?,
            escalations: count(r.escalations),
            escalated_at: from_millis(r.escalated_at),
            closed_at: r.closed_at.map(from_millis),
            closed_by: r.closed_by.map(UserId),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RecipientRow {
    pub dispatch_id: Uuid,
    user_id: Uuid,
    name: String,
    state: String,
    distance_m: f64,
    wave: i64,
    notified_at: i64,
    expires_at: i64,
    answered_at: Option<i64>,
    arrived_at: Option<i64>,
}

impl TryFrom<RecipientRow> for RecipientView {
    type Error = StoreError;
    fn try_from(r: RecipientRow) -> StoreResult<Self> {
        Ok(RecipientView {
            recipient: Recipient {
                user: UserId(r.user_id),
                state: RecipientState::parse(&r.state)
                    .map_err(|e| corrupt("recipient state", e))?,
                distance_m: r.distance_m,
                wave: count(r.wave),
                notified_at: from_millis(r.notified_at),
                expires_at: from_millis(r.expires_at),
                answered_at: r.answered_at.map(from_millis),
                arrived_at: r.arrived_at.map(from_millis),
            },
            name: r.name,
        })
    }
}
