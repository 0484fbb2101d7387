//! Teams: forming by QR join, starting on site, and the rules of membership.

use crate::task::Task;
use crate::time::Timestamp;
use crate::{DomainError, DomainResult, Role, TaskId, TeamId, UserId};
use pp_geo::LatLng;

/// A team's lifecycle: `forming → active → finished`, or `disbanded` when its last member
/// leaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TeamState {
    /// Taking members.
    Forming,
    /// Patrolling.
    Active,
    /// Done; rewards settled.
    Finished,
    /// Everyone left.
    Disbanded,
}

impl TeamState {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamState::Forming => "forming",
            TeamState::Active => "active",
            TeamState::Finished => "finished",
            TeamState::Disbanded => "disbanded",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> DomainResult<TeamState> {
        [
            TeamState::Forming,
            TeamState::Active,
            TeamState::Finished,
            TeamState::Disbanded,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| {
            DomainError::invalid("invalid_team_state", format!("unknown team state {s:?}"))
        })
    }
    /// Forming and active teams hold their members: an envoy is in at most one of them.
    pub fn is_current(self) -> bool {
        matches!(self, TeamState::Forming | TeamState::Active)
    }
}

/// A member's place in the team.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Claimed the slot (or inherited it); shows the QR code, starts and finishes.
    Leader,
    /// Joined by the leader's QR code.
    Member,
}

impl MemberRole {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Leader => "leader",
            MemberRole::Member => "member",
        }
    }
}

/// A team as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// id
    pub id: TeamId,
    /// the task it patrols
    pub task_id: TaskId,
    /// current leader
    pub leader_id: UserId,
    /// lifecycle state
    pub state: TeamState,
    /// when the slot was claimed
    pub created_at: Timestamp,
    /// when the patrol started
    pub started_at: Option<Timestamp>,
    /// when it finished
    pub finished_at: Option<Timestamp>,
    /// content hash of the start photo
    pub photo_sha256: Option<String>,
    /// where the leader stood at the start
    pub start_position: Option<LatLng>,
}

impl Team {
    /// A new team for `task`, led by `leader`.
    pub fn claim(task: TaskId, leader: UserId, now: Timestamp) -> Team {
        Team {
            id: TeamId::new(),
            task_id: task,
            leader_id: leader,
            state: TeamState::Forming,
            created_at: now,
            started_at: None,
            finished_at: None,
            photo_sha256: None,
            start_position: None,
        }
    }

