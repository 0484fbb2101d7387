//! HTTP metrics in Prometheus form: `http_requests_total{method,route,status}` and
//! `http_request_duration_seconds{method,route}` (a histogram).
//!
//! Each server state owns its own recorder instead of installing a global one, so a process
//! may run many servers (the tests do) and each `/metrics` shows only its own traffic.
//! Recording goes through `metrics::with_local_recorder`, which points the `metrics` macros
//! at this state's recorder for the duration of one call. The middleware and the route take
//! only the registry (`State<Arc<Metrics>>`), not the whole state.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
/// Histogram buckets, in seconds: from a cache hit to a slow photo upload.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// The route label of requests no route matched (static files, unknown paths), so that
/// arbitrary paths cannot blow up the label set.
const UNMATCHED: &str = "fallback";

/// A Prometheus registry for one server.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> anyhow::Result<Metrics> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &BUCKETS)?
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(
                REQUESTS,
                "HTTP requests answered, by method, route and status"
            );
            metrics::describe_histogram!(
                DURATION,
                metrics::Unit::Seconds,
                "HTTP request latency, by method and route"
            );
        });
        Ok(Metrics { recorder, handle })
    }

    /// Counts one answered request.
    pub fn record(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let route = route.to_owned();
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            metrics::histogram!(DURATION, "method" => method, "route" => route)
                .record(elapsed.as_secs_f64());
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains the histogram buffers; run it every few seconds so that memory stays bounded
    /// when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Standard methods keep their name; anything else is `other` (bounded label set).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: times each request and records it under its route template (`MatchedPath`,
/// e.g. `/api/v1/teams/{id}`), never under the raw path.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    metrics.record(&method, &route, res.status().as_u16(), start.elapsed());
    res
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
pub async fn render(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_independent_and_render_histograms() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.record(&Method::GET, "/api/v1/tasks", 200, Duration::from_millis(3));
        a.record(
            &Method::GET,
            "/api/v1/tasks",
            200,
            Duration::from_millis(30),
        );
        let text = a.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/api/v1/tasks",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket{"),
            "{text}"
        );
        assert!(!b.render().contains("/api/v1/tasks"));
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
