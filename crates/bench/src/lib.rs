//! `pp-bench`, the `peacepatrol bench …` benchmarks: measure the server over real HTTP on
//! loopback and print the figures with the workload size.
//!
//! * `tasks-near` ([`tasks_near`]), `join` ([`join`]): each starts the server in this process
//!   on a fresh database (a temporary SQLite file, or `--bench-database-url`), seeds its
//!   workload through the store, and drives it with `--concurrency` client tasks; client and
//!   server share the machine, as the reference figures in `../shared/bench/` do.
//! * `load` ([`load`]): loads the shared workload of `../shared/bench/` ([`workload`]) into
//!   the configured database through the ingest pipeline, and writes sessions for `ingest` and
//!   a commander's session and the time shift for `heatmap`.
//! * `ingest` ([`ingest`]): measures `POST /positions` of a running server.
//! * `nearest` ([`nearest`]): measures `GET /envoys/nearest` of a running server, checks its
//!   recall ([`recall`]), and times the same search in process and in Redis ([`peers`]).
//! * `heatmap` ([`heatmap`]): measures `GET /heatmap` and a heat tile of a running server,
//!   checks its counts against a reference ([`reference`](mod@reference)), and times the PostGIS peer
//!   ([`peers`]) on the same footprints.
//! * `stream` ([`stream`]): holds event streams of a running server open and reads its memory.
//!
//! All of them drive the server with [`pp_sim::api`]'s client; [`harness`] holds what they
//! share. Features: `peers` builds the Redis peer in (its client stays out of the shipped
//! binary otherwise); the PostGIS peer is always there (it uses the product's own PostgreSQL
//! driver).

pub mod harness;
pub mod heatmap;
pub mod ingest;
pub mod join;
pub mod load;
pub mod nearest;
pub mod peers;
pub mod recall;
pub mod reference;
pub mod stream;
pub mod tasks_near;
pub mod workload;

use clap::Subcommand;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// `GET /tasks?near=` with `--tasks` open tasks spread over Haizhu district.
    TasksNear(tasks_near::TasksNearArgs),
    /// `POST /teams/join`: `--teams` forming teams of up to 10, each joined by 9 envoys.
    Join(join::JoinArgs),
    /// Load the workload of ../shared/bench (110,000 envoys, their footprint history and live
    /// positions) into the configured database through the ingest pipeline, times shifted by
    /// whole hours to now, and write into DIR a session per envoy of updates.csv for `bench
    /// ingest` (peacepatrol-sessions.csv) and the shift and a commander's session for `bench
    /// heatmap` (peacepatrol-bench.json).
    Load(load::LoadArgs),
    /// `POST /positions` against a running server on a loaded database (see `bench load`).
    Ingest(ingest::IngestArgs),
    /// `GET /heatmap` (the workload's 15 days as from/to, exact; the 5d, 7d and 15d windows)
    /// over meta.json's heat_bbox at res 9, and a z14 heat tile, against a running server on a
    /// loaded database (see `bench load`), signed in as its commander; checks the counts cell
    /// by cell, and times the PostGIS peer (GROUP BY a precomputed H3 column, ST_SnapToGrid)
    /// on the same footprints.
    Heatmap(heatmap::HeatmapArgs),
    /// `GET /envoys/nearest` against a running server on a loaded database (see `bench
    /// load`): posts the workload's active volunteers at their ages so that the server's
    /// 10-minute window is the workload's, checks recall against queries_expected.csv, times
    /// it at concurrency 1 and `--concurrency`, and compares with the same search in process
    /// (`PointIndex`) and in Redis (`GEOSEARCH`, if one answers at 127.0.0.1:6379; in builds
    /// with the `bench-peers` feature).
    /// `--in-process-only` runs just the in-process step, from the workload's files alone.
    Nearest(nearest::NearestArgs),
    /// Hold `--clients` event streams (`GET /stream`) of a running server open at once, one
    /// envoy of bench load's sessions each, and print the server's memory per stream.
    Stream(stream::StreamArgs),
}
