//! Looking after emergency dispatches: choosing whom to alert (the live index's nearest
//! available envoys), telling them and the command centre over the event bus, and the loop
//! that passes unanswered alerts on and widens the search when too few accept.
//!
//! The rules are the domain's (`pp_domain::dispatch`); the store applies them in transactions
//! (so several nodes may run this loop at once); the live index knows who is near and who is
//! taken ([`crate::live::LiveIndex::set_engaged`]). Clients see a dispatch as a
//! [`DispatchBody`], in answers and events alike. Events:
//! - `dispatch_alert` to an envoy newly alerted (their view of the dispatch: the phone rings);
//! - `dispatch_update` to an envoy whose alert changed (expired, the dispatch closed, their
//!   own answer from another device);
//! - `dispatch` to commanders and admins: the whole dispatch after every change.

mod body;

pub use body::{DispatchBody, RecipientBody};

use crate::events::Audience;
use crate::live::Nearby;
use crate::state::AppState;
use pp_domain::dispatch::{Dispatch, RecipientState};
use pp_domain::heat::LIVE_MINUTES;
use pp_domain::{DispatchId, Role, UserId};
use pp_geo::LatLng;
use pp_store::{DispatchFilter, DispatchView, StoreResult};
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

/// Who opens, closes and sees every dispatch: the command centre.
pub const COMMAND: &[Role] = &[Role::Commander, Role::Admin];
/// Candidates beyond those wanted offered to the store, in case another dispatch (or node)
/// has just taken some of them.
const SPARE_CANDIDATES: usize = 5;
/// The most open dispatches one round looks after.
const MAX_OPEN: u32 = 1_000;

/// Up to `k` envoys available for dispatch within `radius_m` of `at`, nearest first, but not
/// those `skip`ped: seen in the last [`LIVE_MINUTES`], not opted out, not on an open dispatch.
pub fn nearest_available(
    state: &AppState,
    at: LatLng,
    k: usize,
    radius_m: f64,
    skip: impl Fn(UserId) -> bool,
) -> Vec<Nearby> {
    let since = state.clock.now() - chrono::Duration::minutes(LIVE_MINUTES);
    state.live.nearest(at, k, radius_m, since, skip)
}

/// Opts an envoy in to or out of dispatch: stored, and at once in the live index's search.
pub async fn set_available(state: &AppState, user: UserId, available: bool) -> StoreResult<()> {
    state.store.set_available(user, available).await?;
    state.live.set_available(user, available);
    Ok(())
}

/// Alerts the nearest available envoys the dispatch wants now (none when it wants none or
/// nobody is near); tells each of them. Returns the dispatch after it, when anyone was alerted.
pub async fn alert_nearest(
    state: &AppState,
    view: &DispatchView,
) -> StoreResult<Option<DispatchView>> {
    let d = &view.dispatch;
    let wanted = d.wanted(&view.tally()) as usize;
    if wanted == 0 {
        return Ok(None);
    }
    let now = state.clock.now();
    let before: HashSet<UserId> = view.recipients.iter().map(|r| r.recipient.user).collect();
    let candidates: Vec<(UserId, f64)> =
        nearest_available(state, d.at, wanted + SPARE_CANDIDATES, d.radius_m, |u| {
            before.contains(&u)
        })
        .into_iter()
        .map(|n| (n.user, n.distance_m))
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let alerted = state.store.alert_recipients(d.id, &candidates, now).await?;
    if alerted.new.is_empty() {
        return Ok(None);
    }
    let users: Vec<UserId> = alerted.new.iter().map(|r| r.user).collect();
    state.live.set_engaged(users.iter().copied(), true);
    for user in users {
        tell_envoy(state, &alerted.view, user, "dispatch_alert");
    }
    Ok(Some(alerted.view))
}

/// Tells an envoy about their alert of this dispatch (`kind`: `dispatch_alert` or
/// `dispatch_update`), with their view of it.
pub fn tell_envoy(state: &AppState, view: &DispatchView, user: UserId, kind: &'static str) {
    let body = DispatchBody::for_envoy(view, user);
    match serde_json::to_value(body) {
        Ok(data) => {
            state
                .events
                .publish(kind, Audience::Users(vec![user]), data, state.clock.now())
        }
        Err(e) => tracing::error!(error = %e, "dispatch event not serialised"),
    }
}

/// Tells the command centre how the dispatch stands now.
pub fn tell_command(state: &AppState, view: &DispatchView) {
    match serde_json::to_value(DispatchBody::full(view)) {
        Ok(data) => state.events.publish(
            "dispatch",
            Audience::Roles(vec![Role::Commander, Role::Admin]),
            data,
            state.clock.now(),
        ),
        Err(e) => tracing::error!(error = %e, "dispatch event not serialised"),
    }
}

/// Opens a dispatch and alerts the nearest available envoys at once.
pub async fn open(state: &AppState, dispatch: Dispatch) -> StoreResult<DispatchView> {
    state.store.create_dispatch(&dispatch).await?;
    let view = DispatchView {
        dispatch,
        recipients: Vec::new(),
    };
    let view = match alert_nearest(state, &view).await? {
        Some(after) => after,
        // nobody alerted here: the dispatch loop may have found it saved and alerted the
        // nearest first, so the answer reads what is stored
        None => state.store.dispatch(view.dispatch.id).await?,
    };
    tell_command(state, &view);
    Ok(view)
}

