//! Patrol tasks: what the command centre publishes, and when teams may be formed for them.

use crate::time::Timestamp;
use crate::{DomainError, DomainResult, TaskId, UserId};
use pp_geo::Area;

/// Longest time window a task may have.
pub const MAX_WINDOW_DAYS: i64 = 31;
/// Most teams one task may ask for.
pub const MAX_TEAMS: u32 = 1000;
/// Largest team size (`team_max`).
pub const MAX_TEAM_SIZE: u32 = 10;
/// Smallest team size (`team_min`).
pub const MIN_TEAM_SIZE: u32 = 2;

/// A task as the command centre submits it (`POST /tasks`).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Short title, 1 to 100 characters.
    pub title: String,
    /// The place, e.g. "Canton Tower", 1 to 100 characters.
    pub place: String,
    /// What the team should do; up to 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// The geofence: a GeoJSON `Polygon` (one closed ring of `[lng, lat]`), or
    /// `{"type": "Circle", "center": [lng, lat], "radius_m": R}` with R in 10..=5000.
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    /// Start of the window (RFC 3339).
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// End of the window (RFC 3339), after `starts_at`.
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// Minutes a member must spend inside the area to qualify.
    pub patrol_minutes: u32,
    /// Fewest members to start (default 3).
    #[serde(default = "default_team_min")]
    pub team_min: u32,
    /// Most members (default 5).
    #[serde(default = "default_team_max")]
    pub team_max: u32,
    /// How many teams the task wants.
    pub max_teams: u32,
    /// Points per qualified member.
    #[serde(default)]
    pub reward_points: i64,
    /// Fund award per qualified member, in cents.
    #[serde(default)]
    pub reward_fund_cents: i64,
}

fn default_team_min() -> u32 {
    3
}
fn default_team_max() -> u32 {
    5
}

/// Whether a task still takes teams.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Published and not closed.
    Open,
    /// Closed by a commander.
    Closed,
}

impl TaskStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Closed => "closed",
        }
    }
    /// Parses the stored or wire name.
    pub fn parse(s: &str) -> DomainResult<TaskStatus> {
        match s {
            "open" => Ok(TaskStatus::Open),
            "closed" => Ok(TaskStatus::Closed),
            _ => Err(DomainError::invalid(
                "invalid_status",
                format!("unknown task status {s:?}: use open or closed"),
            )),
        }
    }
}

/// A published patrol task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// id
    pub id: TaskId,
    /// title
    pub title: String,
    /// place name
    pub place: String,
    /// description
    pub description: String,
    /// geofence
    pub area: Area,
    /// window start
    pub starts_at: Timestamp,
    /// window end
    pub ends_at: Timestamp,
    /// minutes inside the area to qualify
    pub patrol_minutes: u32,
    /// fewest members to start
    pub team_min: u32,
    /// most members
    pub team_max: u32,
    /// teams wanted
    pub max_teams: u32,
    /// points per qualified member
    pub reward_points: i64,
    /// fund award per qualified member, cents
    pub reward_fund_cents: i64,
    /// open or closed
    pub status: TaskStatus,
    /// the commander who published it
    pub created_by: UserId,
    /// when it was published
    pub created_at: Timestamp,
}

/// `value` trimmed, when it has `min` to `max` characters (400 `code` naming `field` otherwise).
pub(crate) fn text(
    field: &'static str,
    code: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> DomainResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(DomainError::invalid(
            code,
            format!("{field} must be {min} to {max} characters (got {n})"),
        ));
    }
    Ok(v.to_owned())
}

