//! Helpers shared by the tests that start the built `peacepatrol` binary.
#![allow(dead_code, reason = "each test crate uses its own share of these")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_peacepatrol");

pub fn cmd(data_dir: &std::path::Path, db: &str) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("PEACEPATROL_CONFIG")
        .env("PEACEPATROL_DATA_DIR", data_dir)
        .env("PEACEPATROL_DATABASE_URL", db)
        .env("PEACEPATROL_LISTEN", "127.0.0.1:0")
        .current_dir(data_dir);
    c
}

/// The stdout of a command that must have succeeded (its stderr in the failure message).
pub fn succeeded(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts a server command and returns it with the base URL it printed.
pub fn start(c: Command) -> (Child, String) {
    let (child, base, _) = start_printed(c);
    (child, base)
}

/// [`start`], also returning the lines the server printed before it listened.
pub fn start_printed(mut c: Command) -> (Child, String, Vec<String>) {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let base = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("peacepatrol listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        printed.push(line);
    };
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    (child, base, printed)
}

pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

/// Opens `GET /api/v1/stream{query}` of the server at `base` with `client`, signed in as `token`.
pub async fn events(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
) -> pp_sim::api::events::EventStream {
    pp_sim::api::events::EventStream::open(
        client
            .get(format!("{base}/api/v1/stream{query}"))
            .bearer_auth(token),
    )
    .await
    .expect("the event stream opens")
}

/// Reads `stream` until `wanted(event, data)` says yes, and returns that event's data; fails
/// the test, saying `what`, when none came `within`.
pub async fn wait_for_event(
    stream: &mut pp_sim::api::events::EventStream,
    within: std::time::Duration,
    what: &str,
    mut wanted: impl FnMut(&str, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let read = async {
        loop {
            let (event, data) = stream
                .next()
                .await
                .expect("the server keeps the stream open")
                .expect("the stream reads");
            let data: serde_json::Value =
                serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
            if wanted(&event, &data) {
                return data;
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("waited {within:?} for {what}"))
}
