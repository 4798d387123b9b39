//! Per-key rate limits (per user, per client address): `429` with `Retry-After` once a key has
//! used its burst, refilled at a steady rate (GCRA, from `governor`).
//!
//! The counts live in the process. With several replicas behind a load balancer a key can get up
//! to that many times the rate; these limits slow bots and floods down, they do not meter
//! anything that must be exact (the database enforces what must be: held seats per holder, say).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::Problem;

/// Past this many keys, the keys that have fully recovered are forgotten (bounded memory).
const SHRINK_ABOVE: usize = 10_000;

/// A limit of `burst` calls at once, refilled at `per_minute` calls a minute, per key.
pub struct RateLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    /// What is limited, for the problem's detail ("holds", "registrations").
    what: &'static str,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for RateLimit<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> RateLimit<K> {
    /// `None` (no limit) when `per_minute` is 0; a `burst` of 0 means `per_minute`.
    pub fn new(what: &'static str, per_minute: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            what,
        })
    }

    /// Counts one call of `key`: `429` with `Retry-After` when it is over its limit.
    pub fn check(&self, key: &K) -> Result<(), Problem> {
        if self.limiter.len() > SHRINK_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            too_many(self.what, wait)
        })
    }
}

/// `429 rate-limited`, with `Retry-After` in whole seconds (at least 1).
pub fn too_many(what: &str, wait: Duration) -> Problem {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Problem::new(
        http::StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .with_detail(format!("Too many {what} in a short time; try again later."))
    .with_retry_after(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_429_with_retry_after_and_others_are_unaffected() {
        let limit = RateLimit::new("holds", 60, 3).unwrap();
        for _ in 0..3 {
            assert!(limit.check(&"ada").is_ok());
        }
        let refused = limit.check(&"ada").unwrap_err();
        assert_eq!(refused.status, http::StatusCode::TOO_MANY_REQUESTS);
        let response = axum::response::IntoResponse::into_response(refused);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");
        assert!(limit.check(&"bob").is_ok());
    }

    #[test]
    fn zero_per_minute_is_no_limit() {
        assert!(RateLimit::<u8>::new("holds", 0, 5).is_none());
    }
}
