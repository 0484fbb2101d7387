//! Patrol tasks: the [`TaskStore`], and the task read that the team and ledger writes decide
//! on (compiled with the rest of `sql/`, once per backend).

use super::{not_found, Db, SqlStore};
use crate::tasks::{TaskRow, TaskTeamsRow};
use crate::{StoreResult, TaskFilter, TaskStore, TaskWithTeams};
use async_trait::async_trait;
use pp_domain::task::{Task, TaskStatus};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::TaskId;
use sqlx::Executor;

/// A task by id (`NotFound("task")`); with `lock`, its row stays locked until the transaction
/// `db` belongs to ends (PostgreSQL; SQLite has one writer).
pub(super) async fn task_by_id<'e>(
    db: impl Executor<'e, Database = Db>,
    id: TaskId,
    lock: bool,
) -> StoreResult<Task> {
    macro_rules! by_id {
        () => {
            "SELECT * FROM tasks WHERE id = $1"
        };
    }
    let sql = if lock { locked!(by_id!()) } else { by_id!() };
    sqlx::query_as::<_, TaskRow>(sql)
        .bind(id.0)
        .fetch_one(db)
        .await
        .map_err(not_found("task"))?
        .try_into()
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, t: &Task) -> StoreResult<()> {
        let bbox = t.area.bbox();
        sqlx::query(
            "INSERT INTO tasks (id, title, place, description, area, starts_at, ends_at, patrol_minutes, team_min,
                team_max, max_teams, reward_points, reward_fund_cents, status, created_by, created_at,
                min_lat, max_lat, min_lng, max_lng)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(t.id.0)
        .bind(&t.title)
        .bind(&t.place)
        .bind(&t.description)
        .bind(t.area.to_geojson().to_string())
        .bind(to_millis(t.starts_at))
        .bind(to_millis(t.ends_at))
        .bind(i64::from(t.patrol_minutes))
        .bind(i64::from(t.team_min))
        .bind(i64::from(t.team_max))
        .bind(i64::from(t.max_teams))
        .bind(t.reward_points)
        .bind(t.reward_fund_cents)
        .bind(t.status.as_str())
        .bind(t.created_by.0)
        .bind(to_millis(t.created_at))
        .bind(bbox.min_lat)
        .bind(bbox.max_lat)
        .bind(bbox.min_lng)
        .bind(bbox.max_lng)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn task(&self, id: TaskId) -> StoreResult<Task> {
        task_by_id(&self.read, id, false).await
    }

    async fn tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskWithTeams>> {
        let bbox = filter.bbox;
        let rows = sqlx::query_as::<_, TaskTeamsRow>(
            "SELECT tasks.*,
                (SELECT COUNT(*) FROM teams WHERE teams.task_id = tasks.id AND teams.state <> 'disbanded') AS teams
             FROM tasks
             WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)
               AND (CAST($2 AS DOUBLE PRECISION) IS NULL
                    OR (max_lat >= $2 AND min_lat <= $3 AND max_lng >= $4 AND min_lng <= $5))
             ORDER BY created_at DESC, id DESC
             LIMIT $6",
        )
        .bind(filter.status.map(TaskStatus::as_str))
        .bind(bbox.map(|b| b.min_lat))
        .bind(bbox.map(|b| b.max_lat))
        .bind(bbox.map(|b| b.min_lng))
        .bind(bbox.map(|b| b.max_lng))
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TaskWithTeams::try_from).collect()
    }

    async fn close_task(&self, id: TaskId, now: Timestamp) -> StoreResult<Task> {
        let mut tx = self.begin_write().await?;
        let mut task = task_by_id(&mut *tx, id, true).await?;
        task.check_close()?;
        sqlx::query("UPDATE tasks SET status = 'closed', closed_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        task.status = TaskStatus::Closed;
        Ok(task)
    }
}
