//! A fresh database per test, on either backend (feature `testkit`).
//!
//! PostgreSQL tests connect to `PEACEPATROL_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), create a database of their own and drop it
//! afterwards. They are never skipped silently: when PostgreSQL does not answer the test fails,
//! unless `PEACEPATROL_TEST_PG=off` says to run on SQLite only (and that is printed).

use crate::{connect, Store};
use sqlx::Connection as _;
use std::sync::Arc;

/// The backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A temporary PostgreSQL database.
    Postgres,
}

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn pg_admin_url() -> Option<String> {
    match std::env::var("PEACEPATROL_TEST_PG") {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(v),
        _ => Some(DEFAULT_PG.to_owned()),
    }
}

/// Every backend the tests must pass on.
pub fn backends() -> Vec<Backend> {
    if pg_admin_url().is_some() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        eprintln!("PEACEPATROL_TEST_PG=off: running on SQLite only");
        vec![Backend::Sqlite]
    }
}

/// A database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// Creates an empty database (not yet migrated).
    ///
    /// # Panics
    /// When the database cannot be created: a test must fail, never skip.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    backend,
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let admin = pg_admin_url().expect("PostgreSQL tests need PEACEPATROL_TEST_PG");
                let name = format!("pp_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {} does not answer ({e}); start it, or set PEACEPATROL_TEST_PG",
                        crate::redact(&admin)
                    )
                });
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = match admin.rfind('/') {
                    Some(i) if admin[..i].ends_with(|c: char| c != '/') => {
                        format!("{}/{name}", &admin[..i])
                    }
                    _ => format!("{admin}/{name}"),
                };
                TestDb {
                    url,
                    backend,
                    dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    /// Creates the database, migrates it and opens a store on it.
    pub async fn store(backend: Backend) -> (TestDb, Arc<dyn Store>) {
        let db = TestDb::new(backend).await;
        let store = connect(&db.url, true).await.expect("connect and migrate");
        (db, store)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.dir.take());
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside async code: use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}