/// An envoy's answer to their alert (`accept` or decline): when it changed anything, see
/// [`answered`]. Returns the dispatch after it.
pub async fn respond(
    state: &AppState,
    id: DispatchId,
    user: UserId,
    accept: bool,
) -> StoreResult<DispatchView> {
    let (view, changed) = state
        .store
        .respond_dispatch(id, user, accept, state.clock.now())
        .await?;
    if changed {
        answered(state, view, user).await
    } else {
        Ok(view)
    }
}

/// An envoy who accepted marks arrival: the store checks their latest position (from the live
/// index) against the scene; the envoy and the command centre hear of it.
pub async fn arrive(state: &AppState, id: DispatchId, user: UserId) -> StoreResult<DispatchView> {
    let at = state.live.latest(user).map(|p| p.at);
    let (view, changed) = state
        .store
        .arrive_dispatch(id, user, at, state.clock.now())
        .await?;
    if changed {
        tell_envoy(state, &view, user, "dispatch_update");
        tell_command(state, &view);
    }
    Ok(view)
}

/// Closes a dispatch (`by`: a commander): see [`closed`].
pub async fn close(state: &AppState, id: DispatchId, by: UserId) -> StoreResult<DispatchView> {
    let view = state
        .store
        .close_dispatch(id, by, state.clock.now())
        .await?;
    closed(state, &view);
    Ok(view)
}

/// After an envoy's answer changed their alert: frees them when they are no longer taken,
/// passes a declined place on, and tells them (their other devices) and the command centre.
pub async fn answered(
    state: &AppState,
    view: DispatchView,
    user: UserId,
) -> StoreResult<DispatchView> {
    let engaged = view.recipient(user).is_some_and(|r| r.state.is_engaged());
    state.live.set_engaged([user], engaged);
    let view = alert_nearest(state, &view).await?.unwrap_or(view);
    tell_envoy(state, &view, user, "dispatch_update");
    tell_command(state, &view);
    Ok(view)
}

/// After a dispatch closed: everyone it held is free, and those it held hear of it (who
/// accepted, and whose alert the close withdrew).
pub fn closed(state: &AppState, view: &DispatchView) {
    let closed_at = view.dispatch.closed_at;
    // only those it held: one who declined it may be on another dispatch by now
    let held: Vec<UserId> = view
        .recipients
        .iter()
        .map(|r| &r.recipient)
        .filter(|r| {
            r.state.has_accepted()
                || (r.state == RecipientState::Expired && r.answered_at == closed_at)
        })
        .map(|r| r.user)
        .collect();
    state.live.set_engaged(held.iter().copied(), false);
    for &user in &held {
        tell_envoy(state, view, user, "dispatch_update");
    }
    tell_command(state, view);
}

/// One round: expires the alerts left unanswered past their time, widens the dispatches whose
/// escalation is due, and alerts the next nearest wherever a place is free. Returns how many
/// dispatches changed.
pub async fn run_once(state: &AppState) -> StoreResult<usize> {
    let now = state.clock.now();
    let expired = state.store.expire_alerts(now).await?;
    state
        .live
        .set_engaged(expired.iter().map(|(_, u)| *u), false);
    let open = state
        .store
        .dispatches(&DispatchFilter {
            state: Some(pp_domain::dispatch::DispatchState::Open),
            recipient: None,
            limit: MAX_OPEN,
        })
        .await?;
    let mut changed = 0;
    let seen: HashSet<DispatchId> = open.iter().map(|v| v.dispatch.id).collect();
    for mut view in open {
        let id = view.dispatch.id;
        let mut touched = false;
        for &(_, user) in expired.iter().filter(|(d, _)| *d == id) {
            tell_envoy(state, &view, user, "dispatch_update");
            touched = true;
        }
        if view.dispatch.escalation_due(&view.tally(), now).is_some() {
            if let Some(wider) = state.store.escalate_dispatch(id, now).await? {
                tracing::info!(dispatch = %id, radius_m = wider.radius_m, escalations = wider.escalations, "dispatch widened");
                view.dispatch = wider;
                touched = true;
            }
        }
        if let Some(after) = alert_nearest(state, &view).await? {
            view = after;
            touched = true;
        }
        if touched {
            tell_command(state, &view);
            changed += 1;
        }
    }
    // an alert that expired on a dispatch closed since (between the two queries): its envoy
    // still hears of it
    for &(d, user) in &expired {
        if !seen.contains(&d) {
            let view = state.store.dispatch(d).await?;
            tell_envoy(state, &view, user, "dispatch_update");
        }
    }
    Ok(changed)
}

/// Runs [`run_once`] every `dispatch_interval` until `stop` is cancelled.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(state.config.dispatch_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let done = tokio::select! {
            done = run_once(&state) => done,
            () = stop.cancelled() => return,
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "looking after dispatches failed; retrying next round");
        }
    }
}
