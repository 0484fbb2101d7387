//! What the tools send and read of the API's JSON: the fields they use of each answer (serde
//! skips the rest), and the bodies of the calls that take one.

use pp_domain::team::TeamState;
use pp_domain::time::Timestamp;
use pp_domain::{DispatchId, TaskId, TeamId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A point as `POST /positions` takes it.
#[derive(Debug, Clone, Serialize)]
pub struct PointOut {
    /// when it was taken
    pub ts: Timestamp,
    /// WGS-84 degrees
    pub lat: f64,
    /// WGS-84 degrees
    pub lng: f64,
    /// accuracy radius, metres
    pub accuracy_m: f64,
}

/// `POST /auth/login`, `POST /auth/activate`.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    /// the bearer token
    pub token: String,
    /// who signed in
    pub user: UserRef,
}

/// An account named in an answer.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRef {
    /// its id
    pub id: UserId,
}

/// `GET /me`.
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    /// the account's id
    pub id: UserId,
    /// the team it is in (forming or active)
    pub current_team_id: Option<TeamId>,
}

/// `POST /users` (an admin makes an account).
#[derive(Debug, Clone, Serialize)]
pub struct NewAccount<'a> {
    /// mainland mobile
    pub phone: &'a str,
    /// display name
    pub name: &'a str,
    /// `envoy`, `staff`, `commander`, `admin`
    pub role: &'a str,
    /// the staff's department
    pub department: Option<&'a str>,
    /// its password
    pub password: &'a str,
}

/// `POST /users/import`.
#[derive(Debug, Clone, Deserialize)]
pub struct Imported {
    /// rows that became pending envoys
    pub imported: usize,
    /// rows whose pending envoy got a new code
    pub reissued: usize,
    /// rows refused, with the reason
    pub refused: Vec<Value>,
    /// the activation code of each envoy imported
    pub codes: Vec<ActivationCode>,
}

/// An imported envoy's activation code.
#[derive(Debug, Clone, Deserialize)]
pub struct ActivationCode {
    /// E.164 (`+86…`)
    pub phone: String,
    /// the one-time code
    pub code: String,
}

/// `GET /routing`: the department of each report category.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Routing {
    /// one rule per category
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

/// A routing rule.
#[derive(Debug, Clone, Deserialize)]
pub struct RoutingRule {
    /// the report category
    pub category: String,
}

/// A task, as `POST /tasks` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    /// its id
    pub id: TaskId,
    /// patrol a member needs inside the area to qualify
    pub patrol_minutes: u32,
    /// points per qualified member
    pub reward_points: i64,
    /// fund per qualified member
    pub reward_fund_cents: i64,
    /// end of its window
    pub ends_at: Timestamp,
}

/// A team (claim, join, start, `GET /teams/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Team {
    /// its id
    pub id: TeamId,
    /// the task it patrols
    pub task_id: TaskId,
    /// forming, active, finished…
    pub state: TeamState,
    /// members, leader first
    pub members: Vec<Member>,
    /// fewest members to start
    pub team_min: usize,
    /// the join token (the leader of a forming team only)
    pub join_token: Option<String>,
    /// when the patrol started
    pub started_at: Option<Timestamp>,
}

/// A member of a team.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// the account
    pub user_id: UserId,
}

/// `POST /teams/{id}/finish`.
#[derive(Debug, Clone, Deserialize)]
pub struct Finish {
    /// when it finished
    pub finished_at: Option<Timestamp>,
    /// finished before (its window ended)
    pub already_finished: bool,
    /// each member's result
    pub members: Vec<MemberResult>,
}

/// A member's result at a finish.
#[derive(Debug, Clone, Deserialize)]
pub struct MemberResult {
    /// the account
    pub user_id: UserId,
    /// patrol inside the area
    pub minutes_inside: f64,
    /// whether it qualified
    pub qualified: bool,
    /// points credited
    pub points: i64,
    /// fund credited
    pub fund_cents: i64,
}

/// `POST /positions`.
#[derive(Debug, Clone, Deserialize)]
pub struct Posted {
    /// new points stored
    pub accepted: u64,
    /// points stored already
    pub duplicates: u64,
    /// of the accepted, flagged (implausible speed)
    pub flagged: u64,
    /// points refused, with the reason
    pub rejected: Vec<Value>,
}

/// `GET /envoys/nearest`.
#[derive(Debug, Clone, Deserialize)]
pub struct Nearest {
    /// nearest first
    pub envoys: Vec<NearestEnvoy>,
}

/// An envoy of [`Nearest`].
#[derive(Debug, Clone, Deserialize)]
pub struct NearestEnvoy {
    /// the account
    pub id: UserId,
    /// metres from the point
    pub distance_m: f64,
}

/// An incident report.
#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    /// its id
    pub id: String,
    /// the department it is routed to
    pub department: String,
    /// open, acknowledged, in_progress, resolved, rejected
    pub status: String,
    /// when it was filed
    pub created_at: Timestamp,
    /// when it was resolved or rejected
    pub closed_at: Option<Timestamp>,
}

/// `POST /dispatches`.
#[derive(Debug, Clone, Serialize)]
pub struct NewDispatch<'a> {
    /// the scene
    pub lat: f64,
    /// the scene
    pub lng: f64,
    /// first search radius
    pub radius_m: u32,
    /// envoys needed
    pub needed: u32,
    /// what the alert says
    pub message: &'a str,
}

/// A dispatch.
#[derive(Debug, Clone, Deserialize)]
pub struct Dispatch {
    /// its id
    pub id: DispatchId,
    /// open, closed…
    pub state: String,
    /// when it was opened
    pub created_at: Timestamp,
    /// envoys needed
    pub needed: usize,
    /// who was alerted, and what they did
    pub recipients: Vec<Recipient>,
}

/// A recipient of a dispatch.
#[derive(Debug, Clone, Deserialize)]
pub struct Recipient {
    /// the account
    pub user_id: UserId,
    /// alerted, accepted, declined, expired, arrived…
    pub state: String,
    /// when it answered
    pub answered_at: Option<Timestamp>,
    /// when it marked arrival
    pub arrived_at: Option<Timestamp>,
}
