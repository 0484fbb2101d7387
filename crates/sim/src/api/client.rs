//! [`Api`]: the server's base URL, the HTTP clients, and the one place a request is sent,
//! timed under its route template (`POST /positions`), and its answer read: a 2xx body
//! decoded, anything else an [`ApiError`] counted in the [`Log`] (apart from the few refusals a
//! phone meets in real life, named where they are allowed).

use super::error::ApiError;
use super::log::Log;
use bytes::Bytes;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// A client of one server.
pub struct Api {
    base: String,
    /// requests that end (with the builder's timeout)
    client: reqwest::Client,
    /// event streams: no overall timeout, as a stream stays open
    streams: reqwest::Client,
    log: Log,
}

/// How an [`Api`] is made: [`Api::builder`].
#[derive(Debug, Clone)]
pub struct ApiBuilder {
    base: String,
    timeout: Option<Duration>,
    connections: Option<usize>,
    timed: bool,
    trust_any_certificate: bool,
}

impl ApiBuilder {
    /// Requests that take longer than this fail (default: no limit).
    pub fn timeout(mut self, timeout: Duration) -> ApiBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// Idle connections kept for reuse (default: reqwest's).
    pub fn connections(mut self, n: usize) -> ApiBuilder {
        self.connections = Some(n);
        self
    }

    /// Keeps every request's latency under its route for [`Api::report`] (the drill's report);
    /// without it only the counts and errors are kept, so a client that runs for days (the
    /// demo's crowd) does not grow.
    pub fn timed(mut self) -> ApiBuilder {
        self.timed = true;
        self
    }

    /// Over HTTPS, takes the server's certificate as it is: for a client of its own process on
    /// this machine (the demo's crowd), by an address that a configured certificate (made for
    /// the district's domain) need not name.
    pub fn trust_any_certificate(mut self) -> ApiBuilder {
        self.trust_any_certificate = true;
        self
    }

    /// The client.
    pub fn build(self) -> anyhow::Result<Api> {
        let trust = self.trust_any_certificate && self.base.starts_with("https://");
        let mut client = reqwest::Client::builder().danger_accept_invalid_certs(trust);
        if let Some(t) = self.timeout {
            client = client.timeout(t);
        }
        if let Some(n) = self.connections {
            client = client.pool_max_idle_per_host(n);
        }
        // a stream holds its connection while it is open; none is kept idle afterwards
        let streams = reqwest::Client::builder()
            .danger_accept_invalid_certs(trust)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()?;
        Ok(Api {
            client: client.build()?,
            streams,
            log: Log::new(self.timed),
            base: self.base,
        })
    }
}

/// An answer as it came: status, content type and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// the status
    pub status: StatusCode,
    /// the `Content-Type` header ("" when none)
    pub content_type: String,
    /// the body
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; a body that is not JSON as a JSON string of its text; none as null.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            if self.body.is_empty() {
                Value::Null
            } else {
                Value::String(String::from_utf8_lossy(&self.body).into_owned())
            }
        })
    }
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:8080`; a trailing `/` is dropped).
    pub fn builder(base: &str) -> ApiBuilder {
        ApiBuilder {
            base: base.trim_end_matches('/').to_owned(),
            timeout: None,
            connections: None,
            timed: false,
            trust_any_certificate: false,
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The log of what this client sent.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Errors so far.
    pub fn errors(&self) -> u64 {
        self.log.errors()
    }

    /// Requests so far.
    pub fn requests(&self) -> usize {
        self.log.requests()
    }

    /// Prints the throughput report of [`Log::print`].
    pub fn report(&self, wall: Duration, server_pid: Option<u32>) {
        self.log.print(wall, server_pid);
    }

    /// `METHOD /api/v1{path}` (the path with its query).
    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.base))
    }

    /// `GET /api/v1{path}` on the client of event streams.
    pub(super) fn stream_request(&self, path: &str) -> RequestBuilder {
        self.streams.get(format!("{}/api/v1{path}", self.base))
    }

    /// `GET {path}` outside the API (`/healthz`).
    pub(super) fn request_outside(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    /// Sends a request, timing it under `route`. A request that gets no answer is an error
    /// (counted); any answer is returned as it came, for the caller to read (the drill's
    /// quiet-server check reads a 404 as "no /stats").
    pub(super) async fn send(
        &self,
        route: &'static str,
        req: RequestBuilder,
    ) -> Result<Reply, ApiError> {
        let t = Instant::now();
        let answer = async {
            let resp = req.send().await?;
            let status = resp.status();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>(Reply {
                status,
                content_type,
                body,
            })
        }
        .await;
        self.log.sent(route, t.elapsed());
        answer.map_err(|source| {
            let e = ApiError::NoAnswer { route, source };
            self.log.error(e.to_string());
            e
        })
    }

    /// The 2xx answer of a request, decoded; anything else is an error (counted).
    pub(super) async fn json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        req: RequestBuilder,
    ) -> Result<T, ApiError> {
        match self.json_or_refused(route, req, &[]).await? {
            Some(v) => Ok(v),
            None => Err(ApiError::Unexpected {
                route,
                reason: "refused".to_owned(),
            }),
        }
    }

    /// Like [`Api::json`], but a 4xx answer whose error code is one of `allowed` (what a phone
    /// meets when a dispatch closes under it) is counted as a refusal and gives `None`.
    pub(super) async fn json_or_refused<T: DeserializeOwned>(
        &self,
        route: &'static str,
        req: RequestBuilder,
        allowed: &[&str],
    ) -> Result<Option<T>, ApiError> {
        let reply = self.send(route, req).await?;
        let body = reply.json();
        if reply.status.is_success() {
            return serde_json::from_value(body).map(Some).map_err(|e| {
                let e = ApiError::Unexpected {
                    route,
                    reason: e.to_string(),
                };
                self.log.error(e.to_string());
                e
            });
        }
        let e = ApiError::refused(route, reply.status, &body);
        match e.code() {
            Some(code) if reply.status.is_client_error() && allowed.contains(&code) => {
                self.log.refused(route, code);
                Ok(None)
            }
            _ => {
                self.log.error(e.to_string());
                Err(e)
            }
        }
    }
}

/// The base URL to reach a server bound to `addr` from this process (an unspecified address
/// is reached on loopback), `https://` when it serves `tls`.
pub fn local_base(mut addr: SocketAddr, tls: bool) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_address_is_reached_on_loopback() {
        assert_eq!(
            local_base("0.0.0.0:8080".parse().unwrap(), false),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            local_base("[::]:80".parse().unwrap(), false),
            "http://[::1]:80"
        );
        assert_eq!(
            local_base("192.168.1.2:8080".parse().unwrap(), false),
            "http://192.168.1.2:8080"
        );
        assert_eq!(
            local_base("0.0.0.0:8443".parse().unwrap(), true),
            "https://127.0.0.1:8443"
        );
    }

    #[test]
    fn bodies_are_read_as_json_text_or_null() {
        let reply = |body: &'static [u8]| Reply {
            status: StatusCode::OK,
            content_type: String::new(),
            body: Bytes::from_static(body),
        };
        assert_eq!(reply(br#"{"a":1}"#).json(), serde_json::json!({"a": 1}));
        assert_eq!(reply(b"figure,key\n").json(), "figure,key\n");
        assert_eq!(reply(b"").json(), Value::Null);
    }
}
