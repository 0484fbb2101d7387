//! Incident reports beyond what the store does in one transaction: filing a report and
//! working it (each change announced to everyone concerned), who sees which reports, and the
//! links of their photos. The incident routes and the Open311 interface ([`crate::open311`])
//! both go through here. The rules are the domain's (`pp_domain::incident`).

mod body;

pub use body::{IncidentBody, TimelineBody};

use crate::events::Audience;
use crate::state::AppState;
use pp_domain::incident::{Actor, NewIncident, Sees, TimelineKind};
use pp_domain::{DomainError, DomainResult, IncidentId, Role, UserId};
use pp_store::{IncidentChange, IncidentFilter, IncidentView, StoreResult, User};

/// The link of a report's `n`-th photo (from 1).
pub fn photo_url(state: &AppState, id: IncidentId, n: usize) -> String {
    format!(
        "{}{}/incidents/{id}/photos/{n}",
        state.config.public_url,
        crate::API_PREFIX
    )
}

/// A user as the incident rules see them.
pub fn actor(user: &User) -> Actor<'_> {
    Actor {
        id: user.id,
        role: user.role,
        department: user.department.as_deref(),
    }
}

/// Narrows a listing to what `actor` sees (`Actor::sees`): staff asking for another
/// department than theirs get a 403 `not_your_department`.
pub fn scope(filter: &mut IncidentFilter, actor: &Actor<'_>) -> DomainResult<()> {
    match actor.sees() {
        Sees::All => {}
        Sees::Department(own) => {
            if filter.department.as_ref().is_some_and(|d| d != own) {
                return Err(DomainError::forbidden(
                    "not_your_department",
                    "staff see the reports routed to their own department",
                ));
            }
            filter.department = Some(own.to_owned());
        }
        Sees::Reported(user) => filter.reporter = Some(user),
    }
    Ok(())
}

/// Files a report through the store, then tells everyone concerned.
pub async fn file(
    state: &AppState,
    reporter: UserId,
    new: &NewIncident<'_>,
) -> StoreResult<IncidentView> {
    let view = state
        .store
        .report_incident(reporter, new, state.clock.now())
        .await?;
    tracing::info!(incident = %view.incident.id, category = view.incident.category.code(),
        department = %view.incident.department, "incident reported");
    announce(state, &view, TimelineKind::Reported, None);
    Ok(view)
}

/// `actor` changes a report (a status move, or a commander's re-route) with a `note` for its
/// timeline; when it changed anything, everyone concerned hears of it, the department it left
/// included.
pub async fn change(
    state: &AppState,
    id: IncidentId,
    actor: &Actor<'_>,
    change: &IncidentChange,
    note: &str,
) -> StoreResult<IncidentView> {
    let (view, entry) = state
        .store
        .update_incident(id, actor, change, note, state.clock.now())
        .await?;
    if let Some(entry) = entry {
        tracing::info!(status = entry.status.as_str(), department = %entry.department, "incident changed");
        // the department it left: the one of the entry before this one
        let before = view.timeline.iter().rev().nth(1);
        announce(
            state,
            &view,
            entry.kind,
            before.map(|t| t.entry.department.as_str()),
        );
    }
    Ok(view)
}

/// Tells everyone concerned that a report changed (`incident` events: `{change, incident}`):
/// its reporter, the command centre, the staff of the department it is routed to, and, when
/// it was re-routed, the staff of the department it left.
fn announce(state: &AppState, view: &IncidentView, change: TimelineKind, left: Option<&str>) {
    let i = &view.incident;
    let mut audiences = vec![
        Audience::Users(vec![i.reporter]),
        Audience::Roles(vec![Role::Commander, Role::Admin]),
        Audience::Department(i.department.clone()),
    ];
    if let Some(old) = left.filter(|old| *old != i.department) {
        audiences.push(Audience::Department(old.to_owned()));
    }
    let data = serde_json::json!({
        "change": change,
        "incident": IncidentBody::of(state, view, true),
    });
    state.events.publish(
        "incident",
        Audience::Any(audiences),
        data,
        state.clock.now(),
    );
}
