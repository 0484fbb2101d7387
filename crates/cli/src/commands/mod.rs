//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod drill;
pub mod serve;
pub mod user;

/// The SQLite file `serve`, `user` and `migrate` use under the data dir by default.
pub const DB_FILE: &str = "peacepatrol.db";
/// The SQLite file `demo` uses, so a demo never mixes with real accounts.
pub const DEMO_DB_FILE: &str = "demo.db";
