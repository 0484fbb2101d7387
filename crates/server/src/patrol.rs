//! Patrol progress and finishing, shared by the team routes and the background job that
//! finishes patrols whose window has ended: reads the members' positions from the store and
//! applies the domain's qualification rule (`pp_domain::patrol`).

use crate::state::AppState;
use pp_domain::patrol::{progress, Progress};
use pp_domain::task::Task;
use pp_domain::team::Team;
use pp_domain::time::Timestamp;
use pp_domain::{TeamId, UserId};
use pp_store::{FinishOutcome, MemberOutcome, StoreResult};
use std::collections::HashMap;

/// The end of the period that counts for a patrol: now, but never after the task's window.
pub fn counted_until(task: &Task, now: Timestamp) -> Timestamp {
    now.min(task.ends_at)
}

/// The members' progress from their stored positions between the team's start and `until`
/// (one store query for the whole team), in `members` order.
pub async fn members_progress(
    state: &AppState,
    team: &Team,
    task: &Task,
    members: &[UserId],
    until: Timestamp,
) -> StoreResult<Vec<Progress>> {
    let from = team.started_at.unwrap_or(until);
    let mut tracks = if from <= until {
        state.store.tracks(members, from, until).await?
    } else {
        HashMap::new()
    };
    Ok(members
        .iter()
        .map(|m| {
            let positions = tracks.remove(m).unwrap_or_default();
            progress(&positions, &task.area, from, until, task.patrol_minutes)
        })
        .collect())
}

/// Milliseconds of a progress, as the store keeps them.
pub fn progress_ms(p: &Progress) -> i64 {
    (p.minutes_inside * 60_000.0).round() as i64
}

/// Finishes a team: measures every current member up to [`counted_until`], then lets the
/// store check the rule (`Team::check_finish`), record the outcomes and credit the qualified
/// members once. `by` is the leader, or `None` for the server after the window.
pub async fn finish(
    state: &AppState,
    team_id: TeamId,
    by: Option<UserId>,
) -> StoreResult<FinishOutcome> {
    let now = state.clock.now();
    let view = state.store.team(team_id).await?;
    let task = state.store.task(view.team.task_id).await?;
    let until = counted_until(&task, now);
    let mut outcomes = Vec::with_capacity(view.members.len());
    if view.team.started_at.is_some() && view.team.finished_at.is_none() {
        let members: Vec<UserId> = view.members.iter().map(|m| m.user_id).collect();
        let progress = members_progress(state, &view.team, &task, &members, until).await?;
        for (user_id, p) in members.into_iter().zip(progress) {
            outcomes.push(MemberOutcome {
                user_id,
                patrol_ms: progress_ms(&p),
                qualified: p.qualified,
            });
        }
    }
    let outcome = state.store.finish_team(team_id, by, &outcomes, now).await?;
    if !outcome.already_finished {
        let members = outcome.members.iter().map(|m| m.user_id).collect();
        crate::routes::teams::announce(state, team_id, "finished", by, outcome.team.state, members);
    }
    Ok(outcome)
}
