//! Requests whose answers a bench reads one by one (not timed): `n` of them from
//! `concurrency` client tasks, the answers in request order.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs `job(i)` for every `i` in `0..n`, `concurrency` at a time on tasks of their own;
/// returns each result in order of `i`.
pub async fn fetch_all<T, F, Fut>(concurrency: usize, n: usize, job: F) -> Vec<anyhow::Result<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (job, next) = (Arc::clone(&job), Arc::clone(&next));
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    out.push((i, job(i).await));
                }
                out
            })
        })
        .collect();
    let mut all: Vec<Option<anyhow::Result<T>>> = (0..n).map(|_| None).collect();
    for w in workers {
        match w.await {
            Ok(v) => {
                for (i, r) in v {
                    all[i] = Some(r);
                }
            }
            Err(e) => tracing::warn!("a client task failed: {e}"),
        }
    }
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("no answer"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back_in_request_order() {
        let got = fetch_all(3, 10, |i| async move {
            tokio::time::sleep(std::time::Duration::from_millis((10 - i as u64) * 2)).await;
            anyhow::ensure!(i != 7, "seven");
            Ok(i * i)
        })
        .await;
        assert_eq!(got.len(), 10);
        for (i, r) in got.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, i * i),
                Err(e) => assert_eq!((i, e.to_string()), (7, "seven".to_owned())),
            }
        }
    }
}
