//! What the benches that start their own server share: its flags, the server started in this
//! process, the line on what an acknowledged write survives, and the check that a running
//! server answers.

use anyhow::Context as _;
use clap::Args;
use pp_domain::time::SystemClock;
use pp_server::{AppState, ServerConfig};
use pp_sim::api::Api;
use pp_store::{DbKind, Store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared flags.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database for the in-process server (default: a temporary SQLite file).
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Random seed of the workload.
    #[arg(long, default_value_t = 20261001)]
    pub seed: u64,
}

/// What an acknowledged write survives, on each backend (see `pp_store`'s `sqlite` module).
pub fn durability(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Sqlite => {
            "durability: SQLite WAL, synchronous=NORMAL: each group commit is written to the OS \
             (the WAL file) before the answer, so it survives kill -9 of the server but not a power \
             cut; fsync at WAL checkpoints"
        }
        DbKind::Postgres => {
            "durability: PostgreSQL synchronous_commit=on (the server's default; the store leaves \
             it as configured): fsync of the WAL at each group commit before the answer"
        }
    }
}

/// Checks that `api`'s server answers and prints which database it runs on and what an
/// acknowledged write survives there.
pub async fn announce_server(api: &Api) -> anyhow::Result<DbKind> {
    let base = api.base();
    let health = api
        .health()
        .await
        .with_context(|| format!("is the server running at {base}?"))?;
    let (kind, database) = match health["database"].as_str() {
        Some("sqlite") => (DbKind::Sqlite, "SQLite"),
        Some("postgres") => (DbKind::Postgres, "PostgreSQL"),
        _ => anyhow::bail!("{base}/healthz answered {health}"),
    };
    println!("server: {base}, database {database}");
    println!("{}", durability(kind));
    Ok(kind)
}

/// A server started in this process on a fresh database.
pub struct Server {
    /// a client of it
    pub api: Api,
    /// its store, to seed the workload
    pub store: Arc<dyn Store>,
    /// stops it
    pub shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

/// Starts the server in this process on `common`'s database (a temporary SQLite file by
/// default), on a free loopback port.
pub async fn start(common: &Common) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let url = common
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = pp_store::connect(&url, true).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(
        store.clone(),
        ServerConfig::new(base.clone(), dir.path()),
        Arc::new(SystemClock),
    )
    .await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(pp_server::serve(listener, state, shutdown.clone()));
    println!("server: in process, database {}", pp_store::redact(&url));
    Ok(Server {
        api: Api::builder(&base).build()?,
        store,
        shutdown,
        _dir: dir,
    })
}
