//! `peacepatrol bench tasks-near`: `GET /tasks?near=` with `--tasks` open tasks spread over
//! Haizhu district, on a server started in this process (see [`crate::harness::server`]).

use crate::harness::seed::{accounts, task_input, LAT, LNG};
use crate::harness::server::{start, Common};
use crate::harness::{drive, Figures};
use clap::Args;
use pp_domain::task::Task;
use pp_domain::time::{Clock as _, SystemClock};
use pp_domain::Role;
use pp_sim::api::Call;
use rand::{Rng as _, SeedableRng as _};
use std::sync::Arc;

/// `bench tasks-near` flags.
#[derive(Debug, Args)]
pub struct TasksNearArgs {
    #[command(flatten)]
    common: Common,
    /// Open tasks.
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    /// Requests to send.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Search radius in metres.
    #[arg(long, default_value_t = 2000.0)]
    radius_m: f64,
    /// Tasks per answer (`limit`; the API's default is 100).
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// `peacepatrol bench tasks-near`.
pub async fn run(a: TasksNearArgs) -> anyhow::Result<()> {
    let server = start(&a.common).await?;
    let now = SystemClock.now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.common.seed);
    let (commander, _) = accounts(server.store.as_ref(), Role::Commander, 0, 1, now)
        .await?
        .remove(0);
    let (_, token) = accounts(server.store.as_ref(), Role::Envoy, 1, 1, now)
        .await?
        .remove(0);
    let token: Arc<str> = Arc::from(token);
    for _ in 0..a.tasks {
        server
            .store
            .insert_task(&Task::publish(
                task_input(&mut rng, now, 5, 5),
                commander,
                now,
            )?)
            .await?;
    }
    let points: Arc<Vec<(f64, f64)>> = Arc::new(
        (0..a.requests)
            .map(|_| (rng.gen_range(LAT.0..LAT.1), rng.gen_range(LNG.0..LNG.1)))
            .collect(),
    );
    println!(
        "workload: {} open tasks over Haizhu district, radius {} m, limit {}, {} requests",
        a.tasks, a.radius_m, a.limit, a.requests
    );
    for c in [1, a.common.concurrency] {
        let (token, points, radius, limit) = (token.clone(), points.clone(), a.radius_m, a.limit);
        let figures: Figures<()> = drive(&server.api, c, a.requests, move |i| {
            let (lat, lng) = points[i];
            Call::tasks_near(&token, lat, lng, radius, limit)
        })
        .await?;
        figures.print("GET /api/v1/tasks?near=", c);
    }
    server.shutdown.cancel();
    Ok(())
}
