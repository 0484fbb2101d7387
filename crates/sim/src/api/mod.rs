//! The one client of the Peace Patrol HTTP API that every tool uses: the demo's crowd and
//! responders, the drill, and the benchmarks (`pp-bench`).
//!
//! * [`Api`] (`client.rs`) holds the server's base URL and knows the rest: the `/api/v1`
//!   prefix, the bearer token, the error shape `{"error":{"code","message"}}` ([`ApiError`]),
//!   and a [`log`] of every request (timed per route when asked, as the drill reports it).
//! * Typed calls for what the tools do, by resource: accounts ([`accounts`]), tasks and teams
//!   ([`teams`]), positions, incidents and dispatches ([`field`]), statistics ([`stats`]); the
//!   answers they read ([`answers`]); the multipart forms of a team's start and a report
//!   ([`forms`]); the event stream ([`events`]).
//! * The hot path of the benchmarks ([`keep_alive`]): a [`Call`] sent on a keep-alive HTTP/1.1
//!   connection per client task (hyper's connection API: about 21 µs of client CPU a request,
//!   where reqwest's pool took ~45 µs on the cores the server shares). The same [`Call`] can go
//!   through [`Api::fetch`] too, so a request is described once.

pub mod accounts;
pub mod answers;
mod client;
mod error;
pub mod events;
pub mod field;
pub mod forms;
pub mod keep_alive;
pub mod log;
pub mod stats;
pub mod teams;

pub use answers::PointOut;
pub use client::{local_base, Api, ApiBuilder, Reply};
pub use error::ApiError;
pub use keep_alive::{Call, KeepAlive};
