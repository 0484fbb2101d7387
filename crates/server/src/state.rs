//! What every handler can reach: the store, the settings, the clock, the services' state (the
//! ingest pipeline, the live and heat indexes, the event bus), the join-token secret and the
//! metrics registry. No statics: a process may hold many states (the tests do).

use crate::events::{EventBus, LocalBus};
use crate::heat::HeatIndex;
use crate::ingest::Ingest;
use crate::live::LiveIndex;
use crate::metrics::Metrics;
use crate::sessions::SessionCache;
use pp_domain::time::Clock;
use pp_store::{DbKind, Store};
use rand::RngCore as _;
use std::path::PathBuf;
use std::sync::Arc;

/// Writer tasks of the ingest pipeline on PostgreSQL (each commits its own groups).
const POSTGRES_WRITERS: usize = 2;

/// Default retention of raw positions, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The name under which the store keeps the join-token HMAC key.
pub const JOIN_SECRET_KEY: &str = "join_token_hmac";

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The URL clients reach this server at, without a trailing slash
    /// (`http://127.0.0.1:8080`); the QR code's join URL starts with it.
    pub public_url: String,
    /// Where uploaded files live (`photos/<sha256[0..2]>/<sha256>.<ext>`).
    pub data_dir: PathBuf,
    /// How long a login lasts.
    pub session_ttl: chrono::Duration,
    /// How long a join token (a QR code) stays valid.
    pub join_token_ttl: chrono::Duration,
    /// Raw positions older than this many days are purged (ledger and outcomes stay).
    pub retention_days: u32,
    /// How often the background jobs run (finishing overdue patrols, retention).
    pub job_interval: std::time::Duration,
    /// Heat map cells with fewer distinct envoys are hidden from all but the command centre.
    pub heat_min_envoys: u32,
    /// How dispatches alert, time out and widen.
    pub dispatch: pp_domain::dispatch::DispatchPolicy,
    /// How often open dispatches are looked after (alerts expired and passed on, escalations).
    pub dispatch_interval: std::time::Duration,
    /// Whether Open311 clients read service requests without a key, as the specification
    /// has it; when not, reads need an `api_key` and show what its user may see.
    pub open311_public_reads: bool,
    /// The web apps' base map.
    pub map: MapConfig,
}

/// The web apps' base map: tiles and their attribution.
#[derive(Debug, Clone, Default)]
pub struct MapConfig {
    /// XYZ tile URL template; `None`: no base tiles (the maps show their layers only).
    pub tiles: Option<String>,
    /// Attribution shown with the tiles.
    pub attribution: String,
}

impl ServerConfig {
    /// Settings with the default lifetimes: sessions 30 days, join tokens 15 minutes, raw
    /// positions 30 days; background jobs every 30 s; heat map cells of fewer than 3 envoys
    /// hidden from all but the command centre; dispatches as [`DispatchPolicy::default`]
    /// says, looked after every second; Open311 reads public; no base map tiles.
    ///
    /// [`DispatchPolicy::default`]: pp_domain::dispatch::DispatchPolicy::default
    pub fn new(public_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let public_url: String = public_url.into();
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            data_dir: data_dir.into(),
            session_ttl: chrono::Duration::days(30),
            join_token_ttl: chrono::Duration::seconds(pp_domain::join_token::DEFAULT_TTL_SECS),
            retention_days: DEFAULT_RETENTION_DAYS,
            job_interval: std::time::Duration::from_secs(30),
            heat_min_envoys: pp_domain::heat::DEFAULT_MIN_ENVOYS,
            dispatch: pp_domain::dispatch::DispatchPolicy::default(),
            dispatch_interval: std::time::Duration::from_secs(1),
            open311_public_reads: true,
            map: MapConfig::default(),
        }
    }

    /// The retention period of raw positions.
    pub fn retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.retention_days))
    }

    /// Where photos are stored.
    pub fn photo_dir(&self) -> PathBuf {
        self.data_dir.join("photos")
    }
}

/// Shared state of the router: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Where "now" comes from (tests set it).
    pub clock: Arc<dyn Clock>,
    /// HTTP metrics of this state's router (its own registry, not a global one).
    pub metrics: Arc<Metrics>,
    /// The position ingest pipeline: the one way positions come in.
    pub ingest: Arc<Ingest>,
    /// Each envoy's latest position and who is available for dispatch (moved forward by the
    /// ingest pipeline).
    pub live: Arc<LiveIndex>,
    /// The heat map's aggregates in memory (moved forward by the ingest pipeline).
    pub heat: Arc<HeatIndex>,
    /// Recently looked-up sessions.
    pub sessions: Arc<SessionCache>,
    /// Live events for the users' streams (in-process; see [`crate::events`]).
    pub events: Arc<dyn EventBus>,
    /// Cancelled when the server shuts down: open event streams end then, so that the
    /// graceful shutdown does not wait for clients that never hang up.
    pub stopping: tokio_util::sync::CancellationToken,
    join_secret: Arc<[u8]>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// The metrics middleware and `GET /metrics` take only the registry.
impl axum::extract::FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Arc<Metrics> {
        Arc::clone(&state.metrics)
    }
}

impl AppState {
    /// Builds the state, loading the join-token secret from the store (every node of a
    /// cluster shares it; the first node to start stores a fresh random one).
    pub async fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<AppState> {
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let secret = store.secret(JOIN_SECRET_KEY, &fresh).await?;
        anyhow::ensure!(
            secret.len() >= 16,
            "the stored join-token secret is too short ({} bytes)",
            secret.len()
        );
        let writers = match store.kind() {
            // one write transaction at a time: more writers would only queue behind it
            DbKind::Sqlite => 1,
            DbKind::Postgres => POSTGRES_WRITERS,
        };
        let events: Arc<dyn EventBus> = Arc::new(LocalBus::default());
        let ingest = Ingest::start(
            Arc::clone(&store),
            clock.now() - config.retention(),
            writers,
            Arc::clone(&clock),
            Some(Arc::clone(&events)),
        )
        .await?;
        Ok(AppState {
            store,
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::new()?),
            live: Arc::clone(ingest.live()),
            heat: Arc::clone(ingest.heat()),
            ingest: Arc::new(ingest),
            sessions: Arc::new(SessionCache::default()),
            events,
            stopping: tokio_util::sync::CancellationToken::new(),
            join_secret: secret.into(),
        })
    }

    /// The HMAC key of join tokens (tests sign their own tokens with it).
    pub fn join_secret(&self) -> &[u8] {
        &self.join_secret
    }
}
