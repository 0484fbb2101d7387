//! [`TestApp`]: the real server on `127.0.0.1:0`, a fresh database, a temporary data directory
//! and a clock the test sets, plus typed helpers for the requests the tests make.
//!
//! Request helpers take a path under `/api/v1` and a bearer token (`""` sends none), and
//! return `(status, body)`: the body parsed as JSON, `Null` when empty, or the text as a JSON
//! string when it is not JSON (so a failed assertion shows what came back).
//!
//! The server's background loops (finishing patrols whose window has ended, the retention purge,
//! expiring and passing on dispatch alerts, widening dispatches) stay idle after their first
//! round: a test that moves the clock past a limit runs them once with [`TestApp::run_jobs`]
//! and then checks their effect, so no test polls or sleeps. Positions are built relative to a time of
//! the test clock ([`point`], [`track`], or a [`Route`] of offsets from a patrol's start).

mod data;
mod flows;

pub use data::*;

use pp_domain::time::{from_millis, to_millis, Clock, SystemClock, Timestamp};
use pp_server::{AppState, ServerConfig};
use pp_store::testing::{Backend, TestDb};
use pp_store::Store;
use reqwest::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the server's background loops run in tests: after the round each runs at start,
/// never during a test; tests run them with [`TestApp::run_jobs`].
const IDLE_LOOPS: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Status code and body of a response.
pub type Resp = (u16, Value);
/// The real server, running on its own task until this is dropped.
#[derive(Debug)]
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// A client without proxies and with a 60 s timeout.
    pub client: reqwest::Client,
    /// The server's clock.
    pub clock: Arc<TestClock>,
    /// The server's store (for set-up and for checking what was written).
    pub store: Arc<dyn Store>,
    /// The server's state (its join secret signs tokens in tests).
    pub state: AppState,
    /// Which backend this run uses.
    pub backend: Backend,
    /// The server's data directory.
    pub data_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    next_account: AtomicU32,
    // dropped last: the database outlives the server task that uses it
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// Starts the server on a fresh, migrated database of `backend`.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with settings changed by `configure` (after the test defaults).
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestApp {
        let (db, store) = TestDb::store(backend).await;
        let data_dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock::new(from_millis(to_millis(SystemClock.now()))));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServerConfig::new(format!("http://{addr}"), data_dir.path());
        // the test runs the background jobs itself: see [`TestApp::run_jobs`]
        config.job_interval = IDLE_LOOPS;
        config.dispatch_interval = IDLE_LOOPS;
        configure(&mut config);
        let state = AppState::new(store.clone(), config, clock.clone())
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(pp_server::serve(listener, state.clone(), shutdown.clone()));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        TestApp {
            addr,
            client,
            clock,
            store,
            state,
            backend,
            data_dir,
            shutdown,
            server: Some(server),
            next_account: AtomicU32::new(0),
            _db: db,
        }
    }

    /// Stops the server and waits for `serve` to return; panics if it returned an error.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(std::time::Duration::from_secs(10), server)
                .await
                .expect("serve returns within 10 s of shutdown")
                .expect("the server task does not panic")
                .expect("serve returns Ok");
        }
    }

    /// A second server state on this app's database, data dir and clock: what a restart builds
    /// from the store (its live, heat and availability indexes), to compare with this one.
    pub async fn restarted_state(&self) -> AppState {
        AppState::new(
            self.store.clone(),
            ServerConfig::new(self.public_url(), self.data_dir.path()),
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    /// The server's public URL (`http://127.0.0.1:PORT`).
    pub fn public_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of a path from the root (`/healthz`, `/api/openapi.json`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL of a path under `/api/v1`.
    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    /// The server's clock, now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A request to a path under `/api/v1`, with the bearer token unless it is empty.
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.api(path));
        if token.is_empty() {
            req
        } else {
            req.bearer_auth(token)
        }
    }

    /// Sends a request and reads the response.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        read(req.send().await.unwrap()).await
    }

    /// GET a path under `/api/v1`.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path, token)).await
    }

    /// POST JSON to a path under `/api/v1`.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path, token).json(body))
            .await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::POST, path, token)).await
    }

    /// DELETE a path under `/api/v1`.
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    /// Runs the server's background jobs once, as their loops would at this moment of the test
    /// clock: finishing patrols whose window has ended, the retention purge (a whole sweep: a
    /// test has few envoys), purging expired sessions, then one round of dispatches (alerts
    /// expired and passed on, escalations, free places filled). Their events go out as usual.
    pub async fn run_jobs(&self) {
        pp_server::jobs::run_once(&self.state, &mut pp_server::jobs::Sweep::default())
            .await
            .unwrap();
        pp_server::dispatch::run_once(&self.state).await.unwrap();
    }
}

/// Reads a response as `(status, body)`.
pub async fn read(res: reqwest::Response) -> Resp {
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

/// Runs `test` once on every backend (`pp_store::testing::backends()`), each time against a
/// fresh server and database, then stops the server and checks that `serve` returned cleanly.
pub async fn on_each_backend(test: impl AsyncFn(&TestApp)) {
    for backend in pp_store::testing::backends() {
        eprintln!("--- on {backend:?}");
        let app = TestApp::spawn(backend).await;
        test(&app).await;
        app.stop().await;
    }
}