    /// Only a forming team takes members.
    fn check_takes_members(&self) -> DomainResult<()> {
        if self.state != TeamState::Forming {
            return Err(DomainError::conflict(
                "team_not_forming",
                format!(
                    "this team is {} and takes no new members",
                    self.state.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Whether someone may join now, given the current member count.
    pub fn check_join(&self, members: u32, task: &Task) -> DomainResult<()> {
        self.check_takes_members()?;
        if members >= task.team_max {
            return Err(DomainError::conflict(
                "team_full",
                format!("this team is full ({} members)", task.team_max),
            ));
        }
        Ok(())
    }

    /// Whether `by` may start the patrol now from `at`, with `members` in the team.
    pub fn check_start(
        &self,
        by: UserId,
        members: u32,
        task: &Task,
        at: LatLng,
        now: Timestamp,
    ) -> DomainResult<()> {
        self.check_leader(by)?;
        if self.state != TeamState::Forming {
            return Err(DomainError::conflict(
                "team_not_forming",
                format!("this team is already {}", self.state.as_str()),
            ));
        }
        if members < task.team_min {
            return Err(DomainError::conflict(
                "team_too_small",
                format!(
                    "a team needs at least {} members to start; it has {members}",
                    task.team_min
                ),
            ));
        }
        if !task.in_window(now) {
            return Err(DomainError::conflict(
                "outside_window",
                "the task's time window is not open",
            ));
        }
        if !task.area.contains(at) {
            return Err(DomainError::conflict(
                "outside_area",
                format!(
                    "the start position is {:.0} m outside the task's area",
                    task.area.distance_m(at)
                ),
            ));
        }
        Ok(())
    }

    /// Whether the patrol may finish now: an active team, finished by its leader (`by`), or by
    /// the server (`by = None`) once the task's window has ended.
    pub fn check_finish(
        &self,
        by: Option<UserId>,
        task: &Task,
        now: Timestamp,
    ) -> DomainResult<()> {
        match by {
            Some(by) => self.check_leader(by)?,
            None if now < task.ends_at => {
                return Err(DomainError::conflict(
                    "window_open",
                    "only the leader finishes a patrol before the task's window ends",
                ))
            }
            None => {}
        }
        if self.state != TeamState::Active {
            return Err(DomainError::conflict(
                "team_not_active",
                format!(
                    "only an active patrol can finish; this team is {}",
                    self.state.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Only the leader may do leader things.
    pub fn check_leader(&self, by: UserId) -> DomainResult<()> {
        if self.leader_id != by {
            return Err(DomainError::forbidden(
                "not_leader",
                "only the team's leader may do this",
            ));
        }
        Ok(())
    }

    /// Whether `by` may hand out join codes now: the leader of a forming team.
    pub fn check_invite(&self, by: UserId) -> DomainResult<()> {
        self.check_leader(by)?;
        self.check_takes_members()?;
        Ok(())
    }

    /// Who may see a team: its members, commanders and admins.
    pub fn check_visible(role: Role, is_member: bool) -> DomainResult<()> {
        if is_member || matches!(role, Role::Commander | Role::Admin) {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "not_member",
                "only the team's members (and commanders) may see this team",
            ))
        }
    }

    /// Whether the leader may remove `user` now.
    pub fn check_remove(&self, by: UserId, user: UserId) -> DomainResult<()> {
        self.check_leader(by)?;
        if user == by {
            return Err(DomainError::invalid(
                "cannot_remove_self",
                "a leader leaves with POST /teams/{id}/leave",
            ));
        }
        if self.state != TeamState::Forming {
            return Err(DomainError::conflict(
                "team_not_forming",
                "members can be removed only while the team is forming",
            ));
        }
        Ok(())
    }

    /// What happens when `user` leaves; `others` are the remaining members, earliest joined
    /// first.
    pub fn leave(&self, user: UserId, others: &[UserId]) -> DomainResult<LeaveOutcome> {
        if !self.state.is_current() {
            return Err(DomainError::conflict(
                "team_not_current",
                format!("this team is {}", self.state.as_str()),
            ));
        }
        Ok(match others.first() {
            None => LeaveOutcome::Disbanded,
            Some(&next) if user == self.leader_id => LeaveOutcome::NewLeader(next),
            Some(_) => LeaveOutcome::Left,
        })
    }
}

/// The result of [`Team::leave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveOutcome {
    /// A member left; nothing else changes.
    Left,
    /// The leader left; this member leads now.
    NewLeader(UserId),
    /// The last member left; the team is disbanded and its slot is free again.
    Disbanded,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;
    use chrono::{Duration, TimeZone, Utc};

    fn setup() -> (Task, Team, Timestamp) {
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap();
        let task = Task::publish(crate::task::tests::input(now), UserId::new(), now).unwrap();
        let team = Team::claim(task.id, UserId::new(), now);
        (task, team, now)
    }

    #[test]
    fn joining() {
        let (task, mut team, _) = setup();
        assert!(team.check_join(4, &task).is_ok());
        assert_eq!(team.check_join(5, &task).unwrap_err().code(), "team_full");
        team.state = TeamState::Active;
        assert_eq!(
            team.check_join(1, &task).unwrap_err().code(),
            "team_not_forming"
        );
    }

    #[test]
    fn finishing() {
        let (task, mut team, now) = setup();
        let leader = team.leader_id;
        assert_eq!(
            team.check_finish(Some(leader), &task, now)
                .unwrap_err()
                .code(),
            "team_not_active"
        );
        team.state = TeamState::Active;
        assert!(team.check_finish(Some(leader), &task, now).is_ok());
        assert_eq!(
            team.check_finish(Some(UserId::new()), &task, now)
                .unwrap_err()
                .code(),
            "not_leader"
        );
        // the server finishes only once the window has ended (the end itself included)
        let before_end = task.ends_at - Duration::milliseconds(1);
        assert_eq!(
            team.check_finish(None, &task, before_end)
                .unwrap_err()
                .code(),
            "window_open"
        );
        assert!(team.check_finish(None, &task, task.ends_at).is_ok());
        team.state = TeamState::Finished;
        assert_eq!(
            team.check_finish(None, &task, task.ends_at)
                .unwrap_err()
                .code(),
            "team_not_active"
        );
    }

    #[test]
    fn starting() {
        let (task, team, now) = setup();
        let inside = LatLng::new(23.1066, 113.3245).unwrap();
        let outside = LatLng::new(23.12, 113.3245).unwrap();
        let leader = team.leader_id;
        assert!(team.check_start(leader, 3, &task, inside, now).is_ok());
        assert_eq!(
            team.check_start(UserId::new(), 3, &task, inside, now)
                .unwrap_err()
                .code(),
            "not_leader"
        );
        assert_eq!(
            team.check_start(leader, 2, &task, inside, now)
                .unwrap_err()
                .code(),
            "team_too_small"
        );
        assert_eq!(
            team.check_start(leader, 3, &task, outside, now)
                .unwrap_err()
                .code(),
            "outside_area"
        );
        assert_eq!(
            team.check_start(leader, 3, &task, inside, now + Duration::hours(5))
                .unwrap_err()
                .code(),
            "outside_window"
        );
    }

    #[test]
    fn leaving() {
        let (_, team, _) = setup();
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(
            team.leave(team.leader_id, &[a, b]).unwrap(),
            LeaveOutcome::NewLeader(a)
        );
        assert_eq!(
            team.leave(a, &[team.leader_id]).unwrap(),
            LeaveOutcome::Left
        );
        assert_eq!(
            team.leave(team.leader_id, &[]).unwrap(),
            LeaveOutcome::Disbanded
        );
        assert_eq!(
            team.check_remove(team.leader_id, team.leader_id)
                .unwrap_err()
                .code(),
            "cannot_remove_self"
        );
        assert_eq!(team.check_remove(a, b).unwrap_err().code(), "not_leader");
        assert!(team.check_invite(team.leader_id).is_ok());
        assert_eq!(team.check_invite(a).unwrap_err().code(), "not_leader");
        assert!(Team::check_visible(Role::Envoy, true).is_ok());
        assert!(Team::check_visible(Role::Commander, false).is_ok());
        assert_eq!(
            Team::check_visible(Role::Envoy, false).unwrap_err().code(),
            "not_member"
        );
        assert_eq!(
            Team::check_visible(Role::Staff, false).unwrap_err().code(),
            "not_member"
        );
    }
}
