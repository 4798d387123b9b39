//! seating-service's own settings (the kit reads the common ones and the fleet's URLs).

use std::time::Duration;

use service_kit::app::FromEnv;
use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "seating-service";

#[derive(Debug, Clone)]
pub struct Config {
    /// How long a hold lasts when the request does not say (`HOLD_TTL_SECONDS`, 900).
    pub hold_ttl: Duration,
    /// How often expired holds are marked `EXPIRED` (they stop blocking at `expiresAt` anyway).
    pub sweep_interval: Duration,
    /// Seats one holder may hold of one event at a time (`MAX_HELD_SEATS_PER_HOLDER`, 10).
    pub max_held_seats_per_holder: i64,
    /// Reserves per holder per minute (`HOLDS_PER_USER_PER_MINUTE`, 30; 0: no limit), in
    /// bursts of `HOLDS_PER_USER_BURST` (10).
    pub holds_per_minute: u32,
    pub holds_burst: u32,
    pub seat_map: SeatMapSettings,
}

/// The seat map's cache and stream (docs/architecture.md, "The seat map").
#[derive(Debug, Clone)]
pub struct SeatMapSettings {
    /// How stale a map answer may be: a cached map older than this is compared with the
    /// database's version before it is served (`SEATMAP_REFRESH_MS`, 100; 0: every time). Also
    /// twice the refresher's period (which bounds a stream's delay).
    pub refresh: Duration,
    /// Stream subscribers per process; 503 beyond (`SEATMAP_MAX_SUBSCRIBERS`, 2000).
    pub max_subscribers: usize,
    /// Changes a subscriber may be behind before it is dropped (`SEATMAP_SUBSCRIBER_BUFFER`, 64).
    pub subscriber_buffer: usize,
    /// Changes kept per event for a subscriber that resumes (`SEATMAP_HISTORY`, 1024).
    pub history: usize,
    /// A comment on a quiet stream, so that proxies keep it (`SEATMAP_HEARTBEAT_SECONDS`, 15).
    pub heartbeat: Duration,
}

impl FromEnv for SeatMapSettings {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            refresh: Duration::from_millis(env.parse_or("SEATMAP_REFRESH_MS", 100)?),
            max_subscribers: env.parse_or("SEATMAP_MAX_SUBSCRIBERS", 2000)?,
            // A broadcast channel needs room for one change at least.
            subscriber_buffer: env
                .parse_or::<usize>("SEATMAP_SUBSCRIBER_BUFFER", 64)?
                .max(1),
            history: env.parse_or("SEATMAP_HISTORY", 1024)?,
            heartbeat: Duration::from_secs(
                env.parse_or::<u64>("SEATMAP_HEARTBEAT_SECONDS", 15)?.max(1),
            ),
        })
    }
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            hold_ttl: Duration::from_secs(hold_ttl(env)?),
            // At least 10 ms: a zero interval is not a schedule.
            sweep_interval: Duration::from_millis(
                env.parse_or::<u64>("HOLD_SWEEP_INTERVAL_MS", 1000)?.max(10),
            ),
            max_held_seats_per_holder: max_held_seats(env)?,
            holds_per_minute: env.parse_or("HOLDS_PER_USER_PER_MINUTE", 30)?,
            holds_burst: env.parse_or("HOLDS_PER_USER_BURST", 10)?,
            seat_map: SeatMapSettings::from_env(env)?,
        })
    }
}

/// `MAX_HELD_SEATS_PER_HOLDER`: at least 1 (a reserve takes up to 100 seats, so more than that
/// is no limit at all, which is allowed).
fn max_held_seats(env: &Env) -> Result<i64, ConfigError> {
    let limit: i64 = env.parse_or("MAX_HELD_SEATS_PER_HOLDER", 10)?;
    if limit >= 1 {
        Ok(limit)
    } else {
        Err(ConfigError::Invalid {
            var: "MAX_HELD_SEATS_PER_HOLDER".into(),
            reason: "must be at least 1".into(),
        })
    }
}

/// `HOLD_TTL_SECONDS`: 1 second to 1 hour, the range a request's `ttlSeconds` may take too.
fn hold_ttl(env: &Env) -> Result<u64, ConfigError> {
    let seconds = env.parse_or("HOLD_TTL_SECONDS", 900)?;
    if (1..=3600).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ConfigError::Invalid {
            var: "HOLD_TTL_SECONDS".into(),
            reason: "must be between 1 and 3600".into(),
        })
    }
}
