//! What the store hands back beside the domain types.

use pp_domain::account::Phone;
use pp_domain::task::Task;
use pp_domain::team::{MemberRole, Team, TeamState};
use pp_domain::time::Timestamp;
use pp_domain::{DepartmentId, Role, TeamId, UserId};

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// id
    pub id: UserId,
    /// E.164 phone
    pub phone: Phone,
    /// display name
    pub name: String,
    /// role
    pub role: Role,
    /// department code, for staff
    pub department: Option<String>,
    /// when the account was made
    pub created_at: Timestamp,
}

/// A department incidents are routed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    /// id
    pub id: DepartmentId,
    /// stable code, e.g. `public_security`
    pub code: String,
    /// Chinese name
    pub name_zh: String,
    /// English name
    pub name_en: String,
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

/// A member of a team.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// who
    pub user_id: UserId,
    /// their display name
    pub name: String,
    /// leader or member
    pub role: MemberRole,
    /// when they joined
    pub joined_at: Timestamp,
}

/// A team with its current members (leader first).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamView {
    /// the team
    pub team: Team,
    /// current members
    pub members: Vec<Member>,
}

/// A team in a task's list.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSummary {
    /// id
    pub id: TeamId,
    /// leader
    pub leader_id: UserId,
    /// leader's name
    pub leader_name: String,
    /// state
    pub state: TeamState,
    /// current member count
    pub members: u32,
    /// when the slot was claimed
    pub created_at: Timestamp,
    /// when the patrol started
    pub started_at: Option<Timestamp>,
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The caller is now a member.
    Joined,
    /// The caller was a member already; nothing changed.
    AlreadyMember,
}
