//! The Redis peer of `bench nearest` (built with the `peers` feature): if a Redis answers at
//! [`REDIS_URL`], GEOADD the active volunteers into [`REDIS_KEY`], `GEOSEARCH … FROMLONLAT
//! lng lat BYRADIUS 2000 m ASC COUNT 20` per query at concurrency 1 and `--concurrency` (one
//! connection per client, one request in flight on each, as the HTTP clients), then delete
//! the key.

use crate::harness::Figures;
use crate::recall::score_all;
use crate::workload::queries::Query;
use crate::workload::Ping;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Redis key of the peer.
const REDIS_KEY: &str = "pp:bench:live";
/// Redis address of the peer.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// `bench nearest`'s step 5: the Redis peer; `None` when no Redis answers. Returns its
/// req/s at `concurrency`.
pub async fn peer(
    active: &[Ping],
    queries: &Arc<Vec<Query>>,
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    concurrency: usize,
    size: &str,
) -> anyhow::Result<Option<f64>> {
    let client = redis::Client::open(REDIS_URL)?;
    let connect = || async {
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))?
        .map_err(anyhow::Error::from)
    };
    let mut con = match connect().await {
        Ok(c) => c,
        Err(e) => {
            println!("Redis peer: none at {REDIS_URL} ({e:#}), skipped");
            return Ok(None);
        }
    };
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async::<String>(&mut con)
        .await?
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    redis::cmd("DEL")
        .arg(REDIS_KEY)
        .query_async::<()>(&mut con)
        .await?;
    let t = Instant::now();
    let mut pipe = redis::pipe();
    for chunk in active.chunks(1000) {
        let cmd = pipe.cmd("GEOADD").arg(REDIS_KEY);
        for v in chunk {
            cmd.arg(v.lng).arg(v.lat).arg(v.id);
        }
        cmd.ignore();
    }
    pipe.query_async::<()>(&mut con).await?;
    let members: usize = redis::cmd("ZCARD")
        .arg(REDIS_KEY)
        .query_async(&mut con)
        .await?;
    println!(
        "Redis {version} at {REDIS_URL}: GEOADD of {members} active volunteers into {REDIS_KEY} (pipelined, 1000 per command) in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let result = redis_runs(&client, &mut con, queries, expected, concurrency, size).await;
    redis::cmd("DEL")
        .arg(REDIS_KEY)
        .query_async::<()>(&mut con)
        .await?;
    println!("Redis: {REDIS_KEY} deleted");
    result.map(Some)
}

fn geosearch(q: &Query) -> redis::Cmd {
    let mut c = redis::cmd("GEOSEARCH");
    c.arg(REDIS_KEY)
        .arg("FROMLONLAT")
        .arg(q.lng)
        .arg(q.lat)
        .arg("BYRADIUS")
        .arg(q.radius_m)
        .arg("m")
        .arg("ASC")
        .arg("COUNT")
        .arg(q.k);
    c
}

/// Recall and the timed runs against Redis; returns req/s at `concurrency`.
async fn redis_runs(
    client: &redis::Client,
    con: &mut redis::aio::MultiplexedConnection,
    queries: &Arc<Vec<Query>>,
    expected: &HashMap<u32, Vec<(u32, f64)>>,
    concurrency: usize,
    size: &str,
) -> anyhow::Result<f64> {
    // recall: distances from the expected file (the command asks for none)
    let mut answers = Vec::with_capacity(queries.len());
    for q in queries.iter() {
        let ids: Vec<u32> = geosearch(q).query_async(con).await?;
        let dist: HashMap<u32, f64> = expected
            .get(&q.id)
            .map(|e| e.iter().copied().collect())
            .unwrap_or_default();
        answers.push(
            ids.into_iter()
                .map(|id| (id, dist.get(&id).copied().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>(),
        );
    }
    let score = score_all(queries, &answers, expected);
    println!("RECALL Redis GEOSEARCH ({size}): {}", score.line());
    let n = queries.len() * 20;
    let mut at_c = 0.0;
    for c in [1, concurrency] {
        let mut cons = Vec::with_capacity(c);
        for _ in 0..c {
            cons.push(client.get_multiplexed_async_connection().await?);
        }
        redis_drive(&cons, queries, queries.len()).await?;
        let f = redis_drive(&cons, queries, n).await?;
        f.print(
            &format!("Redis GEOSEARCH … BYRADIUS 2000 m ASC COUNT 20 ({size})"),
            c,
        );
        at_c = f.requests() as f64 / f.wall().as_secs_f64();
    }
    Ok(at_c)
}

/// `n` GEOSEARCH commands cycling through the queries, one client task per connection, each
/// with one command in flight.
async fn redis_drive(
    cons: &[redis::aio::MultiplexedConnection],
    queries: &Arc<Vec<Query>>,
    n: usize,
) -> anyhow::Result<Figures<()>> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = cons
        .iter()
        .map(|con| {
            let (mut con, next, queries) = (con.clone(), Arc::clone(&next), Arc::clone(queries));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let cmd = geosearch(&queries[i % queries.len()]);
                    let t = Instant::now();
                    let _: Vec<u32> = cmd.query_async(&mut con).await?;
                    latencies.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(Figures::of_latencies(latencies, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_a_geosearch_by_radius_nearest_first() {
        let q = Query {
            id: 1,
            lat: 23.1125,
            lng: 113.3247,
            radius_m: 2000.0,
            k: 20,
        };
        let args: Vec<String> = geosearch(&q)
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<not simple>".to_owned(),
            })
            .collect();
        assert_eq!(
            args,
            [
                "GEOSEARCH",
                REDIS_KEY,
                "FROMLONLAT",
                "113.3247",
                "23.1125",
                "BYRADIUS",
                "2000.0",
                "m",
                "ASC",
                "COUNT",
                "20"
            ]
        );
    }
}
