//! `retry_on_failure` (`configretry.BackOffConfig`) and the server's `Retry-After`.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::de_duration;
use crate::time::http_date;

/// `retry_on_failure`: exponential backoff. The Collector's defaults: enabled, 5s initial
/// interval, 30s max interval, 5m max elapsed time (0: retry forever), multiplier 1.5,
/// randomization factor 0.5.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "de_duration")]
    pub initial_interval: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub max_interval: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub max_elapsed_time: Duration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

/// The longest `Retry-After` honoured: a server asking for more gets this (and the retry
/// settings' `max_elapsed_time` still applies), so a hostile value cannot overflow a deadline.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as delay seconds or an HTTP date (a date in the past means now), at most
/// [`MAX_RETRY_AFTER`].
pub fn retry_after(h: &http::HeaderMap) -> Option<Duration> {
    let v = h.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => http_date(v)?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            http::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(
            http::header::RETRY_AFTER,
            "Fri, 31 Dec 9999 23:59:59 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            http::header::RETRY_AFTER,
            "18446744073709551615".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn defaults() {
        let r = RetryConfig::default();
        assert!(r.enabled);
        assert_eq!(r.initial_interval, Duration::from_secs(5));
        assert_eq!(r.max_interval, Duration::from_secs(30));
        assert_eq!(r.max_elapsed_time, Duration::from_secs(300));
    }
}
