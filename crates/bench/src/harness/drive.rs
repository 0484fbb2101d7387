//! The drive loop of every bench that measures HTTP: `n` requests from `concurrency` client
//! tasks, each on a keep-alive connection of its own ([`pp_sim::api::KeepAlive`]), and what
//! they add up to: latencies, failures, and a [`Tally`] of the 2xx bodies ([`Figures`]).

use pp_sim::api::{Api, Call};
use pp_sim::measure::percentile_ms;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a run's answers add up to beyond their latency: counts read from each 2xx body.
pub trait Tally: Default + Send + 'static {
    /// Adds one 2xx answer's body.
    fn add(&mut self, body: &[u8]);
    /// Adds another client task's tally.
    fn merge(&mut self, other: Self);
}

/// Benches that only count answers.
impl Tally for () {
    fn add(&mut self, _body: &[u8]) {}
    fn merge(&mut self, _other: Self) {}
}

/// Latencies, wall time, failures and the tally of a run.
#[derive(Debug, Default)]
pub struct Figures<T> {
    latencies_us: Vec<u64>,
    wall: std::time::Duration,
    /// answers that were not 2xx, by status
    statuses: BTreeMap<u16, usize>,
    /// requests that got no answer at all (connection or timeout errors)
    failed: usize,
    /// the first non-2xx answer or failure, for the report
    first_error: Option<String>,
    /// what the 2xx bodies added up to
    pub tally: T,
}

impl Figures<()> {
    /// The figures of calls timed one by one (a peer's), `latencies_us` in any order.
    pub fn of_latencies(mut latencies_us: Vec<u64>, wall: std::time::Duration) -> Figures<()> {
        latencies_us.sort_unstable();
        Figures {
            latencies_us,
            wall,
            ..Figures::default()
        }
    }
}

impl<T> Figures<T> {
    /// Requests sent.
    pub fn requests(&self) -> usize {
        self.latencies_us.len()
    }

    /// Requests that failed or were answered with a non-2xx status.
    pub fn errors(&self) -> usize {
        self.failed + self.statuses.values().sum::<usize>()
    }

    /// The run's wall time.
    pub fn wall(&self) -> std::time::Duration {
        self.wall
    }

    /// The latency below which a share `p` (0..=1) of the requests were answered, in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies_us, p)
    }

    /// The mean latency, in ms.
    pub fn mean_ms(&self) -> f64 {
        let n = self.latencies_us.len().max(1);
        self.latencies_us.iter().sum::<u64>() as f64 / n as f64 / 1000.0
    }

    /// Prints the request line, then every non-2xx status and the first error, if any.
    pub fn print(&self, what: &str, concurrency: usize) {
        println!(
            "{what}: {} requests, concurrency {concurrency}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
            self.requests(),
            self.requests() as f64 / self.wall.as_secs_f64(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors()
        );
        if self.errors() > 0 {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(s, n)| format!("{n} × HTTP {s}"))
                .collect();
            println!(
                "  NOT 2xx: {} without an answer; {}; first: {}",
                self.failed,
                if statuses.is_empty() {
                    "no error status".to_owned()
                } else {
                    statuses.join(", ")
                },
                self.first_error.as_deref().unwrap_or("-")
            );
        }
    }

    fn merge(&mut self, other: Worker<T>)
    where
        T: Tally,
    {
        self.latencies_us.extend(other.latencies_us);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.tally.merge(other.tally);
    }
}

/// One client task's share of a run.
#[derive(Default)]
struct Worker<T> {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, usize>,
    failed: usize,
    first_error: Option<String>,
    tally: T,
}

