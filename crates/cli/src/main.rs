//! `peacepatrol`: the Peace Patrol server and its tools.

mod commands;
mod config;
mod logging;
mod tls;

use clap::{Parser, Subcommand};
use config::SettingsArgs;

#[derive(Debug, Parser)]
#[command(
    name = "peacepatrol",
    version,
    about = "Peace Patrol: patrol tasks, teams and dispatch for a district's safety volunteers"
)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(commands::serve::ServeArgs),
    /// Run the server with a seeded demo district (its own database, `demo.db`, unless
    /// --database-url is given).
    Demo(commands::serve::ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the default config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure a running server over HTTP.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Replay an operation against a running server through its HTTP API and check its
    /// statistics.
    #[command(subcommand)]
    Drill(commands::drill::DrillCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a config file with every key at its default.
    Default,
}

/// Caps glibc malloc at two arenas (one per core of the machines this runs on). By default it
/// grows one per busy thread (tokio workers, SQLite's connection threads), up to 8 per core,
/// and each keeps the memory freed into it: under `bench ingest` the resident size reached
/// 69 MiB with the default and 45 MiB with two arenas, at the same throughput.
///
/// Also fixes the mmap threshold at 4 MiB: by default glibc raises it to the size of each
/// large block freed, so after the first password hash (argon2 takes a 19 MiB block per hash)
/// every later one came from the arenas and stayed there: 200 activations left the server at
/// 1.2 GB resident (the National Day drill's 561 at 1.3 GB); with the threshold fixed those
/// blocks are mapped and unmapped per hash, and the same 200 peak at 136 MiB and leave 60 MiB.
/// Called before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets allocator parameters; no other thread exists yet
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(cli_main()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn cli_main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.settings.log_format());
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            commands::serve::run(&cli.settings.load_with(&args.tls)?, &args).await
        }
        Command::Demo(args) => {
            commands::demo::run(&cli.settings.load_with(&args.tls)?, &args).await
        }
        Command::User(cmd) => commands::user::run(&cli.settings.load()?, cmd).await,
        Command::Migrate => {
            let settings = cli.settings.load()?;
            let url = settings.database_url_or(commands::DB_FILE);
            pp_store::migrate(&url).await?;
            println!("migrated {}", pp_store::redact(&url));
            Ok(())
        }
        Command::Config(ConfigCommand::Default) => {
            print!("{}", toml_default());
            Ok(())
        }
        Command::Bench(cmd) => commands::bench::run(&cli.settings, cmd).await,
        Command::Drill(cmd) => commands::drill::run(cmd).await,
    }
}

fn toml_default() -> String {
    let d = config::Settings::default();
    format!(
        "# peacepatrol.toml: every key is optional; flags and PEACEPATROL_* variables override it.\n\
         # database_url = \"postgres://peacepatrol@127.0.0.1/peacepatrol\"  # default: sqlite://<data_dir>/peacepatrol.db\n\
         listen = \"{}\"\n\
         data_dir = \"{}\"\n\
         # public_url = \"https://patrol.example.org\"  # default: http://<listen> (https://<listen> with TLS)\n\
         # tls_self_signed = true  # HTTPS with a certificate made for this machine, kept under <data_dir>/tls/\n\
         # tls_cert = \"/etc/peacepatrol/fullchain.pem\"  # or HTTPS with this certificate (PEM, chain allowed)\n\
         # tls_key = \"/etc/peacepatrol/privkey.pem\"  # and its private key (PEM)\n\
         session_ttl_days = {}\n\
         join_token_ttl_minutes = {}\n\
         # log_format = \"json\"  # one JSON object a log line, for log shippers; default text (coloured only on a terminal)\n",
        d.listen,
        d.data_dir.display(),
        d.session_ttl_days,
        d.join_token_ttl_minutes
    )
}
