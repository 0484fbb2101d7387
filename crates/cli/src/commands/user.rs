//! `peacepatrol user add`: make an account of any role from the command line.

use crate::config::Settings;
use clap::{Args, Subcommand};
use pp_domain::account::{generate_password, NewUser};
use pp_domain::time::{Clock as _, SystemClock};
use pp_domain::Role;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (prints a generated password when none is given).
    Add(AddArgs),
    /// Import envoys from a CSV file (header row with `phone,name`): each valid row becomes a
    /// pending envoy with a one-time activation code, written to the codes file for the SMS
    /// gateway; refused rows are listed with their reason.
    Import(ImportArgs),
}

/// `user import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file: a header row naming `phone` and `name` (other columns are ignored).
    #[arg(long)]
    pub csv: PathBuf,
    /// Where to write `phone,code` for each imported (or re-issued) envoy; default: next to
    /// the input, `<name>.codes.csv`. Keep it private: the codes activate accounts.
    #[arg(long)]
    pub codes_out: Option<PathBuf>,
    /// Days the codes stay valid.
    #[arg(long, default_value_t = pp_domain::onboarding::DEFAULT_CODE_TTL_DAYS, value_parser = clap::value_parser!(i64).range(1..=365))]
    pub code_ttl_days: i64,
}

/// Refused rows listed on the terminal (the rest are counted).
const LISTED_REFUSALS: usize = 50;

/// `user add` flags.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Phone: 11-digit mainland mobile number or E.164.
    #[arg(long)]
    pub phone: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// envoy, commander, staff or admin.
    #[arg(long)]
    pub role: String,
    /// Department code or name (staff only): public_security, sanitation, urban_management.
    #[arg(long)]
    pub department: Option<String>,
    /// Password (at least 8 characters); generated when omitted.
    #[arg(long)]
    pub password: Option<String>,
}

/// Runs an account command against the configured database.
pub async fn run(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Import(a) => import(settings, a).await,
        UserCommand::Add(a) => {
            let role: Role = a.role.parse()?;
            let (password, generated) = match a.password {
                Some(p) => (p, false),
                None => (generate_password(), true),
            };
            let new = NewUser::new(&a.phone, &a.name, &password, role, a.department)?;
            let store = pp_store::connect(&settings.database_url_or(super::DB_FILE), true).await?;
            let user = store
                .create_user(&new, SystemClock.now())
                .await
                .map_err(|e| match e {
                    pp_store::StoreError::Conflict("phone_taken") => {
                        anyhow::anyhow!("{} is already registered", new.phone.as_str())
                    }
                    other => other.into(),
                })?;
            println!(
                "created {} {} ({}) id {}",
                user.role,
                user.name,
                user.phone.as_str(),
                user.id
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
    }
}

/// The default codes file: `<dir>/<stem>.codes.csv`.
fn default_codes_path(csv: &Path) -> PathBuf {
    let stem = csv
        .file_stem()
        .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned());
    csv.with_file_name(format!("{stem}.codes.csv"))
}

async fn import(settings: &Settings, a: ImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = std::fs::read(&a.csv)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.csv.display()))?;
    let codes_path = a.codes_out.unwrap_or_else(|| default_codes_path(&a.csv));
    let store = pp_store::connect(&settings.database_url_or(super::DB_FILE), true).await?;
    let salt = pp_server::onboarding::code_salt(store.as_ref()).await?;
    let prepared = pp_server::onboarding::prepare(&data, &salt)?;
    let now = SystemClock.now();
    let report = pp_server::onboarding::import(
        store.as_ref(),
        prepared,
        now + chrono::Duration::days(a.code_ttl_days),
        now,
    )
    .await?;
    let mut out = std::io::BufWriter::new(open_private(&codes_path)?);
    writeln!(out, "phone,code")?;
    for c in &report.codes {
        writeln!(out, "{},{}", c.phone, c.code)?;
    }
    out.flush()?;
    println!(
        "read {} rows from {}: imported {}, re-issued {}, refused {}",
        report.rows,
        a.csv.display(),
        report.imported,
        report.reissued,
        report.refused.len()
    );
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &report.refused {
        *by_code.entry(r.code.as_str()).or_default() += 1;
    }
    for (code, n) in &by_code {
        println!("  refused {code}: {n}");
    }
    for r in report.refused.iter().take(LISTED_REFUSALS) {
        println!("  line {}: {:?} {}: {}", r.line, r.phone, r.code, r.message);
    }
    if report.refused.len() > LISTED_REFUSALS {
        println!("  … and {} more", report.refused.len() - LISTED_REFUSALS);
    }
    println!(
        "codes for {} envoys written to {} (valid {} days)",
        report.codes.len(),
        codes_path.display(),
        a.code_ttl_days
    );
    println!("elapsed {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Creates (or truncates) a file only its owner can read.
fn open_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
