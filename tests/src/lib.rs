//! End-to-end tests of Peace Patrol over real HTTP.
//!
//! [`harness::TestApp`] starts the real router on a random port of `127.0.0.1`, against a fresh
//! database of either backend (`pp_store::testing`), with a clock the test controls. The tests
//! themselves live in `tests/api/` (one binary); run them with `cargo test -p e2e`.
//! PostgreSQL is reached at `PEACEPATROL_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! `PEACEPATROL_TEST_PG=off` runs on SQLite only.
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed set-up step must fail the test"
)]

pub mod harness;
pub mod sse;

pub use harness::{
    expect, expect_error, jpeg_photo, member_of, north_of_tower, on_each_backend, outcomes,
    png_photo, point, read, route_points, steady, str_of, time_of, track, Ingested, Patrol, Photo,
    Resp, Route, TestApp, TestClock, M_PER_DEG_LAT, PASSWORD, TOWER_LAT, TOWER_LNG,
};
pub use pp_store::testing::{backends, Backend};
pub use sse::{Sse, Stream};
