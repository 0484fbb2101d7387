//! `peacepatrol bench stream --workload DIR --url URL --clients N --server-pid PID`: holds `N`
//! event streams (`GET /stream`) of a running server open at once, each signed in as another
//! envoy of `bench load`'s sessions, and prints the server's resident memory per stream.

use crate::harness::server::announce_server;
use crate::workload;
use anyhow::Context as _;
use clap::Args;
use pp_sim::api::Api;
use pp_sim::measure::vm_rss_kib;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `bench stream` flags.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// The workload directory, with the `peacepatrol-sessions.csv` of `bench load`.
    #[arg(long)]
    pub workload: PathBuf,
    /// The running server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Streams to hold open at once (each a connection: mind `ulimit -n` on both sides).
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// Streams being opened at the same time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The server's process id: its resident memory (VmRSS) before and with the streams open.
    #[arg(long)]
    pub server_pid: u32,
    /// Seconds to hold the streams (keep-alive comments arrive every 15 s).
    #[arg(long, default_value_t = 20)]
    pub hold_secs: u64,
}

/// `peacepatrol bench stream`.
pub async fn run(a: StreamArgs) -> anyhow::Result<()> {
    let api = Arc::new(Api::builder(&a.url).build()?);
    announce_server(&api).await?;
    let mut tokens: Vec<String> = workload::read_sessions(&a.workload)?
        .into_values()
        .collect();
    tokens.sort();
    anyhow::ensure!(
        tokens.len() >= a.clients,
        "only {} sessions in the workload for {} clients",
        tokens.len(),
        a.clients
    );
    tokens.truncate(a.clients);
    let before = vm_rss_kib(a.server_pid)?;
    let started = Instant::now();
    let mut open = Vec::with_capacity(a.clients);
    for chunk in tokens.chunks(a.concurrency.max(1)) {
        let mut tasks = tokio::task::JoinSet::new();
        for token in chunk {
            let (api, token) = (Arc::clone(&api), token.clone());
            tasks.spawn(async move { api.events_by_query(&token).await });
        }
        while let Some(res) = tasks.join_next().await {
            open.push(res.context("a client task failed")??);
        }
    }
    let opened = started.elapsed();
    // let the server settle, and every stream pass a keep-alive
    tokio::time::sleep(Duration::from_secs(a.hold_secs)).await;
    let with = vm_rss_kib(a.server_pid)?;
    let per_stream = (with.saturating_sub(before)) as f64 * 1024.0 / a.clients as f64;
    println!(
        "STREAM: {} event streams open at once (one envoy each), opened in {:.1} s ({:.0}/s), held {} s: server RSS {:.1} MiB before, {:.1} MiB with them: {:.1} KiB per stream",
        open.len(),
        opened.as_secs_f64(),
        open.len() as f64 / opened.as_secs_f64(),
        a.hold_secs,
        before as f64 / 1024.0,
        with as f64 / 1024.0,
        per_stream / 1024.0
    );
    drop(open);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = vm_rss_kib(a.server_pid)?;
    println!(
        "server RSS after the streams closed: {:.1} MiB",
        after as f64 / 1024.0
    );
    Ok(())
}
