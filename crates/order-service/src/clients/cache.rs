//! A short-lived cache of answers that rarely change (an event's title and status, a buyer's
//! name and e-mail), so that an on-sale's thousands of orders do not each ask catalog and
//! user-service the same question. Bounded in size; an entry older than its TTL is asked again.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use uuid::Uuid;

pub struct TtlCache<V> {
    entries: Cache<Uuid, (Instant, V)>,
    ttl: Duration,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(capacity),
            ttl,
        }
    }

    /// The value, while it is younger than the TTL.
    pub fn get(&self, key: &Uuid) -> Option<V> {
        let (at, value) = self.entries.get(key)?;
        (at.elapsed() < self.ttl).then_some(value)
    }

    pub fn insert(&self, key: Uuid, value: V) {
        self.entries.insert(key, (Instant::now(), value));
    }
}

impl<V> std::fmt::Debug for TtlCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
