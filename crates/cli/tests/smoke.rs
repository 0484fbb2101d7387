//! Smoke tests of the built `peacepatrol` binary: `user add`, `migrate`, `serve` and `demo`
//! start, answer over HTTP with the embedded assets, and stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pp_store::testing::{backends, TestDb};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_peacepatrol");

fn cmd(data_dir: &std::path::Path, db: &str) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("PEACEPATROL_CONFIG")
        .env("PEACEPATROL_DATA_DIR", data_dir)
        .env("PEACEPATROL_DATABASE_URL", db)
        .env("PEACEPATROL_LISTEN", "127.0.0.1:0")
        .current_dir(data_dir);
    c
}

/// Starts a server command and returns it with the base URL it printed.
fn start(mut c: Command) -> (Child, String) {
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
    (child, base)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_with_embedded_assets_on_both_databases() {
    for b in backends() {
        let db = TestDb::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        let user_add = |phone: &str, role: &str, password: Option<&str>| {
            let mut c = cmd(dir.path(), &db.url);
            c.args([
                "user",
                "add",
                "--phone",
                phone,
                "--name",
                "指挥员",
                "--role",
                role,
            ]);
            if let Some(p) = password {
                c.args(["--password", p]);
            }
            c.output().unwrap()
        };
        let out = user_add("13800138000", "commander", None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let password = stdout
            .lines()
            .find_map(|l| l.strip_prefix("password: "))
            .expect("generated password printed");
        let again = user_add("13800138000", "admin", Some("password1"));
        assert!(!again.status.success(), "a taken phone is refused");
        let bad = user_add("123", "envoy", Some("password1"));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("not a phone number"));
        assert!(cmd(dir.path(), &db.url)
            .arg("migrate")
            .status()
            .unwrap()
            .success());

        let (child, base) = start({
            let mut c = cmd(dir.path(), &db.url);
            c.arg("serve");
            c
        });
        let client = reqwest::Client::new();
        let health: serde_json::Value = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let index = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(index.status(), 200);
        assert!(index.text().await.unwrap().contains("<html"));
        let docs = client
            .get(format!("{base}/api/docs"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(docs.contains("openapi.json"));
        let login = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"phone": "13800138000", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let body: serde_json::Value = login.json().await.unwrap();
        assert_eq!(body["user"]["role"], "commander");
        stop(child);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_seeds_a_district_and_can_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    for _ in 0..2 {
        let (child, base) = start({
            let mut c = cmd(dir.path(), &db);
            c.arg("demo");
            c
        });
        let client = reqwest::Client::new();
        let login: serde_json::Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"phone": "13800000001", "password": "peace-demo-2026"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().expect("demo commander logs in");
        let tasks: serde_json::Value = client
            .get(format!(
                "{base}/api/v1/tasks?near=23.1066,113.3245&radius_m=10000"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tasks = tasks["tasks"].as_array().unwrap();
        assert_eq!(
            tasks.len(),
            3,
            "three landmark tasks, not duplicated on restart: {tasks:?}"
        );
        assert_eq!(tasks[0]["distance_m"], 0.0, "Canton Tower's own task first");
        stop(child);
    }
}
