//! Log lines on stderr: text for a person (coloured only when stderr is a terminal and
//! `NO_COLOR` is unset, so a file or a journal gets no escape codes), or one JSON object a line
//! for a log shipper (`--log-format json`). The level filter is `RUST_LOG`'s, by default
//! `info,sqlx=warn`.

use crate::config::LogFormat;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber; called once, before any command runs.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour()).init(),
        // a JSON line carries its fields at the top level, and the span it was logged in
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Whether text lines may carry colour codes.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
