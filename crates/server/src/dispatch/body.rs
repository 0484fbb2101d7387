//! A dispatch as clients see it: the API's answers and the `dispatch`, `dispatch_alert` and
//! `dispatch_update` events carry the same [`DispatchBody`], so it is the dispatch service's
//! to make (an envoy sees only their own alert).

use chrono::{DateTime, Utc};
use pp_domain::dispatch::{Dispatch, DispatchState, Recipient, RecipientState, Tally};
use pp_domain::{DispatchId, Role, UserId};
use pp_store::DispatchView;
use serde::Serialize;
use utoipa::ToSchema;

/// An alerted envoy.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientBody {
    /// the envoy
    pub user_id: UserId,
    /// their name
    pub name: String,
    /// `notified`, `accepted`, `declined`, `expired` or `arrived`
    pub state: RecipientState,
    /// great-circle metres from the point when alerted
    pub distance_m: f64,
    /// the escalation the alert went out in (0: the first)
    pub wave: u32,
    /// when alerted
    pub notified_at: DateTime<Utc>,
    /// when an unanswered alert passes to the next envoy
    pub expires_at: DateTime<Utc>,
    /// when they answered (or the alert expired)
    pub answered_at: Option<DateTime<Utc>>,
    /// when they marked arrival
    pub arrived_at: Option<DateTime<Utc>>,
}

impl RecipientBody {
    fn of(r: &Recipient, name: &str) -> RecipientBody {
        RecipientBody {
            user_id: r.user,
            name: name.to_owned(),
            state: r.state,
            distance_m: (r.distance_m * 10.0).round() / 10.0,
            wave: r.wave,
            notified_at: r.notified_at,
            expires_at: r.expires_at,
            answered_at: r.answered_at,
            arrived_at: r.arrived_at,
        }
    }
}

/// A dispatch. The command centre sees every recipient; an envoy sees only their own alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchBody {
    /// id
    pub id: DispatchId,
    /// `open` or `closed`
    pub state: DispatchState,
    /// where help is needed
    pub lat: f64,
    /// where help is needed
    pub lng: f64,
    /// the current search radius (metres)
    pub radius_m: f64,
    /// the widest it may grow to
    pub max_radius_m: f64,
    /// envoys needed on the scene
    pub needed: u32,
    /// what is happening
    pub message: String,
    /// the commander who opened it
    pub created_by: UserId,
    /// when
    pub created_at: DateTime<Utc>,
    /// how many times the search has widened
    pub escalations: u32,
    /// when it widens next if fewer than `needed` have accepted by then (none when closed,
    /// enough accepted, or widened the most times already)
    pub next_escalation_at: Option<DateTime<Utc>>,
    /// when it closed
    pub closed_at: Option<DateTime<Utc>>,
    /// who closed it
    pub closed_by: Option<UserId>,
    /// recipients in each state
    pub counts: Tally,
    /// the alerted envoys in the order they were alerted (for an envoy: only themselves)
    pub recipients: Vec<RecipientBody>,
}

impl DispatchBody {
    fn frame(view: &DispatchView, recipients: Vec<RecipientBody>) -> DispatchBody {
        let d: &Dispatch = &view.dispatch;
        let counts = view.tally();
        DispatchBody {
            id: d.id,
            state: d.state,
            lat: d.at.lat,
            lng: d.at.lng,
            radius_m: d.radius_m,
            max_radius_m: d.policy.max_radius_m,
            needed: d.needed,
            message: d.message.clone(),
            created_by: d.created_by,
            created_at: d.created_at,
            escalations: d.escalations,
            next_escalation_at: d.next_escalation_at(&counts),
            closed_at: d.closed_at,
            closed_by: d.closed_by,
            counts,
            recipients,
        }
    }

    /// The command centre's view: every recipient.
    pub fn full(view: &DispatchView) -> DispatchBody {
        let recipients = view
            .recipients
            .iter()
            .map(|r| RecipientBody::of(&r.recipient, &r.name))
            .collect();
        DispatchBody::frame(view, recipients)
    }

    /// An envoy's view: their own alert only.
    pub fn for_envoy(view: &DispatchView, user: UserId) -> DispatchBody {
        let recipients = view
            .recipients
            .iter()
            .filter(|r| r.recipient.user == user)
            .map(|r| RecipientBody::of(&r.recipient, &r.name))
            .collect();
        DispatchBody::frame(view, recipients)
    }

    /// The view `viewer` (of `role`) may see: all for the command centre, their own alert for
    /// an envoy it alerted; `None` for anyone else.
    pub fn for_viewer(view: &DispatchView, viewer: UserId, role: Role) -> Option<DispatchBody> {
        if super::COMMAND.contains(&role) {
            Some(DispatchBody::full(view))
        } else {
            view.recipient(viewer)
                .map(|_| DispatchBody::for_envoy(view, viewer))
        }
    }
}
