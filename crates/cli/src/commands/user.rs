//! `peacepatrol user add`: make an account of any role from the command line.

use crate::config::Settings;
use clap::{Args, Subcommand};
use pp_domain::account::{generate_password, NewUser};
use pp_domain::time::{Clock as _, SystemClock};
use pp_domain::Role;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (prints a generated password when none is given).
    Add(AddArgs),
}

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
