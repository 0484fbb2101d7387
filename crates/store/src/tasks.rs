//! Patrol tasks: the [`TaskStore`] trait, what it hands back, and the rows they are read from.

use crate::decode::{corrupt, count};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::task::{Task, TaskStatus};
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{TaskId, UserId};
use pp_geo::Area;
use uuid::Uuid;

/// Patrol tasks.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Saves a published task.
    async fn insert_task(&self, task: &Task) -> StoreResult<()>;
    /// A task by id.
    async fn task(&self, id: TaskId) -> StoreResult<Task>;
    /// Tasks, newest first, as the filter says, each with its live team count.
    async fn tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskWithTeams>>;
    /// Closes an open task (`Domain(task_closed)` if it is closed already).
    async fn close_task(&self, id: TaskId, now: Timestamp) -> StoreResult<Task>;
}

/// Which tasks [`crate::TaskStore::tasks`] returns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskFilter {
    /// Only tasks of this status.
    pub status: Option<pp_domain::task::TaskStatus>,
    /// Only tasks whose area's bounding box meets this box.
    pub bbox: Option<pp_geo::BBox>,
    /// At most this many (newest first).
    pub limit: Option<u32>,
}

/// A task with the number of its live (forming, active or finished) teams.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskWithTeams {
    /// the task
    pub task: Task,
    /// teams that hold a slot
    pub teams: u32,
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: Uuid,
    title: String,
    place: String,
    description: String,
    area: String,
    starts_at: i64,
    ends_at: i64,
    patrol_minutes: i64,
    team_min: i64,
    team_max: i64,
    max_teams: i64,
    reward_points: i64,
    reward_fund_cents: i64,
    status: String,
    created_by: Uuid,
    created_at: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> StoreResult<Task> {
        let area: serde_json::Value =
            serde_json::from_str(&r.area).map_err(|e| corrupt("task area", e))?;
        Ok(Task {
            id: TaskId(r.id),
            title: r.title,
            place: r.place,
            description: r.description,
            area: Area::from_stored_geojson(&area).map_err(|e| corrupt("task area", e))?,
            starts_at: from_millis(r.starts_at),
            ends_at: from_millis(r.ends_at),
            patrol_minutes: count(r.patrol_minutes),
            team_min: count(r.team_min),
            team_max: count(r.team_max),
            max_teams: count(r.max_teams),
            reward_points: r.reward_points,
            reward_fund_cents: r.reward_fund_cents,
            status: TaskStatus::parse(&r.status).map_err(|e| corrupt("task status", e))?,
            created_by: UserId(r.created_by),
            created_at: from_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskTeamsRow {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub teams: i64,
}

impl TryFrom<TaskTeamsRow> for TaskWithTeams {
    type Error = StoreError;
    fn try_from(r: TaskTeamsRow) -> StoreResult<Self> {
        Ok(TaskWithTeams {
            task: r.task.try_into()?,
            teams: count(r.teams),
        })
    }
}
