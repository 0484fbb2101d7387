//! The event stream `GET /stream` (Server-Sent Events), as a phone or the dashboard holds it
//! open: [`Api::events`] opens it, [`EventStream::next`] reads its events.

use super::client::Api;
use super::error::ApiError;

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    reader: SseReader,
    ready: std::collections::VecDeque<(String, String)>,
}

impl Api {
    /// `GET /stream` signed in by header, resuming after `last_event_id` if given; an answer
    /// that is not 2xx is an error.
    pub async fn events(
        &self,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<EventStream, ApiError> {
        let mut req = self.stream_request("/stream").bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        EventStream::open(req).await
    }

    /// `GET /stream?token=…`, signed in by the query as a browser's `EventSource` is.
    pub async fn events_by_query(&self, token: &str) -> Result<EventStream, ApiError> {
        EventStream::open(self.stream_request(&format!("/stream?token={token}"))).await
    }
}

impl EventStream {
    /// Sends `req` (a `GET /stream` of any client: a test's, trusting its own certificate)
    /// and reads its answer as an event stream; an answer that is not 2xx is an error.
    pub async fn open(req: reqwest::RequestBuilder) -> Result<EventStream, ApiError> {
        let route = "GET /stream";
        let response = req
            .send()
            .await
            .map_err(|source| ApiError::NoAnswer { route, source })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
            return Err(ApiError::refused(route, status, &body));
        }
        Ok(EventStream {
            response,
            reader: SseReader::default(),
            ready: std::collections::VecDeque::new(),
        })
    }

    /// The next event, `(event, data)`; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Result<(String, String), ApiError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => {
                    let events = self.reader.push(&String::from_utf8_lossy(&chunk));
                    self.ready.extend(events);
                }
                Ok(None) => return None,
                Err(source) => {
                    return Some(Err(ApiError::NoAnswer {
                        route: "GET /stream",
                        source,
                    }))
                }
            }
        }
    }

    /// The `id` of the last event read, to resume from.
    pub fn last_id(&self) -> Option<&str> {
        self.reader.last_id.as_deref()
    }
}

/// Reads Server-Sent Events out of the chunks of a stream: `(event, data)` of each complete
/// event (comments and events without data skipped), and the last `id` seen.
#[derive(Debug, Default)]
pub struct SseReader {
    buf: String,
    /// the `id` of the last event read
    pub last_id: Option<String>,
}

impl SseReader {
    /// Adds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &str) -> Vec<(String, String)> {
        self.buf.push_str(&chunk.replace("\r\n", "\n"));
        let mut events = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let (mut event, mut data) = (String::from("message"), Vec::new());
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event = value.to_owned(),
                    "data" => data.push(value.to_owned()),
                    "id" => self.last_id = Some(value.to_owned()),
                    _ => {}
                }
            }
            if !data.is_empty() {
                events.push((event, data.join("\n")));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_chunks() {
        let mut r = SseReader::default();
        assert!(r
            .push(": keep-alive\n\nid: 7\nevent: dispatch_alert\ndata: {\"a\"")
            .is_empty());
        let got = r.push(":1}\n\nevent: team\r\ndata: {}\r\n\r\n");
        assert_eq!(
            got,
            [
                ("dispatch_alert".to_owned(), "{\"a\":1}".to_owned()),
                ("team".to_owned(), "{}".to_owned())
            ]
        );
        assert_eq!(r.last_id.as_deref(), Some("7"));
    }
}
