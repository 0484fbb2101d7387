//! Peace Patrol's HTTP server: the JSON API under `/api/v1` (one router per resource, each
//! handler documented for OpenAPI), `/healthz`, `/metrics`, `/api/openapi.json`, `/api/docs`,
//! and the web app embedded from `web/`.
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn pp_store::Store>) -> anyhow::Result<()> {
//! use pp_server::{serve, AppState, ServerConfig};
//! let config = ServerConfig::new("http://127.0.0.1:8080", "./data");
//! let state = AppState::new(store, config, std::sync::Arc::new(pp_domain::time::SystemClock)).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```

pub mod assets;
pub mod dispatch;
pub mod docs;
pub mod error;
pub mod events;
pub mod extract;
pub mod heat;
pub mod incident;
pub mod ingest;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod onboarding;
pub mod open311;
pub mod patrol;
pub mod photo;
pub mod qr;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod team;
pub mod tls;

pub use error::{ApiError, ApiResult, ErrorBody};
pub use state::{AppState, ServerConfig};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Prefix of the JSON API.
pub const API_PREFIX: &str = "/api/v1";
/// Body limit of every route but the photo upload.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// How often the metrics registry drains its histogram buffers.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The generated OpenAPI document of every API route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::api_router().into_openapi()
}

/// The whole application: API, health, metrics, API docs and the embedded web app.
pub fn router(state: AppState) -> Router {
    let (api, doc) = routes::api_router().split_for_parts();
    // rendered once; the document does not change while the process runs
    let doc_json: Arc<str> = serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|_| "{}".to_owned())
        .into();
    let openapi_json = get(move || {
        let doc_json = Arc::clone(&doc_json);
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                doc_json.to_string(),
            )
                .into_response()
        }
    });

    Router::new()
        .merge(api)
        .route("/api/openapi.json", openapi_json)
        .route("/api/docs", get(docs::page))
        .nest(open311::PREFIX, open311::router())
        .merge(assets::router())
        .fallback(assets::fallback)
        // innermost first: the metrics see every answer with its route template, then bare
        // statuses get the error shape; the body limit, panic guard and trace wrap it all
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::map_response(error::normalize))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(CatchPanicLayer::custom(error::panic_response))
        // spans name the path, never the query: a GET may carry the session token as ?token=
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` is cancelled, then lets the requests
/// in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_on(listener, state, shutdown).await
}

/// [`serve`] over HTTPS: each connection's TLS handshake runs in a task of its own, with a
/// timeout, so a failed or stalled handshake holds up no other client.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: tls::TlsConfig,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_on(tls::TlsListener::new(listener, &tls)?, state, shutdown).await
}

async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let metrics = Arc::clone(&state.metrics);
    let upkeep_stop = shutdown.clone();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_UPKEEP);
        loop {
            tokio::select! {
                _ = tick.tick() => metrics.upkeep(),
                () = upkeep_stop.cancelled() => break,
            }
        }
    });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, public_url = %state.config.public_url, "serving");
    }
    let jobs_stop = shutdown.child_token();
    let jobs = tokio::spawn(jobs::run(state.clone(), jobs_stop.clone()));
    let dispatches = tokio::spawn(dispatch::run(state.clone(), jobs_stop.clone()));
    let streams = state.stopping.clone();
    let app = router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            // event streams never end by themselves
            streams.cancel();
        })
        .await;
    jobs_stop.cancel();
    upkeep.abort();
    let _ = jobs.await;
    let _ = dispatches.await;
    result.map_err(Into::into)
}
