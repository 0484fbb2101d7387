//! Readings both the drill and the benchmarks print: latency percentiles, and a server
//! process's memory from `/proc/PID/status`.

use anyhow::Context as _;

/// The value below which a share `p` (0..=1) of `sorted_us` (latencies in µs, sorted) lie,
/// in ms (nearest rank).
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    let n = sorted_us.len();
    let i = ((n as f64 * p).ceil() as usize).clamp(1, n.max(1)) - 1;
    sorted_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

/// The resident memory of a process, KiB (`VmRSS` of `/proc/PID/status`).
pub fn vm_rss_kib(pid: u32) -> anyhow::Result<u64> {
    vm_status_kib(pid, "VmRSS:")
}

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:` for the peak).
pub fn vm_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let us = [1000, 2000, 3000, 4000];
        assert_eq!(percentile_ms(&us, 0.5), 2.0);
        assert_eq!(percentile_ms(&us, 0.99), 4.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_size_and_a_peak() {
        let pid = std::process::id();
        assert!(vm_rss_kib(pid).unwrap() > 0);
        assert!(vm_status_kib(pid, "VmHWM:").unwrap() >= vm_rss_kib(pid).unwrap() / 2);
        assert!(vm_status_kib(pid, "NoSuchField:").is_err());
    }
}
