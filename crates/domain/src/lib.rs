//! Peace Patrol's domain: typed ids, roles, accounts, patrol tasks and teams with their state
//! machines, and the signed join tokens behind the leader's QR code.
//!
//! Pure types and rules only: no I/O, no async, no SQL. The store saves what these rules
//! decide; the server maps [`DomainError`] to HTTP in one place.
#![warn(missing_docs)]

pub mod account;
pub mod dispatch;
pub mod error;
pub mod heat;
pub mod ids;
pub mod incident;
pub mod join_token;
pub mod ledger;
pub mod onboarding;
pub mod patrol;
pub mod position;
pub mod role;
pub mod stats;
pub mod task;
pub mod team;
pub mod time;

pub use error::{DomainError, DomainResult};
pub use ids::{DepartmentId, DispatchId, IncidentId, LedgerId, TaskId, TeamId, UserId};
pub use role::Role;
