//! The harness every bench builds on: a server started in this process ([`server`]) with its
//! workload seeded through the store ([`seed`]), the drive loop that measures HTTP
//! ([`drive`](mod@drive)), and requests whose answers are read one by one ([`fetch`]).

pub mod drive;
pub mod fetch;
pub mod seed;
pub mod server;

pub use drive::{drive, Figures, Tally};
pub use fetch::fetch_all;
pub use server::{announce_server, durability, Common};
