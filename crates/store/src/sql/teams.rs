//! Teams and their members: the [`TeamStore`], each write the domain rule over locked rows in
//! one transaction, and the team reads the ledger's finish shares (compiled with the rest of
//! `sql/`, once per backend).

use super::tasks::task_by_id;
use super::{conflict_on_unique, not_found, push_in, Db, SqlStore};
use crate::chunks::shaped_chunks;
use crate::decode::count;
use crate::teams::{EnvoyCardRow, MemberRow, TeamRow, TeamSummaryRow};
use crate::{EnvoyCard, JoinOutcome, StoreError, StoreResult, TeamStore, TeamSummary, TeamView};
use async_trait::async_trait;
use pp_domain::team::{LeaveOutcome, Team, TeamState};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DomainError, TaskId, TeamId, UserId};
use pp_geo::LatLng;
use sqlx::{Executor, QueryBuilder, Transaction};

/// A team by id (`NotFound("team")`); with `lock`, its row stays locked until the transaction
/// `db` belongs to ends (PostgreSQL; SQLite has one writer).
pub(super) async fn team_by_id<'e>(
    db: impl Executor<'e, Database = Db>,
    id: TeamId,
    lock: bool,
) -> StoreResult<Team> {
    macro_rules! by_id {
        () => {
            "SELECT id, task_id, leader_id, state, created_at, started_at, finished_at, photo_sha256,
                start_lat, start_lng
             FROM teams WHERE id = $1"
        };
    }
    let sql = if lock { locked!(by_id!()) } else { by_id!() };
    sqlx::query_as::<_, TeamRow>(sql)
        .bind(id.0)
        .fetch_one(db)
        .await
        .map_err(not_found("team"))?
        .try_into()
}

