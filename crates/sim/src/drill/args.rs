//! The drills' commands and flags (`peacepatrol drill …`).

use clap::{Args, Subcommand};

/// Drills.
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Replay the National Day holiday (110,000 envoys, 21 tasks, 86 teams, incidents,
    /// dispatches, a moving crowd) against a running server through its HTTP API, then check
    /// every figure of GET /stats against what was done and print the throughput.
    NationalDay(NationalDayArgs),
}

/// `drill national-day` flags.
#[derive(Debug, Args)]
pub struct NationalDayArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Phone of an admin account (`peacepatrol user add --role admin`).
    #[arg(long)]
    pub admin_phone: String,
    /// Its password.
    #[arg(long)]
    pub admin_password: String,
    /// Envoys registered by bulk import.
    #[arg(long, default_value_t = 110_000)]
    pub envoys: usize,
    /// How many times faster than the holiday's clock the drill runs (see the module docs:
    /// points every 30/N s, patrol requirement 60/N minutes, handling times / N).
    #[arg(long, default_value_t = 60)]
    pub speed: u32,
    /// Envoys of the background crowd walking the district (activated, posting positions,
    /// answering dispatches, reporting incidents).
    #[arg(long, default_value_t = 300)]
    pub crowd: usize,
    /// The server's process id, to report its peak memory (VmHWM).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seed of everything drawn at random.
    #[arg(long, default_value_t = 20_261_001)]
    pub seed: u64,
}
