//! The drill's HTTP client: every request goes through [`Api`], which times it under its route
//! template (`POST /positions`), counts every answer that is not 2xx as an error (apart from
//! the few refusals a phone meets in real life, named where they are allowed), and prints the
//! throughput report at the end.

use crate::measure::{percentile_ms, vm_status_kib};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Errors kept word for word for the report.
const KEEP_ERRORS: usize = 10;

/// The drill's client of one server.
pub struct Api {
    client: reqwest::Client,
    base: String,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    /// latencies by route template, µs
    routes: BTreeMap<&'static str, Vec<u64>>,
    errors: u64,
    first_errors: Vec<String>,
    /// refusals the drill allows (`route code` → count)
    refused: BTreeMap<String, u64>,
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str, connections: usize) -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(connections)
            .build()?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_owned(),
            log: Mutex::new(Log::default()),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1{path}`.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}/api/v1{path}", self.base))
    }

    /// `POST /api/v1{path}`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}/api/v1{path}", self.base))
    }

    /// `PATCH /api/v1{path}`.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client.patch(format!("{}/api/v1{path}", self.base))
    }

    fn with_log<R>(&self, f: impl FnOnce(&mut Log) -> R) -> R {
        match self.log.lock() {
            Ok(mut log) => f(&mut log),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn error(&self, what: String) {
        self.with_log(|log| {
            log.errors += 1;
            if log.first_errors.len() < KEEP_ERRORS {
                log.first_errors.push(what);
            }
        });
    }

    /// Sends a request, timing it under `route`: the status and the body (JSON, or the text
    /// as a JSON string, or null). A request that gets no answer is an error.
    async fn send(
        &self,
        route: &'static str,
        req: RequestBuilder,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let t = Instant::now();
        let answer = async {
            let resp = req.send().await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        }
        .await;
        let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.with_log(|log| log.routes.entry(route).or_default().push(us));
        match answer {
            Ok((status, bytes)) => {
                let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    if bytes.is_empty() {
                        Value::Null
                    } else {
                        Value::String(String::from_utf8_lossy(&bytes).into_owned())
                    }
                });
                Ok((status, body))
            }
            Err(e) => {
                self.error(format!("{route}: no answer: {e}"));
                anyhow::bail!("{route}: no answer: {e}")
            }
        }
    }

    /// The 2xx answer of a request, decoded; anything else is an error (counted).
    pub async fn json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        req: RequestBuilder,
    ) -> anyhow::Result<T> {
        match self.json_or_refused(route, req, &[]).await? {
            Some(v) => Ok(v),
            None => anyhow::bail!("{route}: refused"),
        }
    }

    /// Like [`Api::json`], but a 4xx answer whose error code is one of `allowed` (what a phone
    /// meets when a dispatch closes under it) is counted as a refusal and gives `None`.
    pub async fn json_or_refused<T: DeserializeOwned>(
        &self,
        route: &'static str,
        req: RequestBuilder,
        allowed: &[&str],
    ) -> anyhow::Result<Option<T>> {
        let (status, body) = self.send(route, req).await?;
        if status.is_success() {
            return serde_json::from_value(body).map(Some).map_err(|e| {
                self.error(format!("{route}: unexpected answer: {e}"));
                anyhow::anyhow!("{route}: unexpected answer: {e}")
            });
        }
        if status.is_client_error() && allowed.contains(&code(&body)) {
            let key = format!("{route} {}", code(&body));
            self.with_log(|log| *log.refused.entry(key).or_default() += 1);
            return Ok(None);
        }
        let shown: String = body.to_string().chars().take(300).collect();
        self.error(format!("{route}: HTTP {status}: {shown}"));
        anyhow::bail!("{route}: HTTP {status}: {shown}")
    }

    /// The status and body of a request whose refusal the caller handles itself (not counted
    /// as an error): the quiet-server check reads a 404 as "no /stats".
    pub async fn probe(
        &self,
        route: &'static str,
        req: RequestBuilder,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.send(route, req).await
    }

    /// Errors so far.
    pub fn errors(&self) -> u64 {
        self.with_log(|log| log.errors)
    }

    /// Requests so far.
    pub fn requests(&self) -> usize {
        self.with_log(|log| log.routes.values().map(Vec::len).sum())
    }

    /// Prints the throughput report: requests, rate, errors, latency per route, and the
    /// server's memory when its pid is known.
    pub fn report(&self, wall: Duration, server_pid: Option<u32>) {
        self.with_log(|log| {
            let total: usize = log.routes.values().map(Vec::len).sum();
            println!();
            println!(
                "throughput: {total} requests in {:.1} s: {:.0} req/s sustained, errors {}",
                wall.as_secs_f64(),
                total as f64 / wall.as_secs_f64().max(1e-9),
                log.errors
            );
            println!(
                "  {:<34} {:>8} {:>9} {:>9} {:>9}",
                "endpoint", "requests", "p50 ms", "p99 ms", "max ms"
            );
            for (route, lat) in &mut log.routes {
                lat.sort_unstable();
                println!(
                    "  {route:<34} {:>8} {:>9.2} {:>9.2} {:>9.2}",
                    lat.len(),
                    percentile_ms(lat, 0.50),
                    percentile_ms(lat, 0.99),
                    lat.last().copied().unwrap_or(0) as f64 / 1000.0
                );
            }
            for (what, n) in &log.refused {
                println!("  refused as a phone may be (not an error): {what}: {n}");
            }
            for e in &log.first_errors {
                println!("  ERROR {e}");
            }
        });
        if let Some(pid) = server_pid {
            match (vm_status_kib(pid, "VmHWM:"), vm_status_kib(pid, "VmRSS:")) {
                (Ok(peak), Ok(now)) => println!(
                    "server memory (pid {pid}): peak {:.1} MiB (VmHWM), now {:.1} MiB",
                    peak as f64 / 1024.0,
                    now as f64 / 1024.0
                ),
                (Err(e), _) | (_, Err(e)) => println!("server memory (pid {pid}): {e:#}"),
            }
        }
    }
}
