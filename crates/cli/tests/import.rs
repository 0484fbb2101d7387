//! `peacepatrol user import`: the built binary imports a CSV file with good and bad rows,
//! writes the codes file and prints a summary, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pp_domain::account::Phone;
use pp_store::testing::{backends, TestDb};

mod common;
use common::{cmd, succeeded};

#[tokio::test(flavor = "multi_thread")]
async fn user_import_writes_codes_and_reports_refusals() {
    for b in backends() {
        let db = TestDb::new(b).await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("district.csv");
        std::fs::write(
            &csv,
            "phone,name\n13500000001,张三\n13500000002,\"Li, Si\"\nnot a phone,x\n13500000001,again\n",
        )
        .unwrap();
        let run = |extra: &[&str]| {
            succeeded(
                cmd(dir.path(), &db.url)
                    .args(["user", "import", "--csv"])
                    .arg(&csv)
                    .args(extra)
                    .output()
                    .unwrap(),
            )
        };
        let printed = run(&[]);
        assert!(
            printed.contains("read 4 rows") && printed.contains("imported 2"),
            "{printed}"
        );
        assert!(printed.contains("refused invalid_phone: 1"), "{printed}");
        assert!(
            printed.contains("refused duplicate_in_file: 1"),
            "{printed}"
        );
        assert!(printed.contains("line 4: \"not a phone\""), "{printed}");
        assert!(printed.contains("elapsed"), "{printed}");
        let codes = std::fs::read_to_string(dir.path().join("district.codes.csv")).unwrap();
        let lines: Vec<&str> = codes.lines().collect();
        assert_eq!(lines[0], "phone,code");
        assert_eq!(lines.len(), 3, "{codes}");
        assert!(lines[1].starts_with("+8613500000001,"), "{codes}");
        assert_eq!(lines[1].len(), "+8613500000001,".len() + 8);

        // the envoys are pending in the database
        let store = pp_store::connect(&db.url, false).await.unwrap();
        let (_, hash) = store
            .user_credentials(&Phone::parse("13500000002").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(hash.is_empty());

        // again, to a chosen file: pending phones get new codes
        let out = dir.path().join("again.csv");
        let printed = run(&["--codes-out", out.to_str().unwrap()]);
        assert!(printed.contains("re-issued 2"), "{printed}");
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    }
}
