//! `peacepatrol drill national-day`: replays the district's National Day holiday against a
//! running server, only through its HTTP API, signed in as an admin made beforehand with
//! `peacepatrol user add --role admin`, and checks the server's statistics against what it did.
//!
//! What it does, in order:
//! 1. Checks the server is quiet (`GET /stats` over the current hour shows no activity: the
//!    statistics of active envoys count whole hours) and notes the envoys already registered.
//! 2. Makes a commander and department staff (`POST /users`), imports `--envoys` envoys
//!    (`POST /users/import`, CSV), and the commander publishes the 21 patrol tasks.
//! 3. Activates (`POST /auth/activate`) only the envoys it uses: the 261 team members and the
//!    `--crowd` background crowd.
//! 4. The holiday: the crowd walks around the district's gathering spots and posts its
//!    positions; 86 teams are claimed, joined by QR join token and started with a photo; their
//!    members patrol (a few fall short: their phones stop early, or they wait outside the
//!    area); envoys report incidents, which the routed department's staff work through; the
//!    commander dispatches to emergencies near the crowd, whose phones hear the alerts on their
//!    event streams and answer, hurry over and mark arrival; leaders finish their patrols.
//! 5. Reads `GET /stats` (and its CSV and JSON exports) for the drill's period and compares
//!    every figure with what it did, then prints the throughput it sustained.
//!
//! Steps 1–3 are `setup.rs`; the holiday is `holiday/`, on the plan of `district.rs`; step 5 is
//! `figures.rs`, with what the holiday did as `holiday/expected.rs` reads it.
//!
//! Time: the server runs on the real clock, so `--speed N` compresses the holiday's clock
//! (`clock.rs`): a phone takes a point every 30 s of holiday time, 30/N s of real time; the hour
//! of patrol a member needs is published as `patrol_minutes` = 60/N (at least 1, the smallest
//! the API takes); the tasks' 12-hour window is published as 12 h/N (at least 10 minutes); the
//! departments' handling times (minutes) are divided by N. Not compressed: distances and
//! walking speeds (the server flags any point implying over 30 m/s of real time, so walkers
//! walk at 1.1–1.5 m/s and responders hurry at 25 m/s, real), and the server's own dispatch
//! timers (an alert expires after 45 s, the search widens after 60 s), so volunteers answer
//! alerts after 3–12 real seconds, as in the demo.

mod args;
mod clock;
mod district;
mod figures;
mod holiday;
mod setup;

pub use args::{DrillCommand, NationalDayArgs};

use crate::api::Api;
use clock::{Clock, Stopwatch};
use holiday::Holiday;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections the drill's client keeps open.
const CONNECTIONS: usize = 64;
/// A request that takes longer fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a drill.
pub async fn run(cmd: DrillCommand) -> anyhow::Result<()> {
    match cmd {
        DrillCommand::NationalDay(a) => national_day(a).await,
    }
}

/// `peacepatrol drill national-day`.
async fn national_day(a: NationalDayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=600).contains(&a.speed),
        "--speed must be 1 to 600 (got {})",
        a.speed
    );
    anyhow::ensure!(
        a.crowd >= district::CROWD_SPOTS.len(),
        "--crowd must be at least {}",
        district::CROWD_SPOTS.len()
    );
    anyhow::ensure!(
        a.envoys >= district::PARTICIPANTS + a.crowd && a.envoys <= 999_999,
        "--envoys must be at least the {} team members plus the --crowd ({}), and below 1,000,000",
        district::PARTICIPANTS,
        a.crowd
    );
    let api = Arc::new(
        Api::builder(&a.url)
            .timeout(TIMEOUT)
            .connections(CONNECTIONS)
            .timed()
            .build()?,
    );
    let wall = Instant::now();
    let outcome = drill(&a, Arc::clone(&api)).await;
    api.report(wall.elapsed(), a.server_pid);
    let errors = api.errors();
    match outcome {
        Ok(()) if errors == 0 => {
            println!(
                "\nnational-day drill: PASSED in {:.1} s (speed {}, {} envoys registered, crowd {})",
                wall.elapsed().as_secs_f64(),
                a.speed,
                a.envoys,
                a.crowd
            );
            Ok(())
        }
        Ok(()) => anyhow::bail!("national-day drill: {errors} requests failed"),
        Err(e) => Err(e.context("national-day drill FAILED")),
    }
}

/// The whole drill; the throughput report is printed by the caller, also on failure.
async fn drill(a: &NationalDayArgs, api: Arc<Api>) -> anyhow::Result<()> {
    let watch = Stopwatch::start();
    let clock = Clock::new(a.speed);
    let prepared = setup::prepare(a, &api, clock, &watch).await?;
    let mut rng = StdRng::seed_from_u64(a.seed);
    let mut holiday = Holiday::new(Arc::clone(&api), clock, prepared.cast, &mut rng)?;
    holiday.run(&mut rng, &watch).await?;
    let to = from_millis(to_millis(SystemClock.now()) + 1);
    watch.phase("the holiday is over: reading GET /stats");

    let registered = prepared.registered_before + prepared.imported;
    let expected = holiday.expected(&prepared.categories, registered)?;
    figures::check(&api, &prepared.admin.token, prepared.from, to, &expected).await
}
