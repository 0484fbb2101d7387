//! `peacepatrol serve`: open the database, bind, serve (HTTP, or HTTPS with a certificate)
//! until Ctrl-C or SIGTERM.

use crate::config::{Settings, TlsArgs};
use clap::Args;
use pp_domain::time::SystemClock;
use pp_server::{AppState, ServerConfig};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Flags of `serve` and `demo`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Do not apply migrations at start (apply them with `peacepatrol migrate`).
    #[arg(long)]
    pub no_migrations: bool,
    /// HTTPS (over the config file's `tls_*` keys).
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// A server that is bound and has its state, not yet serving.
pub struct Prepared {
    /// bound socket
    pub listener: TcpListener,
    /// application state
    pub state: AppState,
    /// database URL (for the start line)
    pub url: String,
    /// the certificate when serving HTTPS
    pub tls: Option<crate::tls::Served>,
}

/// Opens the database (SQLite file `db_file` under the data dir unless a URL is configured)
/// and binds the listen address.
pub async fn prepare(
    settings: &Settings,
    args: &ServeArgs,
    db_file: &str,
) -> anyhow::Result<Prepared> {
    let url = settings.database_url_or(db_file);
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = pp_store::connect(&url, !args.no_migrations).await?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    let tls = crate::tls::setup(settings, listener.local_addr()?)?;
    let mut config = ServerConfig::new(
        settings.public_url_for(listener.local_addr()?),
        settings.data_dir.clone(),
    );
    config.session_ttl = chrono::Duration::days(settings.session_ttl_days);
    config.join_token_ttl = chrono::Duration::minutes(settings.join_token_ttl_minutes);
    config.retention_days = settings.retention_days;
    config.heat_min_envoys = settings.heat_min_envoys;
    config.open311_public_reads = settings.open311_public_reads;
    config.map = pp_server::state::MapConfig {
        tiles: Some(settings.map_tiles.trim().to_owned()).filter(|t| !t.is_empty()),
        attribution: settings.map_attribution.clone(),
    };
    config.dispatch = settings.dispatch_policy();
    config.job_interval = std::time::Duration::from_secs(settings.job_interval_secs);
    let state = AppState::new(store, config, Arc::new(SystemClock)).await?;
    Ok(Prepared {
        listener,
        state,
        url,
        tls,
    })
}

/// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
pub async fn serve(p: Prepared) -> anyhow::Result<()> {
    serve_with(p, CancellationToken::new()).await
}

/// [`serve`] with the caller's shutdown token: Ctrl-C or SIGTERM cancels it, and cancelling it
/// stops the server, so work running beside the server (the demo's crowd) stops with it.
pub async fn serve_with(p: Prepared, shutdown: CancellationToken) -> anyhow::Result<()> {
    tokio::spawn(signal(shutdown.clone()));
    for line in p.tls.iter().flat_map(|t| &t.lines) {
        println!("{line}");
    }
    println!(
        "peacepatrol listening on {}://{} (database {})",
        if p.tls.is_some() { "https" } else { "http" },
        p.listener.local_addr()?,
        pp_store::redact(&p.url)
    );
    match p.tls {
        Some(tls) => pp_server::serve_tls(p.listener, tls.config, p.state, shutdown).await,
        None => pp_server::serve(p.listener, p.state, shutdown).await,
    }
}

/// `peacepatrol serve`.
pub async fn run(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    serve(prepare(settings, args, super::DB_FILE).await?).await
}

async fn signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
