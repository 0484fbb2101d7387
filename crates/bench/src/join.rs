//! `peacepatrol bench join`: `POST /teams/join`, `--teams` forming teams of up to 10 each
//! joined by 9 envoys, on a server started in this process (see [`crate::harness::server`]).

use crate::harness::seed::{accounts, task_input};
use crate::harness::server::{start, Common};
use crate::harness::{drive, Figures};
use clap::Args;
use pp_domain::task::Task;
use pp_domain::time::{Clock as _, SystemClock};
use pp_domain::Role;
use pp_sim::api::Call;
use rand::SeedableRng as _;
use std::sync::Arc;

/// `bench join` flags.
#[derive(Debug, Args)]
pub struct JoinArgs {
    #[command(flatten)]
    common: Common,
    /// Forming teams (each takes 9 joins).
    #[arg(long, default_value_t = 500)]
    teams: usize,
}

/// `peacepatrol bench join`.
pub async fn run(a: JoinArgs) -> anyhow::Result<()> {
    let server = start(&a.common).await?;
    let now = SystemClock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.common.seed);
    let store = server.store.as_ref();
    let (commander, _) = accounts(store, Role::Commander, 0, 1, now).await?.remove(0);
    let task_count = a.teams.div_ceil(1000);
    let leaders = accounts(store, Role::Envoy, 1, a.teams, now).await?;
    let joiners = accounts(store, Role::Envoy, 1 + a.teams, a.teams * 9, now).await?;
    let mut tokens = Vec::with_capacity(a.teams);
    let mut task = None;
    for (i, (leader, leader_token)) in leaders.iter().enumerate() {
        if i % 1000 == 0 {
            let t = Task::publish(task_input(&mut rng, now, 1000, 10), commander, now)?;
            store.insert_task(&t).await?;
            task = Some(t.id);
        }
        let task = task.ok_or_else(|| anyhow::anyhow!("no task"))?;
        let team = store.claim_team(task, *leader, now).await?;
        let token = server
            .api
            .team(leader_token, team.id)
            .await?
            .join_token
            .ok_or_else(|| anyhow::anyhow!("no join_token for the leader of team {}", team.id))?;
        tokens.push(token);
    }
    println!(
        "workload: {} forming teams of up to 10 in {task_count} task(s), {} joins (9 per team)",
        a.teams,
        joiners.len()
    );
    let jobs: Arc<Vec<(Arc<str>, String)>> = Arc::new(
        joiners
            .into_iter()
            .enumerate()
            .map(|(i, (_, t))| (Arc::from(t), tokens[i % tokens.len()].clone()))
            .collect(),
    );
    let n = jobs.len();
    let figures: Figures<()> = drive(&server.api, a.common.concurrency, n, move |i| {
        let (session, join_token) = &jobs[i];
        Call::join(
            session,
            serde_json::json!({ "token": join_token }).to_string(),
        )
    })
    .await?;
    figures.print("POST /api/v1/teams/join", a.common.concurrency);
    server.shutdown.cancel();
    Ok(())
}
