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

/// The end of the period that counts for a patrol: now, but never after the task's window.
pub fn counted_until(task: &Task, now: Timestamp) -> Timestamp {
    now.min(task.ends_at)
}

/// One member's progress from their stored positions between the team's start and `until`.
pub async fn member_progress(
    state: &AppState,
    team: &Team,
    task: &Task,
    user: UserId,
    until: Timestamp,
) -> StoreResult<Progress> {
    let from = team.started_at.unwrap_or(until);
    let positions = if from <= until {
        state.store.positions(user, from, until).await?
    } else {
        Vec::new()
    };
    Ok(progress(
        &positions,
        &task.area,
        from,
        until,
        task.patrol_minutes,
    ))
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
        for m in &view.members {
            let p = member_progress(state, &view.team, &task, m.user_id, until).await?;
            outcomes.push(MemberOutcome {
                user_id: m.user_id,
                patrol_ms: progress_ms(&p),
                qualified: p.qualified,
            });
        }
    }
    state.store.finish_team(team_id, by, &outcomes, now).await
}
