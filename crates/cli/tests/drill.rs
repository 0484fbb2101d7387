//! `peacepatrol drill national-day` at a reduced scale (3,000 envoys registered, a crowd of 60;
//! the 21 tasks, 86 teams, 380 reports and 10 dispatches of the holiday in full) against the
//! built binary's server, on both databases: the drill checks every figure of `GET /stats`
//! against what it did and exits non-zero on any difference or any failed request.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pp_store::testing::{backends, TestDb};

mod common;
use common::{cmd, start, stop, succeeded};

const ADMIN_PHONE: &str = "13800009999";
const ADMIN_PASSWORD: &str = "drill-admin-2026";

#[tokio::test(flavor = "multi_thread")]
async fn national_day_drill_at_reduced_scale_on_both_databases() {
    for b in backends() {
        let db = TestDb::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        succeeded(
            cmd(dir.path(), &db.url)
                .args(["user", "add", "--phone", ADMIN_PHONE, "--name", "Admin"])
                .args(["--role", "admin", "--password", ADMIN_PASSWORD])
                .output()
                .unwrap(),
        );
        let (server, base) = start({
            let mut c = cmd(dir.path(), &db.url);
            // a line per request would bury the drill's report in the test's output
            c.env("RUST_LOG", "warn").arg("serve");
            c
        });
        let started = std::time::Instant::now();
        // the drill at 3,000 envoys and a crowd of 60 against this server
        let drill = || {
            let mut c = cmd(dir.path(), &db.url);
            c.args(["drill", "national-day", "--url", &base])
                .args(["--admin-phone", ADMIN_PHONE])
                .args(["--admin-password", ADMIN_PASSWORD])
                .args(["--envoys", "3000", "--crowd", "60"]);
            c
        };
        let out = drill()
            .args(["--server-pid", &server.id().to_string()])
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        println!("{b:?}: {:.0} s\n{printed}", started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{b:?}: the drill failed\n{printed}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("every figure matches"), "{printed}");
        assert!(printed.contains("errors 0"), "{printed}");
        assert!(printed.contains("POST /positions"), "{printed}");
        assert!(printed.contains("peak"), "the server's memory: {printed}");

        // a second drill on the same server in the same hour is refused: it is not quiet
        let again = drill().output().unwrap();
        assert!(!again.status.success());
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(said.contains("not quiet"), "{said}");
        stop(server);
    }
}
