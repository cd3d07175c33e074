//! Durations as the Collector writes them (Go's `time.Duration` text: `5s`, `200ms`, `1m30s`).

use std::time::Duration;

use serde::Deserialize;

/// A duration that is not in Go's `time.ParseDuration` syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?} (expected e.g. \"5s\", \"200ms\", \"1m30s\")")]
    Syntax(String),
    #[error("invalid duration {0}")]
    Number(String),
}

/// Parses Go's `time.ParseDuration` syntax (`1h2m3.5s`, `300ms`, `2us`, `0`).
///
/// Units are `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h`; a bare number other than `0` is an
/// error, as in Go.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let err = || DurationError::Syntax(s.to_owned());
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_end == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

/// Deserializes a Go-style duration (`5s`, `200ms`, `1m30s`) or a number of seconds.
pub fn de_duration<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(f64),
    }
    match Raw::deserialize(de)? {
        Raw::S(s) => parse_go_duration(&s).map_err(serde::de::Error::custom),
        Raw::N(n) if n >= 0.0 && n.is_finite() => Duration::try_from_secs_f64(n)
            .map_err(|_| serde::de::Error::custom(DurationError::Number(n.to_string()))),
        Raw::N(n) => Err(serde::de::Error::custom(DurationError::Number(
            n.to_string(),
        ))),
    }
}

/// [`de_duration`] for `Option<Duration>` fields (use with `#[serde(default)]`).
pub fn de_opt_duration<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Duration>, D::Error> {
    de_duration(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s").ok(), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_go_duration("200ms").ok(),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            parse_go_duration("1m30s").ok(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_go_duration("0").ok(), Some(Duration::ZERO));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("abc").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn numbers_are_seconds() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "de_duration")]
            d: Duration,
        }
        let t: T = serde_json::from_value(serde_json::json!({"d": 1.5})).expect("number");
        assert_eq!(t.d, Duration::from_millis(1500));
        let t: T = serde_json::from_value(serde_json::json!({"d": "2h"})).expect("text");
        assert_eq!(t.d, Duration::from_secs(7200));
        assert!(serde_json::from_value::<T>(serde_json::json!({"d": -1})).is_err());
        assert!(serde_json::from_value::<T>(serde_json::json!({"d": 1e300})).is_err());
    }
}
