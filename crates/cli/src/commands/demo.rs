//! `peacepatrol demo`: the server with a seeded Haizhu district ([`pp_sim::seed`]) and, while
//! it serves, a simulated crowd walking the district and one team mid-patrol at Canton Tower
//! ([`pp_sim::crowd`]). Safe to run again on the same data: what exists is kept.

use super::serve::{prepare, serve_with, ServeArgs};
use crate::config::Settings;
use pp_sim::seed::{seed, ACCOUNTS, DEMO_PASSWORD};
use tokio_util::sync::CancellationToken;

/// `peacepatrol demo`.
pub async fn run(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let prepared = prepare(settings, args, super::DEMO_DB_FILE).await?;
    let state = &prepared.state;
    seed(state.store.as_ref(), state.clock.now()).await?;
    let addr = prepared.listener.local_addr()?;
    let url = settings.public_url_for(addr);
    println!(
        "Peace Patrol demo: Haizhu district, Guangzhou — open {url}/ (API docs at {url}/api/docs)"
    );
    println!("Demo accounts (password {DEMO_PASSWORD} for all):");
    for (phone, name, role, dept) in ACCOUNTS {
        println!(
            "  {role:<9} {phone}  {name}{}",
            dept.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
    // the crowd talks to the server over HTTP: its requests wait in the listen backlog until
    // the server accepts, and it stops when the server is told to
    let shutdown = CancellationToken::new();
    tokio::spawn(pp_sim::crowd::run(
        state.clone(),
        pp_sim::api::local_base(addr, prepared.tls.is_some()),
        shutdown.child_token(),
    ));
    serve_with(prepared, shutdown).await
}
