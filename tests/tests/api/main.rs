//! The HTTP API of Peace Patrol, tested over real HTTP against a fresh server and database per
//! test, on every backend (`pp_store::testing::backends()`).
//!
//! Run: `cargo test -p e2e` (PostgreSQL at `PEACEPATROL_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `PEACEPATROL_TEST_PG=off` for SQLite only).
#![allow(clippy::unwrap_used, reason = "tests")]

mod auth;
mod dispatch;
mod envoys;
mod errors;
mod heat;
mod incidents;
mod ledger;
mod onboarding;
mod open311;
mod openapi;
mod patrol;
mod positions;
mod stats;
mod stream;
mod tasks;
mod teams;
