//! HTTPS of the built `peacepatrol` binary: `--tls-self-signed` makes a certificate once and
//! keeps it, `--tls-cert/--tls-key` serve a given chain, and bad TLS input stops the start
//! with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{events, start_printed, stop, wait_for_event};

/// `peacepatrol` on a SQLite file of `dir`, listening on a free loopback port, with no config
/// file and no TLS setting from the environment.
fn cmd(dir: &Path) -> Command {
    let mut c = common::cmd(dir, &format!("sqlite://{}", dir.join("pp.db").display()));
    for var in [
        "PEACEPATROL_TLS_CERT",
        "PEACEPATROL_TLS_KEY",
        "PEACEPATROL_TLS_SELF_SIGNED",
        "PEACEPATROL_PUBLIC_URL",
    ] {
        c.env_remove(var);
    }
    c
}

/// A started server: its process, base URL and what it printed before listening.
struct Started {
    child: Child,
    base: String,
    printed: Vec<String>,
}

impl Started {
    /// The fingerprint the server printed.
    fn fingerprint(&self) -> &str {
        self.printed
            .iter()
            .find_map(|l| l.strip_prefix("TLS: SHA-256 fingerprint "))
            .expect("the fingerprint is printed")
    }
}

fn start(c: Command) -> Started {
    let (child, base, printed) = start_printed(c);
    Started {
        child,
        base,
        printed,
    }
}

/// Runs a command that must end by itself (within a minute), and returns its output.
fn run_to_exit(mut c: Command) -> Output {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match exited.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{c:?} still runs after a minute (it should have refused to start)");
        }
    }
}

/// An HTTPS client that trusts only `cert_pem` (no built-in roots).
fn trusting(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

fn leaf_fingerprint(pem: &[u8]) -> String {
    let chain = pp_server::tls::certificates_from_pem(pem).unwrap();
    pp_server::tls::fingerprint(&chain[0])
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_https_serves_and_keeps_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server = start({
        let mut c = cmd(dir.path());
        c.args(["serve", "--tls-self-signed"]);
        c
    });
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let cert_path = dir.path().join("tls").join("cert.pem");
    let key_path = dir.path().join("tls").join("key.pem");
    let pem = std::fs::read(&cert_path).expect("the certificate is kept in <data_dir>/tls/");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
    }
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains("made a self-signed certificate")
                && l.contains(&cert_path.display().to_string())
                && l.contains("localhost")
                && l.contains("127.0.0.1")),
        "{:?}",
        server.printed
    );
    assert_eq!(server.fingerprint(), leaf_fingerprint(&pem));

    let port = port_of(&server.base);
    let client = trusting(&pem);
    for base in [server.base.clone(), format!("https://localhost:{port}")] {
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "{base}");
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
    // the default public URL (of join links) is https too
    let discovery: serde_json::Value = client
        .get(format!("{}/open311/v2/discovery.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery.to_string().contains(&format!("{}/", server.base)),
        "{discovery}"
    );
    // a client that does not trust the certificate is refused; plain HTTP gets no answer
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .is_err());
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP to the HTTPS port: {plain:?}");
    // a client that never starts its handshake, and one that sends garbage, hold up nobody
    let silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"\x16\x03\x01\x00\x05hello")
        .await
        .unwrap();
    let t = Instant::now();
    let fresh = trusting(&pem);
    let health = fresh
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // nor do they hold up the shutdown
    let t = Instant::now();
    stop(server.child);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop((silent, garbage));

    // the next run serves the same certificate
    let again = start({
        let mut c = cmd(dir.path());
        c.args(["serve", "--tls-self-signed"]);
        c
    });
    assert_eq!(std::fs::read(&cert_path).unwrap(), pem, "same certificate");
    assert_eq!(again.fingerprint(), leaf_fingerprint(&pem));
    assert!(
        again
            .printed
            .iter()
            .any(|l| l.contains("kept from an earlier run")),
        "{:?}",
        again.printed
    );
    let health = trusting(&pem)
        .get(format!("{}/healthz", again.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "phones that trusted it still do");
    stop(again.child);
}

