//! The demo team mid-patrol at Canton Tower, formed entirely over HTTP as its phones would:
//! log in, claim, join by the leader's token, start with a photo.

use super::walker::{Walker, STEP_SECS};
use crate::api::forms::team_photo;
use crate::api::Api;
use crate::seed::{publish_landmark, seed, CANTON_TOWER, DEMO_PASSWORD};
use crate::walk::{near, Anchor};
use chrono::Duration;
use pp_domain::task::{Task, TaskStatus};
use pp_domain::team::TeamState;
use pp_domain::time::{from_millis, to_millis};
use pp_domain::{TaskId, TeamId, UserId};
use pp_server::AppState;
use rand::rngs::StdRng;
use tokio::time::Instant;

/// The named demo envoys that form the patrolling team, leader first.
pub const TEAM_PHONES: [&str; 3] = ["13900000001", "13900000002", "13900000003"];
/// Demo envoys that join instead when one of the team's is busy in another team.
const SPARE_PHONES: [&str; 3] = ["13900000004", "13900000005", "13900000006"];
/// How far a team walker strays from the centre of the patrol area, metres.
const TEAM_SPREAD_M: f64 = 150.0;

/// The patrolling team and its walkers.
pub struct PatrolTeam {
    /// the team
    pub id: TeamId,
    /// a walker for each member this session signed in
    pub walkers: Vec<Walker>,
}

/// A demo envoy signed in over HTTP.
struct Account {
    id: UserId,
    token: String,
}

async fn login(api: &Api, phone: &str) -> anyhow::Result<Account> {
    let s = api.login(phone, DEMO_PASSWORD).await?;
    Ok(Account {
        id: s.user.id,
        token: s.token,
    })
}

/// Gets the demo team patrolling at Canton Tower through the API, as its phones would: the
/// leader's current team if there is one (a restart), else a fresh claim; demo envoys join it
/// by the leader's token until it has enough members; the leader starts it with a photo taken
/// at the centre of the area. Returns the team with a walker for each member it can sign in.
pub async fn form_team(
    state: &AppState,
    api: &Api,
    rng: &mut StdRng,
) -> anyhow::Result<PatrolTeam> {
    let leader = login(api, TEAM_PHONES[0]).await?;
    let id = match api.me(&leader.token).await?.current_team_id {
        Some(id) => id,
        None => {
            let task = canton_tower_task(state).await?;
            match api.claim(&leader.token, task).await {
                Ok(team) => team.id,
                Err(e) if e.code() == Some("already_in_team") => api
                    .me(&leader.token)
                    .await?
                    .current_team_id
                    .ok_or_else(|| anyhow::anyhow!("claim: already in a team, but in none"))?,
                Err(e) => return Err(anyhow::Error::new(e).context("claim a Canton Tower team")),
            }
        }
    };
    let mut team = api.team(&leader.token, id).await?;
    let mut accounts = vec![leader];
    let mut phones = TEAM_PHONES[1..].iter().chain(&SPARE_PHONES);
    if team.state == TeamState::Forming {
        while team.members.len() < team.team_min {
            let Some(phone) = phones.next() else {
                anyhow::bail!(
                    "team {id} has {} members and no demo envoy is free to join",
                    team.members.len()
                );
            };
            let who = login(api, phone).await?;
            if !team.members.iter().any(|m| m.user_id == who.id) {
                let join_token = team.join_token.as_deref().unwrap_or_default();
                if let Err(e) = api.join(&who.token, join_token, id).await {
                    // busy in another team, most likely: the next demo envoy joins instead
                    tracing::info!(phone, error = %e, code = e.code().unwrap_or_default(), "a demo envoy could not join the demo team");
                }
            }
            accounts.push(who);
            team = api.team(&accounts[0].token, id).await?;
        }
        let task = state.store.task(team.task_id).await?;
        let at = task.area.center();
        team = api
            .start(&accounts[0].token, id, &team_photo()?, at)
            .await
            .map_err(|e| anyhow::Error::new(e).context("start the demo team"))?;
    }
    anyhow::ensure!(
        team.state == TeamState::Active,
        "team {id} is {:?}, not patrolling",
        team.state
    );
    // members this session has not signed in yet (a restart): the demo envoys among them
    for phone in phones {
        if team
            .members
            .iter()
            .all(|m| accounts.iter().any(|a| a.id == m.user_id))
        {
            break;
        }
        accounts.push(login(api, phone).await?);
    }
    let task: Task = state.store.task(team.task_id).await?;
    let center = task.area.center();
    let (start, now) = (Instant::now(), state.clock.now());
    let walkers = accounts
        .into_iter()
        .filter(|a| team.members.iter().any(|m| m.user_id == a.id))
        .map(|a| {
            let fresh = near(rng, center, TEAM_SPREAD_M * 0.5);
            let anchor = Anchor::Inside {
                area: task.area.clone(),
                at: center,
                spread_m: TEAM_SPREAD_M,
            };
            let mut w = Walker::resume(state, rng, a.id, a.token, anchor, fresh, start, now);
            // the team posts at once, its first point now
            w.next_post = start;
            w.last_ts = from_millis(to_millis(now)) - Duration::seconds(STEP_SECS);
            w
        })
        .collect();
    Ok(PatrolTeam {
        id: team.id,
        walkers,
    })
}

/// An open Canton Tower task in its window with a free team slot: publishes a fresh one
/// (through [`seed`]) when there is none or it ends within the hour, and another when the
/// open one is full (a long demo where the team finishes early again and again).
async fn canton_tower_task(state: &AppState) -> anyhow::Result<TaskId> {
    let store = state.store.as_ref();
    for attempt in 0..3 {
        let now = state.clock.now();
        let open = store
            .tasks(&pp_store::TaskFilter {
                status: Some(TaskStatus::Open),
                ..pp_store::TaskFilter::default()
            })
            .await?;
        let found = open
            .iter()
            .filter(|t| {
                t.task.place == CANTON_TOWER && t.task.in_window(now) && t.teams < t.task.max_teams
            })
            .max_by_key(|t| t.task.ends_at);
        if let Some(t) = found {
            return Ok(t.task.id);
        }
        match attempt {
            0 => seed(store, now).await?,
            1 => {
                publish_landmark(store, CANTON_TOWER, now).await?;
            }
            _ => {}
        }
    }
    anyhow::bail!("no open Canton Tower task has a free team slot")
}

#[cfg(test)]
mod tests {
    use super::super::walker::testing::{walk, walker_with};
    use super::*;
    use crate::seed::landmarks;
    use pp_geo::Area;

    #[test]
    fn the_team_stays_inside_its_area() {
        let (_, _, area, _) = landmarks()
            .into_iter()
            .find(|l| l.1 == CANTON_TOWER)
            .unwrap();
        let area = Area::from_geojson(&area).unwrap();
        let at = area.center();
        let mut w = walker_with(
            Anchor::Inside {
                area: area.clone(),
                at,
                spread_m: TEAM_SPREAD_M,
            },
            at,
        );
        walk(&mut w, |p| area.contains(p));
    }
}
