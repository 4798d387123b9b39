//! Upstream answers kept for a moment.
//!
//! During an on-sale thousands of visitors load the same event page; asking catalog and seating
//! again for each of them costs the fleet more than the page itself. An answer younger than
//! `fresh_for` is served as it is; an older one is refreshed by one request while the others go
//! on answering the old one (they never queue behind that call). Nothing correct depends on
//! this: the page's script replaces the statuses with the stream's snapshot as soon as it
//! connects, and the services decide every hold and order themselves.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Answers by event id, each fresh for `fresh_for`.
pub struct Recent<V> {
    entries: quick_cache::sync::Cache<Uuid, Arc<Entry<V>>>,
    fresh_for: Duration,
}

struct Entry<V> {
    value: Arc<V>,
    fetched_at: Instant,
    /// A request is fetching a newer answer.
    refreshing: AtomicBool,
}

impl<V> Recent<V> {
    /// Up to `capacity` events; `fresh_for` zero asks every time.
    pub fn new(capacity: usize, fresh_for: Duration) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            fresh_for,
        }
    }

    /// The answer for `key`: kept if fresh (or being refreshed by another request), else from
    /// `fetch`. Errors are not kept: the next request asks again.
    pub async fn get<E, F, Fut>(&self, key: Uuid, fetch: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let entry = self.entries.get(&key);
        let _claim = match &entry {
            Some(entry) if entry.fetched_at.elapsed() < self.fresh_for => {
                return Ok(entry.value.clone());
            }
            Some(entry) => match Claim::take(&entry.refreshing) {
                Some(claim) => Some(claim),
                None => return Ok(entry.value.clone()),
            },
            None => None,
        };
        let value = Arc::new(fetch().await?);
        self.entries.insert(
            key,
            Arc::new(Entry {
                value: value.clone(),
                fetched_at: Instant::now(),
                refreshing: AtomicBool::new(false),
            }),
        );
        Ok(value)
    }

    /// Drops the answer for `key`: this process just changed it (the visitor's own order), and
    /// the next page asks again.
    pub fn forget(&self, key: Uuid) {
        self.entries.remove(&key);
    }
}

/// The right to refresh an entry, given back when dropped: after a failed fetch, and also when
/// the visitor goes away mid-call (the request's future is dropped), so an entry is never left
/// marked as refreshing by nobody.
struct Claim<'a>(&'a AtomicBool);

impl<'a> Claim<'a> {
    fn take(flag: &'a AtomicBool) -> Option<Self> {
        (!flag.swap(true, Ordering::AcqRel)).then_some(Self(flag))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[tokio::test]
    async fn a_fresh_answer_is_kept_and_a_stale_one_refreshed_by_one_request() {
        let recent = Recent::new(8, Duration::from_millis(50));
        let calls = AtomicU32::new(0);
        let key = Uuid::now_v7();
        let fetch = || async { Ok::<_, ()>(calls.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(*recent.get(key, fetch).await.unwrap(), 1);
        assert_eq!(*recent.get(key, fetch).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;

        // Stale: the first request refreshes; one arriving meanwhile answers the old value
        // instead of waiting.
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let slow = recent.get(key, || async {
            wait.await.ok();
            Ok::<_, ()>(10)
        });
        let meanwhile = async {
            tokio::task::yield_now().await;
            let old = *recent.get(key, fetch).await.unwrap();
            release.send(()).ok();
            old
        };
        let (refreshed, old) = tokio::join!(slow, meanwhile);
        assert_eq!((*refreshed.unwrap(), old), (10, 1));
        assert_eq!(*recent.get(key, fetch).await.unwrap(), 10);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Forgotten: asked again at once, fresh or not.
        recent.forget(key);
        assert_eq!(*recent.get(key, fetch).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failed_or_abandoned_refresh_leaves_the_next_request_to_try() {
        let recent = Recent::new(8, Duration::ZERO);
        let key = Uuid::now_v7();
        recent.get(key, || async { Ok::<_, ()>(1) }).await.unwrap();
        assert!(
            recent
                .get(key, || async { Err::<u32, _>(()) })
                .await
                .is_err()
        );
        // An abandoned refresh: the future is dropped while fetching.
        let pending = recent.get(key, std::future::pending::<Result<u32, ()>>);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), pending)
                .await
                .is_err()
        );
        assert_eq!(
            *recent.get(key, || async { Ok::<_, ()>(2) }).await.unwrap(),
            2
        );
    }
}