/// A root CA, an intermediate it signs, and a leaf for localhost/127.0.0.1 the intermediate
/// signs: (root PEM, leaf + intermediate PEM, leaf key PEM).
fn make_chain() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_owned());
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca("test root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let mid_key = KeyPair::generate().unwrap();
    let mid_params = ca("test intermediate");
    let mid = mid_params.signed_by(&mid_key, &root_issuer).unwrap();
    let mid_issuer = Issuer::from_params(&mid_params, &mid_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &mid_issuer)
        .unwrap();
    (
        root.pem(),
        format!("{}{}", leaf.pem(), mid.pem()),
        leaf_key.serialize_pem(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_given_certificate_chain_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let (root, chain, key) = make_chain();
    std::fs::write(dir.path().join("fullchain.pem"), &chain).unwrap();
    std::fs::write(dir.path().join("privkey.pem"), &key).unwrap();
    let server = start({
        let mut c = cmd(dir.path());
        c.args([
            "serve",
            "--tls-cert",
            "fullchain.pem",
            "--tls-key",
            "privkey.pem",
        ]);
        c
    });
    assert!(server.base.starts_with("https://"), "{}", server.base);
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains("fullchain.pem (2 in the chain)")),
        "{:?}",
        server.printed
    );
    assert_eq!(server.fingerprint(), leaf_fingerprint(chain.as_bytes()));
    // the client knows only the root: the intermediate must come from the server
    let health = trusting(root.as_bytes())
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        !dir.path().join("tls").exists(),
        "no self-signed certificate is made"
    );
    stop(server.child);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_serves_https_and_its_crowd_walks_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start({
        let mut c = cmd(dir.path());
        c.args(["demo", "--tls-self-signed"]);
        c
    });
    let pem = std::fs::read(dir.path().join("tls").join("cert.pem")).unwrap();
    let client = trusting(&pem);
    let base = &server.base;
    assert!(base.starts_with("https://"), "{base}");
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"phone": "13800000001", "password": "peace-demo-2026"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("the demo commander logs in");
    // the simulated crowd posts its positions to the server over HTTPS, as the command
    // centre's event stream (over HTTPS too) tells
    let mut positions = events(&client, base, token, "?positions=1").await;
    wait_for_event(
        &mut positions,
        Duration::from_secs(30),
        "the crowd's positions over HTTPS",
        |event, _| event == "positions",
    )
    .await;
    let live: serde_json::Value = client
        .get(format!("{base}/api/v1/live"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        live["envoys"].as_array().is_some_and(|e| !e.is_empty()),
        "{live}"
    );
    stop(server.child);
}

#[test]
fn bad_tls_input_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, chain, key) = make_chain();
    let (_, _, other_key) = make_chain();
    std::fs::write(d.join("cert.pem"), &chain).unwrap();
    std::fs::write(d.join("key.pem"), &key).unwrap();
    std::fs::write(d.join("other.pem"), &other_key).unwrap();
    std::fs::write(d.join("text.pem"), "hello, not a certificate\n").unwrap();
    std::fs::write(d.join("cut.pem"), &chain[..chain.find("-----END").unwrap()]).unwrap();
    std::fs::write(d.join("only-cert.toml"), "tls_cert = \"cert.pem\"\n").unwrap();

    // (flags, environment, what stderr says)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &["--tls-cert", "cert.pem"],
            &[],
            "--tls-cert (tls_cert) needs --tls-key",
        ),
        (
            &["--tls-key", "key.pem"],
            &[],
            "--tls-key (tls_key) needs --tls-cert",
        ),
        (
            &[
                "--tls-self-signed",
                "--tls-cert",
                "cert.pem",
                "--tls-key",
                "key.pem",
            ],
            &[],
            "not both",
        ),
        (
            &["--tls-cert", "cert.pem", "--tls-key", "key.pem"],
            &[("PEACEPATROL_TLS_SELF_SIGNED", "1")],
            "not both",
        ),
        (
            &[],
            &[("PEACEPATROL_CONFIG", "only-cert.toml")],
            "needs --tls-key",
        ),
        (
            &["--tls-cert", "missing.pem", "--tls-key", "key.pem"],
            &[],
            "--tls-cert missing.pem: cannot read it",
        ),
        (
            &["--tls-cert", "cert.pem", "--tls-key", "missing.pem"],
            &[],
            "--tls-key missing.pem: cannot read it",
        ),
        (
            &["--tls-cert", "text.pem", "--tls-key", "key.pem"],
            &[],
            "--tls-cert text.pem: no certificate in it",
        ),
        (
            &["--tls-cert", "cut.pem", "--tls-key", "key.pem"],
            &[],
            "--tls-cert cut.pem: not a readable PEM file",
        ),
        (
            &["--tls-cert", "cert.pem", "--tls-key", "cert.pem"],
            &[],
            "--tls-key cert.pem: no private key in it",
        ),
        (
            &["--tls-cert", "cert.pem", "--tls-key", "other.pem"],
            &[],
            "--tls-key other.pem is not the key of --tls-cert cert.pem",
        ),
    ];
    for (command, (flags, env, message)) in ["serve", "demo"]
        .iter()
        .flat_map(|c| cases.iter().map(move |case| (c, case)))
    {
        let mut c = cmd(d);
        c.arg(command).args(*flags);
        for (k, v) in *env {
            c.env(k, v);
        }
        let out = run_to_exit(c);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{command} {flags:?} {env:?} must not start"
        );
        assert!(
            stderr.contains(message) && !stderr.contains("panicked"),
            "{command} {flags:?} {env:?}: expected {message:?} in {stderr}"
        );
    }
}
