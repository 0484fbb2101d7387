//! `GET /stream`: each user's live events as Server-Sent Events, from the [`EventBus`]: an
//! envoy gets the changes of their team (and, with issue 5's dispatches, alerts); a commander
//! or admin also the events meant for the command centre and, with `?positions=1`, the envoys'
//! new positions. Each event has an `id`; a client that reconnects with `Last-Event-ID` (the
//! header `EventSource` sends by itself, or `?last_event_id=`) first gets what it missed, while
//! the bus keeps it. A comment every 15 s keeps the connection open through proxies.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::events::{Event, EventBus, PositionsWatch, Subscriber};
use crate::extract::{ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use futures_util::Stream;
use pp_domain::Role;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How often a keep-alive comment is sent.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// `GET /stream` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// `1`: also the envoys' new positions (commanders and admins)
    pub positions: Option<u8>,
    /// the id of the last event received, when the `Last-Event-ID` header cannot be sent
    pub last_event_id: Option<u64>,
}

/// What one stream holds between events.
struct Feed {
    bus: Arc<dyn EventBus>,
    rx: broadcast::Receiver<Arc<Event>>,
    who: Subscriber,
    /// events to send before the live ones
    backlog: VecDeque<Arc<Event>>,
    /// the last event id sent (or replayed from)
    last: u64,
    /// a first event saying that what was missed is no longer kept
    reset: bool,
    /// the server is shutting down: the stream ends
    stop: tokio_util::sync::CancellationToken,
    _watch: Option<PositionsWatch>,
}

fn sse_event(e: &Event) -> sse::Event {
    sse::Event::default()
        .id(e.id.to_string())
        .event(e.kind)
        .data(e.data.to_string())
}

impl Feed {
    async fn next(mut self) -> Option<(Result<sse::Event, Infallible>, Feed)> {
        if std::mem::take(&mut self.reset) {
            let e = sse::Event::default().event("reset").data(
                r#"{"reason":"some events since the last id are no longer kept: read the state again"}"#,
            );
            return Some((Ok(e), self));
        }
        loop {
            let event = match self.backlog.pop_front() {
                Some(e) => e,
                None => match tokio::select! {
                    r = self.rx.recv() => r,
                    () = self.stop.cancelled() => return None,
                } {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // fell behind the channel: catch up from the replay log
                        match self.bus.since(self.last) {
                            Some(missed) => self.backlog.extend(missed),
                            None => self.reset = true,
                        }
                        if self.reset {
                            return Box::pin(self.next()).await;
                        }
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            if event.id <= self.last {
                continue;
            }
            self.last = event.id;
            if event.is_for(&self.who) {
                return Some((Ok(sse_event(&event)), self));
            }
        }
    }
}

/// The caller's live events (Server-Sent Events, `text/event-stream`).
///
/// Each event has an `id`, an `event` type and JSON `data`: `team` (a change of the caller's
/// team: `{team_id, change, by, state}`), `positions` (with `?positions=1`, commanders and
/// admins: `{points: [{user_id, lat, lng, accuracy_m, ts}]}` after each commit), `dispatch_alert`
/// / `dispatch_update` (an envoy's alerts) and `dispatch` (the command centre), `incident` (to
/// the reporter, the command centre and the routed department's staff: `{change, incident}`),
/// `reset` (the
/// events since `Last-Event-ID` are no longer kept). The token may be sent as `?token=`, since
/// `EventSource` cannot set headers.
#[utoipa::path(
    get,
    path = "/stream",
    tag = "dispatch",
    security(("bearer" = [])),
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "the last event id received")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role` (positions are for the command centre)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn stream(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>> {
    let positions = match q.positions {
        None | Some(0) => false,
        Some(1) => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("positions must be 0 or 1, got {other}"),
            ))
        }
    };
    if positions {
        auth.require(&[Role::Commander, Role::Admin])?;
    }
    let header_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let last_id = header_id.or(q.last_event_id);
    let bus = Arc::clone(&state.events);
    // subscribe before reading the replay log, so no event falls between the two
    let rx = bus.subscribe();
    let (backlog, reset, last) = match last_id {
        Some(id) => match bus.since(id) {
            Some(missed) => (missed.into(), false, id),
            // what was missed is gone, or the id is not this bus's: from now on
            None => (VecDeque::new(), true, 0),
        },
        None => (VecDeque::new(), false, 0),
    };
    let feed = Feed {
        _watch: positions.then(|| Arc::clone(&bus).watch_positions()),
        bus,
        rx,
        who: Subscriber {
            user: auth.user.id,
            role: auth.user.role,
            department: auth.user.department.clone(),
            positions,
        },
        backlog,
        last,
        reset,
        stop: state.stopping.clone(),
    };
    let stream = futures_util::stream::unfold(feed, Feed::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
