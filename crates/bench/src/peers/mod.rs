//! The peers the benches measure beside the server, on the same data in the same run: PostGIS
//! for the heat map ([`postgis`], always built: it uses the product's PostgreSQL driver) and
//! Redis for the nearest envoys (`redis`, only with the feature `peers`, so that its client is
//! not in the shipped binary).

pub mod postgis;
#[cfg(feature = "peers")]
mod redis;

use crate::workload::queries::Query;
use crate::workload::Ping;
use std::collections::HashMap;
use std::sync::Arc;

/// How to build the binary with the Redis peer.
pub const WITH_REDIS: &str = "cargo run --release --features bench-peers -- bench nearest …";

/// `bench nearest`'s step 5, the Redis peer: its req/s at `concurrency`, or `None` when no
/// Redis answers, or when this build has no Redis client (which it says in one line).
pub async fn redis(
    active: &[Ping],
    queries: &Arc<Vec<Query>>,
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    concurrency: usize,
    size: &str,
) -> anyhow::Result<Option<f64>> {
    #[cfg(feature = "peers")]
    {
        redis::peer(active, queries, expected, concurrency, size).await
    }
    #[cfg(not(feature = "peers"))]
    {
        let _ = (active, queries, expected, concurrency, size);
        println!("Redis peer: not in this build (build it with `{WITH_REDIS}`)");
        Ok(None)
    }
}