/// Members still in the team, earliest first.
pub(super) async fn member_ids(
    tx: &mut Transaction<'_, Db>,
    team: TeamId,
) -> StoreResult<Vec<UserId>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM team_members WHERE team_id = $1 AND left_at IS NULL
         ORDER BY joined_at, user_id",
    )
    .bind(team.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// Ends a team in `state` (finished or disbanded) at `now`.
pub(super) async fn end_team(
    tx: &mut Transaction<'_, Db>,
    team: TeamId,
    state: TeamState,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query("UPDATE teams SET state = $2, finished_at = $3 WHERE id = $1")
        .bind(team.0)
        .bind(state.as_str())
        .bind(to_millis(now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The forming or active team `user` is in, if any.
async fn current_team_of<'e>(
    db: impl Executor<'e, Database = Db>,
    user: UserId,
) -> StoreResult<Option<TeamId>> {
    let id: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT team_id FROM team_members WHERE user_id = $1 AND is_current = 1",
    )
    .bind(user.0)
    .fetch_optional(db)
    .await?;
    Ok(id.map(TeamId))
}

fn u32_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[async_trait]
impl TeamStore for SqlStore {
    async fn claim_team(
        &self,
        task_id: TaskId,
        leader: UserId,
        now: Timestamp,
    ) -> StoreResult<Team> {
        let mut tx = self.begin_write().await?;
        let task = task_by_id(&mut *tx, task_id, true).await?;
        let teams: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM teams WHERE task_id = $1 AND state <> 'disbanded'",
        )
        .bind(task_id.0)
        .fetch_one(&mut *tx)
        .await?;
        task.check_claim(now, count(teams))?;
        let team = Team::claim(task_id, leader, now);
        sqlx::query("INSERT INTO teams (id, task_id, leader_id, state, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(team.id.0)
            .bind(task_id.0)
            .bind(leader.0)
            .bind(team.state.as_str())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, joined_at, is_current) VALUES ($1, $2, 'leader', $3, 1)",
        )
        .bind(team.id.0)
        .bind(leader.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(conflict_on_unique("already_in_team"))?;
        tx.commit().await?;
        Ok(team)
    }

    async fn team(&self, id: TeamId) -> StoreResult<TeamView> {
        let team = team_by_id(&self.read, id, false).await?;
        let members = sqlx::query_as::<_, MemberRow>(
            "SELECT m.user_id, u.name, m.role, m.joined_at
             FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = $1 AND m.left_at IS NULL
             ORDER BY CASE m.role WHEN 'leader' THEN 0 ELSE 1 END, m.joined_at, m.user_id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(TeamView {
            team,
            members: members.into_iter().map(Into::into).collect(),
        })
    }

    async fn teams_of_task(&self, task: TaskId) -> StoreResult<Vec<TeamSummary>> {
        let rows = sqlx::query_as::<_, TeamSummaryRow>(
            "SELECT t.id, t.leader_id, u.name AS leader_name, t.state, t.created_at, t.started_at,
                (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.left_at IS NULL) AS members
             FROM teams t JOIN users u ON u.id = t.leader_id
             WHERE t.task_id = $1 AND t.state <> 'disbanded'
             ORDER BY t.created_at, t.id",
        )
        .bind(task.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TeamSummary::try_from).collect()
    }

    async fn join_team(
        &self,
        team_id: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<JoinOutcome> {
        let mut tx = self.begin_write().await?;
        let team = team_by_id(&mut *tx, team_id, true).await?;
        match current_team_of(&mut *tx, user).await? {
            Some(t) if t == team_id => return Ok(JoinOutcome::AlreadyMember),
            Some(_) => return Err(StoreError::Conflict("already_in_team")),
            None => {}
        }
        let task = task_by_id(&mut *tx, team.task_id, false).await?;
        let members = member_ids(&mut tx, team_id).await?;
        team.check_join(u32_count(members.len()), &task)?;
        // a member who left may come back: the (team, user) row is reused
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, joined_at, is_current) VALUES ($1, $2, 'member', $3, 1)
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = 'member', joined_at = $3, is_current = 1, left_at = NULL",
        )
        .bind(team_id.0)
        .bind(user.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(conflict_on_unique("already_in_team"))?;
        tx.commit().await?;
        Ok(JoinOutcome::Joined)
    }

    async fn leave_team(
        &self,
        team_id: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<LeaveOutcome> {
        let mut tx = self.begin_write().await?;
        let team = team_by_id(&mut *tx, team_id, true).await?;
        let members = member_ids(&mut tx, team_id).await?;
        if !members.contains(&user) {
            return Err(
                DomainError::forbidden("not_member", "you are not a member of this team").into(),
            );
        }
        let others: Vec<UserId> = members.into_iter().filter(|&m| m != user).collect();
        let outcome = team.leave(user, &others)?;
        sqlx::query("UPDATE team_members SET is_current = 0, left_at = $3 WHERE team_id = $1 AND user_id = $2")
            .bind(team_id.0)
            .bind(user.0)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        match outcome {
            LeaveOutcome::Left => {}
            LeaveOutcome::NewLeader(next) => {
                sqlx::query(
                    "UPDATE team_members SET role = 'leader' WHERE team_id = $1 AND user_id = $2",
                )
                .bind(team_id.0)
                .bind(next.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE teams SET leader_id = $2 WHERE id = $1")
                    .bind(team_id.0)
                    .bind(next.0)
                    .execute(&mut *tx)
                    .await?;
            }
            LeaveOutcome::Disbanded => {
                end_team(&mut tx, team_id, TeamState::Disbanded, now).await?;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn remove_member(
        &self,
        team_id: TeamId,
        by: UserId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let team = team_by_id(&mut *tx, team_id, true).await?;
        team.check_remove(by, user)?;
        let done = sqlx::query(
            "UPDATE team_members SET is_current = 0, left_at = $3 WHERE team_id = $1 AND user_id = $2 AND left_at IS NULL",
        )
        .bind(team_id.0)
        .bind(user.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("member"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn start_team(
        &self,
        team_id: TeamId,
        by: UserId,
        at: LatLng,
        photo_sha256: &str,
        now: Timestamp,
    ) -> StoreResult<Team> {
        let mut tx = self.begin_write().await?;
        let mut team = team_by_id(&mut *tx, team_id, true).await?;
        let task = task_by_id(&mut *tx, team.task_id, false).await?;
        let members = member_ids(&mut tx, team_id).await?;
        team.check_start(by, u32_count(members.len()), &task, at, now)?;
        sqlx::query(
            "UPDATE teams SET state = $2, started_at = $3, photo_sha256 = $4, start_lat = $5, start_lng = $6 WHERE id = $1",
        )
        .bind(team_id.0)
        .bind(TeamState::Active.as_str())
        .bind(to_millis(now))
        .bind(photo_sha256)
        .bind(at.lat)
        .bind(at.lng)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        team.state = TeamState::Active;
        team.started_at = Some(now);
        team.photo_sha256 = Some(photo_sha256.to_owned());
        team.start_position = Some(at);
        Ok(team)
    }

    async fn current_team(&self, user: UserId) -> StoreResult<Option<TeamId>> {
        current_team_of(&self.read, user).await
    }

    async fn envoy_cards(&self, users: &[UserId]) -> StoreResult<Vec<EnvoyCard>> {
        let mut cards = Vec::with_capacity(users.len());
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT u.id AS user_id, u.name, t.id AS team_id, t.task_id, t.state
                 FROM users u
                 LEFT JOIN team_members m ON m.user_id = u.id AND m.is_current = 1
                 LEFT JOIN teams t ON t.id = m.team_id
                 WHERE u.id",
            );
            push_in(&mut qb, chunk.iter().map(|u| u.0));
            let rows: Vec<EnvoyCardRow> = qb.build_query_as().fetch_all(&self.read).await?;
            for r in rows {
                cards.push(EnvoyCard::try_from(r)?);
            }
        }
        Ok(cards)
    }
}
