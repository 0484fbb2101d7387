//! A client of `GET /stream` (Server-Sent Events) for the tests: opens a stream and reads its
//! events one by one.

use crate::TestApp;
use serde_json::Value;
use std::time::Duration;

/// One received event.
#[derive(Debug, Clone)]
pub struct Sse {
    /// the `id` field
    pub id: Option<u64>,
    /// the `event` field
    pub event: String,
    /// the `data` field, parsed
    pub data: Value,
}

/// An open event stream and what has arrived but not been read yet.
#[derive(Debug)]
pub struct Stream {
    /// the open response
    pub res: reqwest::Response,
    buf: String,
}

impl Stream {
    /// Opens `GET /stream?token=…{query}`, with `Last-Event-ID: last_id` when given.
    pub async fn open(app: &TestApp, query: &str, token: &str, last_id: Option<u64>) -> Stream {
        let mut req = app
            .client
            .get(app.api(&format!("/stream?token={token}{query}")));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Stream {
            res,
            buf: String::new(),
        }
    }

    /// The next event (comments skipped), waiting at most 10 s.
    pub async fn next(&mut self) -> Sse {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("an event within 10 s")
    }

    /// The next event if one arrives within `wait` (to check that none comes).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (None, String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().parse().ok();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if event.is_empty() && data.is_empty() {
                        continue; // a keep-alive comment
                    }
                    return Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    };
                }
                let chunk = self
                    .res
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .ok()
    }
}
