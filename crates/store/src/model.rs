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

/// Who an envoy on the live map is, and the team they are in.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvoyCard {
    /// the account
    pub user: UserId,
    /// display name
    pub name: String,
    /// the forming or active team they are in, with its task and state
    pub team: Option<(TeamId, pp_domain::TaskId, TeamState)>,
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The caller is now a member.
    Joined,
    /// The caller was a member already; nothing changed.
    AlreadyMember,
}

/// One envoy's validated points to append (ascending, distinct `ts`), each with its H3 cells
/// for the heat map's aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionBatch {
    /// whose points
    pub user: UserId,
    /// the points, WGS-84, ascending `ts`, no two with the same `ts`
    points: Vec<pp_domain::position::Position>,
    /// `cells[i]` holds `points[i]` (made by [`PositionBatch::new`], so they cannot disagree)
    cells: Vec<pp_geo::cells::Cells>,
}

impl PositionBatch {
    /// A batch of `user`'s points, binned into their heat map cells.
    pub fn new(user: UserId, points: Vec<pp_domain::position::Position>) -> PositionBatch {
        let cells = points
            .iter()
            .map(|p| pp_geo::cells::Cells::of(p.at))
            .collect();
        PositionBatch {
            user,
            points,
            cells,
        }
    }

    /// The points.
    pub fn points(&self) -> &[pp_domain::position::Position] {
        &self.points
    }

    /// The heat map cells of each point, in the order of `points`.
    pub fn cells(&self) -> &[pp_geo::cells::Cells] {
        &self.cells
    }
}

/// One envoy's footprint in one H3 cell combination and hour: the heat map's stored aggregate.
/// A point counts in one row (its cells at every resolution and its hour); `visits` is how many
/// unflagged points of the envoy fell there. Distinct envoys of a cell are the distinct users
/// of its rows, so they stay exact over any sum of hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatRow {
    /// hours since the Unix epoch
    pub hour: i64,
    /// the point's cells, res 7 to 10
    pub cells: pp_geo::cells::Cells,
    /// whose
    pub user: UserId,
    /// unflagged points
    pub visits: u32,
}

/// An envoy's latest unflagged position, as the live index holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatestPosition {
    /// whose
    pub user: UserId,
    /// the point (its `ts` is when the envoy was last seen)
    pub position: pp_domain::position::Position,
}

/// What one step of the retention sweep did ([`crate::PositionStore::purge_positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeStep {
    /// points deleted
    pub deleted: u64,
    /// the last envoy swept when more may follow (the next step's `after`); `None` when the
    /// sweep has reached the end
    pub next: Option<UserId>,
}

/// What one member's patrol came to, as measured from their positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberOutcome {
    /// the member
    pub user_id: UserId,
    /// time inside the area, milliseconds
    pub patrol_ms: i64,
    /// whether it reached the task's `patrol_minutes`
    pub qualified: bool,
}

/// A finished team and what each of its members earned.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishOutcome {
    /// the team, now finished
    pub team: Team,
    /// every member at the finish with their stored outcome
    pub members: Vec<MemberOutcome>,
    /// ledger entries this call appended (empty when the team was finished already)
    pub credited: Vec<LedgerEntry>,
    /// the team was finished before this call, which therefore changed nothing
    pub already_finished: bool,
}

/// One entry of the append-only rewards ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// id
    pub id: pp_domain::LedgerId,
    /// whose balance it changes
    pub user_id: UserId,
    /// points or fund
    pub kind: pp_domain::ledger::LedgerKind,
    /// signed amount (points, or cents)
    pub amount: i64,
    /// why
    pub reason: String,
    /// the patrol it rewards
    pub team_id: Option<TeamId>,
    /// award or correction
    pub source: pp_domain::ledger::LedgerSource,
    /// the admin who made a correction
    pub created_by: Option<UserId>,
    /// when
    pub created_at: Timestamp,
}

/// An envoy's balances and latest entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Wallet {
    /// sum of every points entry
    pub points: i64,
    /// sum of every fund entry, cents
    pub fund_cents: i64,
    /// entries, newest first, at most the limit asked for
    pub entries: Vec<LedgerEntry>,
}

/// A row of the leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderRow {
    /// who
    pub user_id: UserId,
    /// their display name
    pub name: String,
    /// points entries dated in the period, summed
    pub points: i64,
    /// patrol time of their teams finished in the period, milliseconds
    pub patrol_ms: i64,
}

