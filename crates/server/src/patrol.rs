//! Patrol progress and finishing, shared by the team routes and the background job that
//! finishes patrols whose window has ended: reads the members' positions from the store and
//! applies the domain's qualification rule (`pp_domain::patrol`); a finish is announced to the
//! members through [`crate::team`].

use crate::state::AppState;
use pp_domain::ledger::{awards, LedgerKind};
use pp_domain::patrol::{progress, Progress};
use pp_domain::position::Position;
use pp_domain::task::Task;
use pp_domain::team::{Team, TeamState};
use pp_domain::time::Timestamp;
use pp_domain::{Role, TeamId, UserId};
use pp_store::{FinishOutcome, Member, MemberOutcome, StoreResult};
use std::collections::HashMap;

/// A team's patrol as its members and the command centre follow it.
#[derive(Debug, Clone)]
pub struct TeamProgress {
    /// the team
    pub team: Team,
    /// the end of the counted period: the finish, or now (never after the task's window)
    pub until: Timestamp,
    /// minutes inside the area a member needs (the task's)
    pub patrol_minutes: u32,
    /// every current member, in the team's order
    pub members: Vec<MemberProgress>,
}

/// One member's patrol so far (or, once finished, as recorded at the finish).
#[derive(Debug, Clone)]
pub struct MemberProgress {
    /// who
    pub member: Member,
    /// minutes inside the area since the start
    pub minutes_inside: f64,
    /// minutes still needed to qualify (0 once qualified)
    pub remaining_minutes: f64,
    /// whether `minutes_inside` reaches the task's `patrol_minutes`
    pub qualified: bool,
    /// the member's latest position (from the live index)
    pub latest: Option<Position>,
    /// whether that position is inside the task's area (`None` without a position)
    pub inside_now: Option<bool>,
}

/// What finishing a team did, with each member's result.
#[derive(Debug, Clone)]
pub struct FinishReport {
    /// the store's outcome (the team, every member's stored outcome, the entries credited)
    pub outcome: FinishOutcome,
    /// every member's result, in the outcome's order
    pub members: Vec<MemberResult>,
}

/// One member's result of a finished patrol.
#[derive(Debug, Clone, Copy)]
pub struct MemberResult {
    /// who
    pub user_id: UserId,
    /// minutes inside the area
    pub minutes_inside: f64,
    /// whether they qualified
    pub qualified: bool,
    /// points the patrol earned them (what the ledger credits a qualified member)
    pub points: i64,
    /// fund award the patrol earned them, cents
    pub fund_cents: i64,
}

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
        crate::team::announce(state, team_id, "finished", by, outcome.team.state, members);
    }
    Ok(outcome)
}

/// Minutes of a stored patrol time.
fn minutes(patrol_ms: i64) -> f64 {
    patrol_ms as f64 / 60_000.0
}

/// The patrol of team `id` as `viewer` (of `role`: its members, commanders, admins) may follow
/// it: each member's minutes inside the task's area since the start, up to now; a finished
/// team shows the outcome recorded at its finish.
pub async fn team_progress(
    state: &AppState,
    id: TeamId,
    viewer: UserId,
    role: Role,
) -> StoreResult<TeamProgress> {
    let view = state.store.team(id).await?;
    let is_member = view.members.iter().any(|m| m.user_id == viewer);
    Team::check_visible(role, is_member)?;
    let task = state.store.task(view.team.task_id).await?;
    let team = view.team;
    let (until, measured): (Timestamp, Vec<(f64, bool)>) = match team.finished_at {
        Some(finished) => {
            let outcomes = state.store.team_outcomes(id).await?;
            let measured = view
                .members
                .iter()
                .map(|m| {
                    let o = outcomes.iter().find(|o| o.user_id == m.user_id);
                    (
                        o.map_or(0.0, |o| minutes(o.patrol_ms)),
                        o.is_some_and(|o| o.qualified),
                    )
                })
                .collect();
            (counted_until(&task, finished), measured)
        }
        None => {
            let until = counted_until(&task, state.clock.now());
            let ids: Vec<UserId> = view.members.iter().map(|m| m.user_id).collect();
            let progress = members_progress(state, &team, &task, &ids, until).await?;
            let measured = progress
                .into_iter()
                .map(|p| (p.minutes_inside, p.qualified))
                .collect();
            (until, measured)
        }
    };
    let members = view
        .members
        .into_iter()
        .zip(measured)
        .map(|(member, (minutes_inside, qualified))| {
            let latest = state.live.latest(member.user_id);
            MemberProgress {
                minutes_inside,
                remaining_minutes: if qualified {
                    0.0
                } else {
                    (f64::from(task.patrol_minutes) - minutes_inside).max(0.0)
                },
                qualified,
                inside_now: latest.map(|p| task.area.contains(p.at)),
                latest,
                member,
            }
        })
        .collect();
    Ok(TeamProgress {
        team,
        until,
        patrol_minutes: task.patrol_minutes,
        members,
    })
}

/// `by` (of `role`) finishes team `id`: the leader of an active team, see [`finish`]. A retry
/// on a finished team changes nothing and answers its recorded result to anyone who may see
/// the team.
pub async fn finish_by(
    state: &AppState,
    id: TeamId,
    by: UserId,
    role: Role,
) -> StoreResult<FinishReport> {
    let view = state.store.team(id).await?;
    if view.team.state == TeamState::Finished {
        // a retry: anyone who may see the team gets its result; only the leader may finish
        let is_member = view.members.iter().any(|m| m.user_id == by);
        Team::check_visible(role, is_member)?;
    } else {
        // checked again by the store, atomically; this spares a refused caller the measuring
        view.team.check_leader(by)?;
    }
    let outcome = finish(state, id, Some(by)).await?;
    let task = state.store.task(outcome.team.task_id).await?;
    let members = outcome
        .members
        .iter()
        .map(|o| {
            // what the ledger credits a qualified member, as amounts
            let earned = if o.qualified {
                awards(&task, id, o.user_id)
            } else {
                Vec::new()
            };
            let sum = |kind: LedgerKind| -> i64 {
                earned
                    .iter()
                    .filter(|e| e.kind == kind)
                    .map(|e| e.amount)
                    .sum()
            };
            MemberResult {
                user_id: o.user_id,
                minutes_inside: minutes(o.patrol_ms),
                qualified: o.qualified,
                points: sum(LedgerKind::Points),
                fund_cents: sum(LedgerKind::Fund),
            }
        })
        .collect();
    Ok(FinishReport { outcome, members })
}
