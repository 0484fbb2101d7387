//! The benchmarks' hot path: a [`Call`] (method, path, session token, JSON body) sent on a
//! [`KeepAlive`] connection, one per client task.
//!
//! The connection is hyper's connection API, not a pooled client: client and server share the
//! machine's cores, and a pool's per-request hand-overs between tasks cost the server CPU time
//! it would otherwise have (reqwest took about 45 µs of CPU a request, this about a third). The
//! request is built apart from its sending ([`KeepAlive::request`], then [`KeepAlive::send`]),
//! so a benchmark times only the sending. [`Api::fetch`] sends the same [`Call`] through the
//! pooled client instead (a warm-up, a check).

use super::client::{Api, Reply};
use super::error::ApiError;
use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

/// A request of the API: method, path under `/api/v1` (with its query), the session token it
/// is sent with, and a JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    route: &'static str,
    method: Method,
    path: String,
    token: Arc<str>,
    json: Option<Bytes>,
}

/// The path of `GET /envoys/nearest`.
pub(super) fn nearest_path(lat: f64, lng: f64, k: usize, radius_m: f64) -> String {
    format!("/envoys/nearest?lat={lat}&lng={lng}&k={k}&radius_m={radius_m}")
}

impl Call {
    fn get(route: &'static str, path: String, token: &Arc<str>) -> Call {
        Call {
            route,
            method: Method::GET,
            path,
            token: Arc::clone(token),
            json: None,
        }
    }

    fn post(route: &'static str, path: String, token: &Arc<str>, json: Bytes) -> Call {
        Call {
            route,
            method: Method::POST,
            path,
            token: Arc::clone(token),
            json: Some(json),
        }
    }

    /// `POST /positions` with a body `{"points":[…]}` made beforehand.
    pub fn positions(token: &Arc<str>, body: impl Into<Bytes>) -> Call {
        Call::post(
            "POST /positions",
            "/positions".to_owned(),
            token,
            body.into(),
        )
    }

    /// `POST /teams/join` with a body `{"token": …}`.
    pub fn join(token: &Arc<str>, body: impl Into<Bytes>) -> Call {
        Call::post(
            "POST /teams/join",
            "/teams/join".to_owned(),
            token,
            body.into(),
        )
    }

    /// `GET /tasks?near=lat,lng&radius_m=…&limit=…`.
    pub fn tasks_near(token: &Arc<str>, lat: f64, lng: f64, radius_m: f64, limit: u32) -> Call {
        Call::get(
            "GET /tasks?near=",
            format!("/tasks?near={lat},{lng}&radius_m={radius_m}&limit={limit}"),
            token,
        )
    }

    /// `GET /envoys/nearest?lat=…&lng=…&k=…&radius_m=…`.
    pub fn nearest(token: &Arc<str>, lat: f64, lng: f64, k: usize, radius_m: f64) -> Call {
        Call::get(
            "GET /envoys/nearest",
            nearest_path(lat, lng, k, radius_m),
            token,
        )
    }

    /// `GET /heatmap?{query}`.
    pub fn heatmap(token: &Arc<str>, query: &str) -> Call {
        Call::get("GET /heatmap", format!("/heatmap?{query}"), token)
    }

    /// `GET /tiles/heat/{window}/{z}/{x}/{y}.png`.
    pub fn heat_tile(token: &Arc<str>, window: &str, z: u8, x: u32, y: u32) -> Call {
        Call::get(
            "GET /tiles/heat/{window}/{z}/{x}/{y}.png",
            format!("/tiles/heat/{window}/{z}/{x}/{y}.png"),
            token,
        )
    }

    /// Its path under the server's URL, with `/api/v1` (`/api/v1/heatmap?…`).
    pub fn path(&self) -> String {
        format!("/api/v1{}", self.path)
    }
}

/// A keep-alive HTTP/1.1 connection of one client task to a plain-HTTP server, opened when
/// the first request is sent, and again when the server closed it.
pub struct KeepAlive {
    authority: String,
    host: HeaderValue,
    /// the base URL's path, before `/api/v1`
    prefix: Arc<str>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Api {
    /// A keep-alive connection to this client's server, which must be plain HTTP.
    pub fn keep_alive(&self) -> anyhow::Result<KeepAlive> {
        let base = self.base();
        let uri: Uri = base
            .parse()
            .with_context(|| format!("bad server URL {base:?}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "the benchmarks drive a plain-HTTP server (http://host:port), not {base}"
        );
        let authority = uri
            .authority()
            .with_context(|| format!("no host in {base:?}"))?
            .to_string();
        Ok(KeepAlive {
            host: HeaderValue::from_str(&authority)?,
            authority,
            prefix: Arc::from(uri.path().trim_end_matches('/')),
            conn: None,
        })
    }

    /// Sends `call` through the pooled client (not the hot path): its answer as it came.
    pub async fn fetch(&self, call: &Call) -> Result<Reply, ApiError> {
        let mut req = self
            .request(call.method.clone(), &call.path)
            .bearer_auth(&call.token);
        if let Some(json) = &call.json {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(json.clone());
        }
        self.send(call.route, req).await
    }
}

impl KeepAlive {
    /// The HTTP request of `call`.
    pub fn request(&self, call: Call) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut r = Request::builder()
            .method(call.method)
            .uri(format!("{}/api/v1{}", self.prefix, call.path))
            .header(header::HOST, &self.host)
            .header(header::AUTHORIZATION, format!("Bearer {}", call.token));
        if call.json.is_some() {
            r = r.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(r.body(Full::new(call.json.unwrap_or_default()))?)
    }

    /// Sends one request on the connection (connecting first when there is none, or when the
    /// server closed it: the request was not sent then) and reads the whole answer. After an
    /// error the next request opens a new connection.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let answer = self.try_send(request).await;
        if answer.is_err() {
            self.conn = None;
        }
        answer
    }

    async fn try_send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let open = match &mut self.conn {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        let sender = match &mut self.conn {
            Some(sender) if open => sender,
            _ => {
                let mut sender = connect(&self.authority).await?;
                sender.ready().await?;
                self.conn.insert(sender)
            }
        };
        let answer = sender.send_request(request).await?;
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// A keep-alive HTTP/1.1 connection to `authority`, its I/O driven by a task of its own until
/// the sender is dropped or the server closes it.
async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let tcp = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    Ok(sender)
}
