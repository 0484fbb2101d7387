//! What an [`Api`](super::Api) sent: requests, the latency of each under its route template
//! (when the client is timed), every answer that is not 2xx counted as an error (the first few
//! kept word for word), and the refusals a phone meets in real life counted apart; and the
//! throughput report the drill prints from it.

use crate::measure::{percentile_ms, vm_status_kib};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Errors kept word for word for the report.
const KEEP_ERRORS: usize = 10;

/// The log of one client.
pub struct Log {
    timed: bool,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    requests: usize,
    /// latencies by route template, µs (timed clients only)
    routes: BTreeMap<&'static str, Vec<u64>>,
    errors: u64,
    first_errors: Vec<String>,
    /// refusals allowed (`route code` → count)
    refused: BTreeMap<String, u64>,
}

impl Log {
    pub(super) fn new(timed: bool) -> Log {
        Log {
            timed,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Entries) -> R) -> R {
        match self.entries.lock() {
            Ok(mut entries) => f(&mut entries),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// A request to `route` that took `took` (answered or not).
    pub(super) fn sent(&self, route: &'static str, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let timed = self.timed;
        self.with(|e| {
            e.requests += 1;
            if timed {
                e.routes.entry(route).or_default().push(us);
            }
        });
    }

    /// A failed request.
    pub(super) fn error(&self, what: String) {
        self.with(|e| {
            e.errors += 1;
            if e.first_errors.len() < KEEP_ERRORS {
                e.first_errors.push(what);
            }
        });
    }

    /// A refusal the caller allowed.
    pub(super) fn refused(&self, route: &str, code: &str) {
        self.with(|e| *e.refused.entry(format!("{route} {code}")).or_default() += 1);
    }

    /// Errors so far.
    pub fn errors(&self) -> u64 {
        self.with(|e| e.errors)
    }

    /// Requests so far.
    pub fn requests(&self) -> usize {
        self.with(|e| e.requests)
    }

    /// Prints the throughput report: requests, rate, errors, latency per route, and the
    /// server's memory when its pid is known.
    pub fn print(&self, wall: Duration, server_pid: Option<u32>) {
        self.with(|log| {
            println!();
            println!(
                "throughput: {} requests in {:.1} s: {:.0} req/s sustained, errors {}",
                log.requests,
                wall.as_secs_f64(),
                log.requests as f64 / wall.as_secs_f64().max(1e-9),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_timed_log_keeps_latencies_and_only_the_first_errors_are_kept() {
        let untimed = Log::new(false);
        untimed.sent("GET /me", Duration::from_millis(2));
        assert_eq!(untimed.requests(), 1);
        assert!(untimed.with(|e| e.routes.is_empty()));
        let timed = Log::new(true);
        timed.sent("GET /me", Duration::from_millis(2));
        timed.sent("GET /me", Duration::from_millis(4));
        assert_eq!(timed.with(|e| e.routes["GET /me"].clone()), [2000, 4000]);
        for i in 0..12 {
            timed.error(format!("e{i}"));
        }
        timed.refused("POST /dispatches/{id}/arrived", "dispatch_closed");
        assert_eq!(timed.errors(), 12);
        assert_eq!(timed.with(|e| e.first_errors.len()), KEEP_ERRORS);
        assert_eq!(
            timed.with(|e| e.refused["POST /dispatches/{id}/arrived dispatch_closed"]),
            1
        );
    }
}