/// An envoy alerted by a dispatch, with their name (for the command centre).
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientView {
    /// the alert and where it stands
    pub recipient: pp_domain::dispatch::Recipient,
    /// the envoy's display name
    pub name: String,
}

/// A dispatch with its recipients, in the order they were alerted (nearest first within one
/// alerting).
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchView {
    /// the dispatch
    pub dispatch: pp_domain::dispatch::Dispatch,
    /// everyone it alerted
    pub recipients: Vec<RecipientView>,
}

impl DispatchView {
    /// How many recipients are in each state.
    pub fn tally(&self) -> pp_domain::dispatch::Tally {
        pp_domain::dispatch::Tally::of(self.recipients.iter().map(|r| &r.recipient))
    }

    /// The alert of `user`, if this dispatch alerted them.
    pub fn recipient(&self, user: UserId) -> Option<&pp_domain::dispatch::Recipient> {
        self.recipients
            .iter()
            .map(|r| &r.recipient)
            .find(|r| r.user == user)
    }
}

/// Which dispatches to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchFilter {
    /// only open or only closed ones
    pub state: Option<pp_domain::dispatch::DispatchState>,
    /// only those that alerted this envoy
    pub recipient: Option<UserId>,
    /// at most this many
    pub limit: u32,
}

/// What an alerting round did ([`crate::DispatchStore::alert_recipients`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Alerted {
    /// the dispatch after it
    pub view: DispatchView,
    /// the envoys alerted now (also in `view`)
    pub new: Vec<pp_domain::dispatch::Recipient>,
}

/// A report with its reporter's name and (when read alone) its timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentView {
    /// the report
    pub incident: pp_domain::incident::Incident,
    /// the reporter's display name
    pub reporter_name: String,
    /// its history, oldest first (empty in lists)
    pub timeline: Vec<TimelineView>,
}

/// A timeline entry with the actor's display name.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineView {
    /// the entry
    pub entry: pp_domain::incident::TimelineEntry,
    /// who acted, by name
    pub actor_name: String,
}

/// Which reports to list, newest first. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    /// only these reports
    pub ids: Vec<pp_domain::IncidentId>,
    /// only in one of these statuses
    pub statuses: Vec<pp_domain::incident::IncidentStatus>,
    /// only of one of these categories
    pub categories: Vec<pp_domain::incident::Category>,
    /// only routed to this department (code)
    pub department: Option<String>,
    /// only those this envoy reported
    pub reporter: Option<UserId>,
    /// only inside this box
    pub bbox: Option<pp_geo::BBox>,
    /// only reported at or after this
    pub from: Option<pp_domain::time::Timestamp>,
    /// only reported before this
    pub to: Option<pp_domain::time::Timestamp>,
    /// at most this many
    pub limit: u32,
}

/// What a change to a report does ([`crate::IncidentStore::update_incident`]).
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    /// move its status one step
    Status(pp_domain::incident::IncidentStatus),
    /// send it to another department (by code)
    Reroute(String),
}

/// Which department a category goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRule {
    /// the category
    pub category: pp_domain::incident::Category,
    /// the department's code
    pub department: String,
    /// when it was last set (the epoch for the seeded default)
    pub updated_at: pp_domain::time::Timestamp,
    /// the admin who set it
    pub updated_by: Option<UserId>,
}

/// An envoy to import, pending until they activate with the code whose hash this carries.
#[derive(Debug, Clone)]
pub struct PendingEnvoy {
    /// E.164 phone
    pub phone: pp_domain::account::Phone,
    /// display name
    pub name: String,
    /// `onboarding::code_hash` of the one-time code
    pub code_hash: Vec<u8>,
}

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// a new pending envoy
    Created,
    /// the phone was pending already: its code was replaced (attempts and expiry reset)
    Reissued,
    /// the phone belongs to an active account: nothing changed
    Taken,
}

/// The answer to an activation.
#[derive(Debug, Clone)]
pub enum Activation {
    /// the account is active with its new password
    Activated(User),
    /// unknown phone, or a wrong code (counted)
    WrongCode,
    /// too many wrong codes: the code is void
    Locked,
    /// the code expired
    Expired,
    /// the account is active already
    AlreadyActive,
}