impl Task {
    /// Validates a submitted task and makes it, open, published by `by` at `now`.
    pub fn publish(input: NewTask, by: UserId, now: Timestamp) -> DomainResult<Task> {
        let title = text("title", "invalid_title", &input.title, 1, 100)?;
        let place = text("place", "invalid_place", &input.place, 1, 100)?;
        let description = text(
            "description",
            "invalid_description",
            &input.description,
            0,
            2000,
        )?;
        let area = Area::from_geojson(&input.area)?;
        if input.ends_at <= input.starts_at {
            return Err(DomainError::invalid(
                "invalid_window",
                "ends_at must be after starts_at",
            ));
        }
        if input.ends_at <= now {
            return Err(DomainError::invalid(
                "invalid_window",
                "ends_at is in the past: the task would be over before it is published",
            ));
        }
        let window = input.ends_at - input.starts_at;
        if window > chrono::Duration::days(MAX_WINDOW_DAYS) {
            return Err(DomainError::invalid(
                "invalid_window",
                format!("a task's window is at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        if input.patrol_minutes == 0 || i64::from(input.patrol_minutes) > window.num_minutes() {
            return Err(DomainError::invalid(
                "invalid_patrol_minutes",
                format!(
                    "patrol_minutes must be at least 1 and fit in the window ({} minutes)",
                    window.num_minutes()
                ),
            ));
        }
        if !(MIN_TEAM_SIZE..=MAX_TEAM_SIZE).contains(&input.team_min)
            || !(MIN_TEAM_SIZE..=MAX_TEAM_SIZE).contains(&input.team_max)
            || input.team_min > input.team_max
        {
            return Err(DomainError::invalid(
                "invalid_team_size",
                format!("team sizes need {MIN_TEAM_SIZE} <= team_min <= team_max <= {MAX_TEAM_SIZE} (got {}..{})", input.team_min, input.team_max),
            ));
        }
        if !(1..=MAX_TEAMS).contains(&input.max_teams) {
            return Err(DomainError::invalid(
                "invalid_max_teams",
                format!("max_teams must be 1 to {MAX_TEAMS}"),
            ));
        }
        if input.reward_points < 0
            || input.reward_fund_cents < 0
            || input.reward_points > 1_000_000
            || input.reward_fund_cents > 100_000_000
        {
            return Err(DomainError::invalid(
                "invalid_reward",
                "rewards must be 0 to 1,000,000 points and 0 to 100,000,000 cents",
            ));
        }
        Ok(Task {
            id: TaskId::new(),
            title,
            place,
            description,
            area,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            patrol_minutes: input.patrol_minutes,
            team_min: input.team_min,
            team_max: input.team_max,
            max_teams: input.max_teams,
            reward_points: input.reward_points,
            reward_fund_cents: input.reward_fund_cents,
            status: TaskStatus::Open,
            created_by: by,
            created_at: now,
        })
    }

    /// Whether `now` lies in the task's window.
    pub fn in_window(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// The rule for claiming a team slot, given how many live (not disbanded) teams it has.
    pub fn check_claim(&self, now: Timestamp, teams: u32) -> DomainResult<()> {
        if self.status == TaskStatus::Closed {
            return Err(DomainError::conflict("task_closed", "this task is closed"));
        }
        if !self.in_window(now) {
            return Err(DomainError::conflict(
                "outside_window",
                format!(
                    "teams can be formed only between {} and {}",
                    self.starts_at.to_rfc3339(),
                    self.ends_at.to_rfc3339()
                ),
            ));
        }
        if teams >= self.max_teams {
            return Err(DomainError::conflict(
                "no_team_slots",
                format!("all {} team slots of this task are taken", self.max_teams),
            ));
        }
        Ok(())
    }

    /// The rule for closing: only an open task closes.
    pub fn check_close(&self) -> DomainResult<()> {
        if self.status == TaskStatus::Closed {
            return Err(DomainError::conflict(
                "task_closed",
                "this task is already closed",
            ));
        }
        Ok(())
    }

    /// Team slots still free.
    pub fn free_slots(&self, teams: u32) -> u32 {
        self.max_teams.saturating_sub(teams)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    pub(crate) fn input(now: Timestamp) -> NewTask {
        NewTask {
            title: "Canton Tower evening patrol".into(),
            place: "Canton Tower".into(),
            description: String::new(),
            area: serde_json::json!({"type": "Circle", "center": [113.3245, 23.1066], "radius_m": 300}),
            starts_at: now - Duration::hours(1),
            ends_at: now + Duration::hours(3),
            patrol_minutes: 60,
            team_min: 3,
            team_max: 5,
            max_teams: 2,
            reward_points: 10,
            reward_fund_cents: 500,
        }
    }

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap()
    }

    #[test]
    fn publishes_valid_task() {
        let t = Task::publish(input(now()), UserId::new(), now()).unwrap();
        assert_eq!(t.status, TaskStatus::Open);
        assert!(t.in_window(now()));
        assert!(t.check_claim(now(), 1).is_ok());
        assert_eq!(t.check_claim(now(), 2).unwrap_err().code(), "no_team_slots");
        assert_eq!(
            t.check_claim(now() + Duration::hours(4), 0)
                .unwrap_err()
                .code(),
            "outside_window"
        );
    }

    #[test]
    fn refuses_bad_tasks() {
        type Mutation = Box<dyn Fn(&mut NewTask)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("invalid_title", Box::new(|t| t.title = " ".into())),
            ("invalid_window", Box::new(|t| t.ends_at = t.starts_at)),
            (
                "invalid_window",
                Box::new(|t| t.ends_at = t.starts_at + Duration::days(40)),
            ),
            ("invalid_patrol_minutes", Box::new(|t| t.patrol_minutes = 0)),
            (
                "invalid_patrol_minutes",
                Box::new(|t| t.patrol_minutes = 10_000),
            ),
            ("invalid_team_size", Box::new(|t| t.team_min = 1)),
            ("invalid_team_size", Box::new(|t| t.team_max = 11)),
            (
                "invalid_team_size",
                Box::new(|t| {
                    t.team_min = 5;
                    t.team_max = 4;
                }),
            ),
            ("invalid_max_teams", Box::new(|t| t.max_teams = 0)),
            ("invalid_reward", Box::new(|t| t.reward_points = -1)),
            (
                "radius_out_of_range",
                Box::new(|t| {
                    t.area = serde_json::json!({"type": "Circle", "center": [113.3, 23.1], "radius_m": 5})
                }),
            ),
        ];
        for (code, mutate) in cases {
            let mut i = input(now());
            mutate(&mut i);
            assert_eq!(
                Task::publish(i, UserId::new(), now()).unwrap_err().code(),
                code
            );
        }
    }

    #[test]
    fn closing() {
        let mut t = Task::publish(input(now()), UserId::new(), now()).unwrap();
        assert!(t.check_close().is_ok());
        t.status = TaskStatus::Closed;
        assert_eq!(t.check_close().unwrap_err().code(), "task_closed");
        assert_eq!(t.check_claim(now(), 0).unwrap_err().code(), "task_closed");
    }
}
