//! `pp-sim`: the tools that drive Peace Patrol through its HTTP API, as phones and a command
//! centre would — the demo district's seed ([`seed`]), the demo's simulated crowd ([`crowd`])
//! and its volunteers answering dispatches ([`responders`]), the National Day drill
//! ([`drill`]) — and the one API client ([`api`]) they and the benchmarks (`pp-bench`) share.
//! None of it is the product: the `peacepatrol` binary calls in here for `demo` and `drill`.

pub mod api;
pub mod crowd;
pub mod drill;
pub mod measure;
pub mod responders;
pub mod seed;
pub mod walk;
