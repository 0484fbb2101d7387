//! The teams: each is claimed by its leader, joined by its members with the leader's join
//! token and started with a photo ([`form_team`], a few teams at once); its members then
//! patrol, and the leader finishes it once they are all done.

use super::state::{Ev, Holiday};
use crate::api::answers::{Finish, Team};
use crate::api::Api;
use pp_domain::{TaskId, UserId};
use pp_geo::LatLng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Teams being formed at once.
const FORM_CONCURRENCY: usize = 6;

impl Holiday {
    /// Forms every team, [`FORM_CONCURRENCY`] at a time; each comes back started.
    pub fn form_teams(&self) {
        let gate = Arc::new(Semaphore::new(FORM_CONCURRENCY));
        for t in 0..self.teams.len() {
            let team = &self.teams[t];
            let task = &self.tasks[team.task];
            let tokens: Vec<String> = team
                .phones
                .iter()
                .map(|&p| self.phones[p].account.token.clone())
                .collect();
            let (api, tx, gate, photo) = (
                Arc::clone(&self.api),
                self.tx.clone(),
                Arc::clone(&gate),
                Arc::clone(&self.photo),
            );
            let (task_id, at) = (task.id, task.area.center());
            tokio::spawn(async move {
                let ev = match gate.acquire_owned().await {
                    Ok(_permit) => match form_team(&api, task_id, at, &tokens, &photo).await {
                        Ok(team) => Ev::TeamStarted { t, team },
                        Err(e) => Ev::Failed(format!("team {t}: {e:#}")),
                    },
                    Err(e) => Ev::Failed(e.to_string()),
                };
                let _ = tx.send(ev);
            });
        }
    }

    /// Team `t` started: with the members planned, who start posting.
    pub fn team_started(&mut self, t: usize, team: Team) {
        let Some(started_at) = team.started_at else {
            return self.fail(format!("team {} started without started_at", team.id));
        };
        let planned: Vec<UserId> = self.teams[t]
            .phones
            .iter()
            .map(|&p| self.phones[p].account.id)
            .collect();
        let members: Vec<UserId> = team.members.iter().map(|m| m.user_id).collect();
        if members.len() != planned.len() || !planned.iter().all(|u| members.contains(u)) {
            return self.fail(format!(
                "team {} started with {} members, not the {} planned",
                team.id,
                members.len(),
                planned.len()
            ));
        }
        let run = &mut self.teams[t];
        run.id = Some(team.id);
        run.started_at = Some(started_at);
        run.members_at_start = members;
        // the members start posting a moment after the start, so every point counts
        let first = Instant::now() + Duration::from_millis(100);
        for &p in &run.phones {
            let phone = &mut self.phones[p];
            phone.posting = true;
            phone.next_point = first;
        }
    }

    /// A team whose members are all done is finished by its leader.
    pub fn finish_teams(&mut self) {
        for t in 0..self.teams.len() {
            let team = &self.teams[t];
            if team.finishing || team.finish.is_some() || team.started_at.is_none() {
                continue;
            }
            let all_done = team.phones.iter().all(|&p| {
                let p = &self.phones[p];
                p.done && !p.in_flight
            });
            if !all_done {
                continue;
            }
            let Some(id) = team.id else { continue };
            let leader = self.phones[team.phones[0]].account.token.clone();
            self.teams[t].finishing = true;
            let api = Arc::clone(&self.api);
            self.spawn(async move {
                match api.finish(&leader, id).await {
                    Ok(body) => Ev::Finished { t, body },
                    Err(e) => Ev::Failed(format!("finish team {id}: {e:#}")),
                }
            });
        }
    }

    /// Team `t`'s finish, which must be its leader's (not its window's end).
    pub fn team_finished(&mut self, t: usize, body: Finish) {
        let team = &mut self.teams[t];
        team.finishing = false;
        if body.already_finished {
            return self.fail(format!(
                "team {t} was finished before its leader finished it (its task's window ended?)"
            ));
        }
        team.finish = Some(body);
    }
}

/// Claims a team of `task` as `tokens[0]`, has the others join by the leader's join token, and
/// starts it with a photo taken at `at`.
async fn form_team(
    api: &Api,
    task: TaskId,
    at: LatLng,
    tokens: &[String],
    photo: &[u8],
) -> anyhow::Result<Team> {
    let leader = tokens
        .first()
        .ok_or_else(|| anyhow::anyhow!("a team without members"))?;
    let team = api.claim(leader, task).await?;
    let id = team.id;
    let join_token = match team.join_token {
        Some(t) => t,
        None => api
            .team(leader, id)
            .await?
            .join_token
            .ok_or_else(|| anyhow::anyhow!("team {id}: the leader got no join token"))?,
    };
    for member in &tokens[1..] {
        api.join(member, &join_token, id).await?;
    }
    Ok(api.start(leader, id, photo, at).await?)
}
