//! `peacepatrol drill …`: the drills of [`pp_sim::drill`], run against a server over HTTP.

pub use pp_sim::drill::DrillCommand;

/// Runs a drill.
pub async fn run(cmd: DrillCommand) -> anyhow::Result<()> {
    pp_sim::drill::run(cmd).await
}
