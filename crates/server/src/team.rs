//! Teams beyond what the store does in one transaction: join invitations (a signed token and
//! the URL the leader's QR code carries), joining by one, and telling the members when their
//! team changed. The team routes and the job that finishes overdue patrols (through
//! [`crate::patrol`]) both announce through here.

use crate::events::Audience;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use pp_domain::join_token;
use pp_domain::team::TeamState;
use pp_domain::{DomainError, TeamId, UserId};
use pp_store::{StoreResult, TeamView};

/// A fresh join token for a team, its URL and expiry.
#[derive(Debug, Clone)]
pub struct Invite {
    /// the signed token
    pub token: String,
    /// the URL the QR code carries (`<public_url>/join?token=…`)
    pub url: String,
    /// when the token expires
    pub expires_at: DateTime<Utc>,
}

/// A fresh invitation to `team`, valid for the configured `join_token_ttl`.
pub fn invite(state: &AppState, team: TeamId) -> Invite {
    let expires_at = state.clock.now() + state.config.join_token_ttl;
    let token = join_token::sign(state.join_secret(), team, expires_at);
    let url = format!("{}/join?token={token}", state.config.public_url);
    Invite {
        token,
        url,
        expires_at,
    }
}

/// `user` joins the team of a leader's join `token` (refused with `token_team_mismatch` when
/// the client `expected` another team); the members hear of it. Returns the team after it.
pub async fn join(
    state: &AppState,
    user: UserId,
    token: &str,
    expected: Option<TeamId>,
) -> StoreResult<TeamView> {
    let now = state.clock.now();
    let team = join_token::verify(state.join_secret(), token, now)?;
    if expected.is_some_and(|expected| expected != team) {
        return Err(DomainError::invalid(
            "token_team_mismatch",
            "this join code is for another team",
        )
        .into());
    }
    state.store.join_team(team, user, now).await?;
    let view = state.store.team(team).await?;
    announce_view(state, &view, "joined", user);
    Ok(view)
}

/// Tells `to` (a team's members, and whoever just left it) on their streams that the team
/// changed: event `team`, `{team_id, change, by, state}`; the app then reads the team again.
pub fn announce(
    state: &AppState,
    team: TeamId,
    change: &'static str,
    by: Option<UserId>,
    team_state: TeamState,
    to: Vec<UserId>,
) {
    state.events.publish(
        "team",
        Audience::Users(to),
        serde_json::json!({ "team_id": team, "change": change, "by": by, "state": team_state }),
        state.clock.now(),
    );
}

/// Tells the members of a team just read in `view` that it changed.
pub fn announce_view(state: &AppState, view: &TeamView, change: &'static str, by: UserId) {
    let to = view.members.iter().map(|m| m.user_id).collect();
    announce(state, view.team.id, change, Some(by), view.team.state, to);
}

/// [`announce`] for a change whose caller holds no view of the team: reads it, and tells its
/// members and `gone` (who left or was removed). The change is made already, so trouble here
/// is logged, not answered.
pub async fn announce_departure(
    state: &AppState,
    team: TeamId,
    change: &'static str,
    by: UserId,
    gone: UserId,
) {
    match state.store.team(team).await {
        Ok(view) => {
            let mut to: Vec<UserId> = view.members.iter().map(|m| m.user_id).collect();
            to.push(gone);
            announce(state, team, change, Some(by), view.team.state, to);
        }
        Err(e) => tracing::warn!(%team, error = %e, "team change not announced"),
    }
}
