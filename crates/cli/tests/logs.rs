//! Log lines of the built binary: plain text without colour codes when stderr is not a
//! terminal, and one JSON object a line with `--log-format json`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::{cmd, stop};

/// Starts `serve` with `args`, stderr piped, and returns it, listening, with the lines it
/// logged up to and including the one that says it is serving.
#[expect(
    clippy::zombie_processes,
    reason = "the caller stops the child; a failed start fails the test"
)]
fn serve_logging(dir: &std::path::Path, args: &[&str]) -> (Child, Vec<String>) {
    let db = format!("sqlite://{}", dir.join("logs.db").display());
    let mut child = cmd(dir, &db)
        .args(args)
        .arg("serve")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // listening (and stoppable by SIGTERM) once it prints its address
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    stdout
        .find(|l| l.as_ref().unwrap().starts_with("peacepatrol listening on "))
        .expect("the server prints its address")
        .unwrap();
    std::thread::spawn(move || for _ in stdout {});
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs that it is serving within 60 s");
        let serving = line.contains("serving");
        lines.push(line);
        if serving {
            return (child, lines);
        }
    }
}

#[test]
fn text_logs_carry_no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (child, lines) = serve_logging(dir.path(), &[]);
    stop(child);
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "an escape code in {line:?}");
    }
    assert!(lines.last().unwrap().contains("INFO"), "{lines:?}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (child, lines) = serve_logging(dir.path(), &["--log-format", "json"]);
    stop(child);
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"));
        for key in ["timestamp", "level", "target"] {
            assert!(v[key].is_string(), "{key} in {line}");
        }
    }
    let serving: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(serving["message"], "serving", "{serving}");
    assert_eq!(serving["level"], "INFO");
    assert!(
        serving["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "the event's fields at the top level: {serving}"
    );
}