impl<T> Worker<T> {
    fn error(&mut self, what: String) {
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// Sends `n` requests from `concurrency` tasks, each on a keep-alive HTTP/1.1 connection of its
/// own to `api`'s server (plain HTTP); `make(i)` builds request i (its time is not counted in
/// the latency), and each 2xx body is added to the tally `T`.
pub async fn drive<T, F>(
    api: &Api,
    concurrency: usize,
    n: usize,
    make: F,
) -> anyhow::Result<Figures<T>>
where
    T: Tally,
    F: Fn(usize) -> Call + Send + Sync + 'static,
{
    // checks the URL before any task starts
    api.keep_alive()?;
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, make) = (next.clone(), make.clone());
            let conn = api.keep_alive();
            tokio::spawn(async move {
                let mut w = Worker::<T>::default();
                let mut conn = conn?;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let request = match conn.request(make(i)) {
                        Ok(r) => r,
                        Err(e) => {
                            w.failed += 1;
                            w.error(format!("building request {i}: {e}"));
                            continue;
                        }
                    };
                    let t = Instant::now();
                    match conn.send(request).await {
                        Ok((status, body)) if status.is_success() => w.tally.add(&body),
                        Ok((status, body)) => {
                            *w.statuses.entry(status.as_u16()).or_default() += 1;
                            w.error(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            ));
                        }
                        Err(e) => {
                            // the connection opens again for the next request
                            w.failed += 1;
                            w.error(format!("{e:#}"));
                        }
                    }
                    w.latencies_us
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                anyhow::Ok(w)
            })
        })
        .collect();
    let mut figures = Figures::<T>::default();
    for w in workers {
        match w.await {
            Ok(Ok(w)) => figures.merge(w),
            Ok(Err(e)) => {
                figures.failed += 1;
                figures.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                figures.failed += 1;
                figures.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    figures.wall = start.elapsed();
    figures.latencies_us.sort_unstable();
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use bytes::Bytes;
    use std::sync::atomic::AtomicU64;

    /// Sums the numbers the test server echoes.
    #[derive(Default)]
    struct Sum(u64);

    impl Tally for Sum {
        fn add(&mut self, body: &[u8]) {
            self.0 += std::str::from_utf8(body)
                .ok()
                .and_then(|b| b.parse::<u64>().ok())
                .unwrap_or(1_000_000);
        }
        fn merge(&mut self, other: Self) {
            self.0 += other.0;
        }
    }

    /// A server on a free loopback port: `POST /api/v1/positions` echoes its body when the
    /// bearer token is "ok" (401 otherwise), and closes the connection after every third
    /// answer.
    async fn echo_server() -> String {
        let answered = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/api/v1/positions",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let n = answered.fetch_add(1, Ordering::Relaxed);
                let close = [(
                    header::CONNECTION,
                    if n % 3 == 2 { "close" } else { "keep-alive" },
                )];
                let json = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
                if headers
                    .get(header::AUTHORIZATION)
                    .map(HeaderValue::as_bytes)
                    != Some(b"Bearer ok")
                    || json != Some(b"application/json")
                {
                    return (StatusCode::UNAUTHORIZED, close, Bytes::new()).into_response();
                }
                (StatusCode::OK, close, body).into_response()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn drive_sends_every_request_once_and_counts_the_answers() {
        let base = echo_server().await;
        let (ok, bad): (Arc<str>, Arc<str>) = (Arc::from("ok"), Arc::from("nope"));
        let api = Api::builder(&base).build().unwrap();
        let figures: Figures<Sum> = drive(&api, 3, 30, move |i| {
            let token = if i % 10 == 4 { &bad } else { &ok };
            Call::positions(token, i.to_string())
        })
        .await
        .unwrap();
        assert_eq!(figures.requests(), 30);
        // requests 4, 14 and 24 were refused; the closed connections were opened again
        // without losing a request
        assert_eq!(figures.errors(), 3, "{:?}", figures.first_error);
        assert_eq!(figures.statuses.get(&401), Some(&3));
        assert_eq!(
            figures.tally.0,
            (0..30).filter(|i| i % 10 != 4).sum::<u64>()
        );
    }

    #[tokio::test]
    async fn drive_wants_a_plain_http_server_and_says_when_none_answers() {
        let token: Arc<str> = Arc::from("ok");
        let t = Arc::clone(&token);
        let https = Api::builder("https://127.0.0.1:1").build().unwrap();
        let https = drive::<(), _>(&https, 1, 1, move |_| Call::join(&t, "{}")).await;
        assert!(https.err().unwrap().to_string().contains("plain-HTTP"));
        // nothing listens on port 1: every request fails, with the reason
        let none = Api::builder("http://127.0.0.1:1").build().unwrap();
        let none = drive::<(), _>(&none, 2, 4, move |_| Call::join(&token, "{}"))
            .await
            .unwrap();
        assert_eq!((none.requests(), none.errors()), (4, 4));
        assert!(none
            .first_error
            .unwrap()
            .contains("connecting to 127.0.0.1:1"));
    }
}
