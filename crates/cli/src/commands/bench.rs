//! `peacepatrol bench …`: the benchmarks of [`pp_bench`]; `load` writes to the database the
//! binary's settings name.

use crate::config::SettingsArgs;
pub use pp_bench::BenchCommand;

/// Runs a benchmark.
pub async fn run(settings: &SettingsArgs, cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::TasksNear(a) => pp_bench::tasks_near::run(a).await,
        BenchCommand::Join(a) => pp_bench::join::run(a).await,
        BenchCommand::Load(a) => {
            let settings = settings.load()?;
            let target = pp_bench::load::Target {
                database_url: settings.database_url_or(super::DB_FILE),
                retention_days: settings.retention_days,
                session_ttl_days: settings.session_ttl_days,
            };
            pp_bench::load::run(&target, a).await
        }
        BenchCommand::Ingest(a) => pp_bench::ingest::run(a).await,
        BenchCommand::Heatmap(a) => pp_bench::heatmap::run(a).await,
        BenchCommand::Nearest(a) => pp_bench::nearest::run(a).await,
        BenchCommand::Stream(a) => pp_bench::stream::run(a).await,
    }
}
