//! The store's conformance suite: every test runs on SQLite and on PostgreSQL
//! (`PEACEPATROL_TEST_PG`, see `pp_store::testing`), one module per capability.
//!
//! A test is an `async fn name(b: Backend)` followed by `on_each_backend!(name)`, which makes
//! the tests `<module>::name::sqlite` and `<module>::name::postgres`: a failure names its
//! backend, and one backend runs alone with a filter (`cargo test -p pp-store postgres`).
#![allow(clippy::unwrap_used, reason = "tests")]

/// Runs the test `$name`, an `async fn(Backend)` in the same module, on each backend, as the
/// tests `$name::sqlite` and `$name::postgres`, each on a fresh database the test makes
/// (`TestDb::store`). Options after the name go to `#[tokio::test(…)]`, e.g. `flavor =
/// "multi_thread", worker_threads = 4`. With `PEACEPATROL_TEST_PG=off` the PostgreSQL test
/// passes without running, and says so.
macro_rules! on_each_backend {
    ($name:ident $(, $($option:tt)+)?) => {
        mod $name {
            use pp_store::testing::{backends, Backend};

            #[tokio::test$(($($option)+))?]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test$(($($option)+))?]
            async fn postgres() {
                if backends().contains(&Backend::Postgres) {
                    super::$name(Backend::Postgres).await;
                }
            }
        }
    };
}

mod fixtures;

mod admin;
mod dispatch;
mod heat;
mod incidents;
mod ledger;
mod onboarding;
mod positions;
mod stats;
mod tasks;
mod teams;
mod users;
