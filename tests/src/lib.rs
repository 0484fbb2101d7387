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

pub use harness::{
    expect, expect_error, jpeg_photo, on_each_backend, png_photo, read, str_of, Photo, Resp,
    TestApp, TestClock, PASSWORD, TOWER_LAT, TOWER_LNG,
};
pub use pp_store::testing::{backends, Backend};
